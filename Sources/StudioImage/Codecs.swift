import CPNG
import CStudioCodecs
import StudioKit

/// Turns a CStudioCodecs status and message into an `ImageError` about `name`.
func codecError(status: Int32, message: String, format: String, name: String) -> ImageError {
    var text = message
    // libjpeg prefixes its damage warnings; the kind already says so.
    let redundant = "Corrupt JPEG data: "
    if text.hasPrefix(redundant) { text.removeFirst(redundant.count) }
    // "Bogus marker length" -> "bogus marker length", but keep "IDAT: ..." as it is.
    let head = Array(text.prefix(2))
    if head.count == 2, head[0].isUppercase, head[1].isLowercase {
        text = head[0].lowercased() + text.dropFirst()
    }
    let suffix = text.isEmpty ? "" : " (\(text))"
    switch status {
    case CSTUDIO_NOT_AN_IMAGE:
        return ImageError(.notAnImage, file: name, detail: "not a \(format) image\(suffix)")
    case CSTUDIO_TRUNCATED:
        return ImageError(.truncated, file: name, detail: "truncated \(format) data\(suffix)")
    case CSTUDIO_TOO_LARGE:
        return ImageError(.tooLarge, file: name, detail: "\(format) image too large\(suffix)")
    case CSTUDIO_UNSUPPORTED:
        return ImageError(.unsupported, file: name, detail: "unsupported \(format) image\(suffix)")
    case CSTUDIO_BAD_CALL:
        return ImageError(.corrupt, file: name, detail: "internal \(format) decoder error\(suffix)")
    default:
        return ImageError(.corrupt, file: name, detail: "corrupt \(format) data\(suffix)")
    }
}

// MARK: - JPEG

