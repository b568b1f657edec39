import ArgumentParser
import StudioKit
import StudioFace
import StudioImage

struct Faces: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find every face: box, detector confidence, 5 landmarks and the 128-D descriptor.",
        discussion: """
        With --json, prints one line per image:
        {"image":"path","width":W,"height":H,"detection":{...},"faces":[{"box":[l,t,r,b],"confidence":c,"landmarks":[[x,y],...],"descriptor":[...]}]}
        Boxes are dlib rectangles (right/bottom inclusive) and may extend past the image edge.
        "detection" says where the detector ran: {"width","height","upsample","scale","limit"}. Detection
        input is bounded to 12 million pixels (after upsampling) so memory stays bounded; a larger
        image is detected on a reduced copy ("limit":"working_size", with a note on stderr) and its
        boxes scaled back. Landmarks and descriptors always use the full-resolution image.
        Exit status: 0 when every image was read, 2 when any could not be.
        """)

    @Argument(help: "Image files (PNG or JPEG).") var images: [String]
    @Flag(help: "One JSON object per image, one per line.") var json = false
    @OptionGroup var pipelineOptions: PipelineOptions

    func run() throws {
        pipelineOptions.applyThreads()
        let pipeline = try loadPipeline()
        var failed = false
        for path in images {
            guard let image = loadImage(path) else { failed = true; continue }
            let plan = pipeline.detectionPlan(for: image, upsample: pipelineOptions.upsample)
            if let note = workingSizeNote(path, image, plan) { warn("studio: " + note) }
            let faces = pipeline.faces(in: image, upsample: pipelineOptions.upsample, jitter: pipelineOptions.jitter)
            if json {
                print(JSON.document(.faces, [("image", JSON.string(path)), ("width", String(image.width)), ("height", String(image.height)),
                                   ("detection", plan.json), ("faces", JSON.array(faces.map(\.json)))]))
            } else {
                print("\(path): \(image.width)x\(image.height), \(faces.count) face\(faces.count == 1 ? "" : "s")")
                for (i, f) in faces.enumerated() {
                    let b = f.box
                    let lm = f.landmarks.map { "(\(Int($0.x)),\(Int($0.y)))" }.joined(separator: " ")
                    print("  face \(i): box [\(b.left), \(b.top), \(b.right), \(b.bottom)] confidence \(fmt(f.confidence, 3))")
                    print("    landmarks \(lm)")
                    print("    descriptor [\(f.descriptor.values.prefix(4).map { fmt(Double($0), 4) }.joined(separator: ", ")), ...] (128-D)")
                }
            }
        }
        if failed { throw badInputExit }
    }
}

/// Fixed-point formatting (`StudioKit.formatFixed`).
func fmt(_ x: Double, _ digits: Int) -> String { formatFixed(x, digits) }

extension DetectionPlan {
    /// `{"width","height","upsample","scale","limit"}` of the copy detection ran on.
    var json: String {
        JSON.object([("width", String(width)), ("height", String(height)), ("upsample", String(upsample)),
                     ("scale", JSON.number(scale)), ("limit", JSON.string(limit.rawValue))])
    }
}

/// What the working-size limit did to this image's detection, or nil when it did nothing.
func workingSizeNote(_ path: String, _ image: RGBImage, _ plan: DetectionPlan) -> String? {
    guard plan.limit == .workingSize else { return nil }
    let limit = Double(FacePipeline.maxDetectionPixels) / 1e6
    return "\(path): \(image.width)x\(image.height) is above the detector's working size of \(fmt(limit, 0)) million pixels "
        + "after upsampling; detection ran on a \(plan.width)x\(plan.height) copy (upsample \(plan.upsample)), so faces smaller "
        + "than about \(Int(plan.smallestFace.rounded(.up))) px may be missed"
}
