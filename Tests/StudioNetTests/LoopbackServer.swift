import Foundation
import StudioEmulator

/// A scripted server for the client's tests: each connection gets the next reply of the script (a 500
/// once it runs out); what arrived is kept in `requests`. Built on StudioEmulator's loopback server.
final class LoopbackServer: @unchecked Sendable {
    typealias Reply = ServerResponse

    private let lock = NSLock()
    private var replies: [Reply]
    private var received: [ServerRequest] = []
    private var server: LoopbackHTTPServer!

    init(_ replies: [Reply]) throws {
        self.replies = replies
        server = try LoopbackHTTPServer { [unowned self] request in
            lock.withLock {
                received.append(request)
                return self.replies.isEmpty ? Reply(status: 500, body: Array("no scripted reply".utf8)) : self.replies.removeFirst()
            }
        }
    }

    deinit { server.stop() }

    var url: String { server.url }
    var requests: [ServerRequest] { lock.withLock { received } }
    func stop() { server.stop() }
}
