import AdapterSDK
import StudioNet

// An adapter's HTTPRequestPlan as the transport's HTTPRequest: the one place the plugin's request type
// meets the HTTP client (StudioNet knows nothing of adapters).

extension HTTPRequest {
    /// The request for an adapter's plan: a JSON body with `Content-Type: application/json`, or a
    /// multipart body (file parts carry `images[imageIndex]`) with its boundary; a Content-Type the plan
    /// sets itself is kept for JSON. Authentication headers are the caller's (the host adds them when
    /// `plan.authenticated`, after `ManifestValidator` has accepted the plan).
    init<R: RandomNumberGenerator>(plan: HTTPRequestPlan, images: [[UInt8]], random: inout R) throws(MultipartError) {
        var headers = plan.headers
        var body: [UInt8] = []
        func setContentType(_ value: String, replace: Bool) {
            let existing = headers.keys.filter { $0.lowercased() == "content-type" }
            if !existing.isEmpty && !replace { return }
            for k in existing { headers.removeValue(forKey: k) }
            headers["Content-Type"] = value
        }
        if let parts = plan.multipart {
            let built = try MultipartBody.build(parts: MultipartBody.parts(from: parts, images: images), random: &random)
            body = built.body
            setContentType(built.contentType, replace: true)
        } else if let json = plan.jsonBody {
            body = Array(json.utf8)
            setContentType("application/json", replace: false)
        }
        self.init(method: plan.method.uppercased(), url: plan.url, headers: headers, body: body)
    }
}

extension MultipartBody {
    /// The parts of a plan: text parts as they are, file parts with the bytes of `images[imageIndex]`.
    static func parts(from plan: [HTTPRequestPlan.Part], images: [[UInt8]]) throws(MultipartError) -> [Part] {
        var out: [Part] = []
        for p in plan {
            if let text = p.text { out.append(.text(name: p.name, value: text)); continue }
            guard let i = p.imageIndex, images.indices.contains(i) else { throw .missingImage(partName: p.name) }
            out.append(.file(name: p.name, fileName: p.fileName ?? "image\(i)", contentType: p.mimeType ?? "application/octet-stream",
                             bytes: images[i]))
        }
        return out
    }
}
