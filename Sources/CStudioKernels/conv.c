// Direct convolution as an implicit GEMM: C[k][position] = sum_t A[k][t] * B[t][position], where A is
// the filters packed once in blocks of 16 output channels and B is never built: column `position` of
// B at row t = (c, i, j) is the zero-padded input at `offset[t] + base(position)`, read straight from the
// padded planes. One micro-kernel call accumulates 16 channels x 6 positions in twelve AVX registers
// over the whole of t, so nothing is packed per call but the input's zero border.
//
// Positions come in tiles of 6 whose inputs are equally spaced in memory:
// - stride 1: along the padded image flattened row by row (a tile may cross a row; the positions that
//   fall in the border columns are computed and not stored), so short rows waste only the border;
// - other strides: along one output row, spaced by the stride.
// Tiles go in groups of 16; a group is the unit of work a caller may hand to a thread.

#include "studio_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define STUDIO_X86 1
#endif

#define MR STUDIO_CONV_MR
#define NR STUDIO_CONV_NR
#define TILES_PER_GROUP 16

int studio_conv_fast_available(void) {
#ifdef STUDIO_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

size_t studio_conv_packed_count(int k, int kdim) {
    return (size_t)((k + MR - 1) / MR) * MR * (size_t)kdim;
}

void studio_conv_pack_filters(const float *filters, int k, int kdim, float *packed) {
    int blocks = (k + MR - 1) / MR;
    for (int b = 0; b < blocks; b++) {
        float *dst = packed + (size_t)b * MR * kdim;
        for (int t = 0; t < kdim; t++) {
            for (int lane = 0; lane < MR; lane++) {
                int kk = b * MR + lane;
                dst[(size_t)t * MR + lane] = kk < k ? filters[(size_t)kk * kdim + t] : 0.0f;
            }
        }
    }
}

// MARK: - Geometry

static int padded_width(const studio_conv_shape *s) { return s->w + 2 * s->px; }
static int padded_height(const studio_conv_shape *s) { return s->h + 2 * s->py; }
static size_t padded_plane(const studio_conv_shape *s) { return (size_t)padded_width(s) * padded_height(s); }
static int flattened(const studio_conv_shape *s) { return s->sy == 1 && s->sx == 1; }

/// Tiles along the flattened padded image (stride 1) or along each output row (other strides).
static int tile_count(const studio_conv_shape *s) {
    if (s->oh <= 0 || s->ow <= 0) return 0;
    if (flattened(s)) {
        int q = (s->oh - 1) * padded_width(s) + s->ow;
        return (q + NR - 1) / NR;
    }
    return s->oh * ((s->ow + NR - 1) / NR);
}

int studio_conv_tile_groups(const studio_conv_shape *s) {
    return (tile_count(s) + TILES_PER_GROUP - 1) / TILES_PER_GROUP;
}

size_t studio_conv_padded_count(const studio_conv_shape *s) {
    // The last tile reads up to NR - 1 spaced positions past the last real one (see tile_count).
    return (size_t)s->c * padded_plane(s) + (size_t)(8 * s->sx + 16);
}

void studio_conv_pad_input(const studio_conv_shape *s, const float *in, float *padded) {
    int wp = padded_width(s), hp = padded_height(s);
    size_t plane = padded_plane(s);
    memset(padded, 0, studio_conv_padded_count(s) * sizeof(float));
    for (int c = 0; c < s->c; c++) {
        for (int y = 0; y < s->h; y++) {
            memcpy(padded + c * plane + (size_t)(y + s->py) * wp + s->px,
                   in + ((size_t)c * s->h + y) * s->w, (size_t)s->w * sizeof(float));
        }
    }
    (void)hp;
}

/// Where a tile's inputs start in the padded planes, their spacing, and which output each lane is.
typedef struct {
    size_t base;        ///< offset of lane 0's window origin in the padded input
    int spacing;        ///< floats between consecutive lanes' windows
    int out[NR];        ///< y * ow + x of each lane's output, or -1 for a lane not stored
} tile_place;

static tile_place place_tile(const studio_conv_shape *s, int tile) {
    tile_place p;
    int wp = padded_width(s);
    if (flattened(s)) {
        int q0 = tile * NR, qEnd = (s->oh - 1) * wp + s->ow;
        p.base = (size_t)q0; p.spacing = 1;
        for (int j = 0; j < NR; j++) {
            int q = q0 + j, y = q / wp, x = q % wp;
            p.out[j] = (q < qEnd && x < s->ow) ? y * s->ow + x : -1;
        }
    } else {
        int perRow = (s->ow + NR - 1) / NR;
        int y = tile / perRow, x0 = (tile % perRow) * NR;
        p.base = (size_t)y * s->sy * wp + (size_t)x0 * s->sx; p.spacing = s->sx;
        for (int j = 0; j < NR; j++) p.out[j] = x0 + j < s->ow ? y * s->ow + x0 + j : -1;
    }
    return p;
}

/// offsets[t] for t = (c * kh + i) * kw + j: where tap (c, i, j) lies relative to a window's origin.
static void tap_offsets(const studio_conv_shape *s, int *offsets) {
    int wp = padded_width(s);
    size_t plane = padded_plane(s);
    int t = 0;
    for (int c = 0; c < s->c; c++)
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) offsets[t++] = (int)(c * plane + (size_t)i * wp + j);
}

