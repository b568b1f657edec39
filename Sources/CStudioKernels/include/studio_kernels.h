// Native compute kernels that need the CPU's vector units directly (Swift builds for the baseline
// x86-64 target, so its own code gets neither AVX2 nor FMA). Each kernel checks the CPU at run time;
// callers keep a portable path beside it (StudioTensor's Reference and im2col + SGEMM kernels) and use
// this one only where studio_conv_fast_available() says so.
#ifndef STUDIO_KERNELS_H
#define STUDIO_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per block of the packed filter layout (two 8-float vectors).
#define STUDIO_CONV_MR 16
/// Output positions one micro-kernel call computes.
#define STUDIO_CONV_NR 6

/// 1 when this CPU runs the AVX2 + FMA convolution, else 0 (the caller then uses its portable path).
int studio_conv_fast_available(void);

/// Floats in the packed form of `k` filters of `kdim` weights each: `ceil(k / 16) * 16 * kdim`.
size_t studio_conv_packed_count(int k, int kdim);

/// Packs filters `[k][kdim]` (row-major, kdim = channels * kh * kw in that order) into blocks of 16
/// output channels, `packed[block][t][lane] = filters[block * 16 + lane][t]`, zero for lanes past `k`.
void studio_conv_pack_filters(const float *filters, int k, int kdim, float *packed);

/// Geometry of one convolution on one sample (NCHW planes, row-major).
typedef struct {
    int c, h, w;            ///< input channels, rows, columns
    int k, kh, kw;          ///< output channels, kernel rows, kernel columns
    int sy, sx, py, px;     ///< strides and zero padding
    int oh, ow;             ///< output rows and columns
} studio_conv_shape;

/// What is applied to each accumulated sum before it is stored, in this order:
/// `v += bias[k]` (when bias), `v = scale[k] * v + shift[k]` (when scale; shift then required),
/// `v = max(v, 0)` (when relu). Each step rounds as the separate passes do (no fused multiply-add).
typedef struct {
    const float *bias;
    const float *scale;
    const float *shift;
    int relu;
} studio_conv_epilogue;

/// Work items of a convolution: groups of output positions, and blocks of 16 output channels.
int studio_conv_tile_groups(const studio_conv_shape *s);
int studio_conv_channel_blocks(const studio_conv_shape *s);

/// `out[k][y][x] = epilogue(sum_{c,i,j} W[k][c][i][j] * in[c][y*sy - py + i][x*sx - px + j])`, zero
/// outside the input, for the position groups `group_begin ..< group_end` and the channel blocks
/// `block_begin ..< block_end` (disjoint ranges write disjoint outputs, so they may run on different
/// threads). `packed` comes from studio_conv_pack_filters; `padded` is studio_conv_padded_count floats
/// filled by studio_conv_pad_input, read-only here. Returns 0, or -1 when this CPU lacks the
/// instructions or memory for the tap offsets ran out.
int studio_conv2d_packed(const studio_conv_shape *s, const float *padded, const float *packed,
                         studio_conv_epilogue e, int group_begin, int group_end,
                         int block_begin, int block_end, float *out);

/// Floats of the zero-padded input copy `studio_conv2d_packed` reads (with slack past the end).
size_t studio_conv_padded_count(const studio_conv_shape *s);

/// Writes the zero-padded copy of `in` (c planes of h x w) that `studio_conv2d_packed` reads.
void studio_conv_pad_input(const studio_conv_shape *s, const float *in, float *padded);

#ifdef __cplusplus
}
#endif

#endif