/// JPEG decoding and encoding through the CStudioCodecs shim over libjpeg-turbo.
enum JPEGCodec {
    /// Decodes a JPEG to RGB: header first, size check, then one allocation filled by libjpeg.
    static func decode(_ bytes: [UInt8], name: String) throws -> RGBImage {
        try bytes.withUnsafeBufferPointer { input -> RGBImage in
            guard let base = input.baseAddress else {
                throw ImageError(.notAnImage, file: name, detail: "empty file, not an image")
            }
            guard let decoder = cstudio_jpeg_decoder_create(base, input.count) else {
                throw ImageError(.tooLarge, file: name, detail: "out of memory starting the JPEG decoder")
            }
            defer { cstudio_jpeg_decoder_destroy(decoder) }
            func failure(_ status: Int32) -> ImageError {
                codecError(status: status, message: String(cString: cstudio_jpeg_decoder_message(decoder)),
                           format: "JPEG", name: name)
            }
            var width: UInt32 = 0, height: UInt32 = 0, isCMYK: Int32 = 0
            let header = cstudio_jpeg_read_header(decoder, &width, &height, &isCMYK)
            guard header == CSTUDIO_OK else { throw failure(header) }
            let w = Int(width), h = Int(height)
            let count = try ImageIO.rgbByteCount(width: w, height: h, format: "JPEG", name: name)
            let pixels = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                initialized = 0
                let status = cstudio_jpeg_decode_rgb(decoder, buffer.baseAddress, count)
                guard status == CSTUDIO_OK else { throw failure(status) }
                initialized = count
            }
            return RGBImage(width: w, height: h, pixels: pixels)
        }
    }

    /// Encodes interleaved samples (1 = grey, 3 = RGB, 4 = CMYK stored Adobe-inverted).
    static func encode(pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int,
                       name: String) throws -> [UInt8] {
        guard width > 0, height > 0, width <= 65_500, height <= 65_500 else {
            throw ImageError(.writeFailed, file: name,
                             detail: "cannot encode a \(width)x\(height) image as JPEG (1...65500 pixels per side)")
        }
        guard (1...100).contains(quality) else {
            throw ImageError(.writeFailed, file: name, detail: "JPEG quality \(quality) is outside 1...100")
        }
        guard [1, 3, 4].contains(components), pixels.count == width * height * components else {
            throw ImageError(.writeFailed, file: name, detail: "JPEG encoder given \(pixels.count) bytes for \(width)x\(height)x\(components)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(CSTUDIO_MESSAGE_CAPACITY))
        let status = pixels.withUnsafeBufferPointer { input in
            cstudio_jpeg_encode(input.baseAddress, UInt32(width), UInt32(height), Int32(components),
                                Int32(quality), &out, &size, &message)
        }
        defer { cstudio_free(out) }
        guard status == CSTUDIO_OK, let out else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ImageError(.writeFailed, file: name, detail: "JPEG encoding failed (\(text))")
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

// MARK: - PNG

/// PNG decoding (CStudioCodecs's libpng shim) and encoding (libpng's simplified write API).
enum PNGCodec {
    /// Decodes a PNG to RGB: IHDR first, size check, then one allocation filled by libpng.
    static func decode(_ bytes: [UInt8], name: String) throws -> RGBImage {
        try bytes.withUnsafeBufferPointer { input -> RGBImage in
            guard let base = input.baseAddress else {
                throw ImageError(.notAnImage, file: name, detail: "empty file, not an image")
            }
            guard let decoder = cstudio_png_decoder_create(base, input.count) else {
                throw ImageError(.tooLarge, file: name, detail: "out of memory starting the PNG decoder")
            }
            defer { cstudio_png_decoder_destroy(decoder) }
            func failure(_ status: Int32) -> ImageError {
                codecError(status: status, message: String(cString: cstudio_png_decoder_message(decoder)),
                           format: "PNG", name: name)
            }
            var width: UInt32 = 0, height: UInt32 = 0
            var depth: Int32 = 0, colorType: Int32 = 0, interlaced: Int32 = 0
            let header = cstudio_png_read_header(decoder, &width, &height, &depth, &colorType, &interlaced)
            guard header == CSTUDIO_OK else { throw failure(header) }
            let w = Int(width), h = Int(height)
            let count = try ImageIO.rgbByteCount(width: w, height: h, format: "PNG", name: name)
            let pixels = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                initialized = 0
                let status = cstudio_png_decode_rgb(decoder, buffer.baseAddress, count)
                guard status == CSTUDIO_OK else { throw failure(status) }
                initialized = count
            }
            return RGBImage(width: w, height: h, pixels: pixels)
        }
    }

    /// Encodes 8-bit RGB with `png_image_write_to_memory` into a buffer of
    /// `initialCapacity` bytes (by default a bound that deflated rows practically never
    /// exceed), retrying once at the size libpng reports if that was too small.
    static func encode(_ image: RGBImage, name: String, initialCapacity: Int? = nil) throws -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width <= Int(Int32.max) / 3, image.height <= Int(Int32.max) else {
            throw ImageError(.writeFailed, file: name, detail: "cannot encode a \(image.width)x\(image.height) image as PNG")
        }
        let raw = image.height * (image.width * 3 + 1)
        var capacity = initialCapacity ?? raw + raw / 64 + 4096
        for _ in 0..<2 {
            var png = png_image()  // zeroed: opaque = NULL, flags = 0
            png.version = UInt32(PNG_IMAGE_VERSION)
            png.width = UInt32(image.width)
            png.height = UInt32(image.height)
            png.format = UInt32(PNG_FORMAT_RGB)
            var size = png_alloc_size_t(capacity)
            var ok: Int32 = 0
            let bytes = image.pixels.withUnsafeBufferPointer { input in
                [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                    ok = png_image_write_to_memory(&png, buffer.baseAddress, &size, 0, input.baseAddress, 0, nil)
                    initialized = ok != 0 ? Int(size) : 0
                }
            }
            if ok != 0 { return bytes }
            png_image_free(&png)  // a no-op unless libpng left state behind
            if Int(size) > capacity {
                capacity = Int(size)  // too small: libpng says how much it needs
                continue
            }
            let message = withUnsafeBytes(of: png.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ImageError(.writeFailed, file: name, detail: "PNG encoding failed (\(message))")
        }
        throw ImageError(.writeFailed, file: name, detail: "PNG encoding failed (output buffer sizing)")
    }
}
