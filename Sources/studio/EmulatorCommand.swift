import ArgumentParser
import Foundation
import StudioKit
import StudioLocal
import StudioEmulator
import StudioAdapterHost

struct EmulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulator",
        abstract: "Provider emulators: Replicate, fal, Stability, Runway and Kling on a loopback port, generating with the local backend through each surface.",
        subcommands: [EmulatorServe.self])

    /// The credential variable each provider's adapters read (the emulator accepts exactly these).
    static let credentialNames: [(EmulatedProvider, String)] = [
        (.replicate, "REPLICATE_API_TOKEN"), (.fal, "FAL_KEY"), (.stability, "STABILITY_API_KEY"), (.runway, "RUNWAYML_API_SECRET"), (.kling, "KLING_SECRET_KEY"),
    ]

    /// The emulator's model: the local generator behind each surface, judged like local outputs.
    static func surfaceGenerator(_ engine: LocalEngine) -> LocalSurfaceGenerator {
        LocalSurfaceGenerator(generator: engine.generator, pipeline: engine.pipeline, uncertainty: engine.judge.uncertainty)
    }
}

struct EmulatorServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve every provider's emulator on 127.0.0.1 until interrupted.",
        discussion: """
        Point studio at it with STUDIO_EMULATOR=http://127.0.0.1:PORT (printed on start): requests the adapters
        plan for the providers' https hosts go to the emulator instead, with the same credentials. The
        emulator accepts the credential values found in this process's environment or credentials file
        (REPLICATE_API_TOKEN, FAL_KEY, STABILITY_API_KEY, RUNWAYML_API_SECRET, KLING_SECRET_KEY with
        KLING_ACCESS_KEY); a provider without one refuses every request with its 401.
        """)
    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port: UInt16 = 0
    @Option(help: "Polls before a job completes.") var polls: Int = 2
    @Option(help: "Jobs (1-based) whose output the content filter withholds (repeatable).") var filterJob: [Int] = []

    func validate() throws { guard (1...1000).contains(polls) else { throw ValidationError("--polls must be 1...1000") } }

    func run() throws {
        let engine = try LocalEngine.load(quiet: false)
        let home = StudioPaths.fromEnvironment().home
        var credentials: [EmulatedProvider: String] = [:]
        for (p, name) in EmulatorCommand.credentialNames {
            if let v = try? Credentials.value(name, home: home), !v.isEmpty { credentials[p] = v }
        }
        let access = (try? Credentials.value("KLING_ACCESS_KEY", home: home)) ?? nil
        var config = Emulator.Configuration(credentials: credentials, klingAccessKey: access ?? "", pollsUntilDone: polls,
                                            faults: FaultPlan(filteredJobs: Set(filterJob)))
        config.onNote = { line in warn("emulator: " + line) }
        let emulator: Emulator
        do { emulator = try Emulator(configuration: config, generator: EmulatorCommand.surfaceGenerator(engine), port: port) } catch {
            throw BadInputError("\(error)")
        }
        var lines = "STUDIO_EMULATOR=\(emulator.url)\n"
        let missing = EmulatorCommand.credentialNames.filter { credentials[$0.0] == nil }.map(\.1)
        if !missing.isEmpty { lines += "no credential for: \(missing.joined(separator: ", ")) (those providers answer 401)\n" }
        FileHandle.standardOutput.write(Data(lines.utf8))
        withExtendedLifetime(emulator) { while true { Thread.sleep(forTimeInterval: 3600) } }
    }
}
