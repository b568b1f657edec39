import Foundation
import StudioKit
import StudioImage
import AdapterSDK
import ProviderContracts

// Each provider's schema: how its models' inputs are read into a `SurfaceInput`, its job lifecycle and
// its error bodies (facts from ../shared/reference/remote-apis.md; the emulator README lists what is
// emulated and what is assumed).

extension Emulator {
    /// The provider's body for a deliberate fault.
    func faultResponse(_ p: EmulatedProvider, _ f: Fault) -> ServerResponse {
        switch f {
        case .rateLimited(let after):
            let headers = after.map { ["Retry-After": String($0)] } ?? [:]
            switch p {
            case .replicate: return .json(429, ["detail": "Request was throttled. Expected available in 1 second.", "status": 429], headers: headers)
            case .fal: return .json(429, ["detail": "Too many requests"], headers: headers)
            case .stability: return .json(429, ["id": "emulated", "name": "rate_limit_exceeded", "errors": ["You have exceeded the rate limit of 150 requests within a 10 second period"]], headers: headers)
            case .runway: return .json(429, ["error": "Too many requests"], headers: headers)
            case .kling: return .json(429, ["code": 1302, "message": "The API request rate exceeds the limit", "request_id": "emulated"], headers: headers)
            }
        case .serverError(let status):
            switch p {
            case .replicate: return .json(status, ["detail": "Internal server error", "status": status])
            case .fal: return .json(status, ["detail": "Internal server error"])
            case .stability: return .json(status, ["id": "emulated", "name": "internal_error", "errors": ["An unexpected server error occurred"]])
            case .runway: return .json(status, ["error": "Internal error"])
            case .kling: return .json(status, ["code": 5000, "message": "Server internal error", "request_id": "emulated"])
            }
        case .invalid:
            return invalid(p, "emulated validation error")
        }
    }

    /// The provider's validation error for `message`.
    func invalid(_ p: EmulatedProvider, _ message: String) -> ServerResponse {
        switch p {
        case .replicate: return .json(422, ["title": "Input validation failed", "detail": "- input: \(message)", "status": 422])
        case .fal: return .json(422, ["detail": [["loc": ["body"], "msg": message, "type": "value_error"]]])
        case .stability: return .json(400, ["id": "emulated", "name": "bad_request", "errors": [message]])
        case .runway: return .json(400, ["error": "Validation of body failed", "issues": [["message": message]]])
        case .kling: return .json(400, ["code": 1201, "message": "Invalid request parameters: \(message)", "request_id": "emulated"])
        }
    }

    func notFound(_ p: EmulatedProvider) -> ServerResponse {
        switch p {
        case .replicate: return .json(404, ["detail": "Not found.", "status": 404])
        case .fal: return .json(404, ["detail": "Request not found"])
        case .stability: return .json(404, ["id": "emulated", "name": "not_found", "errors": ["not found"]])
        case .runway: return .json(404, ["error": "Task not found"])
        case .kling: return .json(404, ["code": 1203, "message": "task not found", "request_id": "emulated"])
        }
    }

    /// Reads a submit with `read` (its planned fault, if any, was answered before); answers a
    /// validation error or creates the job.
    func submit(_ p: EmulatedProvider, prefix: String, _ read: () throws -> SurfaceInput, accepted: (Job) -> ServerResponse) -> ServerResponse {
        do {
            return accepted(createJob(try read(), prefix: prefix))
        } catch {
            return invalid(p, "\(error)")
        }
    }

    /// Counts a poll, answers a planned fault, or advances the job and lets `answer` describe it.
    func poll(_ p: EmulatedProvider, id: String, _ answer: (Job) -> ServerResponse) -> ServerResponse {
        if let f = pollFault() { return faultResponse(p, f) }
        guard let job = advance(id) else { return notFound(p) }
        return answer(job)
    }

    // MARK: - Replicate

