import ArgumentParser
import StudioTensor

@main
struct Studio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio",
        abstract: "Keep a character's identity consistent across generated images and video.",
        discussion: "Data lives under $STUDIO_HOME (default ~/.studio). Run scripts/setup.sh once to install the models.",
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
            exit(withError: error)
        }
    }
}
