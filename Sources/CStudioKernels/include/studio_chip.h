// Sampling of face chips (dlib's extract_image_chip for one rotated, scaled rectangle).
#ifndef STUDIO_CHIP_H
#define STUDIO_CHIP_H

#ifdef __cplusplus
extern "C" {
#endif

/// A window of an interleaved 8-bit RGB image: `width` x `height` pixels starting at
/// (`origin_x`, `origin_y`) of a buffer whose rows are `stride` pixels apart. Samples are bounded
/// by the window, not by the buffer.
typedef struct {
    int width, height, stride, origin_x, origin_y;
} studio_rgb_view;

/// The chip-to-source map `(sx, sy) = (m00 x + m01 y + b0, m10 x + m11 y + b1)`, each sum evaluated
/// left to right in double without fused multiply-adds.
typedef struct {
    double m00, m01, m10, m11, b0, b1;
} studio_chip_map;

/// Fills `out` (`rows * cols * 3` bytes, RGB, row-major) with dlib's bilinear samples of `pixels`
/// through `view` at the mapped positions of every chip pixel. A pixel whose four neighbours are not
/// all inside the window, or whose position is not finite or beyond 1e9, is black. Weights in double;
/// each channel is clamped to 0 ... 255 and truncated. Bit-identical to StudioFace's Swift
/// `DlibPyramid.bilinear` loop, its reference.
void studio_chip_sample(const unsigned char *pixels, studio_rgb_view view, studio_chip_map map,
                        int rows, int cols, unsigned char *out);

#ifdef __cplusplus
}
#endif

#endif
