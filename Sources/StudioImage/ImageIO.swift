import StudioKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading, decoding, encoding and writing PNG and JPEG images as `RGBImage`.
///
/// Decoding gives the same pixels as PIL's `Image.open(f).convert('RGB')`:
/// - JPEG through libjpeg(-turbo) with its default settings (islow IDCT, fancy upsampling),
///   grey replicated to RGB, four-component files read as Adobe-inverted CMYK and converted
///   with PIL's formula. Truncated data is an error, as in PIL; so is data libjpeg flags
///   as corrupt (bad Huffman code, wrong restart marker...), which PIL would decode with
///   garbage. Stray bytes between segments are tolerated, as PIL and dlib do.
/// - PNG through libpng with no gamma or colour-profile conversion (gAMA, iCCP are ignored),
///   alpha and tRNS dropped rather than blended, 16-bit samples reduced to their high byte
///   (`v >> 8`) except plain 16-bit greyscale, which PIL clips to `min(v, 255)`.
///
/// dlib's `load_image` agrees with this on every 8-bit file and on 16-bit greyscale; for
/// 16-bit RGB(A) and grey+alpha it differs from PIL (it keeps the low byte), and this follows PIL.
/// The format is sniffed from the leading bytes, never from the file name.
public enum ImageIO {
    /// The largest image, in pixels, that is decoded; larger headers fail with `.tooLarge`
    /// before any pixel memory is allocated.
    public static let maxPixels = 100_000_000

    /// The largest file `load` reads into memory (1 GiB).
    static let maxFileBytes = 1 << 30

    /// Reads and decodes the PNG or JPEG file at `path`; errors name `path`.
    ///
    /// With `applyOrientation`, a JPEG's EXIF orientation (2...8) is applied so the result
    /// is upright. Note that PIL's `Image.open` and dlib's `load_image` do *not* do this;
    /// pass `false` to get their pixels for rotated files.
    public static func load(path: String, applyOrientation: Bool = true) throws -> RGBImage {
        let bytes = try readFile(path)
        return try decode(bytes, name: path, applyOrientation: applyOrientation)
    }

    /// Decodes PNG or JPEG `bytes`; `name` is the file name errors mention.
    public static func decode(_ bytes: [UInt8], name: String, applyOrientation: Bool = true) throws -> RGBImage {
        switch ImageFormat.sniff(bytes) {
        case .png:
            return try PNGCodec.decode(bytes, name: name)
        case .jpeg:
            let image = try JPEGCodec.decode(bytes, name: name)
            if applyOrientation, let orientation = exifOrientation(jpeg: bytes), orientation != 1 {
                return image.rotated(orientation: orientation)
            }
            return image
        case .truncatedSignature(let format):
            throw ImageError(.truncated, file: name, detail: "truncated \(format) data (\(bytes.count) bytes, shorter than the header)")
        case .empty:
            throw ImageError(.notAnImage, file: name, detail: "empty file, not an image")
        case .other(let guess):
            throw notAnImage(bytes, guess: guess, name: name)
        }
    }

    static func notAnImage(_ bytes: [UInt8], guess: String?, name: String) -> ImageError {
        let what = guess.map { "\($0) data" } ?? "data starting with \(ImageFormat.hexPrefix(bytes))"
        return ImageError(.notAnImage, file: name, detail: "not a PNG or JPEG image (\(what))")
    }

    /// Encodes `image` as an 8-bit RGB PNG (libpng's simplified write API, default compression).
    public static func encodePNG(_ image: RGBImage) throws -> [UInt8] {
        try PNGCodec.encode(image, name: memoryName)
    }

