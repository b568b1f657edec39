import Foundation
import StudioKit
import StudioImage
import AdapterSDK
import StudioAdapterHost

/// The request an adapter receives for one attempt: the character's attributes and identity, the
/// prompt, the synthesized negative prompt (plain and weighted) and the attempt's strictness.
public enum AdapterRequests {
    public static func make(character c: CharacterRecord, prompt: String, negative: NegativePrompt, strictness step: StrictnessStep,
                            seed: UInt64, referenceCount: Int, width: Int = 1024, height: Int = 1024, modelVersion: String? = nil) -> AdapterRequest {
        AdapterRequest(
            character: .init(name: c.name, attributes: c.attributes.items.mapValues(\.label), embedding: c.identity.values, referenceCount: referenceCount),
            prompt: prompt, negativePrompt: negative.text, negativePromptWeighted: negative.weightedText(style: .parenthesized),
            strictness: .init(level: step.level, identityStrength: step.identityStrength), seed: seed, width: width, height: height,
            modelVersion: modelVersion)
    }

    /// The character's reference images in store order, as many as the surface takes (PNG or JPEG by signature).
    public static func images(_ bytes: [[UInt8]], maxReferences: Int) -> [AdapterImage] {
        bytes.prefix(max(0, maxReferences)).map { b in
            AdapterImage(bytes: b, mimeType: b.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg")
        }
    }
}

/// A remote API as a `GenerationBackend`: each attempt is translated by the adapter, run by the
/// `RemoteClient` (journaled under `shot-NN-attempt-K`), downloaded and decoded; a video is sampled
/// into frames (ffmpeg) for the loop to judge one by one.
public struct RemoteBackend: GenerationBackend {
    public var name: String { client.manifest.name }
    public let client: RemoteClient
    public let references: [AdapterImage]
    public let journal: RunJournal?
    public var width: Int
    public var height: Int
    public var resubmitUnanswered: Bool
    /// The provider's model version to run instead of the adapter's pin (nil: the pin).
    public var modelVersion: String?
    /// Remote progress lines (submitted, polling, retries), for the CLI.
    public var log: @Sendable (String) -> Void

    public init(client: RemoteClient, references: [AdapterImage], journal: RunJournal?, width: Int = 1024, height: Int = 1024,
                resubmitUnanswered: Bool = false, modelVersion: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client; self.references = references; self.journal = journal; self.width = width; self.height = height
        self.resubmitUnanswered = resubmitUnanswered; self.modelVersion = modelVersion; self.log = log
    }

    public static func key(shot: Int, attempt: Int) -> String { String(format: "shot-%02d-attempt-%d", shot + 1, attempt) }

    /// What the loop should know about the surface (said once per attempt, in the report).
    public var surfaceMessages: [String] {
        let s = client.manifest.surface
        var out: [String] = []
        if !s.negativePrompt.supported {
            out.append("\(name) has no negative prompt: the negatives were not sent; the adapter reinforces identity in the prompt instead")
        } else if let cond = s.negativePrompt.condition {
            out.append("\(name) applies the negative prompt only when \(cond); the adapter sets it when it sends one")
        }
        if s.strengthKnobs.isEmpty { out.append("\(name) has no identity-strength lever: strictness changes only the prompt and negatives") }
        if references.count < 1 { out.append("no reference image was sent") }
        return out
    }

    public func generate(_ c: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput {
        progress(GenerationProgress(done: 0, total: 1))
        let request = AdapterRequests.make(character: c.character, prompt: c.shot.prompt, negative: c.negative, strictness: c.strictness,
                                           seed: c.seed, referenceCount: references.count, width: width, height: height, modelVersion: modelVersion)
        let key = Self.key(shot: c.shot.index, attempt: c.attempt)
        let result: (jobId: String?, outputs: [FetchedOutput])
        do {
            result = try client.run(key: key, request: request, images: references, journal: journal, resubmitUnanswered: resubmitUnanswered, event: log)
        } catch {
            throw GenerationError(error.message, retryable: error.retryable)
        }
        guard let first = result.outputs.first else { throw GenerationError("\(name) returned no output", retryable: true) }
        var notes: [String: Double] = ["outputs": Double(result.outputs.count), "output_bytes": Double(first.bytes.count)]
        var messages = surfaceMessages
        if let id = result.jobId { messages.append("remote job \(id)") }
        progress(GenerationProgress(done: 1, total: 1))
        if first.kind == "video" {
            let frames: [(seconds: Double, image: RGBImage)]
            do { frames = try VideoFrames.sample(video: first.bytes) } catch {
                throw GenerationError("\(name): the video could not be decoded: \(error)", retryable: true)
            }
            notes["frames"] = Double(frames.count)
            return GeneratedOutput(image: frames[0].image, selection: .single, notes: notes, messages: messages,
                                   frames: frames.map { VideoFrame(seconds: $0.seconds, image: $0.image) })
        }
        let image: RGBImage
        do { image = try ImageIO.decode(first.bytes, name: first.file ?? "\(name) output") } catch {
            throw GenerationError("\(name): the output is not a readable image: \(error)", retryable: true)
        }
        return GeneratedOutput(image: image, selection: .single, notes: notes, messages: messages)
    }
}
