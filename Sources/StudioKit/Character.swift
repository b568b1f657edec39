/// One check of a reference image's quality: the measured value against its threshold.
public struct QualityCheck: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable, Equatable, Comparable {
        case pass, warn, fail
        public static func < (a: Verdict, b: Verdict) -> Bool {
            let order: [Verdict] = [.pass, .warn, .fail]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }
    /// Short identifier, e.g. "resolution", "face_count", "face_size", "sharpness", "lighting", "frontality".
    public var name: String
    public var value: Double
    /// The threshold the value is compared with (see `rule`).
    public var threshold: Double
    /// How value and threshold compare for a pass, e.g. ">=", "<=", "==".
    public var rule: String
    public var verdict: Verdict
    /// Human-readable explanation, including units.
    public var detail: String

    public init(name: String, value: Double, threshold: Double, rule: String, verdict: Verdict, detail: String) {
        self.name = name; self.value = value; self.threshold = threshold; self.rule = rule; self.verdict = verdict; self.detail = detail
    }
}

/// All quality checks of one reference, with an overall weight used when fusing references.
public struct QualityReport: Sendable, Codable, Equatable {
    public var checks: [QualityCheck]
    /// In (0, 1]: how much this reference counts in the fused identity.
    public var weight: Double
    public init(checks: [QualityCheck], weight: Double) { self.checks = checks; self.weight = weight }
    /// The worst verdict among the checks.
    public var verdict: QualityCheck.Verdict { checks.map(\.verdict).max() ?? .pass }
}

/// One measured attribute of a face, with where it was measured so later drift checks on generated
/// outputs measure the same way.
public struct AttributeMeasurement: Sendable, Codable, Equatable {
    /// Numbers measured (e.g. CIELAB L*, a*, b*; or a single ratio).
    public var values: [Double]
    /// What the numbers mean, e.g. ["L*", "a*", "b*"] or ["ratio"].
    public var components: [String]
    /// A category for people, e.g. "brown", "type II (light, ITA 48°)".
    public var label: String
    /// The region of the aligned 150x150 chip (or landmark construction) the value comes from.
    public var region: String

    public init(values: [Double], components: [String], label: String, region: String) {
        self.values = values; self.components = components; self.label = label; self.region = region
    }
}

/// A face's measured attributes, keyed by name: "eye_colour", "skin_tone", "hair_colour",
/// "face_width_height_ratio", "eye_spacing_ratio".
public struct FaceAttributes: Sendable, Codable, Equatable {
    public var items: [String: AttributeMeasurement]
    public init(items: [String: AttributeMeasurement] = [:]) { self.items = items }
    public subscript(_ name: String) -> AttributeMeasurement? { items[name] }
}

/// A reference image of a character, as stored.
public struct ReferenceRecord: Sendable, Codable, Equatable {
    /// SHA-256 of the original file's bytes: the content address of the stored copy.
    public var sha256: String
    /// The file name it was added from (for people; never used to find it).
    public var fileName: String
    public var width: Int
    public var height: Int
    /// The face used (when the image had several, the one chosen).
    public var face: DetectedFace
    public var quality: QualityReport
    public var attributes: FaceAttributes
    /// Measures of the reference face that drift detectors compare outputs with (`"cheek_texture"`:
    /// the skin's Laplacian variance on the chip); nil in records made before they were kept.
    public var measures: [String: Double]?

    public init(sha256: String, fileName: String, width: Int, height: Int, face: DetectedFace,
                quality: QualityReport, attributes: FaceAttributes, measures: [String: Double]? = nil) {
        self.sha256 = sha256; self.fileName = fileName; self.width = width; self.height = height
        self.face = face; self.quality = quality; self.attributes = attributes; self.measures = measures
    }
}

/// A registered character: a fused identity, its references and attributes.
public struct CharacterRecord: Sendable, Codable, Equatable {
    public var id: String
    public var tenant: String
    public var name: String
    /// Seconds since 1970 (UTC).
    public var createdAt: Int64
    /// The quality-weighted fusion of the references' descriptors.
    public var identity: FaceDescriptor
    public var references: [ReferenceRecord]
    /// Attributes fused over the references (quality-weighted mean; labels of the fused values).
    public var attributes: FaceAttributes
    /// Free-form metadata ("origin": "photos" | "generated", ...).
    public var metadata: [String: String]

    public init(id: String, tenant: String, name: String, createdAt: Int64, identity: FaceDescriptor,
                references: [ReferenceRecord], attributes: FaceAttributes, metadata: [String: String] = [:]) {
        self.id = id; self.tenant = tenant; self.name = name; self.createdAt = createdAt; self.identity = identity
        self.references = references; self.attributes = attributes; self.metadata = metadata
    }
}

/// A line of `character list`.
public struct CharacterSummary: Sendable, Codable, Equatable {
    public var id: String
    public var tenant: String
    public var name: String
    public var createdAt: Int64
    public var referenceCount: Int
    public init(id: String, tenant: String, name: String, createdAt: Int64, referenceCount: Int) {
        self.id = id; self.tenant = tenant; self.name = name; self.createdAt = createdAt; self.referenceCount = referenceCount
    }
}

/// A search hit.
public struct CharacterMatch: Sendable, Codable, Equatable {
    public var name: String
    public var tenant: String
    public var distance: Double
    public var cosineSimilarity: Double
    public init(name: String, tenant: String, distance: Double, cosineSimilarity: Double) {
        self.name = name; self.tenant = tenant; self.distance = distance; self.cosineSimilarity = cosineSimilarity
    }
}

/// Why a store operation failed. Every case has a message fit for the command line.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case unknownCharacter, duplicateName, wrongKey, missingKey, corruptStore, io, invalidInput
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}

/// Where characters live. Implementations must make `add` atomic: after a crash the character is
/// either fully present or absent, and nothing else changed.
public protocol CharacterStore {
    /// Stores a new character and the original bytes of its reference images (keyed by SHA-256).
    func add(_ character: CharacterRecord, images: [String: [UInt8]]) throws
    func character(named name: String, tenant: String) throws -> CharacterRecord
    func list(tenant: String?) throws -> [CharacterSummary]
    func remove(named name: String, tenant: String) throws
    /// The stored bytes of a reference image.
    func image(sha256: String) throws -> [UInt8]
    /// The `top` characters nearest to a descriptor (Euclidean distance on fused identities).
    func nearest(to descriptor: FaceDescriptor, tenant: String?, top: Int) throws -> [CharacterMatch]
}
