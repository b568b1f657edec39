#if canImport(Glibc)
import Glibc
#endif
import AdapterSDK

/// A deliberately faulty adapter for the out-of-process tests: a valid manifest and request, and a
/// `parse_response` that crashes the process (SIGSEGV) when the response's purpose is "crash". Never
/// install it; it exists to prove that a crashing third-party adapter cannot take the host down.
public enum CrashTestAdapter: StudioAdapter {
    public static let manifest = AdapterManifest(
        name: "test-crash", version: "0.0.1", provider: "test", model: "crash",
        summary: "test fixture: crashes in parse_response when purpose is 'crash'",
        surface: .init(referenceFields: ["image"], maxReferences: 1, negativePrompt: .init(supported: false), strengthKnobs: [],
                       mode: "sync", auth: .init(scheme: "bearer", credential: "TEST_CRASH_TOKEN"),
                       allowedHosts: ["crash.invalid"], outputs: ["image"]))

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        [HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://crash.invalid/generate", jsonBody: "{}")]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        if r.purpose == "crash" {
            // A real invalid write, as a buggy adapter would make (raise(SIGSEGV) is absorbed by the
            // Swift runtime's backtracer and returns).
            UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
            abort()
        }
        if r.status >= 400 { throw AdapterSupport.httpError(r, detail: "test", provider: "test") }
        guard body.first == UInt8(ascii: "{") else { throw AdapterError(code: "malformed_response", message: "not JSON", retryable: false) }
        return JobUpdate(state: "succeeded", outputs: [.init(url: "https://crash.invalid/out.png", kind: "image")])
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(CrashTestAdapter.self, host: host) }
