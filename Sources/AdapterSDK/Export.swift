import Foundation
import CStudioAdapter
#if canImport(Glibc)
import Glibc
#endif

/// What an adapter author implements: a pure translator between a character request and one remote
/// API. No state, no I/O, no secrets.
public protocol StudioAdapter {
    static var manifest: AdapterManifest { get }
    /// The HTTP request(s) that submit this attempt.
    static func buildRequest(_ request: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan]
    /// What a response (to a plan of `response.purpose`) means.
    static func parseResponse(_ response: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate
}

/// Exports a `StudioAdapter` as the C vtable. An adapter's whole export is one line:
///
///     @_cdecl("studio_adapter_v1")
///     public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(MyAdapter.self, host: host) }
public enum AdapterExport {
    nonisolated(unsafe) static var adapter: (any StudioAdapter.Type)?

    nonisolated(unsafe) static let table: UnsafeMutablePointer<studio_adapter_vtable_v1> = {
        let p = UnsafeMutablePointer<studio_adapter_vtable_v1>.allocate(capacity: 1)
        p.initialize(to: studio_adapter_vtable_v1(
            abi_version: studio_adapter_abi_version(), struct_size: studio_adapter_vtable_v1_size(),
            manifest_json: exportedManifest, build_request: exportedBuild, parse_response: exportedParse, free_string: exportedFree))
        return p
    }()

    /// The vtable for `type`, or nil when the host speaks another ABI major version.
    public static func vtable(_ type: any StudioAdapter.Type, host: UInt32) -> UnsafeRawPointer? {
        guard host == studio_adapter_abi_version() else { return nil }
        adapter = type
        return UnsafeRawPointer(table)
    }

    /// The vtable functions as plain Swift, for tests and the out-of-process runner.
    public static func manifestJSON(_ type: any StudioAdapter.Type) -> String { AdapterJSON.encode(type.manifest) }

    public static func build(_ type: any StudioAdapter.Type, requestJSON: String, images: [AdapterImage]) -> String {
        let request: AdapterRequest
        do { request = try AdapterJSON.decode(AdapterRequest.self, requestJSON) } catch {
            return AdapterJSON.encode(BuildResult(error: AdapterError(code: "invalid_request", message: "request JSON: \(error)", retryable: false)))
        }
        do { return AdapterJSON.encode(BuildResult(plans: try type.buildRequest(request, images: images))) } catch {
            return AdapterJSON.encode(BuildResult(error: error))
        }
    }

    public static func parse(_ type: any StudioAdapter.Type, responseJSON: String, body: [UInt8]) -> String {
        let response: AdapterResponse
        do { response = try AdapterJSON.decode(AdapterResponse.self, responseJSON) } catch {
            return AdapterJSON.encode(ParseResult(error: AdapterError(code: "invalid_request", message: "response JSON: \(error)", retryable: false)))
        }
        do { return AdapterJSON.encode(ParseResult(update: try type.parseResponse(response, body: body))) } catch {
            return AdapterJSON.encode(ParseResult(error: error))
        }
    }
}

private func cString(_ s: String) -> UnsafeMutablePointer<CChar>? { strdup(s) }

private let exportedManifest: @convention(c) () -> UnsafeMutablePointer<CChar>? = {
    guard let a = AdapterExport.adapter else { return nil }
    return cString(AdapterExport.manifestJSON(a))
}

private let exportedBuild: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<studio_image>?, Int) -> UnsafeMutablePointer<CChar>? = { json, images, count in
    guard let a = AdapterExport.adapter, let json else { return nil }
    var list: [AdapterImage] = []
    if let images, count > 0 {
        for i in 0..<count {
            let img = images[i]
            let bytes = img.bytes.map { Array(UnsafeBufferPointer(start: $0, count: img.length)) } ?? []
            list.append(AdapterImage(bytes: bytes, mimeType: img.mime_type.map { String(cString: $0) } ?? "application/octet-stream"))
        }
    }
    return cString(AdapterExport.build(a, requestJSON: String(cString: json), images: list))
}

private let exportedParse: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int) -> UnsafeMutablePointer<CChar>? = { json, body, length in
    guard let a = AdapterExport.adapter, let json else { return nil }
    let bytes = body.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
    return cString(AdapterExport.parse(a, responseJSON: String(cString: json), body: bytes))
}

private let exportedFree: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { free($0) }

/// Helpers adapters share: decoding provider JSON and mapping HTTP failures.
public enum AdapterSupport {
    /// The body as a JSON object, or a `malformed_response` error naming the provider.
    public static func object(_ body: [UInt8], provider: String) throws(AdapterError) -> [String: Any] {
        guard let o = try? JSONSerialization.jsonObject(with: Data(body)), let d = o as? [String: Any] else {
            throw AdapterError(code: "malformed_response", message: "\(provider) returned a body that is not a JSON object (\(body.count) bytes)", retryable: false)
        }
        return d
    }

    /// The typed error for a non-2xx status: 401/403 auth, 422/400 invalid request, 429 rate limited
    /// (with Retry-After when given), 5xx server (retryable).
    public static func httpError(_ r: AdapterResponse, detail: String, provider: String) -> AdapterError {
        let retryAfter = r.headers["retry-after"].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        switch r.status {
        case 401, 403: return AdapterError(code: "auth", message: "\(provider) refused the credentials (\(r.status)): \(detail)", retryable: false)
        case 400, 404, 409, 413, 422: return AdapterError(code: "invalid_request", message: "\(provider) rejected the request (\(r.status)): \(detail)", retryable: false)
        case 429: return AdapterError(code: "rate_limited", message: "\(provider) is throttling (429): \(detail)", retryable: true, retryAfterSeconds: retryAfter)
        case 500...599: return AdapterError(code: "server", message: "\(provider) failed (\(r.status)): \(detail)", retryable: true, retryAfterSeconds: retryAfter)
        default: return AdapterError(code: "server", message: "\(provider) answered \(r.status): \(detail)", retryable: false)
        }
    }

    /// `value` mapped from the platform's identity strength (0...1) onto a knob's range, linearly.
    public static func map(_ strength: Double, onto knob: AdapterManifest.Knob) -> Double {
        let s = min(1, max(0, strength))
        return ((knob.minimum + s * (knob.maximum - knob.minimum)) * 1_000).rounded() / 1_000
    }
}
