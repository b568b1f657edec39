import Foundation

// The JSON messages of the adapter ABI (Sources/CStudioAdapter/include/studio_adapter.h). Host and
// adapters each compile these types; only their JSON crosses the boundary, so an adapter built by
// another compiler, or written in C, interoperates as long as it writes the same JSON.

/// What an adapter declares about its remote API's surface. The host adapts the verification loop to
/// it (no negative prompt: reinforce identity in the prompt; a strength knob: map strictness onto it).
public struct AdapterManifest: Codable, Sendable, Equatable {
    /// `provider-model`, lower case, digits and '-' (the file is `lib<Name>Adapter.so`).
    public var name: String
    public var version: String
    public var provider: String
    public var model: String
    public var summary: String
    public var surface: Surface
    /// The provider's model version the adapter pins (Replicate: the 64-hex version id), if the
    /// provider versions models. A request's `modelVersion` overrides it.
    public var modelVersion: String?

    public init(name: String, version: String, provider: String, model: String, summary: String, surface: Surface, modelVersion: String? = nil) {
        self.name = name; self.version = version; self.provider = provider; self.model = model; self.summary = summary
        self.surface = surface; self.modelVersion = modelVersion
    }

    public struct Surface: Codable, Sendable, Equatable {
        /// The request fields that carry reference images, in order.
        public var referenceFields: [String]
        public var maxReferences: Int
        public var negativePrompt: NegativePromptSupport
        public var strengthKnobs: [Knob]
        /// "sync", "poll" or "webhook".
        public var mode: String
        public var auth: Auth
        /// The only hosts the host may contact for this adapter (API and output downloads).
        public var allowedHosts: [String]
        /// "image" and/or "video".
        public var outputs: [String]
        /// A word the prompt must contain for the reference to apply (PhotoMaker's "img"), if any.
        public var promptTrigger: String?

        public init(referenceFields: [String], maxReferences: Int, negativePrompt: NegativePromptSupport, strengthKnobs: [Knob],
                    mode: String, auth: Auth, allowedHosts: [String], outputs: [String], promptTrigger: String? = nil) {
            self.referenceFields = referenceFields; self.maxReferences = maxReferences; self.negativePrompt = negativePrompt
            self.strengthKnobs = strengthKnobs; self.mode = mode; self.auth = auth; self.allowedHosts = allowedHosts
            self.outputs = outputs; self.promptTrigger = promptTrigger
        }
    }

    public struct NegativePromptSupport: Codable, Sendable, Equatable {
        public var supported: Bool
        /// "plain" or "parenthesized" ("(green eyes:1.3)").
        public var weighting: String
        /// When the negative prompt only applies under a condition (flux-pulid: "true_cfg > 1"), which
        /// the adapter sets when it sends one.
        public var condition: String?
        public var maxLength: Int?
        public init(supported: Bool, weighting: String = "plain", condition: String? = nil, maxLength: Int? = nil) {
            self.supported = supported; self.weighting = weighting; self.condition = condition; self.maxLength = maxLength
        }
    }

    public struct Knob: Codable, Sendable, Equatable {
        public var name: String
        public var minimum: Double
        public var maximum: Double
        public var defaultValue: Double
        /// How the platform's identity strength maps onto it, for people.
        public var mapping: String
        public init(name: String, minimum: Double, maximum: Double, defaultValue: Double, mapping: String) {
            self.name = name; self.minimum = minimum; self.maximum = maximum; self.defaultValue = defaultValue; self.mapping = mapping
        }
    }

    public struct Auth: Codable, Sendable, Equatable {
        /// "bearer" (`Authorization: Bearer <secret>`), "key" (`Authorization: Key <secret>`),
        /// "header" (`<header>: <secret>`) or "jwt-hs256" (Kling: the host signs a JWT with the secret).
        public var scheme: String
        /// The environment variable / credentials-file entry the host reads the secret from.
        public var credential: String
        /// For "header": the header's name.
        public var header: String?
        public init(scheme: String, credential: String, header: String? = nil) {
            self.scheme = scheme; self.credential = credential; self.header = header
        }
    }
}

/// One attempt's request, as the host hands it to an adapter. The reference images travel beside it
/// as byte buffers, in `character.referenceCount` order. No secret is ever part of it.
public struct AdapterRequest: Codable, Sendable, Equatable {
    public struct Character: Codable, Sendable, Equatable {
        public var name: String
        /// Attribute labels ("eye_colour": "brown", ...), for prompt reinforcement.
        public var attributes: [String: String]
        /// The fused 128-D identity, for surfaces that accept an embedding.
        public var embedding: [Float]
        public var referenceCount: Int
        public init(name: String, attributes: [String: String], embedding: [Float], referenceCount: Int) {
            self.name = name; self.attributes = attributes; self.embedding = embedding; self.referenceCount = referenceCount
        }
    }
    public struct Strictness: Codable, Sendable, Equatable {
        public var level: Int
        public var identityStrength: Double
        public init(level: Int, identityStrength: Double) { self.level = level; self.identityStrength = identityStrength }
    }
    public var character: Character
    public var prompt: String
    /// The synthesized negative prompt, plain and with weights ("(green eyes:1.5)").
    public var negativePrompt: String
    public var negativePromptWeighted: String
    public var strictness: Strictness
    public var seed: UInt64
    public var width: Int
    public var height: Int
    /// The model version to run instead of the manifest's pinned one (a model's owner pushes new
    /// versions; the user picks). nil: the pin.
    public var modelVersion: String?