/// Applies the epilogue to a 16 x 6 tile (`acc[lane_position * 16 + channel]`) and stores it.
static void store_tile(const studio_conv_shape *s, const float *acc, const tile_place *p, int block,
                       studio_conv_epilogue e, float *out) {
    size_t planeOut = (size_t)s->oh * s->ow;
    int k0 = block * MR, kEnd = k0 + MR < s->k ? k0 + MR : s->k;
    for (int kk = k0; kk < kEnd; kk++) {
        float bias = e.bias ? e.bias[kk] : 0.0f;
        float scale = e.scale ? e.scale[kk] : 1.0f, shift = e.scale ? e.shift[kk] : 0.0f;
        float *dst = out + (size_t)kk * planeOut;
        for (int j = 0; j < NR; j++) {
            if (p->out[j] < 0) continue;
            float v = acc[j * MR + (kk - k0)];
            if (e.bias) v = v + bias;
            if (e.scale) { float m = scale * v; v = m + shift; }
            if (e.relu) v = v > 0.0f ? v : 0.0f;
            dst[p->out[j]] = v;
        }
    }
}

// MARK: - AVX2 + FMA micro-kernel

#ifdef STUDIO_X86
/// acc[j * 16 + lane] = sum_t a[t * 16 + lane] * x[offsets[t] + j * dx], j < 6.
__attribute__((target("avx2,fma")))
static void micro_16x6(int kdim, const float *a, const int *offsets, const float *x, int dx, float *acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const float *x0 = x, *x1 = x + dx, *x2 = x + 2 * dx, *x3 = x + 3 * dx, *x4 = x + 4 * dx, *x5 = x + 5 * dx;
    for (int t = 0; t < kdim; t++) {
        __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
        a += MR;
        int o = offsets[t];
        __m256 b;
        b = _mm256_broadcast_ss(x0 + o); c00 = _mm256_fmadd_ps(a0, b, c00); c01 = _mm256_fmadd_ps(a1, b, c01);
        b = _mm256_broadcast_ss(x1 + o); c10 = _mm256_fmadd_ps(a0, b, c10); c11 = _mm256_fmadd_ps(a1, b, c11);
        b = _mm256_broadcast_ss(x2 + o); c20 = _mm256_fmadd_ps(a0, b, c20); c21 = _mm256_fmadd_ps(a1, b, c21);
        b = _mm256_broadcast_ss(x3 + o); c30 = _mm256_fmadd_ps(a0, b, c30); c31 = _mm256_fmadd_ps(a1, b, c31);
        b = _mm256_broadcast_ss(x4 + o); c40 = _mm256_fmadd_ps(a0, b, c40); c41 = _mm256_fmadd_ps(a1, b, c41);
        b = _mm256_broadcast_ss(x5 + o); c50 = _mm256_fmadd_ps(a0, b, c50); c51 = _mm256_fmadd_ps(a1, b, c51);
    }
    _mm256_storeu_ps(acc + 0, c00);  _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
}
#endif

// MARK: - Driver

int studio_conv_channel_blocks(const studio_conv_shape *s) { return (s->k + MR - 1) / MR; }

int studio_conv2d_packed(const studio_conv_shape *s, const float *padded, const float *packed,
                         studio_conv_epilogue e, int group_begin, int group_end,
                         int block_begin, int block_end, float *out) {
#ifdef STUDIO_X86
    if (!studio_conv_fast_available()) return -1;
    int kdim = s->c * s->kh * s->kw, tiles = tile_count(s);
    int *offsets = malloc((size_t)kdim * sizeof(int));
    if (!offsets) return -1;
    tap_offsets(s, offsets);
    float acc[MR * NR];
    for (int g = group_begin; g < group_end; g++) {
        int t0 = g * TILES_PER_GROUP, t1 = t0 + TILES_PER_GROUP < tiles ? t0 + TILES_PER_GROUP : tiles;
        tile_place places[TILES_PER_GROUP];
        for (int t = t0; t < t1; t++) places[t - t0] = place_tile(s, t);
        for (int b = block_begin; b < block_end; b++) {
            const float *a = packed + (size_t)b * MR * kdim;
            for (int t = t0; t < t1; t++) {
                const tile_place *p = &places[t - t0];
                micro_16x6(kdim, a, offsets, padded + p->base, p->spacing, acc);
                store_tile(s, acc, p, b, e, out);
            }
        }
    }
    free(offsets);
    return 0;
#else
    (void)s; (void)padded; (void)packed; (void)e; (void)group_begin; (void)group_end;
    (void)block_begin; (void)block_end; (void)out;
    return -1;
#endif
}
