// studio_chip.h. The arithmetic follows StudioFace's Swift reference step for step: the same
// operations in the same order, and no contraction into fused multiply-adds, so that every sample
// position and every truncated value is bit-identical (one ulp in a position can flip a truncation).
#include "studio_chip.h"

#include <math.h>

#pragma STDC FP_CONTRACT OFF

/// floor(x) as an integer for |x| < 1e9, as the reference computes it.
static inline long floor_long(double x) {
    long t = (long)x;
    return (double)t > x ? t - 1 : t;
}

static inline unsigned char clamp_truncate(double v) {
    double c = v < 255.0 ? v : 255.0;
    c = c > 0.0 ? c : 0.0;
    return (unsigned char)c;
}

/// One output pixel. All twelve neighbour bytes are read before any output byte is written (the
/// buffers are distinct, and `restrict` lets the compiler keep them in registers).
static inline void sample(const unsigned char *restrict px, studio_rgb_view v, double x, double y,
                          unsigned char *restrict out) {
    if (!isfinite(x) || !isfinite(y) || fabs(x) >= 1e9 || fabs(y) >= 1e9) return;
    long left = floor_long(x), top = floor_long(y);
    if (left < 0 || top < 0 || left + 1 >= v.width || top + 1 >= v.height) return;
    double lr = x - (double)left, tb = y - (double)top;
    const unsigned char *r0 = px + (((long)v.origin_y + top) * v.stride + v.origin_x + left) * 3;
    const unsigned char *r1 = r0 + (long)v.stride * 3;
    double tl[3], tr[3], bl[3], br[3];
    for (int ch = 0; ch < 3; ch++) { tl[ch] = r0[ch]; tr[ch] = r0[3 + ch]; bl[ch] = r1[ch]; br[ch] = r1[3 + ch]; }
    unsigned char value[3];
    for (int ch = 0; ch < 3; ch++) {
        double upper = (1 - lr) * tl[ch];
        upper = upper + lr * tr[ch];
        double lower = (1 - lr) * bl[ch];
        lower = lower + lr * br[ch];
        double a = (1 - tb) * upper, b = tb * lower;
        value[ch] = clamp_truncate(a + b);
    }
    out[0] = value[0]; out[1] = value[1]; out[2] = value[2];
}

/// Positions of chip pixel (x, y), as the reference evaluates them.
static inline void map_point(studio_chip_map m, int x, int y, double *sx, double *sy) {
    double xd = x, yd = y;
    double u = m.m00 * xd;
    u = u + m.m01 * yd;
    *sx = u + m.b0;
    double w = m.m10 * xd;
    w = w + m.m11 * yd;
    *sy = w + m.b1;
}

static void sample_row_scalar(const unsigned char *restrict px, studio_rgb_view v, studio_chip_map m, int y,
                              int x0, int cols, unsigned char *restrict row) {
    for (int x = x0; x < cols; x++) {
        double sx, sy;
        map_point(m, x, y, &sx, &sy);
        unsigned char *o = row + (long)x * 3;
        o[0] = o[1] = o[2] = 0;
        sample(px, v, sx, sy, o);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define STUDIO_CHIP_X86 1

/// One pixel's three channels as doubles in lanes 0-2 (lane 3 zero), read as three bytes.
__attribute__((target("avx2")))
static inline __m256d load_rgb(const unsigned char *p) {
    int word = (int)p[0] | (int)p[1] << 8 | (int)p[2] << 16;
    return _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(word)));
}

/// `sample` for one pixel whose position passed every check, the channels in one vector. Each lane
/// does the reference's operations in its order (separate multiplies and adds: no FMA is enabled).
__attribute__((target("avx2")))
static inline void blend_avx2(const unsigned char *restrict px, studio_rgb_view v, double left, double top,
                              double lr, double tb, unsigned char *restrict out) {
    const unsigned char *r0 = px + (((long)v.origin_y + (long)top) * v.stride + v.origin_x + (long)left) * 3;
    const unsigned char *r1 = r0 + (long)v.stride * 3;
    __m256d one = _mm256_set1_pd(1.0), l = _mm256_set1_pd(lr), t = _mm256_set1_pd(tb);
    __m256d il = _mm256_sub_pd(one, l), it = _mm256_sub_pd(one, t);
    __m256d upper = _mm256_add_pd(_mm256_mul_pd(il, load_rgb(r0)), _mm256_mul_pd(l, load_rgb(r0 + 3)));
    __m256d lower = _mm256_add_pd(_mm256_mul_pd(il, load_rgb(r1)), _mm256_mul_pd(l, load_rgb(r1 + 3)));
    __m256d value = _mm256_add_pd(_mm256_mul_pd(it, upper), _mm256_mul_pd(t, lower));
    value = _mm256_max_pd(_mm256_min_pd(value, _mm256_set1_pd(255.0)), _mm256_setzero_pd());
    __m128i ints = _mm256_cvttpd_epi32(value);
    int bytes = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packus_epi32(ints, ints), _mm_setzero_si128()));
    out[0] = (unsigned char)bytes; out[1] = (unsigned char)(bytes >> 8); out[2] = (unsigned char)(bytes >> 16);
}

