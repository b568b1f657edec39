import Foundation
import StudioKit
import StudioLocal

/// Loads the local generator, turning a missing or corrupt checkpoint into a message and exit 2.
func loadGenerator() throws -> DCGANGenerator {
    let paths = StudioPaths.fromEnvironment()
    do { return try DCGANGenerator(contentsOf: paths.model(ModelCatalog.generator.file)) } catch {
        warn("studio: \(error) (scripts/setup.sh installs the generator weights)")
        throw badInputExit
    }
}

/// The generated-domain same-person threshold: `$STUDIO_HOME/calibration/generated.json` when
/// `studio bench calibrate --domain generated` wrote it, else the default measured one.
func generatedThreshold() -> (value: Double, source: String) {
    let file = StudioPaths.fromEnvironment().home + "/calibration/generated.json"
    if let data = FileManager.default.contents(atPath: file),
       let c = try? JSONDecoder().decode(DomainCalibration.self, from: data), c.threshold.isFinite, c.threshold > 0 {
        return (c.threshold, file)
    }
    return (GeneratedCalibration.defaultThreshold, "default")
}
