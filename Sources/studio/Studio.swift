import ArgumentParser
import Foundation
import StudioTensor

@main
struct Studio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio",
        abstract: "Keep a character's identity consistent across generated images and video.",
        discussion: "Data lives under $STUDIO_HOME (default ~/.studio). Run scripts/setup.sh once to install the models.",
        version: VersionText.make(),
        subcommands: [Faces.self, Compare.self, CharacterCommand.self, Verify.self, Gen.self, Runs.self, Adapters.self, EmulatorCommand.self, Models.self, Bench.self, Local.self]
    )

    static func main() {
        #if os(Linux)
        MemoryPolicy.retainFreedMemory()
        #endif
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(status: exitStatus(for: error))
        }
    }

    /// The one mapping from errors to exit statuses: 0 done (help, version), 1 a check did not pass,
    /// 2 bad input (usage errors included, which the argument parser alone would end with 64), 130 or
    /// 143 interrupted; a message for every non-zero status goes to standard error first.
    static func exitStatus(for error: Error) -> Int32 {
        if let bad = error as? BadInputError {
            warn("studio: " + bad.message)
            return 2
        }
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .validationFailure {
            warn(message)
            return 2
        }
        if !message.isEmpty {
            if code == .success { print(message) } else { warn(message) }
        }
        return code.rawValue
    }

    static func exit(status: Int32) -> Never {
        fflush(nil)
        Foundation.exit(status)
    }
}
