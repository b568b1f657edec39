import Foundation

/// The two files of a diffusers model part's folder: its config and its safetensors weights.
enum ModelFolder {
    /// `folder/file` decoded as `T`; missing or undecodable files are typed errors naming `what` it should be.
    static func config<T: Decodable>(_ folder: String, _ file: String = "config.json", as what: String) throws(DiffusionModelError) -> T {
        let path = folder + "/" + file
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        do { return try JSONDecoder().decode(T.self, from: data) } catch { throw .badConfig(path, "not \(what) (\(error))") }
    }

    static func weights(_ folder: String, _ file: String) throws(DiffusionModelError) -> SafeTensors {
        do { return try SafeTensors(path: folder + "/" + file) } catch { throw .weights(error) }
    }
}
