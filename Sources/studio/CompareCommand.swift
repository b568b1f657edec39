import ArgumentParser
import StudioKit
import StudioFace

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the faces in two images: Euclidean distance, cosine similarity, same/different.",
        discussion: """
        Uses the largest face in each image (a warning names the others). The verdict is dlib's:
        same person when the distance is below --threshold (0.6, the margin the model was trained with).
        Exit status: 0 same, 1 different, 2 bad input (unreadable image, no face).
        """)

    @Argument(help: "First image.") var a: String
    @Argument(help: "Second image.") var b: String
    @Option(help: "Distance below which two faces are the same person.") var threshold: Double = FaceDescriptor.sameIdentityDistance
    @Flag(help: "Print a JSON object.") var json = false
    @OptionGroup var pipelineOptions: PipelineOptions

    func run() throws {
        pipelineOptions.applyThreads()
        let pipeline = try loadPipeline()
        var picked: [DetectedFace] = []
        for path in [a, b] {
            let image = try readImage(path)
            let faces = pipeline.faces(in: image, upsample: pipelineOptions.upsample, jitter: pipelineOptions.jitter)
            guard let largest = faces.max(by: { $0.box.area < $1.box.area }) else {
                throw BadInputError("\(path): no face found (try --upsample 2 for small faces)")
            }
            if faces.count > 1 { warn("studio: \(path): \(faces.count) faces found; using the largest") }
            picked.append(largest)
        }
        let d = picked[0].descriptor.distance(to: picked[1].descriptor)
        let c = picked[0].descriptor.cosineSimilarity(to: picked[1].descriptor)
        let same = d < threshold
        if json {
            print(JSON.document(.compare, [("a", JSON.string(a)), ("b", JSON.string(b)), ("distance", JSON.number(d)),
                                           ("cosine_similarity", JSON.number(c)), ("threshold", JSON.number(threshold)),
                                           ("same_person", JSON.bool(same))]))
        } else {
            print("distance \(fmt(d, 4))  cosine similarity \(fmt(c, 4))  threshold \(fmt(threshold, 2))")
            print(same ? "same person" : "different people")
        }
        if !same { throw ExitCode(1) }
    }
}