/// One chip row, four positions at a time: map, range checks and floors in vectors, then each
/// accepted pixel's blend. The tail of the row goes through the scalar path.
__attribute__((target("avx2")))
static void sample_row_avx2(const unsigned char *restrict px, studio_rgb_view v, studio_chip_map m, int y,
                            int cols, unsigned char *restrict row) {
    const __m256d m00 = _mm256_set1_pd(m.m00), m01 = _mm256_set1_pd(m.m01), b0 = _mm256_set1_pd(m.b0);
    const __m256d m10 = _mm256_set1_pd(m.m10), m11 = _mm256_set1_pd(m.m11), b1 = _mm256_set1_pd(m.b1);
    const __m256d yd = _mm256_set1_pd((double)y), limit = _mm256_set1_pd(1e9), zero = _mm256_setzero_pd();
    const __m256d one = _mm256_set1_pd(1.0), width = _mm256_set1_pd((double)v.width), height = _mm256_set1_pd((double)v.height);
    const __m256d sign = _mm256_set1_pd(-0.0);
    int x = 0;
    for (; x + 4 <= cols; x += 4) {
        __m256d xd = _mm256_set_pd(x + 3, x + 2, x + 1, x);
        __m256d sx = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(m00, xd), _mm256_mul_pd(m01, yd)), b0);
        __m256d sy = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(m10, xd), _mm256_mul_pd(m11, yd)), b1);
        // |s| < 1e9 is false for NaN and infinities too: the reference's finiteness and range checks.
        __m256d ok = _mm256_and_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, sx), limit, _CMP_LT_OQ),
                                   _mm256_cmp_pd(_mm256_andnot_pd(sign, sy), limit, _CMP_LT_OQ));
        __m256d fx = _mm256_floor_pd(sx), fy = _mm256_floor_pd(sy);
        ok = _mm256_and_pd(ok, _mm256_and_pd(_mm256_cmp_pd(fx, zero, _CMP_GE_OQ), _mm256_cmp_pd(fy, zero, _CMP_GE_OQ)));
        ok = _mm256_and_pd(ok, _mm256_and_pd(_mm256_cmp_pd(_mm256_add_pd(fx, one), width, _CMP_LT_OQ),
                                             _mm256_cmp_pd(_mm256_add_pd(fy, one), height, _CMP_LT_OQ)));
        int accepted = _mm256_movemask_pd(ok);
        double lefts[4], tops[4], lrs[4], tbs[4];
        _mm256_storeu_pd(lefts, fx); _mm256_storeu_pd(tops, fy);
        _mm256_storeu_pd(lrs, _mm256_sub_pd(sx, fx)); _mm256_storeu_pd(tbs, _mm256_sub_pd(sy, fy));
        for (int lane = 0; lane < 4; lane++) {
            unsigned char *o = row + (long)(x + lane) * 3;
            if (accepted >> lane & 1) blend_avx2(px, v, lefts[lane], tops[lane], lrs[lane], tbs[lane], o);
            else o[0] = o[1] = o[2] = 0;
        }
    }
    sample_row_scalar(px, v, m, y, x, cols, row);
}
#endif

static int use_avx2(void) {
#ifdef STUDIO_CHIP_X86
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

void studio_chip_sample(const unsigned char *restrict pixels, studio_rgb_view view, studio_chip_map m,
                        int rows, int cols, unsigned char *restrict out) {
    int vector = use_avx2();
    for (int y = 0; y < rows; y++) {
        unsigned char *row = out + (long)y * cols * 3;
#ifdef STUDIO_CHIP_X86
        if (vector) { sample_row_avx2(pixels, view, m, y, cols, row); continue; }
#endif
        (void)vector;
        sample_row_scalar(pixels, view, m, y, 0, cols, row);
    }
}
