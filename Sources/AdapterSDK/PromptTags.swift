/// Reference tags mentioned in a prompt ("@ref1"), as Runway gen4 reads them: a reference only
/// conditions the image when the prompt names its tag.
public enum PromptTags {
    /// Whether `text` mentions `@tag` as a whole token (`@ref1` does not count inside `@ref10`).
    public static func mentions(_ text: String, tag: String) -> Bool {
        var rest = Substring(text)
        while let r = rest.range(of: "@" + tag) {
            let next = rest[r.upperBound...].first
            if next == nil || !(next!.isLetter || next!.isNumber || next! == "_") { return true }
            rest = rest[r.upperBound...]
        }
        return false
    }
}
