import Foundation
import StudioKit
import StudioLocal

/// Loads the local generator, turning a missing or corrupt checkpoint into a message and exit 2.
func loadGenerator() throws -> DCGANGenerator {
    let paths = StudioPaths.fromEnvironment()
    do { return try DCGANGenerator(contentsOf: paths.model(ModelCatalog.generator.file)) } catch {
        throw BadInputError("\(error) (scripts/setup.sh installs the generator weights)")
    }
}

/// Where the generated-domain calibration is kept: `$STUDIO_HOME/calibration/generated.json`.
func generatedCalibrationFile() -> String { StudioPaths.fromEnvironment().home + "/calibration/generated.json" }

/// The saved generated-domain calibration, when present and readable.
func readGeneratedCalibration() -> DomainCalibration? {
    guard let data = FileManager.default.contents(atPath: generatedCalibrationFile()),
          let c = (try? StudioJSON.decoder().decode(DomainCalibration.self, from: data))
            ?? (try? JSONDecoder().decode(DomainCalibration.self, from: data)),   // written before the JSON convention
          c.threshold.isFinite, c.threshold > 0 else { return nil }
    return c
}

/// Saves the generated-domain calibration (atomically).
func saveGeneratedCalibration(_ c: DomainCalibration) throws {
    let file = generatedCalibrationFile()
    try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try StudioJSON.encode(c, as: .calibration, pretty: true).write(to: URL(fileURLWithPath: file), options: .atomic)
}

/// The generated-domain same-person threshold: the saved calibration's when
/// `studio bench calibrate --domain generated` (or the first `studio gen`) wrote it, else the default measured one.
func generatedThreshold() -> (value: Double, source: String) {
    readGeneratedCalibration().map { ($0.threshold, generatedCalibrationFile()) } ?? (GeneratedCalibration.defaultThreshold, "default")
}
