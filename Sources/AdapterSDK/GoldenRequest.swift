import Foundation

/// A golden request: the exact plan an adapter must build for a fixed attempt, kept as a JSON file
/// `{"purpose", "method", "url", "headers", "authenticated", "body"}` (body parsed, so key order and
/// number spelling do not matter). The one comparison the package's adapter tests and the scaffold's
/// generated test both use.
public enum GoldenRequest {
    /// What differs between `plan` and the golden JSON text, one line per difference; empty when they agree.
    public static func differences(_ plan: HTTPRequestPlan, golden text: String) -> [String] {
        guard let golden = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return ["the golden file is not a JSON object"]
        }
        var out: [String] = []
        func check(_ name: String, _ same: Bool, _ got: Any?, _ want: Any?) {
            if !same { out.append("\(name): built \(got.map { "\($0)" } ?? "nil"), golden \(want.map { "\($0)" } ?? "nil")") }
        }
        check("purpose", plan.purpose == golden["purpose"] as? String, plan.purpose, golden["purpose"])
        check("method", plan.method == golden["method"] as? String, plan.method, golden["method"])
        check("url", plan.url == golden["url"] as? String, plan.url, golden["url"])
        check("headers", plan.headers == golden["headers"] as? [String: String], plan.headers, golden["headers"])
        check("authenticated", plan.authenticated == golden["authenticated"] as? Bool, plan.authenticated, golden["authenticated"])
        check("multipart", plan.multipart == nil, plan.multipart?.map(\.name), nil)
        let body = plan.jsonBody.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSDictionary }
        check("body", body != nil && body == golden["body"] as? NSDictionary, plan.jsonBody, golden["body"])
        return out
    }
}
