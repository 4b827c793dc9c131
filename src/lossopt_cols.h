/*
 * lossopt_cols.h -- logsumexp, softmax and log_softmax over an axis that is
 * not the last one of a C-contiguous array (src/_softmax.pyx, cols_rows).
 *
 * Such an array is (A, C, B): A outer positions, C classes (the axis, stride
 * B elements), B inner positions (stride 1): a (C, N) batch with the classes
 * first (axis=0), or the channels of (N, C, H, W) images (axis=1).  Each
 * sample's C values are B elements apart, but G neighbouring samples
 * (8 doubles or 16 floats) sit side by side in every class: vector j of
 * the G samples is one load, x + j B + i.  The rows of the row engine
 * (lossopt_rows.h) are transposed in registers to get exactly these
 * vectors; here they come without a transpose, and without the copies
 * that would bring the samples into rows and the results back
 * (np.ascontiguousarray of the moved axis, then the inverse: 2-6 x the
 * kernel's own time).
 *
 * Per tile of G samples, three passes over the classes (the tile's values
 * stay in L1 / L2 between them): the maxima m (NaN ignored, as the
 * row kernels), the exponentials e_j = exp(x_j - m) with their sums in
 * float64 (s: the e != 1, c: the number of e == 1; the row kernels'
 * lossopt_rows_coefs8 makes lz = log(c + s) and the coefficients from
 * them), softmax's e kept in `out` for the third pass, which scales them
 * (softmax), or writes (x - m) - lz (log_softmax); logsumexp writes lz + m.
 * Sums run over j in order, per sample (as scipy's along axis 0; the long
 * rows' vector lanes are more accurate at 1e4+ classes: ~4 against 1 ulp
 * at 1e4, ~20 at 1e6): a sample's result does not depend on the samples
 * beside it, the tiling or the thread count.  float32: x - m
 * split exactly (lossopt_rows_expf_diff), sums and coefficients in float64,
 * results rounded once.
 *
 * Samples whose maximum or result is not finite (NaN, +-inf, every class
 * -inf) are flagged in `special` (one byte per sample, A * B of them) and
 * their outputs left for the caller, which recomputes them by the row
 * engine's rules.  x86-64-v4 only (lossopt_cols_available).
 */
#ifndef LOSSOPT_COLS_H
#define LOSSOPT_COLS_H

#include "lossopt_rows.h"

static int lossopt_cols_available(void)
{
#if LOSSOPT_HAVE_DISPATCH
    return lossopt_isa_level() == LOSSOPT_ISA_V4;
#else
    return 0;
#endif
}

#if LOSSOPT_HAVE_DISPATCH
/* Tiles of W vectors of samples side by side (W G samples), each class's
 * W vectors one contiguous stretch.  Measured (2-core Zen 4, softmax /
 * log_softmax / logsumexp over axis 0 of (C, N), C = 10, 100, 1000):
 * W = 1 is the fastest; W = 2 and 4 were up to 2 x slower at 10 classes
 * (register spills) and no faster at 100 and 1000, as was a software
 * prefetch of the next tile's lines.  At 100 and 1000 classes the samples'
 * way stays 1.3-2 x the time of the same data in rows (a stream of lines
 * per class); at 10 classes it is as fast. */
#define LOSSOPT_COLS_W64 1
#define LOSSOPT_COLS_W32 1

/* one tile: samples i0 .. i0 + n - 1 (n <= W * 8) of one outer position;
 * x, out at its first class; lse, special at its first sample */