    public init(character: Character, prompt: String, negativePrompt: String, negativePromptWeighted: String, strictness: Strictness,
                seed: UInt64, width: Int, height: Int, modelVersion: String? = nil) {
        self.character = character; self.prompt = prompt; self.negativePrompt = negativePrompt
        self.negativePromptWeighted = negativePromptWeighted; self.strictness = strictness; self.seed = seed
        self.width = width; self.height = height; self.modelVersion = modelVersion
    }
}

/// A reference image given to `build_request`.
public struct AdapterImage: Sendable, Equatable {
    public var bytes: [UInt8]
    public var mimeType: String
    public init(bytes: [UInt8], mimeType: String) { self.bytes = bytes; self.mimeType = mimeType }

    /// `data:<mime>;base64,<bytes>`.
    public var dataURL: String { "data:\(mimeType);base64," + Data(bytes).base64EncodedString() }
}

/// One HTTP request for the host to send. Credentials are never in it: the host adds them per the
/// manifest's `auth` when `authenticated` is true, and only towards `allowedHosts`.
public struct HTTPRequestPlan: Codable, Sendable, Equatable {
    /// "submit", "poll", "cancel" or "download".
    public var purpose: String
    public var method: String
    public var url: String
    public var headers: [String: String]
    /// A JSON body (as text), or nil.
    public var jsonBody: String?
    /// multipart/form-data parts, or nil.
    public var multipart: [Part]?
    public var authenticated: Bool

    public struct Part: Codable, Sendable, Equatable {
        public var name: String
        /// Text value, or nil for a file part.
        public var text: String?
        /// For a file part: index of the reference image it carries, with a file name and type.
        public var imageIndex: Int?
        public var fileName: String?
        public var mimeType: String?
        public init(name: String, text: String? = nil, imageIndex: Int? = nil, fileName: String? = nil, mimeType: String? = nil) {
            self.name = name; self.text = text; self.imageIndex = imageIndex; self.fileName = fileName; self.mimeType = mimeType
        }
    }

    public init(purpose: String, method: String, url: String, headers: [String: String] = [:], jsonBody: String? = nil,
                multipart: [Part]? = nil, authenticated: Bool = true) {
        self.purpose = purpose; self.method = method; self.url = url; self.headers = headers; self.jsonBody = jsonBody
        self.multipart = multipart; self.authenticated = authenticated
    }
}

/// An HTTP response handed back to the adapter that planned the request (the body travels as bytes).
public struct AdapterResponse: Codable, Sendable, Equatable {
    public var purpose: String
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public init(purpose: String, status: Int, headers: [String: String]) { self.purpose = purpose; self.status = status; self.headers = headers }
}

/// What a response means for the job.
public struct JobUpdate: Codable, Sendable, Equatable {
    /// "queued", "running", "succeeded" or "failed".
    public var state: String
    /// Where to poll next (for "queued"/"running"). The host GETs it authenticated, with the submit
    /// plan's headers except Content-Type, Accept and Prefer (e.g. Runway's `X-Runway-Version`), and journals it
    /// so a restarted host resumes polling there.
    public var pollURL: String?
    public var outputs: [Output]
    /// The provider's job id (for the run journal: resume instead of resubmitting).
    public var jobId: String?
    /// How to cancel the job while it is queued or running (purpose "cancel": Replicate's
    /// `POST urls.cancel`, fal's `PUT cancel_url`, Runway's `DELETE /v1/tasks/{id}`); nil where the
    /// provider has no cancel call. The host sends it (authenticated, with the poll headers) when the
    /// user interrupts a run, keeps the latest one it was given and journals it; it reads only the
    /// answer's status, so the adapter never parses a cancel's response.
    public var cancel: HTTPRequestPlan?
    public struct Output: Codable, Sendable, Equatable {
        public var url: String
        /// "image" or "video".
        public var kind: String
        public init(url: String, kind: String) { self.url = url; self.kind = kind }
    }
    public init(state: String, pollURL: String? = nil, outputs: [Output] = [], jobId: String? = nil, cancel: HTTPRequestPlan? = nil) {
        self.state = state; self.pollURL = pollURL; self.outputs = outputs; self.jobId = jobId; self.cancel = cancel
    }
}

/// A typed failure from an adapter.
public struct AdapterError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    /// "auth", "rate_limited", "invalid_request", "content_filtered", "no_face", "server",
    /// "malformed_response", "unsupported".
    public var code: String
    public var message: String
    public var retryable: Bool
    /// Seconds to wait before retrying, when the provider said (Retry-After, or its body).
    public var retryAfterSeconds: Double?
    public init(code: String, message: String, retryable: Bool, retryAfterSeconds: Double? = nil) {
        self.code = code; self.message = message; self.retryable = retryable; self.retryAfterSeconds = retryAfterSeconds
    }
    public var description: String { "\(code): \(message)" }
}

/// The envelopes the vtable functions return.
public struct BuildResult: Codable, Sendable, Equatable {
    public var plans: [HTTPRequestPlan]?
    public var error: AdapterError?
    public init(plans: [HTTPRequestPlan]? = nil, error: AdapterError? = nil) { self.plans = plans; self.error = error }
}

public struct ParseResult: Codable, Sendable, Equatable {
    public var update: JobUpdate?
    public var error: AdapterError?
    public init(update: JobUpdate? = nil, error: AdapterError? = nil) { self.update = update; self.error = error }
}

/// JSON coding with sorted keys (stable golden files).
public enum AdapterJSON {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let d = try? e.encode(value) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
