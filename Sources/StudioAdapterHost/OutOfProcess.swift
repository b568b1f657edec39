import Foundation
import AdapterSDK
#if canImport(Glibc)
import Glibc
#endif

/// What the host needs from an adapter, wherever it runs.
public protocol AdapterEndpoint: AnyObject {
    var manifest: AdapterManifest { get }
    func buildRequest(_ request: AdapterRequest, images: [AdapterImage]) throws -> [HTTPRequestPlan]
    func parseResponse(_ response: AdapterResponse, body: [UInt8]) throws -> JobUpdate
}

extension LoadedAdapter: AdapterEndpoint {}

/// One line of the stdio protocol: the same JSON messages as the C ABI, with byte buffers in base64.
public struct StdioRequest: Codable, Sendable {
    /// "manifest", "build" or "parse".
    public var op: String
    public var request: AdapterRequest?
    public var images: [StdioImage]?
    public var response: AdapterResponse?
    public var body: String?
    public struct StdioImage: Codable, Sendable { public var mimeType: String; public var base64: String }
    public init(op: String, request: AdapterRequest? = nil, images: [StdioImage]? = nil, response: AdapterResponse? = nil, body: String? = nil) {
        self.op = op; self.request = request; self.images = images; self.response = response; self.body = body
    }
}

public struct StdioReply: Codable, Sendable {
    public var manifest: AdapterManifest?
    public var plans: [HTTPRequestPlan]?
    public var update: JobUpdate?
    public var error: AdapterError?
    /// A failure of the runner itself (bad line, load failure), not of the adapter's translation.
    public var fault: String?
    public init(manifest: AdapterManifest? = nil, plans: [HTTPRequestPlan]? = nil, update: JobUpdate? = nil, error: AdapterError? = nil, fault: String? = nil) {
        self.manifest = manifest; self.plans = plans; self.update = update; self.error = error; self.fault = fault
    }
}

/// The child side (`studio adapters serve PATH`): loads the adapter in this process and answers one JSON
/// line per request line on stdin until EOF.
public enum AdapterServer {
    public static func serve(path: String, input: FileHandle = .standardInput, output: FileHandle = .standardOutput) -> Int32 {
        let adapter: LoadedAdapter
        do { adapter = try LoadedAdapter(path: path) } catch {
            write(StdioReply(fault: "\(error)"), to: output)
            return 2
        }
        var buffer = Data()
        var scanned = 0
        while true {
            let chunk = input.availableData
            if chunk.isEmpty { return 0 }
            buffer.append(chunk)
            while let nl = LineBuffer.newline(in: buffer, from: scanned) {
                let line = buffer.prefix(nl)
                buffer = Data(buffer.dropFirst(nl + 1))
                scanned = 0
                write(answer(Data(line), adapter), to: output)
            }
            scanned = buffer.count
        }
    }

    static func answer(_ line: Data, _ a: LoadedAdapter) -> StdioReply {
        guard let r = try? JSONDecoder().decode(StdioRequest.self, from: line) else { return StdioReply(fault: "unreadable request line") }
        do {
            switch r.op {
            case "manifest": return StdioReply(manifest: a.manifest)
            case "build":
                guard let req = r.request else { return StdioReply(fault: "build without request") }
                let images = (r.images ?? []).map { AdapterImage(bytes: [UInt8](Data(base64Encoded: $0.base64) ?? Data()), mimeType: $0.mimeType) }
                return StdioReply(plans: try a.buildRequest(req, images: images))
            case "parse":
                guard let resp = r.response else { return StdioReply(fault: "parse without response") }
                return StdioReply(update: try a.parseResponse(resp, body: [UInt8](Data(base64Encoded: r.body ?? "") ?? Data())))
            default: return StdioReply(fault: "unknown op \(r.op)")
            }
        } catch let e as AdapterError {
            return StdioReply(error: e)
        } catch {
            return StdioReply(fault: "\(error)")
        }
    }

    static func write(_ reply: StdioReply, to output: FileHandle) {
        output.write(Data((AdapterJSON.encode(reply) + "\n").utf8))
    }
}

/// An adapter run in a child process over the stdio protocol, so that an adapter that crashes takes down
/// only its child: the call fails with a clear error and the next call starts a fresh child.
public final class OutOfProcessAdapter: AdapterEndpoint, @unchecked Sendable {
    public let path: String
    public private(set) var manifest: AdapterManifest
    let command: [String]
    private var process: Process?
    private var toChild: FileHandle?
    private var fromChild: FileHandle?
    private var pending = Data()

