import Foundation
import Crypto
import AdapterSDK
#if canImport(Glibc)
import Glibc
#endif

/// Why a credential could not be read.
public struct CredentialError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// Secrets for remote APIs: from the environment, else from `$STUDIO_HOME/credentials` (lines
/// `NAME=value`), which must be mode 0600. Adapters never see them; only the host's request sender does.
public enum Credentials {
    public static func file(home: String) -> String { home + "/credentials" }

    /// The secret named `name`, or nil when neither the environment nor the file has it.
    public static func value(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                             home: String) throws(CredentialError) -> String? {
        if let v = environment[name], !v.isEmpty { return v }
        let path = file(home: home)
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard st.st_mode & 0o077 == 0 else {
            throw CredentialError(message: "\(path) is readable by others (mode \(String(st.st_mode & 0o777, radix: 8))): run chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw CredentialError(message: "\(path): cannot read") }
        for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            if line[..<eq].trimmingCharacters(in: .whitespaces) == name {
                let v = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                return v.isEmpty ? nil : v
            }
        }
        return nil
    }

    /// The header the host adds to an authenticated plan for a manifest's auth scheme.
    /// `jwt-hs256` (Kling): an HS256 JWT `{iss: <issuer>, exp: now + 1800, nbf: now - 5}` signed with the secret.
    public static func authHeader(_ auth: AdapterManifest.Auth, secret: String, issuer: String? = nil, now: Date = Date()) -> (name: String, value: String) {
        switch auth.scheme {
        case "key": return ("Authorization", "Key " + secret)
        case "header": return (auth.header ?? "Authorization", secret)
        case "jwt-hs256": return ("Authorization", "Bearer " + jwt(issuer: issuer ?? "", secret: secret, now: now))
        default: return ("Authorization", "Bearer " + secret)
        }
    }

    static func base64URL(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func jwt(issuer: String, secret: String, now: Date) -> String {
        let t = Int(now.timeIntervalSince1970)
        let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = base64URL(Data("{\"iss\":\(AdapterJSON.encode([issuer]).dropFirst().dropLast()),\"exp\":\(t + 1800),\"nbf\":\(t - 5)}".utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((header + "." + payload).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return header + "." + payload + "." + base64URL(Data(mac))
    }
}

/// Removes secrets from text meant for people (logs, errors, --dry-run).
public enum Redaction {
    public static func redact(_ text: String, secrets: [String]) -> String {
        var out = text
        for s in secrets where s.count >= 4 { out = out.replacingOccurrences(of: s, with: "****") }
        return out
    }
}