    /// Encodes `image` as a PNG and writes it to `path` atomically (a temporary file in the
    /// same directory, then `rename`), so readers never see a partial file.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        let bytes = try PNGCodec.encode(image, name: path)
        try writeFileAtomically(bytes, to: path)
    }

    /// Encodes `image` as a baseline JPEG at `quality` (1...100), 4:2:0 chroma subsampling.
    public static func encodeJPEG(_ image: RGBImage, quality: Int = 92) throws -> [UInt8] {
        try JPEGCodec.encode(pixels: image.pixels, width: image.width, height: image.height,
                             components: 3, quality: quality, name: memoryName)
    }

    /// Encodes `image` as a JPEG and writes it to `path` atomically, like `writePNG`.
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 92) throws {
        let bytes = try JPEGCodec.encode(pixels: image.pixels, width: image.width, height: image.height,
                                         components: 3, quality: quality, name: path)
        try writeFileAtomically(bytes, to: path)
    }

    /// The file name used in errors about in-memory encoding.
    static let memoryName = "<memory>"

    // MARK: - Files

    /// The description of the current `errno`.
    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Reads a whole file; failures are `.unreadable` (or `.tooLarge` past `maxFileBytes`).
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ImageError(.unreadable, file: path, detail: "cannot open file (\(errnoText()))")
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ImageError(.unreadable, file: path, detail: "cannot stat file (\(errnoText()))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw ImageError(.unreadable, file: path, detail: "is a directory, not a file")
        }
        let expected = Int(info.st_size)
        guard expected <= maxFileBytes else {
            throw ImageError(.tooLarge, file: path, detail: "file is \(expected) bytes, above the \(maxFileBytes)-byte limit")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(expected > 0 ? expected : 1 << 16)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError(.unreadable, file: path, detail: "cannot read file (\(errnoText()))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            // Refuse a file that is not an image from its first bytes, before reading the rest.
            if bytes.count == n, case .other(let guess) = ImageFormat.sniff(bytes) { throw notAnImage(bytes, guess: guess, name: path) }
            guard bytes.count <= maxFileBytes else {
                throw ImageError(.tooLarge, file: path, detail: "file is larger than the \(maxFileBytes)-byte limit")
            }
        }
        return bytes
    }

    /// Writes `bytes` to a temporary file beside `path`, flushes it, then renames it over `path`.
    static func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ImageError(.writeFailed, file: path, detail: "cannot create temporary file (\(errnoText()))")
        }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write (\(errnoText()))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot flush (\(errnoText()))" }
        if close(fd) != 0, failure == nil { failure = "cannot close (\(errnoText()))" }
        if failure == nil, rename(temp, path) != 0 { failure = "cannot rename into place (\(errnoText()))" }
        if let failure {
            _ = unlink(temp)
            throw ImageError(.writeFailed, file: path, detail: failure)
        }
    }

    // MARK: - Shared decoding helpers

    /// The byte count of a `width` x `height` RGB buffer, refusing empty, overflowing or
    /// over-`maxPixels` sizes.
    static func rgbByteCount(width: Int, height: Int, format: String, name: String) throws -> Int {
        guard width > 0, height > 0 else {
            throw ImageError(.corrupt, file: name, detail: "corrupt \(format) data (header gives a \(width)x\(height) image)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw ImageError(.tooLarge, file: name,
                             detail: "\(format) image is \(width)x\(height) pixels, above the limit of \(maxPixels) pixels")
        }
        let (bytes, overflow3) = pixels.multipliedReportingOverflow(by: 3)
        guard !overflow3 else {
            throw ImageError(.tooLarge, file: name, detail: "\(format) image size overflows")
        }
        return bytes
    }
}

/// The container formats `ImageIO` recognises from their first bytes.
enum ImageFormat: Equatable {
    case png
    case jpeg
    /// A proper prefix of a known signature: the file was cut inside its header.
    case truncatedSignature(String)
    case empty
    /// Anything else, with a guess at what it is when the signature is a known one.
    case other(String?)

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]

    /// Classifies `bytes` by signature.
    static func sniff(_ bytes: [UInt8]) -> ImageFormat {
        if bytes.isEmpty { return .empty }
        if bytes.starts(with: pngSignature) { return .png }
        if bytes.starts(with: jpegSignature) { return .jpeg }
        if bytes.count < pngSignature.count, pngSignature.starts(with: bytes) { return .truncatedSignature("PNG") }
        if bytes.count < jpegSignature.count, jpegSignature.starts(with: bytes) { return .truncatedSignature("JPEG") }
        return .other(guessOtherFormat(bytes))
    }

    /// Names a few image formats this module does not decode, for clearer messages.
    private static func guessOtherFormat(_ b: [UInt8]) -> String? {
        func ascii(_ s: String, at offset: Int = 0) -> Bool {
            let u = Array(s.utf8)
            return b.count >= offset + u.count && Array(b[offset..<(offset + u.count)]) == u
        }
        if ascii("GIF8") { return "GIF" }
        if ascii("BM") && b.count >= 14 { return "BMP" }
        if ascii("RIFF") && ascii("WEBP", at: 8) { return "WebP" }
        if ascii("II*\u{0}") || ascii("MM\u{0}*") { return "TIFF" }
        if ascii("ftyp", at: 4) { return "HEIF/MP4" }
        return nil
    }

    /// The first few bytes in hex, for messages.
    static func hexPrefix(_ bytes: [UInt8]) -> String {
        bytes.prefix(4).map { byte in
            let s = String(byte, radix: 16, uppercase: true)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
    }
}