    /// - Parameter command: how to start the runner, e.g. `[studio, "adapters", "serve", path]`.
    public init(path: String, command: [String]) throws {
        self.path = path
        self.command = command
        self.manifest = AdapterManifest(name: "", version: "", provider: "", model: "", summary: "",
                                        surface: .init(referenceFields: [], maxReferences: 0, negativePrompt: .init(supported: false),
                                                       strengthKnobs: [], mode: "sync", auth: .init(scheme: "bearer", credential: "X"),
                                                       allowedHosts: [], outputs: []))
        let reply = try call(StdioRequest(op: "manifest"), what: "manifest")
        guard let m = reply.manifest else { throw AdapterLoadError(kind: .badManifest, path: path, detail: "the adapter process sent no manifest") }
        self.manifest = m
    }

    deinit {
        try? toChild?.close()
        if let p = process, p.isRunning { p.terminate() }
    }

    private func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe; p.standardOutput = outPipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw AdapterLoadError(kind: .open, path: path, detail: "cannot start the adapter process \(command[0]): \(error)") }
        process = p; toChild = inPipe.fileHandleForWriting; fromChild = outPipe.fileHandleForReading; pending = Data()
    }

    private func call(_ request: StdioRequest, what: String) throws -> StdioReply {
        if process == nil || !(process!.isRunning) { try start() }
        let line = Data((AdapterJSON.encode(request) + "\n").utf8)
        do { try toChild!.write(contentsOf: line) } catch { return try died(what) }
        var scanned = 0
        while true {
            if let nl = LineBuffer.newline(in: pending, from: scanned) {
                let l = pending.prefix(nl)
                pending = Data(pending.dropFirst(nl + 1))
                guard let reply = try? JSONDecoder().decode(StdioReply.self, from: Data(l)) else {
                    throw AdapterLoadError(kind: .badReply, path: path, detail: "the adapter process sent an unreadable reply to \(what)")
                }
                if let f = reply.fault { throw AdapterLoadError(kind: .badReply, path: path, detail: "\(what): \(f)") }
                return reply
            }
            scanned = pending.count
            let chunk = fromChild!.availableData
            if chunk.isEmpty { return try died(what) }
            pending.append(chunk)
        }
    }

    private func died(_ what: String) throws -> StdioReply {
        let p = process
        p?.waitUntilExit()
        process = nil
        let how: String
        if let p, p.terminationReason == .uncaughtSignal { how = "was killed by signal \(p.terminationStatus)" }
        else { how = "exited with status \(p?.terminationStatus ?? -1)" }
        throw AdapterLoadError(kind: .crashed, path: path,
                               detail: "the adapter process \(how) during \(what); the host is unaffected and the next call starts a new process")
    }

    public func buildRequest(_ request: AdapterRequest, images: [AdapterImage]) throws -> [HTTPRequestPlan] {
        let r = try call(StdioRequest(op: "build", request: request,
                                      images: images.map { .init(mimeType: $0.mimeType, base64: Data($0.bytes).base64EncodedString()) }), what: "build_request")
        if let e = r.error { throw e }
        let plans = r.plans ?? []
        for p in plans { if let problem = ManifestValidator.problem(plan: p, manifest: manifest) { throw AdapterLoadError(kind: .badReply, path: path, detail: problem) } }
        return plans
    }

    public func parseResponse(_ response: AdapterResponse, body: [UInt8]) throws -> JobUpdate {
        let r = try call(StdioRequest(op: "parse", response: response, body: Data(body).base64EncodedString()), what: "parse_response")
        if let e = r.error { throw e }
        guard let u = r.update else { throw AdapterLoadError(kind: .badReply, path: path, detail: "parse_response returned neither update nor error") }
        return u
    }
}

/// Newline search over raw bytes (Data's generic `firstIndex` is slow on large replies).
enum LineBuffer {
    /// Offset of the first "\n" at or after `from`, relative to the start of `data`.
    static func newline(in data: Data, from: Int) -> Int? {
        guard from < data.count else { return nil }
        return data.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            guard let hit = memchr(base + from, 0x0A, raw.count - from) else { return nil }
            return UnsafeRawPointer(hit) - base
        }
    }
}
