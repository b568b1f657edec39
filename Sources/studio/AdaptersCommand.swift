import ArgumentParser
import Foundation
import StudioKit
import AdapterSDK
import StudioAdapterHost
import StudioEmulator
import StudioRemote
import StudioImage
import ProviderContracts

struct Adapters: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remote-API adapters: list, describe and check them.",
        discussion: """
        Adapters are dynamic libraries (lib<Name>Adapter.so) behind a versioned C ABI
        (Sources/CStudioAdapter/include/studio_adapter.h). They are looked for in $STUDIO_ADAPTER_PATH
        (colon-separated), $STUDIO_HOME/adapters, then beside the studio executable (the package's built adapters).
        """,
        subcommands: [AdaptersList.self, AdaptersInfo.self, AdaptersCheck.self, AdaptersServe.self])

    /// The running studio executable (to start adapter processes).
    static func executable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func searchPath() -> [String] {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { ($0 as NSString).deletingLastPathComponent }
        return AdapterDiscovery.searchPath(home: StudioPaths.fromEnvironment().home, executableDirectory: exe)
    }

    /// Every discoverable adapter, loaded; failures listed with their reason.
    static func loadAll() -> (loaded: [LoadedAdapter], failed: [(String, String)]) {
        var loaded: [LoadedAdapter] = [], failed: [(String, String)] = []
        var names = Set<String>()
        for path in AdapterDiscovery.candidates(in: searchPath()) {
            do {
                let a = try LoadedAdapter(path: path)
                if names.insert(a.manifest.name).inserted { loaded.append(a) } else { failed.append((path, "duplicate adapter name \(a.manifest.name); the first one found is used")) }
            } catch { failed.append((path, "\(error)")) }
        }
        return (loaded, failed)
    }
}

struct AdaptersList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Adapters found, with their surface in one line.")
    @Flag(help: "Machine-readable JSON output.") var json = false

    func run() throws {
        let (loaded, failed) = Adapters.loadAll()
        if json {
            let items = loaded.map { a in
                JSON.object([("name", JSON.string(a.manifest.name)), ("version", JSON.string(a.manifest.version)),
                             ("provider", JSON.string(a.manifest.provider)), ("model", JSON.string(a.manifest.model)),
                             ("path", JSON.string(a.path)), ("load_ms", JSON.number(a.loadSeconds * 1000))])
            }
            let bad = failed.map { JSON.object([("path", JSON.string($0.0)), ("error", JSON.string($0.1))]) }
            print(JSON.document(.adaptersList, [("adapters", JSON.array(items)), ("failed", JSON.array(bad)), ("search_path", JSON.array(Adapters.searchPath().map(JSON.string)))]))
            return
        }
        if loaded.isEmpty { print("no adapters found in: " + Adapters.searchPath().joined(separator: ", ")) }
        for a in loaded {
            let s = a.manifest.surface
            print("\(a.manifest.name) \(a.manifest.version)  \(a.manifest.provider) \(a.manifest.model)  refs \(s.maxReferences)  negative \(s.negativePrompt.supported ? "yes" : "no")  knobs \(s.strengthKnobs.map(\.name).joined(separator: ",").nilIfEmpty ?? "none")  \(s.mode)  \(s.outputs.joined(separator: "+"))  (\(fmt(a.loadSeconds * 1000, 1)) ms, \(a.path))")
        }
        for (p, e) in failed { warn("studio: skipped \(p): \(e)") }
    }
}

