// The generation contract every backend implements (the local generator, remote adapters): what a
// shot asks for, the conditioning of one attempt, and what the backend returns. The loop that drives
// it is in GenerationLoop.swift; the judge's side in Judgement.swift.

/// One requested output of a run.
public struct ShotRequest: Sendable, Codable, Equatable {
    /// 0-based position in the run.
    public var index: Int
    public var prompt: String
    /// The request's negatives (each may hold several comma-separated ones).
    public var negatives: [String]
    /// The first attempt's seed; later attempts derive theirs (`VerificationLoop.seed(shot:attempt:)`).
    public var seed: UInt64

    public init(index: Int, prompt: String, negatives: [String], seed: UInt64) {
        self.index = index; self.prompt = prompt; self.negatives = negatives; self.seed = seed
    }
}

/// How hard an attempt conditions on the character.
public struct StrictnessStep: Sendable, Codable, Equatable {
    /// Negative-prompt strictness, 0...4 (`NegativePrompt.synthesize`).
    public var level: Int
    /// Identity strength, 0...1: how much the backend weighs the character's identity against the
    /// prompt (the local backend's search weight; an adapter's strength knob, mapped to its range).
    public var identityStrength: Double

    public init(level: Int, identityStrength: Double) { self.level = level; self.identityStrength = identityStrength }
}

/// The strictness of each attempt: attempt 1 uses `steps[0]`, later attempts climb; past the end the
/// last step repeats.
public struct StrictnessLadder: Sendable, Codable, Equatable {
    public var steps: [StrictnessStep]

    public init(steps: [StrictnessStep]) {
        precondition(!steps.isEmpty, "a strictness ladder needs at least one step")
        self.steps = steps
    }

    /// Starts in the 0.7-0.85 identity-strength band identity adapters are usually run at (InstantID's
    /// and PuLID's published defaults sit there), then climbs to full strength while the negative
    /// prompt adds modes and weight a level at a time.
    public static let standard = StrictnessLadder(steps: [
        StrictnessStep(level: 0, identityStrength: 0.75),
        StrictnessStep(level: 1, identityStrength: 0.85),
        StrictnessStep(level: 2, identityStrength: 0.92),
        StrictnessStep(level: 3, identityStrength: 0.97),
        StrictnessStep(level: 4, identityStrength: 1.0),
    ])

    /// The step for a 1-based attempt.
    public func step(attempt: Int) -> StrictnessStep { steps[min(steps.count - 1, max(0, attempt - 1))] }
}

/// Everything a backend receives for one attempt.
public struct Conditioning: Sendable {
    public var character: CharacterRecord
    public var shot: ShotRequest
    /// 1-based.
    public var attempt: Int
    public var seed: UInt64
    public var strictness: StrictnessStep
    /// Assembled for this character, request, strictness and the modes diagnosed so far.
    public var negative: NegativePrompt
    /// Modes diagnosed in earlier attempts of this shot (targeted in `negative`).
    public var targetedModes: [String]
    /// How the output will be judged (thresholds per `Selection`, uncertain band); a backend that
    /// searches aims below the threshold for its kind of selection.
    public var uncertainty: UncertaintyModel

    public init(character: CharacterRecord, shot: ShotRequest, attempt: Int, seed: UInt64, strictness: StrictnessStep,
                negative: NegativePrompt, targetedModes: [String], uncertainty: UncertaintyModel) {
        self.character = character; self.shot = shot; self.attempt = attempt; self.seed = seed; self.strictness = strictness
        self.negative = negative; self.targetedModes = targetedModes; self.uncertainty = uncertainty
    }
}

/// How a backend chose its output, which decides the threshold the output must meet.
///
/// A backend that searches for the judge's own metric selects for lookalikes: among enough candidates
/// some different person always comes out close (winner's curse). The calibrated threshold holds for
/// one draw, and for a search confined to the character's own region of a generator's latent space
/// (every candidate there shows the character by construction); a search over the whole space must
/// beat what such a search reaches against a *different* person (`UncertaintyModel.lookalikeThreshold`).
public enum Selection: Sendable, Codable, Equatable {
    /// One draw per attempt (remote backends; the local backend without identity injection).
    case single
    /// A search kept near the character's own latent anchor.
    case anchored(candidates: Int)
    /// A search over the whole latent space (no anchor: e.g. a real-photo character on the local generator).
    case unanchored(candidates: Int)
}

/// What a backend returns for one attempt.
public struct GeneratedOutput: Sendable {
    public var image: RGBImage
    public var selection: Selection
    /// Drift modes the prompt asked for (e.g. `pose_drift_yaw` for "head turned left"): found in the
    /// output they are the request, not drift, and are never targeted.
    public var requestedModes: [String] = []
    /// Backend figures for the report (e.g. the local search's evaluations, restarts, best distance).
    public var notes: [String: Double]
    /// Backend yes/no facts for the report (e.g. whether the identity was injected), kept apart from
    /// `notes` so that report.json has booleans, not 0 and 1.
    public var flags: [String: Bool]
    /// Things the user should know (prompt words the backend could not honour, a surface without a
    /// negative prompt, ...).
    public var messages: [String]
    /// A video's sampled frames (empty for an image): each is judged, and the worst decides.
    public var frames: [VideoFrame]

    public init(image: RGBImage, selection: Selection = .single, notes: [String: Double] = [:], flags: [String: Bool] = [:],
                messages: [String] = [], requestedModes: [String] = [], frames: [VideoFrame] = []) {
        self.image = image; self.selection = selection; self.notes = notes; self.flags = flags
        self.messages = messages; self.requestedModes = requestedModes
        self.frames = frames
    }
}

/// A frame sampled from a video output, with its time.
public struct VideoFrame: Sendable {
    public var seconds: Double
    public var image: RGBImage
    public init(seconds: Double, image: RGBImage) { self.seconds = seconds; self.image = image }
}

/// One sampled frame's verdict, for the report.
public struct FrameScore: Sendable, Codable, Equatable {
    public var index: Int
    public var seconds: Double
    public var verdict: Verdict
    /// nil: no face in this frame.
    public var distance: Double?
    public init(index: Int, seconds: Double, verdict: Verdict, distance: Double?) {
        self.index = index; self.seconds = seconds; self.verdict = verdict; self.distance = distance
    }
}

/// Progress inside one attempt (for progress bars).
public struct GenerationProgress: Sendable {
    public var done: Int
    public var total: Int
    /// Best identity distance so far, when the backend measures one.
    public var bestDistance: Double?
    public init(done: Int, total: Int, bestDistance: Double? = nil) { self.done = done; self.total = total; self.bestDistance = bestDistance }
}

/// An error a backend raises for one attempt. `retryable` failures (a content filter, a drawing with no
/// usable output) count as a failed attempt; others (authentication, bad request) end the shot.
public struct GenerationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var retryable: Bool
    public init(_ message: String, retryable: Bool) { self.message = message; self.retryable = retryable }
    public var description: String { message }
}

/// A generator the loop can drive.
public protocol GenerationBackend {
    /// Short name for reports ("local", an adapter's name).
    var name: String { get }
    func generate(_ conditioning: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput
}