LOSSOPT_TARGET_V4 static void lossopt_cols_tile_f64(
    const lossopt_rows_args *ra, const double *x, double *out, ptrdiff_t C, ptrdiff_t B,
    ptrdiff_t i0, int n, double *lse, unsigned char *special)
{
    enum { W = LOSSOPT_COLS_W64 };
    const int mode = ra->mode;
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    const double *xi = x + i0;
    double *oi = out ? out + i0 : NULL;
    __mmask8 valid[W];
    __m512d m[W], s[W], c[W];
    for (int w = 0; w < W; w++) {
        valid[w] = n > 8 * w ? (__mmask8)lossopt_rows_first(lossopt_rows_count(n - 8 * w, 8))
                             : 0;
        m[w] = _mm512_set1_pd(-INFINITY);
        s[w] = c[w] = zero;
    }
    for (ptrdiff_t j = 0; j < C; j++) {      /* maxima (NaN ignored) */
        for (int w = 0; w < W; w++)
            m[w] = _mm512_max_pd(_mm512_maskz_loadu_pd(valid[w], xi + j * B + 8 * w), m[w]);
    }
    for (ptrdiff_t j = 0; j < C; j++) {      /* exponentials and their sums */
        for (int w = 0; w < W; w++) {
            const __m512d e = lossopt_exp_v8(_mm512_sub_pd(
                _mm512_maskz_loadu_pd(valid[w], xi + j * B + 8 * w), m[w]));
            if (mode == LOSSOPT_ROWS_SOFTMAX)
                _mm512_mask_storeu_pd(oi + j * B + 8 * w, valid[w], e);
            const __mmask8 is1 = _mm512_cmp_pd_mask(e, one, _CMP_EQ_OQ);
            c[w] = _mm512_mask_add_pd(c[w], is1, c[w], one);
            s[w] = _mm512_mask_add_pd(s[w], (__mmask8)~is1, s[w], e);
        }
    }
    lossopt_rows_res8 res[W];
    for (int w = 0; w < W; w++) {
        const __mmask8 sp = valid[w] ? lossopt_rows_coefs8(ra, 0, valid[w], m[w], s[w], c[w], zero,
                                                           zero, _mm512_setzero_si512(), zero,
                                                           &res[w]) : 0;
        if (!valid[w])
            res[w].coef = res[w].lz = zero;
        for (int r = 0; r < 8 && 8 * w + r < n; r++)
            special[i0 + 8 * w + r] = (unsigned char)(sp >> r & 1);
        if (mode == LOSSOPT_ROWS_LSE)
            _mm512_mask_storeu_pd(lse + i0 + 8 * w, valid[w], res[w].coef);
    }
    if (mode == LOSSOPT_ROWS_LSE)
        return;
    for (ptrdiff_t j = 0; j < C; j++)
        for (int w = 0; w < W; w++) {
            const ptrdiff_t o = j * B + 8 * w;
            const __m512d v = mode == LOSSOPT_ROWS_SOFTMAX
                ? _mm512_mul_pd(res[w].coef, _mm512_maskz_loadu_pd(valid[w], oi + o))
                : _mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(valid[w], xi + o), m[w]),
                                res[w].lz);
            _mm512_mask_storeu_pd(oi + o, valid[w], v);
        }
}

/* float32: vectors of 16 samples, sums and coefficients in two float64
 * halves (lo: samples 0-7 of the vector, hi: 8-15) */
