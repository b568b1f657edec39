import Foundation

/// The texts `new-adapter` writes. Placeholders: {{NAME}} (directory and manifest name), {{TYPE}} (the
/// adapter's Swift type), {{MODULE}} (its module and product, <TYPE>Adapter), {{PROVIDER}} (the manifest's
/// provider), {{PROVIDER_NOTE}} (a TODO when the provider is not Replicate, else nothing).
///
/// The scaffold must build, load, pass `studio adapters check` and pass its own test exactly as written
/// (scripts/check-scaffold.sh proves it in CI), so edit these with that in mind: the golden request in
/// the test template is what the adapter template builds for the test's request.
enum Templates {
    /// Capitalised identifiers the Swift templates use (types, modules), outside comments: an adapter
    /// type may not take one of these names, or it would hide it from the template's own code.
    static let identifiersUsed: Set<String> = {
        var out = Set<String>()
        for template in [adapter, test] {
            for line in template.split(separator: "\n") {
                let code = line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...]
                var word = ""
                for ch in code + " " {
                    if ch.isLetter || ch.isNumber || ch == "_" { word.append(ch); continue }
                    if let f = word.first, f.isUppercase { out.insert(word) }
                    word = ""
                }
            }
        }
        return out
    }()

    static let otherProviderNote = #"""

    // TODO(author): this adapter's provider is "{{PROVIDER}}", but the template speaks Replicate's prediction
    // API. Replace the URL, `hosts`, `manifest.surface.auth`, the request body and `parseResponse` with
    // {{PROVIDER}}'s, and the golden request in Tests/{{TYPE}}GoldenRequestTests.swift with the one it expects.

    """#

    static let adapter = #"""
    import Foundation
    import AdapterSDK

    // Scaffolded by `swift package --allow-writing-to-package-directory new-adapter --name {{NAME}}`.
    // As written it is a complete adapter for an image model on Replicate, pinned to a placeholder version:
    // it builds, loads and passes `studio adapters check`. The TODO(author) comments mark where it meets
    // your model; README.md beside this file explains each part, and how to build, check, test and install it.
    // An adapter is a pure translator: no network, no files, no secrets (the host owns all three).
    {{PROVIDER_NOTE}}
    /// {{TYPE}}: one face reference sent as a data URL, a plain negative prompt, and the identity strength
    /// mapped linearly onto one knob. Submits with `Prefer: wait` and polls `urls.get` when the prediction
    /// has not finished in time.
    public enum {{TYPE}}: StudioAdapter {
        // TODO(author): the model ("owner/name") and the version to run: the 64-hex-digit id from the
        // model's "Versions" tab on replicate.com. A pinned version keeps requests reproducible; when you
        // change it, change "version" in the golden request (Tests/{{TYPE}}GoldenRequestTests.swift) too.
        static let model = "owner/model"
        static let modelVersion = "0000000000000000000000000000000000000000000000000000000000000000"

        // TODO(author): the input that carries identity strength, with the range and default the model's
        // API page gives (InstantID's ip_adapter_scale is 0...1, default 0.8; PuLID's id_weight is 0...3).
        static let identityKnob = AdapterManifest.Knob(
            name: "ip_adapter_scale", minimum: 0, maximum: 1, defaultValue: 0.8,
            mapping: "identity strength 0...1 onto 0...1, linearly")

        /// The API host and the host outputs are downloaded from: the only ones the host will contact.
        static let hosts = ["api.replicate.com", "replicate.delivery"]
        static let predictionsURL = "https://api.replicate.com/v1/predictions"

        // TODO(author): the surface is what the verification loop adapts to (no negative prompt: it
        // reinforces identity in the prompt instead; a knob: it maps strictness onto it). Fill every field
        // in truthfully for your model: a surface that claims more than the API does makes the loop
        // trust levers that do nothing.
        public static let manifest = AdapterManifest(
            name: "{{NAME}}", version: "0.1.0", provider: "{{PROVIDER}}", model: model,
            summary: "{{TYPE}}: one face reference, negative prompt, ip_adapter_scale for identity strength",
            surface: .init(referenceFields: ["image"], maxReferences: 1,
                           negativePrompt: .init(supported: true, weighting: "plain"),
                           strengthKnobs: [identityKnob], mode: "poll",
                           auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                           allowedHosts: hosts, outputs: ["image"]))

        // TODO(author): the model's input fields, named exactly as its API schema names them.
        struct Input: Encodable {
            var image: String
            var prompt: String
            var negative_prompt: String
            var ip_adapter_scale: Double
            var width: Int
            var height: Int
            var seed: UInt64
            var num_outputs: Int
            var output_format: String
        }

        /// A versioned prediction: `{"version": ..., "input": {...}}`.
        struct Body: Encodable {
            var version: String
            var input: Input
        }

        public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
            // The host passes the references in order; this model takes one, so extra ones are ignored.
            guard let face = images.first else {
                throw AdapterError(code: "invalid_request", message: "\(model) needs one face image; none was given", retryable: false)
            }
            let negative = r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines)
            // TODO(author): clamp sizes and the seed to what the model accepts.
            let input = Input(image: face.dataURL, prompt: r.prompt, negative_prompt: negative,
                              ip_adapter_scale: AdapterSupport.map(r.strictness.identityStrength, onto: identityKnob),
                              width: min(1536, max(256, r.width)), height: min(1536, max(256, r.height)),
                              seed: r.seed % 2_147_483_647, num_outputs: 1, output_format: "png")
            // No Authorization header: the host adds the credential named in the manifest, and only
            // towards the allowed hosts. Never put a secret into a plan.
            return [HTTPRequestPlan(purpose: "submit", method: "POST", url: predictionsURL,
                                    headers: ["Content-Type": "application/json", "Prefer": "wait=60"],
                                    jsonBody: AdapterJSON.encode(Body(version: modelVersion, input: input)))]
        }

        public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
            // Replicate's prediction object is the same for every model: statuses, outputs, HTTP errors.
            // TODO(author): a provider other than Replicate parses its own responses here (see
            // AdapterSupport.object and AdapterSupport.httpError for the shared pieces).
            try ReplicatePrediction.parse(r, body: body, model: model)
        }
    }

    // The adapter's whole export: the C ABI entry the host looks up after dlopen. Keep it exactly so.
    @_cdecl("studio_adapter_v1")
    public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable({{TYPE}}.self, host: host) }

    """#

    static let test = ##"""
    import XCTest
    import Foundation
    import AdapterSDK
    import StudioAdapterHost
    import ProviderContracts

    /// {{TYPE}} loaded as the host loads it (dlopen, the C vtable; `swift build` builds
    /// `lib{{MODULE}}.so` beside the test binary): the submit request against a hand-written golden
    /// request, the manifest and plan against the host's rules, and response parsing. The test does not
    /// link the adapter's module: every adapter exports the same `studio_adapter_v1` symbol.
    /// Run with `swift build --manifest-cache none --build-tests && swift test --skip-build --filter {{MODULE}}Tests`.
    final class {{TYPE}}GoldenRequestTests: XCTestCase {
        /// The built library, found beside (or above) the test binary.
        static func adapter() throws -> LoadedAdapter {
            var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            while dir.path != "/" {
                let p = dir.appendingPathComponent("lib{{MODULE}}.so").path
                if FileManager.default.fileExists(atPath: p) { return try LoadedAdapter(path: p) }
                dir = dir.deletingLastPathComponent()
            }
            XCTFail("lib{{MODULE}}.so is not built (swift build builds every product)")
            throw XCTSkip("adapter not built")
        }

        /// The request the API expects for `request` below, written by hand from the API's documentation
        /// (never copied from the adapter's output: it is the check). Kept here rather than in a file, as
        /// a JSON file in a test target would need declaring in Package.swift ("iVBORw==" is the four PNG
        /// bytes of `face` in base64).
        static let golden = #"""
        {
          "purpose": "submit",
          "method": "POST",
          "url": "https://api.replicate.com/v1/predictions",
          "headers": {"Content-Type": "application/json", "Prefer": "wait=60"},
          "authenticated": true,
          "body": {
            "version": "0000000000000000000000000000000000000000000000000000000000000000",
            "input": {
              "image": "data:image/png;base64,iVBORw==",
              "prompt": "portrait of a person, soft light",
              "negative_prompt": "blurry, green eyes",
              "ip_adapter_scale": 0.85,
              "width": 1024,
              "height": 1024,
              "seed": 42,
              "num_outputs": 1,
              "output_format": "png"
            }
          }
        }
        """#

        /// A fixed attempt: the golden request is exactly what the adapter must build for it.
        static let request = AdapterRequest(
            character: .init(name: "golden", attributes: ["eye_colour": "brown"], embedding: [Float](repeating: 0.05, count: 128), referenceCount: 1),
            prompt: "portrait of a person, soft light", negativePrompt: "blurry, green eyes", negativePromptWeighted: "blurry, (green eyes:1.5)",
            strictness: .init(level: 1, identityStrength: 0.85), seed: 42, width: 1024, height: 1024)
        /// Four bytes of a PNG header: the data URL's content is what matters here, not the picture.
        static let face = AdapterImage(bytes: [0x89, 0x50, 0x4E, 0x47], mimeType: "image/png")

        func testSubmitMatchesGolden() throws {
            let plans = try Self.adapter().buildRequest(Self.request, images: [Self.face])
            XCTAssertEqual(plans.count, 1)
            let p = try XCTUnwrap(plans.first)
            // The body is compared parsed, so key order and number spelling do not matter.
            XCTAssertEqual(GoldenRequest.differences(p, golden: Self.golden), [])
        }

        /// The plan meets the provider's published contract for its route (Sources/ProviderContracts/
        /// contracts/; for Replicate, the predictions route's own contract until yours pins a version
        /// there), sent as the host sends it: with the credential header added.
        func testSubmitMeetsTheProvidersContract() throws {
            let a = try Self.adapter()
            let plan = try XCTUnwrap(a.buildRequest(Self.request, images: [Self.face]).first)
            let auth = Credentials.authHeader(a.manifest.surface.auth, secret: "contract-check", issuer: "contract-check")
            let check = try XCTUnwrap(ContractLibrary.shipped().check(plan: plan, images: [Self.face], authorization: auth),
                                      "no provider contract covers \(plan.method) \(plan.url)")
            XCTAssertEqual(check.violations.map(\.description), [], check.contract.id)
        }

        func testManifestAndPlanFollowTheHostRules() throws {
            let a = try Self.adapter()
            XCTAssertEqual(a.manifest.name, "{{NAME}}", "the manifest name must equal the directory name")
            XCTAssertEqual(ManifestValidator.problems(a.manifest), [])
            for p in try a.buildRequest(Self.request, images: [Self.face]) {
                XCTAssertNil(ManifestValidator.problem(plan: p, manifest: a.manifest))
            }
            XCTAssertThrowsError(try a.buildRequest(Self.request, images: [])) { error in
                XCTAssertEqual((error as? AdapterError)?.code, "invalid_request")
            }
        }

        func testParseResponses() throws {
            let a = try Self.adapter()
            let ok = AdapterResponse(purpose: "submit", status: 201, headers: [:])
            let running = #"{"id": "p1", "status": "processing", "urls": {"get": "https://api.replicate.com/v1/predictions/p1"}}"#
            let update = try a.parseResponse(ok, body: Array(running.utf8))
            XCTAssertEqual(update, JobUpdate(state: "running", pollURL: "https://api.replicate.com/v1/predictions/p1", jobId: "p1"))

            let done = #"{"id": "p1", "status": "succeeded", "output": ["https://replicate.delivery/p1/out-0.png"]}"#
            XCTAssertEqual(try a.parseResponse(ok, body: Array(done.utf8)).outputs,
                           [JobUpdate.Output(url: "https://replicate.delivery/p1/out-0.png", kind: "image")])

            let throttled = AdapterResponse(purpose: "submit", status: 429, headers: ["retry-after": "3"])
            XCTAssertThrowsError(try a.parseResponse(throttled, body: Array(#"{"detail": "Request was throttled."}"#.utf8))) { error in
                XCTAssertEqual((error as? AdapterError)?.code, "rate_limited")
                XCTAssertEqual((error as? AdapterError)?.retryAfterSeconds, 3)
            }
        }
    }

    """##

    static let readme = #"""
    # {{NAME}}

    A remote-API adapter for studio, scaffolded by
    `swift package --allow-writing-to-package-directory new-adapter --name {{NAME}}`. As written it is a
    complete adapter for an image model on Replicate pinned to a placeholder version: it builds, loads,
    passes `studio adapters check` and passes its test. Make it yours by following the `TODO(author):`
    comments in `{{TYPE}}.swift`, then keep the test and the check passing.

    | file | what it is |
    |---|---|
    | `{{TYPE}}.swift` | the adapter: the type `{{TYPE}}` (manifest, `buildRequest`, `parseResponse`) and the one-line C export |
    | `Tests/{{TYPE}}GoldenRequestTests.swift` | golden-request (method, URL, headers, JSON body), host-rules and parsing tests (test target `{{MODULE}}Tests`) |

    Package.swift finds this directory by itself: the product and module are `{{MODULE}}`
    (`lib{{MODULE}}.so`), and `Tests/` is the test target `{{MODULE}}Tests`. Nothing else needs editing.

    ## The parts of `{{TYPE}}.swift`

    - **`manifest`**: who the adapter is (`name` must stay `{{NAME}}`, the directory's name; `version`,
      `provider`, `model`, a one-line `summary`) and its **surface**: which request fields carry reference
      images and how many, whether there is a negative prompt, the strength knobs and their ranges, `poll`,
      `sync` or `webhook`, the auth scheme and the environment variable holding the secret, the allowed
      hosts, and the outputs. The verification loop adapts to the surface (without a negative prompt it
      reinforces identity in the prompt; with a knob it maps strictness onto it), so **fill every field in
      truthfully**: a surface that claims more than the API does makes the loop rely on levers that do nothing.
    - **`buildRequest`**: one attempt (prompt, negative prompt, strictness, seed, size, reference images)
      into the HTTP request(s) that submit it. Here: a versioned Replicate prediction with the face as a
      data URL, the plain negative prompt, and the identity strength mapped onto `ip_adapter_scale` with
      `AdapterSupport.map`.
    - **`parseResponse`**: what a response means (queued, running with a poll URL, succeeded with output
      URLs, or a typed error: `auth`, `rate_limited`, `invalid_request`, `no_face`, `content_filtered`,
      `server`, ...). Replicate's prediction object is shared by every model: `ReplicatePrediction.parse`.
    - **`@_cdecl("studio_adapter_v1")`**: the entry the host calls after `dlopen`. Keep the line as it is.

    ## Build, check, test, install

    From the package root:

    ```sh
    swift build -c release --manifest-cache none --product {{MODULE}}
    # the library lands in the release bin directory:
    ls "$(swift build -c release --show-bin-path)/lib{{MODULE}}.so"      # .build/release/lib{{MODULE}}.so
    # conformance: manifest, request shapes, error mapping, no secret leakage (exit 0 = all pass)
    swift build -c release --manifest-cache none --product studio
    .build/release/studio adapters check .build/release/lib{{MODULE}}.so
    .build/release/studio adapters check --out-of-process .build/release/lib{{MODULE}}.so
    # its test (builds the package's tests; add -c release -Xswiftc -enable-testing to reuse a release build)
    swift test --manifest-cache none --filter {{MODULE}}Tests
    ```

    Why `--manifest-cache none`: Package.swift finds adapters by listing `adapters/`, but SwiftPM caches
    its reading of Package.swift keyed on the file's text, so a reading cached before this directory
    existed answers `no product named '{{MODULE}}'`. Pass the flag (or remove
    `~/.cache/org.swift.swiftpm/manifests`) until Package.swift's text next changes.

    To install it for a studio that is not this package's build, copy the library into
    `$STUDIO_HOME/adapters` (default `~/.studio/adapters`), or into a directory named in
    `STUDIO_ADAPTER_PATH` (colon-separated, searched first). `studio adapters list` and
    `studio adapters info {{NAME}}` show it; `studio gen --backend {{NAME}} --dry-run ...` prints the
    request it builds with secrets redacted.

    When you change the request, change the golden request (`golden` in
    `Tests/{{TYPE}}GoldenRequestTests.swift`) by hand to what the API's documentation says it expects,
    not by copying the adapter's output: the golden request is the check. (It is embedded in the test
    because a fixture file in the test folder would need declaring in Package.swift.)

    ## Security rules

    - **No secrets in the adapter.** Never read environment variables, files or keys, and never set
      `Authorization`, `X-API-Key`, `Api-Key` or `Cookie` headers: the host adds the credential named in
      `surface.auth` itself, and only to requests for the allowed hosts. `studio adapters check` fails a plan
      that contains the credential's value.
    - **Allowed hosts only.** Every URL must be `https` to a host in `surface.allowedHosts` (bare host
      names: no scheme, port, path or wildcard); the host refuses any other plan. List only the API's host
      and the host its outputs are downloaded from.
    - **A pure translator.** No network, no files, no global state: same request in, same plans out.
    """#
}
