/// A failure to read, decode, encode or write an image, always naming the file involved.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, coarsely, so callers can branch without parsing text.
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or read (missing, a directory, no permission).
        case unreadable
        /// The bytes are not a PNG or a JPEG (empty, another format, random data).
        case notAnImage
        /// The data ends before the image is complete.
        case truncated
        /// The data is damaged or malformed.
        case corrupt
        /// The image is larger than `ImageIO.maxPixels`, or too large to hold in memory.
        case tooLarge
        /// A valid image using a feature this build cannot decode (e.g. 12-bit JPEG).
        case unsupported
        /// Encoding or writing the output file failed.
        case writeFailed
    }

    /// The kind of failure.
    public let kind: Kind
    /// The file (path or name) the failure concerns, as the caller gave it.
    public let file: String
    /// A human-readable explanation, without the file name.
    public let detail: String

    /// Makes an error about `file`.
    public init(_ kind: Kind, file: String, detail: String) {
        self.kind = kind
        self.file = file
        self.detail = detail
    }

    /// `"<file>: <detail>"`, e.g. `"obama.jpg: truncated JPEG data (premature end of file)"`.
    public var description: String { "\(file): \(detail)" }
}
