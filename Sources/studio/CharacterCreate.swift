import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioLocal

struct CharacterCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a fictional character from the local face generator's seed.",
        discussion: """
        Renders the seed's face and seeded variations of it (z0 + ε re-scaled to |z0|) at 64 px, upscaled
        to 256 px; a variation is kept only when it passes the generated reference gate and stays within
        \(FictionalCharacter.defaultMaxDistanceToSeed) of the seed face (at most \(FictionalCharacter.attemptsPerVariation) tries per variation).
        The references are registered like photos, against QualityThresholds.generated and the generated
        domain's same-person threshold ($STUDIO_HOME/calibration/generated.json, else \(GeneratedCalibration.defaultThreshold)).
        The same seed always gives the same character. Generator weights: \(DCGANGenerator.licence).
        Exit status: 0 stored, 2 refused (no face, a failing check, a duplicate name) or bad input.
        """)

    @Argument(help: "The character's name (unique per tenant).") var name: String
    @Option(help: "Generator seed: the same seed gives the same face.") var seed: UInt64
    @Option(help: "References to render and store (the seed's face and variations), 1...16.") var references: Int = 3
    @Flag(help: "Every quality check's measurement and every attribute's components (as in --json).") var verbose = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        guard !name.isEmpty, name.count <= 128, !name.contains("\n") else {
            throw BadInputError("the name must be 1-128 characters on one line")
        }
        guard (1...16).contains(references) else {
            throw BadInputError("--references must be 1...16 (got \(references))")
        }
        // A taken name is refused before any rendering.
        let taken = try withStore { s in try s.list(tenant: store.tenant).contains { $0.name == name } }
        if taken {
            throw BadInputError("a character named '\(name)' already exists in tenant '\(store.tenant)'; choose another name or remove it first")
        }
        let pipeline = try loadPipeline()
        let generator = try loadGenerator()
        var options = FictionalCharacter.Options()
        options.references = references
        options.tenant = store.tenant
        let threshold = generatedThreshold()
        options.strangerThreshold = threshold.value
        let made: (Registration, FictionalCharacter.Rendered)
        do {
            made = try FictionalCharacter.create(name: name, seed: seed, generator: generator, pipeline: pipeline, options: options,
                                                 id: UUID().uuidString.lowercased(), now: Int64(Date().timeIntervalSince1970))
        } catch {
            var message = error.message
            if error.kind == .noFace || error.kind == .qualityGate || error.kind == .tooFewVariations,
               let next = FictionalCharacter.nextPassingSeed(after: seed, generator: generator, pipeline: pipeline) {
                message += " (--seed \(next) passes the gate)"
            }
            throw BadInputError("\(message)")
        }
        let (reg, rendered) = made
        try withStore { s in try s.add(reg.character, images: reg.images) }
        for w in reg.warnings { warn("warning: \(w)") }
        if store.json { print(try characterJSON(reg.character)); return }
        printCharacter(reg.character, heading: "created", verbose: verbose)
        let kept = rendered.distancesToSeed.dropFirst().map { fmt($0, 3) }.joined(separator: ", ")
        print("  variations: \(rendered.attempts) tried, \(rendered.references.count - 1) kept"
              + (kept.isEmpty ? "" : " (distance to the seed face \(kept); bound \(fmt(options.maxDistanceToSeed, 3)))"))
        for r in rendered.rejected { print("    variation \(r.attempt) not kept: \(r.reason)") }
        print("  same-person threshold \(fmt(threshold.value, 3)) (\(threshold.source == "default" ? "default; run studio bench calibrate --domain generated to measure it" : threshold.source))")
        print("  generator weights: \(DCGANGenerator.licence)")
    }
}