    func replicate(_ r: ServerRequest) -> ServerResponse {
        let parts = r.path.split(separator: "/").map(String.init)
        let api = "https://api.replicate.com/v1/predictions/"
        func prediction(_ job: Job) -> ServerResponse {
            var o: [String: Any] = ["id": job.id, "model": job.model, "urls": ["get": api + job.id, "cancel": api + job.id + "/cancel"],
                                    "created_at": "2026-01-01T00:00:00.000Z"]
            if !job.done {
                o["status"] = job.polls == 0 ? "starting" : "processing"
            } else if job.cancelled {
                o["status"] = "canceled"
            } else if job.filtered, replicateFact(job.model, "content filter") == "empty output" {
                // PhotoMaker's safety checker drops the images; the prediction still succeeds.
                o["status"] = "succeeded"; o["output"] = [String]()
            } else if job.filtered {
                o["status"] = "failed"; o["error"] = "NSFW content detected. Try running it again, or try a different prompt."
            } else if let f = job.failure {
                o["status"] = "failed"
                o["error"] = f.kind == .noFace ? (replicateFact(job.model, "no face error") ?? "No face detected in the input image") : f.description
            } else {
                o["status"] = "succeeded"; o["output"] = job.files.map { deliveryURL(.replicate, $0) }
                o["metrics"] = ["predict_time": 1.0]
            }
            return .json(job.polls == 0 ? 201 : 200, o)
        }
        // POST /v1/predictions {version, input}: the version names the model (its contract's pinned
        // version); an unpinned one is read with the generic profile. (The models route,
        // /v1/models/{owner}/{name}/predictions, serves official models only: the contract gate refuses it.)
        if r.method == "POST", parts == ["v1", "predictions"] {
            let version = ((try? Self.json(r.body))?["version"] as? String) ?? ""
            let hash = String(version.split(separator: ":").last ?? "")
            let model = contracts.contracts.first { $0.provider == "replicate" && $0.select?.equals == hash }?.facts["model"]
            if model == nil { note("replicate: version \(hash) is pinned by no contract: only the predictions route was checked (Replicate refuses versions that do not exist)") }
            return submit(.replicate, prefix: "r", { try replicateInput(model: model ?? "version:" + hash, body: r.body) }, accepted: prediction)
        }
        // GET /v1/predictions/{id}
        if r.method == "GET", parts.count == 3, parts[0] == "v1", parts[1] == "predictions" {
            return poll(.replicate, id: parts[2], prediction)
        }
        // POST /v1/predictions/{id}/cancel: the prediction, now canceled (a finished one as it was).
        if r.method == "POST", parts.count == 4, parts[0] == "v1", parts[1] == "predictions", parts[3] == "cancel" {
            guard cancel(parts[2]) != nil, let job = job(parts[2]) else { return notFound(.replicate) }
            var answer = prediction(job)
            answer.status = 200
            return answer
        }
        return notFound(.replicate)
    }

    /// A fact of the contract that pins `model` on Replicate (its no-face error text, ...).
    func replicateFact(_ model: String, _ name: String) -> String? {
        contracts.contracts.first { $0.provider == "replicate" && $0.facts["model"] == model }?.facts[name]
    }

