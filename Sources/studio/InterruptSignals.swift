import Foundation
import Dispatch
import StudioRemote
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM during a remote run. The first asks the run to stop (`Interruption`): nothing
/// more is submitted and the job in flight is cancelled where the provider has a cancel call. A second
/// one exits at once (status 128 + the signal), leaving the journal as it stands for `runs resume`.
final class InterruptSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    /// Starts watching; the signals keep their default action again once this is released.
    init(_ interruption: Interruption) {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if interruption.isRequested { _exit(128 + number) }
                interruption.request(name)
                warn("studio: \(name): cancelling the job in flight and stopping; press Ctrl-C again to stop at once")
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
    }

    /// 128 + the signal that interrupted the run (130 for SIGINT, 143 for SIGTERM).
    static func exitStatus(_ reason: String) -> Int32 { reason == "SIGTERM" ? 128 + SIGTERM : 128 + SIGINT }
}
