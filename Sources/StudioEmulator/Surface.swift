import Foundation
import StudioKit

/// The providers the emulator speaks for, each recognised by its API and delivery hosts.
public enum EmulatedProvider: String, Sendable, CaseIterable, Codable {
    case replicate, fal, stability, runway, kling

    /// API hosts (requests) and delivery hosts (output downloads).
    public var apiHosts: [String] {
        switch self {
        case .replicate: return ["api.replicate.com"]
        case .fal: return ["queue.fal.run", "fal.run"]
        case .stability: return ["api.stability.ai"]
        case .runway: return ["api.dev.runwayml.com"]
        case .kling: return ["api-singapore.klingai.com"]
        }
    }

    /// Where the emulator says outputs live (the host a real provider delivers from); nil: inline.
    public var deliveryHost: String? {
        switch self {
        case .replicate: return "replicate.delivery"
        case .fal: return "v3.fal.media"
        case .stability: return nil
        case .runway: return "dnznrvs05pmza.cloudfront.net"
        case .kling: return "cdn.klingai.com"
        }
    }

    /// The provider a host belongs to (API or delivery host).
    public static func forHost(_ host: String) -> EmulatedProvider? {
        let h = host.lowercased()
        return allCases.first { p in p.apiHosts.contains(h) || p.deliveryHost == h || (p == .fal && h.hasSuffix(".fal.media")) || (p == .kling && h.hasSuffix(".klingai.com")) }
    }
}

/// What a provider's surface carried for one job, as the emulated model sees it: the reference images
/// decoded after the emulator's own JPEG re-encode, the prompt, the negative prompt only where the
/// surface has one and it takes effect, and the provider's strength lever read as an identity strength.
public struct SurfaceInput: Sendable {
    public var provider: EmulatedProvider
    /// The provider's model ("zsxkib/instant-id", "fal-ai/flux-pulid", "sd3.5-large", ...).
    public var model: String
    public var references: [RGBImage]
    public var prompt: String
    /// nil: the surface has no negative prompt, or it has no effect as sent (flux-pulid at true_cfg 1).
    public var negativePrompt: String?
    /// The provider's lever on a 0...1 identity scale (see the emulator README's table); nil: none.
    public var identityStrength: Double?
    public var seed: UInt64?
    public var width: Int
    public var height: Int
    /// Image-to-video: the first reference is the first frame.
    public var video: Bool
    /// A face-identity model (InstantID, PuLID, PhotoMaker, IP-Adapter FaceID) fails without a face in
    /// its reference; an init-image or video model generates anyway, without the identity.
    public var requiresFace: Bool

    public init(provider: EmulatedProvider, model: String, references: [RGBImage], prompt: String, negativePrompt: String?,
                identityStrength: Double?, seed: UInt64?, width: Int, height: Int, video: Bool, requiresFace: Bool) {
        self.provider = provider; self.model = model; self.references = references; self.prompt = prompt
        self.negativePrompt = negativePrompt; self.identityStrength = identityStrength; self.seed = seed
        self.width = width; self.height = height; self.video = video; self.requiresFace = requiresFace
    }
}

/// A job's result: one frame for an image, several for a video.
public struct SurfaceOutput: Sendable {
    public var frames: [RGBImage]
    public init(frames: [RGBImage]) { self.frames = frames }
}

/// Why an emulated model could not generate (answered in the provider's own failure format).
public struct SurfaceError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable { case noFace, invalid, internalError }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) { self.kind = kind; self.description = description }
}

/// The model behind an emulated provider.
public protocol SurfaceGenerator: Sendable {
    func generate(_ input: SurfaceInput) throws -> SurfaceOutput
}

/// A failure the emulator answers with on purpose, in the provider's own format.
public enum Fault: Sendable, Equatable {
    /// HTTP 429, with or without a Retry-After header (seconds).
    case rateLimited(retryAfter: Int?)
    /// An HTTP 5xx.
    case serverError(Int)
    /// HTTP 422 (the provider's validation error).
    case invalid
}

/// Which requests get a fault.
public struct FaultPlan: Sendable, Equatable {
    /// Answers to the first submit attempts, in order (then submits are accepted).
    public var submit: [Fault]
    /// Answers by poll number (1-based, counted over every job).
    public var poll: [Int: Fault]
    /// Jobs (1-based, in submit order) whose result the provider's content filter withholds.
    public var filteredJobs: Set<Int>

    public init(submit: [Fault] = [], poll: [Int: Fault] = [:], filteredJobs: Set<Int> = []) {
        self.submit = submit; self.poll = poll; self.filteredJobs = filteredJobs
    }
}