struct AdaptersInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "An adapter's manifest: the surface the loop adapts to.")
    @Argument var name: String
    @Flag(help: "Print the manifest as JSON.") var json = false

    func run() throws {
        let (loaded, _) = Adapters.loadAll()
        guard let a = loaded.first(where: { $0.manifest.name == name }) else {
            throw BadInputError("no adapter named '\(name)' (found: \(loaded.map(\.manifest.name).joined(separator: ", ").nilIfEmpty ?? "none"))")
        }
        if json { print(try StudioJSON.text(a.manifest, as: .adapterInfo)); return }
        let m = a.manifest, s = m.surface
        print("\(m.name) \(m.version): \(m.summary)")
        print("  library: \(a.path)")
        print("  references: up to \(s.maxReferences) in \(s.referenceFields.joined(separator: ", "))" + (s.promptTrigger.map { "; prompt must contain '\($0)'" } ?? ""))
        print("  negative prompt: " + (s.negativePrompt.supported ? "yes, \(s.negativePrompt.weighting)" + (s.negativePrompt.condition.map { " (applies when \($0); the adapter sets it)" } ?? "")
                                        : "none: the loop reinforces identity in the prompt instead"))
        for k in s.strengthKnobs { print("  knob \(k.name): \(fmt(k.minimum, 2))...\(fmt(k.maximum, 2)), default \(fmt(k.defaultValue, 2)); \(k.mapping)") }
        if s.strengthKnobs.isEmpty { print("  strength knobs: none") }
        print("  mode: \(s.mode); outputs: \(s.outputs.joined(separator: ", "))")
        print("  auth: \(s.auth.scheme) from $\(s.auth.credential) (added by the host, never given to the adapter)")
        print("  allowed hosts: \(s.allowedHosts.joined(separator: ", "))")
        if let v = m.modelVersion { print("  model version: \(v) (pinned; gen --model-version overrides it)") }
    }
}