LOSSOPT_TARGET_V4 static void lossopt_cols_tile_f32(
    const lossopt_rows_args *ra, const float *x, float *out, ptrdiff_t C, ptrdiff_t B,
    ptrdiff_t i0, int n, double *lse, unsigned char *special)
{
    enum { W = LOSSOPT_COLS_W32 };
    const int mode = ra->mode;
    const __m512 onef = _mm512_set1_ps(1.0f);
    const __m512d zero = _mm512_setzero_pd();
    const float *xi = x + i0;
    float *oi = out ? out + i0 : NULL;
    __mmask16 valid[W];
    __m512 m[W], negm[W];
    __m512i c16[W];          /* counts in int32 lanes: exact (float lanes stop at 2^24) */
    __m512d s_lo[W], s_hi[W];
    for (int w = 0; w < W; w++) {
        valid[w] = n > 16 * w
                   ? (__mmask16)lossopt_rows_first(lossopt_rows_count(n - 16 * w, 16)) : 0;
        m[w] = _mm512_set1_ps(-INFINITY);
        c16[w] = _mm512_setzero_si512();
        s_lo[w] = s_hi[w] = zero;
    }
    for (ptrdiff_t j = 0; j < C; j++) {
        for (int w = 0; w < W; w++)
            m[w] = _mm512_max_ps(_mm512_maskz_loadu_ps(valid[w], xi + j * B + 16 * w), m[w]);
    }
    for (int w = 0; w < W; w++)
        negm[w] = _mm512_sub_ps(_mm512_setzero_ps(), m[w]);
    for (ptrdiff_t j = 0; j < C; j++) {
        for (int w = 0; w < W; w++) {
            const __m512 e = lossopt_rows_expf_diff(
                _mm512_maskz_loadu_ps(valid[w], xi + j * B + 16 * w), m[w], negm[w]);
            if (mode == LOSSOPT_ROWS_SOFTMAX)
                _mm512_mask_storeu_ps(oi + j * B + 16 * w, valid[w], e);
            const __mmask16 is1 = _mm512_cmp_ps_mask(e, onef, _CMP_EQ_OQ);
            c16[w] = _mm512_mask_add_epi32(c16[w], is1, c16[w], _mm512_set1_epi32(1));
            s_lo[w] = _mm512_mask_add_pd(s_lo[w], (__mmask8)~is1, s_lo[w], lossopt_rows_lo8(e));
            s_hi[w] = _mm512_mask_add_pd(s_hi[w], (__mmask8)~(is1 >> 8), s_hi[w],
                                         lossopt_rows_hi8(e));
        }
    }
    lossopt_rows_res8 rlo[W], rhi[W];
    __m512d m_lo[W], m_hi[W];
    for (int w = 0; w < W; w++) {
        const __mmask8 v_lo = (__mmask8)valid[w], v_hi = (__mmask8)(valid[w] >> 8);
        m_lo[w] = lossopt_rows_lo8(m[w]);
        m_hi[w] = lossopt_rows_hi8(m[w]);
        rlo[w].coef = rlo[w].lz = rhi[w].coef = rhi[w].lz = zero;
        unsigned sp = 0;
        if (v_lo)
            sp = lossopt_rows_coefs8(ra, 0, v_lo, m_lo[w], s_lo[w],
                                     _mm512_cvtepi32_pd(_mm512_castsi512_si256(c16[w])), zero,
                                     zero, _mm512_setzero_si512(), zero, &rlo[w]);
        if (v_hi)
            sp |= (unsigned)lossopt_rows_coefs8(ra, 0, v_hi, m_hi[w], s_hi[w],
                                                _mm512_cvtepi32_pd(
                                                    _mm512_extracti64x4_epi64(c16[w], 1)),
                                                zero, zero,
                                                _mm512_setzero_si512(), zero, &rhi[w]) << 8;
        for (int r = 0; r < 16 && 16 * w + r < n; r++)
            special[i0 + 16 * w + r] = (unsigned char)(sp >> r & 1);
        if (mode == LOSSOPT_ROWS_LSE) {
            _mm512_mask_storeu_pd(lse + i0 + 16 * w, v_lo, rlo[w].coef);
            _mm512_mask_storeu_pd(lse + i0 + 16 * w + 8, v_hi, rhi[w].coef);
        }
    }
    if (mode == LOSSOPT_ROWS_LSE)
        return;
    for (ptrdiff_t j = 0; j < C; j++)
        for (int w = 0; w < W; w++) {
            const ptrdiff_t o = j * B + 16 * w;
            __m512d lo, hi;
            if (mode == LOSSOPT_ROWS_SOFTMAX) {
                const __m512 e = _mm512_maskz_loadu_ps(valid[w], oi + o);
                lo = _mm512_mul_pd(rlo[w].coef, lossopt_rows_lo8(e));
                hi = _mm512_mul_pd(rhi[w].coef, lossopt_rows_hi8(e));
            } else {
                const __m512 v = _mm512_maskz_loadu_ps(valid[w], xi + o);
                lo = _mm512_sub_pd(_mm512_sub_pd(lossopt_rows_lo8(v), m_lo[w]), rlo[w].lz);
                hi = _mm512_sub_pd(_mm512_sub_pd(lossopt_rows_hi8(v), m_hi[w]), rhi[w].lz);
            }
            _mm512_mask_storeu_ps(oi + o, valid[w], lossopt_rows_join16(lo, hi));
        }
}
#endif  /* LOSSOPT_HAVE_DISPATCH */

/* The samples [i0, i1) of outer position a (x and out at the array's start,
 * lse: A * B results, special: A * B flags), in tiles of W G samples;
 * mode: LOSSOPT_ROWS_LSE, _SOFTMAX or _LOG_SOFTMAX (out NULL for LSE). */
static void lossopt_cols_range(int is_float, int mode, const void *x, void *out,
                               ptrdiff_t C, ptrdiff_t B, ptrdiff_t a, ptrdiff_t i0,
                               ptrdiff_t i1, double *lse, unsigned char *special)
{
#if LOSSOPT_HAVE_DISPATCH
    lossopt_rows_args ra;
    memset(&ra, 0, sizeof ra);
    ra.mode = mode;
    ra.n_cols = C;
    const ptrdiff_t off = a * C * B;
    const int G = is_float ? 16 * LOSSOPT_COLS_W32 : 8 * LOSSOPT_COLS_W64;
    for (ptrdiff_t i = i0; i < i1; i += G) {
        const int n = (int)(i1 - i < G ? i1 - i : G);
        if (is_float)
            lossopt_cols_tile_f32(&ra, (const float *)x + off, out ? (float *)out + off : NULL,
                                  C, B, i, n, lse ? lse + a * B : NULL, special + a * B);
        else
            lossopt_cols_tile_f64(&ra, (const double *)x + off, out ? (double *)out + off : NULL,
                                  C, B, i, n, lse ? lse + a * B : NULL, special + a * B);
    }
#else
    (void)is_float; (void)mode; (void)x; (void)out; (void)C; (void)B; (void)a; (void)i0;
    (void)i1; (void)lse; (void)special;
#endif
}

#endif /* LOSSOPT_COLS_H */
