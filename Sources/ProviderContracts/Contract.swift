import Foundation

/// One provider endpoint's published contract, transcribed from the provider's own page into a JSON
/// file under `contracts/` (the files name their sources and the day they were read). Emulators refuse
/// what it refuses; adapters' golden requests are checked against it.
///
/// A contract is matched by its `route` (method, host, path; `{name}` matches one path segment) and,
/// where several endpoints share one route (Replicate's `POST /v1/predictions`), by `select`: a body
/// field and the value it must have.
public struct ProviderContract: Codable, Sendable, Equatable {
    /// `provider/endpoint`, e.g. `replicate/zsxkib-instant-id`.
    public var id: String
    public var provider: String
    public var title: String
    public var sources: [Source]
    /// Facts the sources did not settle, in words.
    public var unconfirmed: [String]
    public var route: Route
    public var select: Selector?
    /// Required headers by lower-case name.
    public var headers: [String: HeaderRule]
    public var body: Body
    /// Cross-field rules the schema cannot say (PhotoMaker's one `img` word).
    public var rules: [WordRule]
    /// The provider's published facts beside the request: lifecycle statuses, error texts, limits, in
    /// the provider's words (for people and for the emulator's answers).
    public var facts: [String: String]
    /// The status the provider answers a refused request with, and its validation texts per rule
    /// (`required`, `type`, `enum`, `minimum`, `maximum`, `maxLength`, `minLength`, `pattern`, `maxItems`,
    /// `minItems`, `image`, `maxBytes`, `unknown`, `words`), with `{field}`, `{name}`, `{limit}`,
    /// `{value}`, `{allowed}` and `{type}` filled in.
    public var refusal: Refusal

    public struct Source: Codable, Sendable, Equatable {
        public var url: String
        /// `YYYY-MM-DD`.
        public var read: String
        public var what: String
    }

    public struct Route: Codable, Sendable, Equatable {
        public var method: String
        public var host: String
        public var path: String
    }

    public struct Selector: Codable, Sendable, Equatable {
        /// A top-level body field.
        public var field: String
        public var equals: String
    }

    public struct HeaderRule: Codable, Sendable, Equatable {
        public var equals: String?
        public var prefix: String?
        /// The provider's answer when the header is missing or wrong.
        public var status: Int
        public var message: String
    }

    public struct Body: Codable, Sendable, Equatable {
        /// "json" or "multipart".
        public var encoding: String
        /// For multipart: the largest body the endpoint takes.
        public var maxBytes: Int?
        public var fields: [String: Field]
        /// What the provider does with fields it does not know: "reject", "drop" (silently) or "allow".
        public var unknown: String
    }

    public struct Refusal: Codable, Sendable, Equatable {
        public var status: Int
        public var messages: [String: String]
        /// Rules answered with another status than `status` (Stability: `maxBytes` -> 413).
        public var statuses: [String: Int]?
        /// The provider's own name for each rule in its error bodies (Replicate's `number_lte`).
        public var codes: [String: String]?

        /// The provider's name for `rule` (the rule's own name where none is given).
        public func code(for rule: String) -> String { codes?[rule] ?? rule }

        /// The status for a refusal whose first violation broke `rule`.
        public func status(for rule: String) -> Int { statuses?[rule] ?? status }
    }

    /// `word` must occur as a whole word (any case) between `min` and `max` times in `field`
    /// (a dotted path; an absent field counts zero occurrences).
    public struct WordRule: Codable, Sendable, Equatable {
        public var field: String
        public var word: String
        public var min: Int
        public var max: Int
        public var message: String
    }
}

/// One field's published constraints. `type` is one of `string`, `integer`, `number`, `boolean`,
/// `object`, `array`, `image` (a string carrying an image as a URL, a data URL or bare base64; which
/// forms are taken is `forms`), `file` (a multipart file part) or `anyOf` (the value meets one of the
/// fields in `anyOf`: fal's `image_size`, a preset name or `{width, height}`).
public struct Field: Codable, Sendable, Equatable {
    public var type: String
    public var anyOf: [Field]?
    public var required: Bool?
    public var `enum`: [String]?
    public var minimum: Double?
    public var maximum: Double?
    public var minLength: Int?
    public var maxLength: Int?
    /// How `maxLength`/`minLength` count: "characters" (Unicode scalars, the default), "utf16" or "bytes".
    public var lengthUnit: String?
    /// A regular expression the whole string must match.
    public var pattern: String?
    /// For `image`: any of "url" (https), "data-url" (`data:image/...;base64,`), "base64" (bare).
    public var forms: [String]?
    /// For `image` and `file`: the largest size in bytes (for `image`, of the string as sent).
    public var maxBytes: Int?
    /// For `array`: a one-element list holding every item's constraints; and the count limits.
    public var items: [Field]?
    public var minItems: Int?
    public var maxItems: Int?
    /// For `object`.
    public var fields: [String: Field]?
    public var unknown: String?
    public var description: String?
}

/// One contract file: a provider's shared parts (auth and version headers, refusal texts, facts true of
/// every endpoint) and its endpoints. An endpoint's own sources, facts and headers add to the provider's.
public struct ProviderFile: Codable, Sendable {
    public var schema: Int
    public var provider: String
    public var sources: [ProviderContract.Source]
    public var headers: [String: ProviderContract.HeaderRule]
    public var refusal: ProviderContract.Refusal
    public var facts: [String: String]
    public var endpoints: [Endpoint]

    public struct Endpoint: Codable, Sendable {
        public var id: String
        public var title: String
        public var sources: [ProviderContract.Source]?
        public var unconfirmed: [String]?
        public var route: ProviderContract.Route
        public var select: ProviderContract.Selector?
        public var headers: [String: ProviderContract.HeaderRule]?
        public var body: ProviderContract.Body
        public var rules: [ProviderContract.WordRule]?
        public var facts: [String: String]?
    }

    /// The file's endpoints as whole contracts.
    public var contracts: [ProviderContract] {
        endpoints.map { e in
            ProviderContract(id: e.id, provider: provider, title: e.title, sources: sources + (e.sources ?? []), unconfirmed: e.unconfirmed ?? [],
                             route: e.route, select: e.select, headers: headers.merging(e.headers ?? [:]) { _, b in b }, body: e.body,
                             rules: e.rules ?? [], facts: facts.merging(e.facts ?? [:]) { _, b in b }, refusal: refusal)
        }
    }
}