struct AdaptersCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Conformance checks of an adapter library: manifest, request shapes, error mapping, no secret leakage.",
        discussion: "Exit status: 0 every check passes, 1 a check fails, 2 the library cannot be loaded.")
    @Argument(help: "Path of lib<Name>Adapter.so.") var path: String
    @Flag(help: "Run the adapter in a child process (crash isolation for third-party adapters).") var outOfProcess = false
    @Flag(help: "Machine-readable JSON output.") var json = false

    func run() throws {
        let a: AdapterEndpoint
        var loadMs = 0.0
        do {
            if outOfProcess {
                let t0 = Date()
                a = try OutOfProcessAdapter(path: path, command: [Adapters.executable(), "adapters", "serve", path])
                loadMs = Date().timeIntervalSince(t0) * 1000
            } else {
                let l = try LoadedAdapter(path: path)
                loadMs = l.loadSeconds * 1000
                a = l
            }
        } catch { throw BadInputError("\(error)") }
        var results: [(String, Bool, String)] = []
        func check(_ name: String, _ body: () throws -> (Bool, String)) {
            do { let (ok, detail) = try body(); results.append((name, ok, detail)) } catch { results.append((name, false, "\(error)")) }
        }
        let marker = "sk-studio-check-\(UInt64.random(in: 1...UInt64.max))"
        setenv(a.manifest.surface.auth.credential, marker, 1)
        let request = AdapterRequest(
            character: .init(name: "check", attributes: ["eye_colour": "brown"], embedding: [Float](repeating: 0.05, count: 128), referenceCount: 1),
            prompt: "portrait of a person", negativePrompt: "blurry, green eyes", negativePromptWeighted: "blurry, (green eyes:1.5)",
            strictness: .init(level: 1, identityStrength: 0.85), seed: 7, width: 1024, height: 1024)
        let png = AdapterImage(bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], mimeType: "image/png")
        check("manifest") { (true, "\(a.manifest.name) \(a.manifest.version): valid (\(fmt(loadMs, 1)) ms to load\(outOfProcess ? ", out of process" : ""))") }
        var plans: [HTTPRequestPlan] = []
        check("build request") {
            plans = try a.buildRequest(request, images: Array(repeating: png, count: max(1, min(1, a.manifest.surface.maxReferences))))
            return (!plans.isEmpty, "\(plans.count) plan(s): " + plans.map { "\($0.method) \($0.url)" }.joined(separator: "; ") + "; https, allowed hosts, no credential headers")
        }
        check("provider contract") {
            guard let plan = plans.first else { return (false, "no plan to check") }
            let auth = Credentials.authHeader(a.manifest.surface.auth, secret: marker, issuer: "studio-check-access")
            guard let result = try ContractLibrary.shipped().check(plan: plan, images: [png], authorization: auth) else {
                return (false, "no provider contract covers \(plan.method) \(plan.url); add one to a folder named by STUDIO_CONTRACTS")
            }
            let found = result.violations.map(\.description)
            return (result.passed, "\(result.contract.id): " + (found.isEmpty ? "meets it" : found.joined(separator: "; "))
                    + (result.dropped.isEmpty ? "" : "; the provider drops \(result.dropped.joined(separator: ", ")) without a word"))
        }
        check("no secret in requests") {
            let text = AdapterJSON.encode(plans)
            return (!text.contains(marker), text.contains(marker) ? "the credential's value appears in a plan" : "the credential never appears in a plan")
        }
        check("too many references") {
            let n = a.manifest.surface.maxReferences + 1
            do { _ = try a.buildRequest(request, images: Array(repeating: png, count: n)); return (true, "\(n) images: extra ones ignored") } catch let e as AdapterError {
                return (true, "\(n) images: typed error \(e.code)")
            }
        }
        for (status, expected) in [(401, "auth"), (429, "rate_limited"), (503, "server")] {
            check("HTTP \(status) → \(expected)") {
                do { _ = try a.parseResponse(AdapterResponse(purpose: "submit", status: status, headers: [:]), body: Array("{}".utf8)); return (false, "no error") }
                catch let e as AdapterError { return (e.code == expected, "\(e.code), retryable \(e.retryable)") }
            }
        }
        check("hostile body") {
            do { _ = try a.parseResponse(AdapterResponse(purpose: "submit", status: 200, headers: [:]), body: Array(String(repeating: "[", count: 100_000).utf8)); return (false, "accepted") }
            catch let e as AdapterError { return (true, "typed error \(e.code)") }
        }
        if let provider = EmulatedProvider(rawValue: a.manifest.provider) {
            check("\(provider.rawValue) emulator round trip") {
                // The whole lifecycle through the host: a 429 at submit (Retry-After 1), a 503 at the first poll.
                let emu = try Emulator(configuration: .init(credentials: [provider: marker], klingAccessKey: "studio-check-access", pollsUntilDone: 2,
                                                            faults: FaultPlan(submit: [.rateLimited(retryAfter: 1)], poll: [1: .serverError(503)])),
                                       generator: MirrorSurfaceGenerator())
                defer { emu.stop() }
                let client = RemoteClient(adapter: a, secret: marker, issuer: "studio-check-access", route: try RemoteRoute(emulator: emu.url),
                                          settings: RemoteSettings(pollInterval: 0, sleep: { _ in }))
                var face = RGBImage(width: 64, height: 64)
                for i in face.pixels.indices { face.pixels[i] = UInt8((i * 7) % 251) }
                let out: (jobId: String?, outputs: [FetchedOutput])
                do { out = try client.run(key: "check", request: request, images: [AdapterImage(bytes: try ImageIO.encodePNG(face), mimeType: "image/png")], journal: nil) }
                catch { return (false, "\(error)") }
                let seen = emu.seen
                let ok = seen.jobs == 1 && seen.unauthorized == 0 && !out.outputs.isEmpty && out.outputs.allSatisfy { !$0.bytes.isEmpty }
                return (ok, "\(seen.jobs) job(s) from \(seen.submitAttempts) submit(s), \(seen.polls) poll(s), \(out.outputs.count) \(out.outputs.map(\.kind).joined(separator: "+")) output(s) delivered; credential accepted")
            }
        } else {
            results.append(("emulator round trip", true, "skipped: no emulator speaks for provider '\(a.manifest.provider)'"))
        }
        unsetenv(a.manifest.surface.auth.credential)
        if json {
            print(JSON.document(.adaptersCheck, [("adapter", JSON.string(a.manifest.name)), ("checks", JSON.array(results.map {
                JSON.object([("name", JSON.string($0.0)), ("pass", JSON.bool($0.1)), ("detail", JSON.string($0.2))])
            }))]))
        } else {
            for (n, ok, d) in results { print("\(ok ? "PASS" : "FAIL")  \(n): \(d)") }
        }
        if results.contains(where: { !$0.1 }) { throw ExitCode(1) }
    }
}

struct AdaptersServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run one adapter behind the stdio JSON protocol (started by the host for out-of-process mode).",
        shouldDisplay: false)
    @Argument var path: String
    func run() throws {
        let status = AdapterServer.serve(path: path)
        if status != 0 { throw ExitCode(status) }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