    func replicateInput(model: String, body: [UInt8]) throws -> SurfaceInput {
        let o = try Self.json(body)
        guard let input = o["input"] as? [String: Any] else { throw SurfaceError(.invalid, "input is required") }
        guard let prompt = input["prompt"] as? String else { throw SurfaceError(.invalid, "prompt is required") }
        let w = Self.number(input["width"]).map { Int($0) } ?? 1024, h = Self.number(input["height"]).map { Int($0) } ?? 1024
        let negative = (input["negative_prompt"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var refs: [RGBImage] = []
        var strength: Double? = nil
        var sentNegative = negative
        var faceModel = true
        switch model {
        case "zsxkib/instant-id":
            refs = [try reference(input["image"], field: "image")]
            strength = Self.clamp01(Self.number(input["ip_adapter_scale"]) ?? 0.8)
        case "zsxkib/flux-pulid":
            refs = [try reference(input["main_face_image"], field: "main_face_image")]
            strength = Self.pulidStrength(Self.number(input["id_weight"]) ?? 1)
            if (Self.number(input["true_cfg"]) ?? 1) <= 1 { sentNegative = nil }
        case "tencentarc/photomaker":
            refs = [try reference(input["input_image"], field: "input_image")]
            for k in 2...4 where input["input_image\(k)"] != nil { refs.append(try reference(input["input_image\(k)"], field: "input_image\(k)")) }
            let ratio = min(50, max(15, Self.number(input["style_strength_ratio"]) ?? 20))
            strength = (50 - ratio) / 35
        default:
            // A model the emulator has no profile for: its first data-URL input is the reference.
            guard let (key, value) = input.sorted(by: { $0.key < $1.key }).first(where: { ($0.value as? String)?.hasPrefix("data:image/") == true }) else {
                throw SurfaceError(.invalid, "no image input (a data URL) found for model \(model)")
            }
            refs = [try reference(value, field: key)]
            faceModel = false
        }
        return SurfaceInput(provider: .replicate, model: model, references: refs, prompt: prompt, negativePrompt: sentNegative,
                            identityStrength: strength, seed: Self.seed(input["seed"]), width: w, height: h, video: false, requiresFace: faceModel)
    }

    /// PuLID's id_weight (0...3, default 1) on the identity scale: saturating, 1 -> 0.75, >= 4/3 -> 1.
    static func pulidStrength(_ idWeight: Double) -> Double { clamp01(0.75 * idWeight) }

    // MARK: - fal (queue)

    func fal(_ r: ServerRequest) -> ServerResponse {
        let parts = r.path.split(separator: "/").map(String.init)
        guard parts.count >= 2 else { return notFound(.fal) }
        let app = parts[0] + "/" + parts[1]
        let base = "https://queue.fal.run/\(app)/requests/"
        // GET /{owner}/{app}/requests/{id}/status and GET /{owner}/{app}/requests/{id}
        if r.method == "GET", parts.count >= 4, parts[2] == "requests" {
            let id = parts[3]
            if parts.count == 5, parts[4] == "status" {
                return poll(.fal, id: id) { job in
                    let o: [String: Any] = ["request_id": job.id, "response_url": base + job.id, "status_url": base + job.id + "/status",
                                            "status": job.done ? "COMPLETED" : (job.polls <= 1 ? "IN_QUEUE" : "IN_PROGRESS"),
                                            "queue_position": job.polls <= 1 ? 0 : NSNull(), "logs": NSNull()]
                    return .json(job.done ? 200 : 202, o)
                }
            }
            guard parts.count == 4 else { return notFound(.fal) }
            return poll(.fal, id: id) { job in falResult(job) }
        }
        // PUT /{owner}/{app}/requests/{id}/cancel: 202 CANCELLATION_REQUESTED, or 400 ALREADY_COMPLETED.
        if r.method == "PUT", parts.count == 5, parts[2] == "requests", parts[4] == "cancel" {
            switch cancel(parts[3]) {
            case nil: return .json(404, ["status": "NOT_FOUND"])
            case false?: return .json(400, ["status": "ALREADY_COMPLETED"])
            case true?: return .json(202, ["status": "CANCELLATION_REQUESTED"])
            }
        }
        if r.method == "POST" {
            let model = parts.joined(separator: "/")
            return submit(.fal, prefix: "", { try falInput(model: model, body: r.body) }) { job in
                .json(200, ["request_id": job.id, "response_url": base + job.id, "status_url": base + job.id + "/status",
                            "cancel_url": base + job.id + "/cancel"])
            }
        }
        return notFound(.fal)
    }

    func falResult(_ job: Job) -> ServerResponse {
        guard job.done else { return .json(400, ["detail": "Request is still in progress"]) }
        // What fal answers for a cancelled request's result is not published (contracts/fal.json, unconfirmed).
        if job.cancelled { return .json(400, ["detail": "Request was cancelled"]) }
        let flux = job.model == "fal-ai/flux-pulid"
        if job.filtered && !flux {
            return .json(422, ["detail": [["loc": ["body"], "msg": "The content could not be processed because it contained material flagged by a content checker.", "type": "content_policy_violation"]]])
        }
        if let f = job.failure {
            let msg = f.kind == .noFace ? "No face detected in the reference image" : f.description
            return .json(422, ["detail": [["loc": ["body"], "msg": msg, "type": f.kind == .noFace ? "face_not_found" : "value_error"]]])
        }
        let urls = job.files.map { deliveryURL(.fal, $0) }
        if job.input.video {
            return .json(200, ["video": ["url": urls[0], "content_type": "video/mp4", "file_name": "output.mp4"]])
        }
        if flux {
            // fal returns the checker's (blank) image and flags it.
            let images: [[String: Any]] = urls.map { ["url": $0, "width": job.input.width, "height": job.input.height, "content_type": "image/png"] }
            return .json(200, ["images": images, "seed": job.input.seed ?? 0, "has_nsfw_concepts": [job.filtered], "timings": ["inference": 1.0]])
        }
        if job.model == "fal-ai/ip-adapter-face-id" {
            return .json(200, ["image": ["url": urls[0], "content_type": "image/png"], "seed": job.input.seed ?? 0])
        }
        return .json(200, ["images": urls.map { ["url": $0, "content_type": "image/png"] }, "seed": job.input.seed ?? 0])
    }

    func falInput(model: String, body: [UInt8]) throws -> SurfaceInput {
        let o = try Self.json(body)
        guard let prompt = o["prompt"] as? String, !prompt.isEmpty else { throw SurfaceError(.invalid, "prompt: field required") }
        var negative = (o["negative_prompt"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var w = Self.number(o["width"]).map { Int($0) } ?? 1024, h = Self.number(o["height"]).map { Int($0) } ?? 1024
        if let size = o["image_size"] as? [String: Any], let sw = Self.number(size["width"]), let sh = Self.number(size["height"]) {
            w = Int(sw); h = Int(sh)
        }
        let refs: [RGBImage]
        var strength: Double? = nil
        var video = false, faceModel = true
        switch model {
        case "fal-ai/kling-video/v1/standard/image-to-video":
            refs = [try reference(o["image_url"], field: "image_url")]
            strength = Self.clamp01(Self.number(o["cfg_scale"]) ?? 0.5)
            video = true; faceModel = false
            if negative == nil { negative = "blur, distort, and low quality" }
        case "fal-ai/flux-pulid":
            refs = [try reference(o["reference_image_url"], field: "reference_image_url")]
            strength = Self.pulidStrength(Self.number(o["id_weight"]) ?? 1)
            if (Self.number(o["true_cfg"]) ?? 1) <= 1 { negative = nil }
        case "fal-ai/ip-adapter-face-id":
            refs = [try reference(o["face_image_url"], field: "face_image_url")]
        default:
            guard let (key, value) = o.sorted(by: { $0.key < $1.key }).first(where: { ($0.value as? String)?.hasPrefix("data:image/") == true }) else {
                throw SurfaceError(.invalid, "no image input (a data URL) found for \(model)")
            }
            refs = [try reference(value, field: key)]
            faceModel = false
        }
        return SurfaceInput(provider: .fal, model: model, references: refs, prompt: prompt, negativePrompt: negative, identityStrength: strength,
                            seed: Self.seed(o["seed"]), width: w, height: h, video: video, requiresFace: faceModel)
    }

    // MARK: - Stability (synchronous, multipart)

    func stability(_ r: ServerRequest) -> ServerResponse {
        let parts = r.path.split(separator: "/").map(String.init)
        guard r.method == "POST", parts.count == 4, parts[0] == "v2beta", parts[1] == "stable-image", parts[2] == "generate",
              ["sd3", "core", "ultra"].contains(parts[3]) else { return notFound(.stability) }
        let input: SurfaceInput
        do { input = try stabilityInput(r) } catch { return invalid(.stability, "\(error)") }
        let job = run(createJob(input, prefix: "s"))
        if let f = job.failure { return .json(500, ["id": job.id, "name": "internal_error", "errors": [f.description]]) }
        let png = job.filtered ? ((try? ImageIO.encodePNG(RGBImage(width: 8, height: 8))) ?? []) : (fileBytes(job.files[0])?.bytes ?? [])
        return .json(200, ["image": Data(png).base64EncodedString(), "finish_reason": job.filtered ? "CONTENT_FILTERED" : "SUCCESS",
                           "seed": input.seed ?? 0])
    }

    func stabilityInput(_ r: ServerRequest) throws -> SurfaceInput {
        guard let type = r.headers["content-type"], type.lowercased().hasPrefix("multipart/form-data"),
              let b = type.range(of: "boundary=") else { throw SurfaceError(.invalid, "multipart/form-data is required") }
        let boundary = String(type[b.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        let fields: [String: [UInt8]]
        do { fields = try Multipart.parse(r.body, boundary: boundary).mapValues(\.bytes) } catch { throw SurfaceError(.invalid, error.description) }
        func text(_ k: String) -> String? { fields[k].map { String(decoding: $0, as: UTF8.self) } }
        guard let prompt = text("prompt"), !prompt.isEmpty else { throw SurfaceError(.invalid, "prompt: cannot be empty") }
        var refs: [RGBImage] = []
        if text("mode") == "image-to-image" {
            guard let image = fields["image"] else { throw SurfaceError(.invalid, "image: required for image-to-image") }
            refs = [try reencode(image, field: "image")]
        }
        let strength = text("strength").flatMap(Double.init) ?? 0
        guard refs.isEmpty || text("strength") != nil else { throw SurfaceError(.invalid, "strength: required for image-to-image") }
        let negative = text("negative_prompt").flatMap { $0.isEmpty ? nil : $0 }
        return SurfaceInput(provider: .stability, model: text("model") ?? "sd3.5-large", references: refs, prompt: prompt,
                            negativePrompt: negative, identityStrength: refs.isEmpty ? 0 : 1 - strength, seed: text("seed").flatMap { UInt64($0) },
                            width: 1024, height: 1024, video: false, requiresFace: false)
    }

    // MARK: - Runway

    func runway(_ r: ServerRequest) -> ServerResponse {
        let parts = r.path.split(separator: "/").map(String.init)
        func task(_ job: Job) -> ServerResponse {
            var o: [String: Any] = ["id": job.id, "createdAt": "2026-01-01T00:00:00.000Z"]
            if !job.done {
                o["status"] = job.polls <= 1 ? "PENDING" : "RUNNING"; o["progress"] = min(0.9, 0.3 * Double(job.polls))
            } else if job.cancelled {
                o["status"] = "CANCELLED"
            } else if job.filtered {
                o["status"] = "FAILED"; o["failure"] = "The output was rejected by content moderation."; o["failureCode"] = "SAFETY.OUTPUT.IMAGE"
            } else if let f = job.failure {
                o["status"] = "FAILED"; o["failure"] = f.description; o["failureCode"] = "INTERNAL.BAD_OUTPUT.CODE01"
            } else {
                o["status"] = "SUCCEEDED"; o["output"] = job.files.map { deliveryURL(.runway, $0) }
            }
            return .json(200, o)
        }
        if r.method == "POST", parts == ["v1", "text_to_image"] {
            return submit(.runway, prefix: "", { try runwayInput(r.body) }) { job in .json(200, ["id": Self.uuidLike(job.id)]) }
        }
        if r.method == "GET", parts.count == 3, parts[0] == "v1", parts[1] == "tasks" {
            return poll(.runway, id: Self.fromUUIDLike(parts[2])) { job in
                var answer = task(job)
                if var o = try? Self.json(answer.body) { o["id"] = parts[2]; answer = .json(200, o) }
                return answer
            }
        }
        // DELETE /v1/tasks/{id}: cancels a running task (deletes a finished one); 204 without a body.
        if r.method == "DELETE", parts.count == 3, parts[0] == "v1", parts[1] == "tasks" {
            guard cancel(Self.fromUUIDLike(parts[2])) != nil else { return notFound(.runway) }
            return ServerResponse(status: 204, headers: [:], body: [])
        }
        return notFound(.runway)
    }

    /// Runway task ids are UUIDs: the emulator's id, dressed as one.
    static func uuidLike(_ id: String) -> String {
        let hex = Array((id + String(repeating: "0", count: 32)).prefix(32))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
    }

    static func fromUUIDLike(_ s: String) -> String { String(s.replacingOccurrences(of: "-", with: "").prefix(12)) }

    func runwayInput(_ body: [UInt8]) throws -> SurfaceInput {
        // The contract gate has checked model, promptText, ratio and referenceImages against Runway's limits.
        let o = try Self.json(body)
        let model = (o["model"] as? String) ?? "gen4_image", prompt = (o["promptText"] as? String) ?? ""
        guard let ratio = o["ratio"] as? String, let x = ratio.firstIndex(of: ":"), let w = Int(ratio[..<x]), let h = Int(ratio[ratio.index(after: x)...]) else {
            throw SurfaceError(.invalid, "ratio must be W:H")
        }
        let list = (o["referenceImages"] as? [[String: Any]]) ?? []
        // A reference only conditions the image when the prompt mentions its @tag.
        var refs: [RGBImage] = []
        for (i, item) in list.enumerated() {
            guard let tag = item["tag"] as? String, !tag.isEmpty else { throw SurfaceError(.invalid, "referenceImages[\(i)].tag is required") }
            let image = try reference(item["uri"], field: "referenceImages[\(i)].uri")
            if PromptTags.mentions(prompt, tag: tag) { refs.append(image) }
        }
        return SurfaceInput(provider: .runway, model: model, references: refs, prompt: prompt, negativePrompt: nil, identityStrength: nil,
                            seed: Self.seed(o["seed"]), width: w, height: h, video: false, requiresFace: false)
    }


    // MARK: - Kling (official)

    func kling(_ r: ServerRequest) -> ServerResponse {
        let parts = r.path.split(separator: "/").map(String.init)
        func envelope(_ job: Job) -> ServerResponse {
            var data: [String: Any] = ["task_id": job.id, "created_at": 1_767_225_600_000, "updated_at": 1_767_225_600_000]
            if !job.done {
                data["task_status"] = job.polls == 0 ? "submitted" : "processing"
            } else if job.filtered {
                data["task_status"] = "failed"; data["task_status_msg"] = "Failure to pass the risk control system"
            } else if let f = job.failure {
                data["task_status"] = "failed"; data["task_status_msg"] = f.description
            } else {
                data["task_status"] = "succeed"
                data["task_result"] = ["videos": job.files.map { ["id": job.id + "-v", "url": deliveryURL(.kling, $0), "duration": "5"] }]
            }
            return .json(200, ["code": 0, "message": "SUCCEED", "request_id": "emulated-" + job.id, "data": data])
        }
        if r.method == "POST", parts == ["v1", "videos", "image2video"] {
            return submit(.kling, prefix: "k", { try klingInput(r.body) }, accepted: envelope)
        }
        if r.method == "GET", parts.count == 4, Array(parts[0..<3]) == ["v1", "videos", "image2video"] {
            return poll(.kling, id: parts[3], envelope)
        }
        return notFound(.kling)
    }

    func klingInput(_ body: [UInt8]) throws -> SurfaceInput {
        // The contract gate has checked model_name, the lengths, cfg_scale and the image's form (no data: prefix).
        let o = try Self.json(body)
        let model = (o["model_name"] as? String) ?? "kling-v1", prompt = (o["prompt"] as? String) ?? ""
        let negative = (o["negative_prompt"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let image = try reference(o["image"], field: "image", rawBase64: true)
        return SurfaceInput(provider: .kling, model: model, references: [image], prompt: prompt, negativePrompt: negative,
                            identityStrength: Self.clamp01(Self.number(o["cfg_scale"]) ?? 0.5), seed: nil,
                            width: image.width, height: image.height, video: true, requiresFace: false)
    }
}
