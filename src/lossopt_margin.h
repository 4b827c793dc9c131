/*
 * Multiclass hinge losses: per-row loss and gradient for a block of rows,
 * float and double rows, float64 arithmetic.  See src/_margin.pyx for the
 * formulas and the subgradient choices.
 *
 * For a row x of n class scores with label y, margin Delta and power p:
 *
 *   Weston-Watkins:  sum_{j != y} max(0, Delta - x_y + x_j)^p
 *   Crammer-Singer:  max(0, Delta + max_{j != y} x_j - x_y)^p
 *
 * A term exactly at its kink (0) contributes 0 to the gradient; NaN
 * propagates (a NaN term is "on"); Crammer-Singer's gradient goes to the first
 * maximiser (as np.argmax).
 *
 * The x86-64-v4 path runs AVX-512 code of its own (the end of this file).
 * The other paths: rows of LOSSOPT_FUSED_ROW_MIN classes or more are taken
 * one by one: the class loop of Weston-Watkins is one vectorised sweep that
 * writes the row's gradient and sums the terms; a Crammer-Singer row takes
 * its maximum and its first maximiser in two vectorised sweeps.  Shorter rows
 * (10 classes would leave those loops in their scalar remainders) are copied,
 * LOSSOPT_MARGIN_CHUNK rows at a time, into a column-major buffer and
 * processed column by column, vectorised across rows.  The power p and
 * whether a gradient is wanted are constants in each instance of the loops
 * (tested inside, they kept GCC from vectorising them).
 */
#ifndef LOSSOPT_MARGIN_H
#define LOSSOPT_MARGIN_H

#include "lossopt_math.h"
#include "lossopt_rows.h"    /* the in-register transposes of short rows */

/* rows taken together, column by column, by the short-row path */
#define LOSSOPT_MARGIN_CHUNK 64

/* the bodies must be inlined into each ISA clone, or they run as baseline
 * code: they are LOSSOPT_ALWAYS_INLINE (lossopt_math.h) */

/* What a margin kernel reads and writes (the scores' type is the suffix's). */
typedef struct {
    const void *x;              /* scores, row i at x + i * xs */
    ptrdiff_t xs;
    void *g;                    /* gradient (row stride gs), or NULL */
    ptrdiff_t gs;
    const ptrdiff_t *labels;    /* in [0, n) */
    const double *cw;           /* class weights, or NULL (ones) */
    const double *sw;           /* sample weights, or NULL (ones) */
    double inv_c;               /* 1 / C for Weston-Watkins, 1 for Crammer-Singer */
    double gscale;              /* the reduction's factor */
    double margin;
    ptrdiff_t n;                /* classes */
    int p;
    int crammer_singer;
    double *row_loss;           /* weighted loss per row, or NULL */
    unsigned char *bad;         /* NULL: labels known to be in [0, n); else each */
    ptrdiff_t rows_per_block;   /* block checks its labels first and, holding a */
                                /* bad one, sets bad[r0 / rows_per_block] and   */
                                /* writes nothing */
} lossopt_margin_args;

/* The number of labels outside [0, n), branch-free (vectorised).  The block
 * kernels below call its body, lossopt_count_bad_labels_body. */
LOSSOPT_KERNEL(ptrdiff_t, lossopt_count_bad_labels,
               (const ptrdiff_t *labels, ptrdiff_t count, ptrdiff_t n), (labels, count, n))
{
    ptrdiff_t bad = 0;
    LOSSOPT_OMP_SIMD(reduction(+:bad))
    for (ptrdiff_t i = 0; i < count; i++)
        bad += (labels[i] < 0) | (labels[i] >= n);
    return bad;
}

/* With a->bad, a block checks its labels first: holding a bad one, it marks
 * itself in a->bad and returns 1 (and then writes nothing). */
LOSSOPT_ALWAYS_INLINE int lossopt_margin_block_bad(const lossopt_margin_args *a,
                                                   ptrdiff_t r0, ptrdiff_t r1)
{
    if (a->bad && lossopt_count_bad_labels_body(a->labels + r0, r1 - r0, a->n)) {
        a->bad[r0 / a->rows_per_block] = 1;
        return 1;
    }
    return 0;
}

/* the row's weight: sample weight x class weight of its label (/ C) */
static inline double lossopt_margin_weight(const lossopt_margin_args *a, ptrdiff_t i)
{
    return (a->sw ? a->sw[i] : 1.0) * (a->cw ? a->cw[a->labels[i]] : 1.0) * a->inv_c;
}

/* the row's weighted loss v, stored when asked for; returns v */
static inline double lossopt_margin_store(const lossopt_margin_args *a, ptrdiff_t i,
                                          double v)
{
    if (a->row_loss)
        a->row_loss[i] = v;
    return v;
}

/* Crammer-Singer's h = margin + max_{j != y} x_j - x_y (NaN when the row
 * holds a NaN), and a hinge term max(0, h)^p (NaN stays NaN) */
static inline double lossopt_cs_h(int nan, double margin, double mx, double xy)
{
    return nan ? NAN : (margin + mx) - xy;
}
static inline double lossopt_margin_power(double h, int p)
{
    return (h <= 0.0) ? 0.0 : (p == 2 ? h * h : h);
}

/* The loop over rows [r0, r1) one by one, as NAME(a, r0, r1, want_g, p, cs,
 * lim) with the attributes ATTR: CS_ROW / WW_ROW(x, g, n, y, margin, p, sc,
 * want_g, lim) return a row's loss and write its gradient. */
#define LOSSOPT_DEFINE_MARGIN_ROW_LOOP(ATTR, NAME, T, CS_ROW, WW_ROW)                  \
    ATTR double NAME(const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1,      \
                     int want_g, int p, int cs, ptrdiff_t lim)                       \
    {                                                                                \
        /* a copy of the arguments, which the stores into g cannot change */       \
        const lossopt_margin_args args = *a;                                         \
        a = &args;                                                                   \
        const ptrdiff_t n = a->n;                                                    \
        double total = 0.0;                                                          \
        for (ptrdiff_t i = r0; i < r1; i++) {                                        \
            ptrdiff_t y = a->labels[i];                                              \
            const T *xr = (const T *)a->x + i * a->xs;                               \
            T *gr = want_g ? (T *)a->g + i * a->gs : NULL;                           \
            double lw = lossopt_margin_weight(a, i), sc = a->gscale * lw, v;         \
            if (lw == 0.0) {                                                         \
                /* weighted 0: contributes nothing, even with NaN scores */         \
                for (ptrdiff_t j = 0; want_g && j < n; j++)                          \
                    gr[j] = (T)0;                                                    \
                v = 0.0;                                                             \
            } else if (cs) {                                                         \
                v = lw * CS_ROW(xr, gr, n, y, a->margin, p, sc, want_g, lim);        \
            } else {                                                                 \
                v = lw * WW_ROW(xr, gr, n, y, a->margin, p, sc, want_g, lim);        \
            }                                                                        \
            total += lossopt_margin_store(a, i, v);                                  \
        }                                                                            \
        return total;                                                                \
    }

#define LOSSOPT_DEFINE_MARGIN_HELPERS(T, SUFFIX)                                       \
    /* Crammer-Singer, once the row's gradient holds `fill` (NaN when h is):    */ \
    /* when h > 0, d = sc d(max(0, h)^p)/dh at the first maximiser k (k < n:    */ \
    /* there is one, as max_{j != y} x_j > -inf) and -d at y                    */ \
    LOSSOPT_ALWAYS_INLINE void lossopt_cs_place_##SUFFIX(                            \
        T *g, ptrdiff_t k, ptrdiff_t n, ptrdiff_t y, double h, int p, double sc, T fill) \
    {                                                                                \
        double d = (p == 2 ? 2.0 * sc * h : sc);                                     \
        k = (h > 0.0 && k < n) ? k : y;                                              \
        g[k] = h > 0.0 ? (T)d : fill;                                                \
        g[y] = h > 0.0 ? (T)(-d) : fill;                                             \
    }                                                                                \
    /* Weston-Watkins row: returns the sum of the terms; with g, writes           */ \
    /* g_j = sc d(term_j)/dz_j (j != y) and g_y = -sum_j g_j                       */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_ww_row_##SUFFIX(                        \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g, ptrdiff_t lim /* unused: see lossopt_ww_row_v4_* */)            \
    {                                                                                \
        (void)lim;                                                                   \
        double base = margin - (double)x[y];                                         \
        double acc = 0.0, gsum = 0.0;                                                \
        LOSSOPT_OMP_SIMD(reduction(+:acc, gsum))                                     \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            double z = base + (double)x[j];                                          \
            int on = !(z <= 0.0) && j != y;                                          \
            acc += on ? (p == 2 ? z * z : z) : 0.0;                                  \
            if (want_g) {                                                            \
                double d = (z != z) ? z : (p == 2 ? 2.0 * sc * z : sc);              \
                d = on ? d : 0.0;                                                    \
                gsum += d;                                                           \
                g[j] = (T)d;                                                         \
            }                                                                        \
        }                                                                            \
        if (want_g)                                                                  \
            g[y] = (T)(0.0 - gsum);   /* +0, not -0, when nothing is on */              \
        return acc;                                                                  \
    }                                                                                \
    /* Crammer-Singer row: returns max(0, h)^p, h = margin + max_{j!=y} x_j - x_y */ \
    /* The max and the first maximiser are searched in T (exact: a float's     */ \
    /* max is the same number in double), both in vectorised sweeps.           */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_cs_row_##SUFFIX(                        \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g, ptrdiff_t lim /* unused: see lossopt_cs_row_v4_* */)            \
    {                                                                                \
        (void)lim;                                                                   \
        T mxt = (T)-INFINITY;                                                        \
        int nan = 0;                                                                 \
        LOSSOPT_OMP_SIMD(reduction(max:mxt) reduction(+:nan))                        \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            T v = x[j];                                                              \
            nan += (v != v);                                                         \
            v = (j == y) ? (T)-INFINITY : v;                                         \
            mxt = v > mxt ? v : mxt;                                                 \
        }                                                                            \
        double h = lossopt_cs_h(nan, margin, (double)mxt, (double)x[y]);             \
        T fill = (T)((h != h) ? h : 0.0);    /* the gradient but at k and y */       \
        if (want_g) {                                                                \
            /* the first maximiser, found before g (which may be x) is written */    \
            ptrdiff_t k = n;                                                         \
            if (h > 0.0) {                                                           \
                LOSSOPT_OMP_SIMD(reduction(min:k))                                   \
                for (ptrdiff_t j = 0; j < n; j++) {                                  \
                    ptrdiff_t c = (j != y && x[j] == mxt) ? j : n;                   \
                    k = c < k ? c : k;                                               \
                }                                                                    \
            }                                                                        \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t j = 0; j < n; j++)                                        \
                g[j] = fill;                                                         \
            lossopt_cs_place_##SUFFIX(g, k, n, y, h, p, sc, fill);                   \
        }                                                                            \
        return lossopt_margin_power(h, p);                                           \
    }                                                                                \
    /* Between nr rows of n values (row i at r + i * rs) and the column-major  */    \
    /* xt[j * nr + i]: xt <- rows (to_cols) or rows <- xt; four rows at a time */    \
    /* (one at a time, a 10-class row is all loop overhead).  r is only read  */     \
    /* when to_cols.                                                           */    \
    LOSSOPT_ALWAYS_INLINE void lossopt_margin_copy_##SUFFIX(                         \
        T *r, ptrdiff_t rs, ptrdiff_t nr, ptrdiff_t n, double *xt, int to_cols)      \
    {                                                                                \
        ptrdiff_t i = 0;                                                             \
        for (; i + 4 <= nr; i += 4) {                                                \
            T *q[4] = {r + i * rs, r + (i + 1) * rs, r + (i + 2) * rs, r + (i + 3) * rs};\
            for (ptrdiff_t j = 0; j < n; j++)                                        \
                for (int k = 0; k < 4; k++) {                                        \
                    if (to_cols)                                                     \
                        xt[j * nr + i + k] = (double)q[k][j];                        \
                    else                                                             \
                        q[k][j] = (T)xt[j * nr + i + k];                             \
                }                                                                    \
        }                                                                            \
        for (; i < nr; i++)                                                          \
            for (ptrdiff_t j = 0; j < n; j++) {                                      \
                if (to_cols)                                                         \
                    xt[j * nr + i] = (double)r[i * rs + j];                          \
                else                                                                 \
                    r[i * rs + j] = (T)xt[j * nr + i];                               \
            }                                                                        \
    }                                                                                \
    /* long rows, one by one (their class loops above vectorise) */              \
    LOSSOPT_DEFINE_MARGIN_ROW_LOOP(LOSSOPT_ALWAYS_INLINE, lossopt_margin_long_##SUFFIX, T, \
                                   lossopt_cs_row_##SUFFIX, lossopt_ww_row_##SUFFIX)  \
    /* short rows [r0, r0 + nr), nr <= LOSSOPT_MARGIN_CHUNK: copied into a     */ \
    /* column-major buffer xt[j * nr + i], then column by column, vectorised    */ \
    /* across the rows; the WW gradient goes through the buffer back to rows.   */ \
    /* The same formulas as the row by row loop, each row's terms summed in     */ \
    /* class order.                                                             */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_margin_short_##SUFFIX(                      \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t nr, int want_g, int p) \
    {                                                                                \
        const T *x = (const T *)a->x + r0 * a->xs;                                   \
        T *g = want_g ? (T *)a->g + r0 * a->gs : NULL;                               \
        const ptrdiff_t *lab = a->labels + r0;                                       \
        const ptrdiff_t n = a->n, xs = a->xs, gs = a->gs;                            \
        const double margin = a->margin, gscale = a->gscale;                         \
        double lw[LOSSOPT_MARGIN_CHUNK], xy[LOSSOPT_MARGIN_CHUNK];                   \
        double acc[LOSSOPT_MARGIN_CHUNK], gsum[LOSSOPT_MARGIN_CHUNK];                \
        ptrdiff_t arg[LOSSOPT_MARGIN_CHUNK];                                         \
        double xt[LOSSOPT_MARGIN_CHUNK * LOSSOPT_FUSED_ROW_MIN];                     \
        double total = 0.0;                                                          \
        lossopt_margin_copy_##SUFFIX((T *)x, xs, nr, n, xt, 1);  /* x before g */    \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            lw[i] = lossopt_margin_weight(a, r0 + i);                                \
            xy[i] = (double)x[i * xs + lab[i]];                                      \
            acc[i] = a->crammer_singer ? -INFINITY : 0.0;  /* the max for CS */      \
            gsum[i] = 0.0;                                 /* NaN count for CS */    \
            arg[i] = 0;                                                              \
        }                                                                            \
        if (!a->crammer_singer) {                                                    \
            for (ptrdiff_t j = 0; j < n; j++) {                                      \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    double z = (margin - xy[i]) + xt[j * nr + i];                    \
                    int on = !(z <= 0.0) && j != lab[i] && lw[i] != 0.0;             \
                    acc[i] += on ? (p == 2 ? z * z : z) : 0.0;                       \
                    if (want_g) {                                                    \
                        double sc = gscale * lw[i];                                  \
                        double d = (z != z) ? z : (p == 2 ? 2.0 * sc * z : sc);      \
                        d = on ? d : 0.0;                                            \
                        gsum[i] += d;                                                \
                        xt[j * nr + i] = d;                                          \
                    }                                                                \
                }                                                                    \
            }                                                                        \
            if (want_g)                                                              \
                lossopt_margin_copy_##SUFFIX(g, gs, nr, n, xt, 0);                   \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                if (want_g)                                                          \
                    g[i * gs + lab[i]] = (T)(0.0 - gsum[i]);                         \
                double v = lw[i] == 0.0 ? 0.0 : lw[i] * acc[i];                      \
                total += lossopt_margin_store(a, r0 + i, v);                         \
            }                                                                        \
            return total;                                                            \
        }                                                                            \
        /* Crammer-Singer: the max over j != y and its first index (strict >) */    \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                double v = xt[j * nr + i];                                           \
                gsum[i] += (v != v) ? 1.0 : 0.0;                                     \
                v = (j == lab[i]) ? -INFINITY : v;                                   \
                int up = v > acc[i];                                                 \
                acc[i] = up ? v : acc[i];                                            \
                arg[i] = up ? j : arg[i];                                            \
            }                                                                        \
        }                                                                            \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            double h = gsum[i] != 0.0 ? NAN : (margin + acc[i]) - xy[i];             \
            int on = lw[i] != 0.0 && !(h <= 0.0);                                    \
            if (want_g) {                                                            \
                T *gr = g + i * gs;                                                  \
                T fill = (T)((on && h != h) ? h : 0.0);                              \
                for (ptrdiff_t j = 0; j < n; j++)                                    \
                    gr[j] = fill;                                                    \
                if (on && h == h) {                                                  \
                    double sc = gscale * lw[i];                                      \
                    double d = p == 2 ? 2.0 * sc * h : sc;                           \
                    gr[arg[i]] = (T)d;                                               \
                    gr[lab[i]] = (T)(-d);                                            \
                }                                                                    \
            }                                                                        \
            total += lossopt_margin_store(a, r0 + i,                                 \
                                          on ? lw[i] * (p == 2 ? h * h : h) : 0.0);  \
        }                                                                            \
        return total;                                                                \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE double lossopt_margin_block_##SUFFIX(                      \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1, int want_g, int p) \
    {                                                                                \
        if (a->n >= LOSSOPT_FUSED_ROW_MIN)                                           \
            return lossopt_margin_long_##SUFFIX(a, r0, r1, want_g, p, a->crammer_singer, \
                                                a->n);                               \
        double total = 0.0;                                                          \
        for (ptrdiff_t c0 = r0; c0 < r1; c0 += LOSSOPT_MARGIN_CHUNK) {               \
            ptrdiff_t nr = r1 - c0 < LOSSOPT_MARGIN_CHUNK ? r1 - c0 : LOSSOPT_MARGIN_CHUNK; \
            total += lossopt_margin_short_##SUFFIX(a, c0, nr, want_g, p);            \
        }                                                                            \
        return total;                                                                \
    }                                                                                \
    /* Rows [r0, r1) of the scores in `args` (a lossopt_margin_args): their     */ \
    /* weighted losses summed (and stored in row_loss when given), their        */ \
    /* gradients times gscale written into g (when given).                      */ \
    LOSSOPT_KERNEL(double, lossopt_margin_rows_any_##SUFFIX, (const void *args,      \
                   ptrdiff_t r0, ptrdiff_t r1), (args, r0, r1))                      \
    {                                                                                \
        const lossopt_margin_args *a = (const lossopt_margin_args *)args;            \
        if (lossopt_margin_block_bad(a, r0, r1))                                     \
            return 0.0;                                                              \
        /* want_g and p as constants: their tests leave the vectorised loops */     \
        if (a->g)                                                                    \
            return a->p == 2 ? lossopt_margin_block_##SUFFIX(a, r0, r1, 1, 2)        \
                             : lossopt_margin_block_##SUFFIX(a, r0, r1, 1, 1);       \
        return a->p == 2 ? lossopt_margin_block_##SUFFIX(a, r0, r1, 0, 2)            \
                         : lossopt_margin_block_##SUFFIX(a, r0, r1, 0, 1);           \
    }

LOSSOPT_DEFINE_MARGIN_HELPERS(double, f64)
LOSSOPT_DEFINE_MARGIN_HELPERS(float, f32)

/* ------------------------------------------------ AVX-512 rows (x86-64-v4) --
 *
 * On the x86-64-v4 path, rows are taken one by one in chunks of 8 classes
 * held as 8 doubles in a zmm register (floats converted on load and rounded
 * back on store; Crammer-Singer's max search: 8 doubles or 16 floats), the
 * last chunk of a row masked: masked loads and stores touch no element
 * outside the row, so short rows (10 classes: one full and one masked chunk)
 * need neither a transposed copy nor scalar remainders, and long rows no
 * scalar remainder.  Rows of at most 8 or 16 classes get unrolled loops.
 * The same formulas and subgradient choices as above; a row's terms are
 * summed lane-wise over its chunks, then across the lanes (a fixed order).
 */
#if LOSSOPT_HAVE_DISPATCH

#define LOSSOPT_V4_INLINE LOSSOPT_TARGET_V4 static inline __attribute__((always_inline))

LOSSOPT_V4_INLINE __m512d lossopt_margin_load8_f64(const double *p, __mmask8 m)
{
    return _mm512_maskz_loadu_pd(m, p);
}
LOSSOPT_V4_INLINE __m512d lossopt_margin_load8_f32(const float *p, __mmask8 m)
{
    return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, p));
}
LOSSOPT_V4_INLINE void lossopt_margin_store8_f64(double *p, __mmask8 m, __m512d v)
{
    _mm512_mask_storeu_pd(p, m, v);
}
LOSSOPT_V4_INLINE void lossopt_margin_store8_f32(float *p, __mmask8 m, __m512d v)
{
    _mm256_mask_storeu_ps(p, m, _mm512_cvtpd_ps(v));
}

/* A row's lanes as one bit per class (n <= 64): `valid`, the classes of the
 * row, and `use`, those that are not the label y; chunk c of W lanes (W = 8 or
 * 16) takes bits W c .. W c + W - 1. */
LOSSOPT_V4_INLINE uint64_t lossopt_margin_valid(ptrdiff_t n)
{
    return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1u;
}

/* p = 1, rows of at most 16 classes: g = sc on the lanes on0 (classes 0-7)
 * and on1 (8-15) of the row's lanes `valid`, 0 elsewhere; floats written as
 * one vector of 16 */
LOSSOPT_V4_INLINE void lossopt_margin_store_on_f64(double *g, uint64_t valid, __mmask8 on0,
                                                   __mmask8 on1, double sc, int two)
{
    __m512d v = _mm512_set1_pd(sc);
    _mm512_mask_storeu_pd(g, (__mmask8)valid, _mm512_maskz_mov_pd(on0, v));
    if (two)
        _mm512_mask_storeu_pd(g + 8, (__mmask8)(valid >> 8), _mm512_maskz_mov_pd(on1, v));
}
LOSSOPT_V4_INLINE void lossopt_margin_store_on_f32(float *g, uint64_t valid, __mmask8 on0,
                                                   __mmask8 on1, double sc, int two)
{
    __mmask16 on = (__mmask16)(on0 | (two ? (unsigned)on1 << 8 : 0u));
    _mm512_mask_storeu_ps(g, (__mmask16)valid,
                          _mm512_maskz_mov_ps(on, _mm512_set1_ps((float)sc)));
}

/* The lanes of chunk c: those of the row (bits = valid), or those that are
 * not the label (bits = use, not_y = 1).  From the 64-bit masks when the
 * chunk loop's bound lim is at most 64 (a constant for short rows), else
 * computed from n and y. */
LOSSOPT_V4_INLINE unsigned lossopt_margin_chunk(uint64_t bits, ptrdiff_t c, int W,
                                                ptrdiff_t lim, ptrdiff_t n, ptrdiff_t y,
                                                int not_y)
{
    if (lim <= 64)
        return (unsigned)(bits >> (W * c));
    ptrdiff_t left = n - W * c;
    unsigned m = left >= W ? (1u << W) - 1u : (1u << left) - 1u;
    if (not_y && y / W == c)
        m &= ~(1u << (y % W));
    return m;
}

/* the lane sums of a and of b, in one reduction tree (fixed order) */
LOSSOPT_V4_INLINE void lossopt_margin_sum2(__m512d a, __m512d b, double *sa, double *sb)
{
    /* 128-bit lanes: a0 + a2, a1 + a3, b0 + b2, b1 + b3 */
    __m512d t = _mm512_add_pd(_mm512_shuffle_f64x2(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_f64x2(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
    t = _mm512_add_pd(t, _mm512_shuffle_f64x2(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
    t = _mm512_add_pd(t, _mm512_permute_pd(t, 0x55));
    *sa = _mm512_cvtsd_f64(t);
    *sb = _mm_cvtsd_f64(_mm512_extractf64x2_pd(t, 2));
}

/* Crammer-Singer's max and first maximiser are searched in the scores' own
 * type (exact: a float's max is the same number in double), W to a vector */
#define LOSSOPT_MARGIN_W_f64 8
#define LOSSOPT_MARGIN_W_f32 16
#define LOSSOPT_MARGIN_VEC_f64 __m512d
#define LOSSOPT_MARGIN_VEC_f32 __m512
#define LOSSOPT_MARGIN_MASK_f64 __mmask8
#define LOSSOPT_MARGIN_MASK_f32 __mmask16
#define LOSSOPT_MARGIN_OP_f64(name) _mm512_##name##_pd
#define LOSSOPT_MARGIN_OP_f32(name) _mm512_##name##_ps
#define LOSSOPT_MARGIN_CMP_f64 _mm512_mask_cmp_pd_mask
#define LOSSOPT_MARGIN_CMP_f32 _mm512_mask_cmp_ps_mask

/* In the row functions below, `lim` bounds the chunk loops: a constant (8 or
 * 16, >= n) for short rows, whose loops are then unrolled, else n; the row's
 * lanes are those of its n classes. */
#define LOSSOPT_DEFINE_MARGIN_AVX512(T, SUFFIX)                                     \
    /* Weston-Watkins, p = 1, a row of at most 16 classes (two = more than 8):  */ \
    /* z = base + x_j in two vectors of 8, on = the lanes of `use` where the     */ \
    /* term is on (!(z <= 0): NaN is on); returns the on terms, lane-wise added  */ \
    LOSSOPT_V4_INLINE __m512d lossopt_ww_terms16_##SUFFIX(                           \
        const T *x, __m512d base, uint64_t valid, uint64_t use, int two, __m512d *z0, \
        __m512d *z1, __mmask8 *on0, __mmask8 *on1)                                   \
    {                                                                                \
        const __m512d zero = _mm512_setzero_pd();                                    \
        *z0 = _mm512_add_pd(base, lossopt_margin_load8_##SUFFIX(x, (__mmask8)valid)); \
        *z1 = two ? _mm512_add_pd(base, lossopt_margin_load8_##SUFFIX(               \
                                      x + 8, (__mmask8)(valid >> 8))) : zero;        \
        *on0 = _mm512_mask_cmp_pd_mask((__mmask8)use, *z0, zero, _CMP_NLE_UQ);       \
        *on1 = two ? _mm512_mask_cmp_pd_mask((__mmask8)(use >> 8), *z1, zero,        \
                                             _CMP_NLE_UQ) : 0;                       \
        return _mm512_add_pd(_mm512_maskz_mov_pd(*on0, *z0), _mm512_maskz_mov_pd(*on1, *z1)); \
    }                                                                                \
    /* Weston-Watkins row (as lossopt_ww_row_*), 8 classes to a chunk */           \
    LOSSOPT_V4_INLINE double lossopt_ww_row_v4_##SUFFIX(                             \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g, ptrdiff_t lim)                                                   \
    {                                                                                \
        const uint64_t valid = lossopt_margin_valid(n);                              \
        const uint64_t use = y < 64 ? valid & ~((uint64_t)1 << y) : valid;           \
        const __m512d base = _mm512_set1_pd(margin - (double)x[y]);                  \
        const __m512d zero = _mm512_setzero_pd(), vsc = _mm512_set1_pd(sc);          \
        const __m512d vsc2 = _mm512_set1_pd(2.0 * sc);                               \
        __m512d acc = zero, gs = zero;                                               \
        double sacc, sgs;                                                            \
        if (p != 2 && lim <= 16) {                                                   \
            /* the hinge on at most 16 classes, held in registers: g_j = sc where */ \
            /* the term is on, g_y = -sc times their count; a NaN term (then the */  \
            /* sum is NaN) puts its z at j and NaN at y, as the loop below does  */  \
            const int two = lim > 8;                                                 \
            __m512d z0, z1;                                                          \
            __mmask8 on0, on1;                                                       \
            acc = lossopt_ww_terms16_##SUFFIX(x, base, valid, use, two, &z0, &z1, &on0, &on1); \
            lossopt_margin_sum2(acc, zero, &sacc, &sgs);                             \
            if (want_g) {                                                            \
                lossopt_margin_store_on_##SUFFIX(g, valid, on0, on1, sc, two);       \
                double gy = 0.0 - sc * (double)(__builtin_popcount(on0) + __builtin_popcount(on1)); \
                if (sacc != sacc) {                                                  \
                    lossopt_margin_store8_##SUFFIX(                                  \
                        g, _mm512_mask_cmp_pd_mask(on0, z0, z0, _CMP_UNORD_Q), z0);  \
                    if (two)                                                         \
                        lossopt_margin_store8_##SUFFIX(                              \
                            g + 8, _mm512_mask_cmp_pd_mask(on1, z1, z1, _CMP_UNORD_Q), z1); \
                    gy = sacc;                                                       \
                }                                                                    \
                g[y] = (T)gy;                                                        \
            }                                                                        \
            return sacc;                                                             \
        }                                                                            \
        for (ptrdiff_t c = 0; 8 * c < lim; c++) {                                    \
            __mmask8 m = (__mmask8)lossopt_margin_chunk(valid, c, 8, lim, n, y, 0);   \
            __m512d z = _mm512_add_pd(base, lossopt_margin_load8_##SUFFIX(x + 8 * c, m)); \
            /* on: !(z <= 0) (NaN is on), j != y */                                  \
            __mmask8 on = _mm512_mask_cmp_pd_mask(                                   \
                (__mmask8)lossopt_margin_chunk(use, c, 8, lim, n, y, 1), z, zero, _CMP_NLE_UQ); \
            acc = _mm512_mask_add_pd(acc, on, acc, p == 2 ? _mm512_mul_pd(z, z) : z); \
            if (want_g) {                                                            \
                __m512d d = p == 2 ? _mm512_mul_pd(vsc2, z) : vsc;                   \
                if (p != 2) /* NaN z: d = z (p = 2: 2 sc z is NaN already) */        \
                    d = _mm512_mask_mov_pd(d, _mm512_cmp_pd_mask(z, z, _CMP_UNORD_Q), z); \
                d = _mm512_maskz_mov_pd(on, d);                                      \
                gs = _mm512_add_pd(gs, d);                                           \
                lossopt_margin_store8_##SUFFIX(g + 8 * c, m, d);                     \
            }                                                                        \
        }                                                                            \
        /* the same sum of acc with and without g */                                \
        lossopt_margin_sum2(acc, gs, &sacc, &sgs);                                   \
        if (want_g)                                                                  \
            g[y] = (T)(0.0 - sgs);                                                   \
        return sacc;                                                                 \
    }                                                                                \
    /* Crammer-Singer row (as lossopt_cs_row_*), W classes to a chunk */            \
    LOSSOPT_V4_INLINE double lossopt_cs_row_v4_##SUFFIX(                             \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g, ptrdiff_t lim)                                                   \
    {                                                                                \
        enum { W = LOSSOPT_MARGIN_W_##SUFFIX };                                      \
        typedef LOSSOPT_MARGIN_VEC_##SUFFIX V;                                       \
        typedef LOSSOPT_MARGIN_MASK_##SUFFIX M;                                      \
        const uint64_t valid = lossopt_margin_valid(n);                              \
        const uint64_t use = y < 64 ? valid & ~((uint64_t)1 << y) : valid;           \
        V mxv = LOSSOPT_MARGIN_OP_##SUFFIX(set1)((T)-INFINITY);                      \
        M nan = 0;                                                                   \
        for (ptrdiff_t c = 0; W * c < lim; c++) {                                    \
            M m = (M)lossopt_margin_chunk(valid, c, W, lim, n, y, 0);                \
            V v = LOSSOPT_MARGIN_OP_##SUFFIX(maskz_loadu)(m, x + W * c);             \
            nan |= LOSSOPT_MARGIN_CMP_##SUFFIX(m, v, v, _CMP_UNORD_Q);               \
            mxv = LOSSOPT_MARGIN_OP_##SUFFIX(mask_max)(                              \
                mxv, (M)lossopt_margin_chunk(use, c, W, lim, n, y, 1), mxv, v);       \
        }                                                                            \
        T mx = LOSSOPT_MARGIN_OP_##SUFFIX(reduce_max)(mxv);                          \
        double h = lossopt_cs_h(nan, margin, (double)mx, (double)x[y]);              \
        T fill = (T)((h != h) ? h : 0.0);    /* the gradient but at k and y */       \
        if (want_g) {                                                                \
            /* the first maximiser, found before g (which may be x) is written: */   \
            /* short rows: the classes j != y where x_j = mx, a bit each; long     */   \
            /* rows: the first chunk that holds one                                */   \
            ptrdiff_t k = y;                                                         \
            if (lim <= 64) {                                                         \
                uint64_t eq = 0;                                                     \
                for (ptrdiff_t c = 0; W * c < lim; c++) {                            \
                    M m = (M)lossopt_margin_chunk(use, c, W, lim, n, y, 1);          \
                    V v = LOSSOPT_MARGIN_OP_##SUFFIX(maskz_loadu)(m, x + W * c);     \
                    eq |= (uint64_t)LOSSOPT_MARGIN_CMP_##SUFFIX(                     \
                        m, v, LOSSOPT_MARGIN_OP_##SUFFIX(set1)(mx), _CMP_EQ_OQ) << (W * c); \
                }                                                                    \
                k = eq ? (ptrdiff_t)__builtin_ctzll(eq) : y;                         \
            } else {                                                                 \
                for (ptrdiff_t c = 0; h > 0.0 && W * c < lim; c++) {                 \
                    M m = (M)lossopt_margin_chunk(use, c, W, lim, n, y, 1);          \
                    V v = LOSSOPT_MARGIN_OP_##SUFFIX(maskz_loadu)(m, x + W * c);     \
                    unsigned eq = LOSSOPT_MARGIN_CMP_##SUFFIX(                       \
                        m, v, LOSSOPT_MARGIN_OP_##SUFFIX(set1)(mx), _CMP_EQ_OQ);      \
                    if (eq) {                                                        \
                        k = W * c + __builtin_ctz(eq);                               \
                        break;                                                       \
                    }                                                                \
                }                                                                    \
            }                                                                        \
            for (ptrdiff_t c = 0; W * c < lim; c++)                                  \
                LOSSOPT_MARGIN_OP_##SUFFIX(mask_storeu)(                             \
                    g + W * c, (M)lossopt_margin_chunk(valid, c, W, lim, n, y, 0),   \
                                                       LOSSOPT_MARGIN_OP_##SUFFIX(set1)(fill)); \
            lossopt_cs_place_##SUFFIX(g, k, n, y, h, p, sc, fill);                   \
        }                                                                            \
        return lossopt_margin_power(h, p);                                           \
    }                                                                                \
    /* Weston-Watkins, p = 1, rows of at most 16 classes, one weight for all   */ \
    /* rows (no sample or class weights, no per-row losses): the rows' terms    */ \
    /* summed lane-wise over the block and across the lanes once at its end     */ \
    /* (inv_c times that sum), not row by row; a row's NaN is found from its    */ \
    /* lanes (a NaN term is on; the on terms are > 0 else, so their sum is NaN  */ \
    /* exactly when one is).  Otherwise as lossopt_ww_row_v4_* (p = 1, lim <= 16). */ \
    LOSSOPT_V4_INLINE double lossopt_ww_uniform_v4_##SUFFIX(                          \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1, int want_g,        \
        ptrdiff_t lim)                                                               \
    {                                                                                \
        const lossopt_margin_args args = *a;   /* the stores cannot change it */     \
        a = &args;                                                                   \
        const uint64_t valid = lossopt_margin_valid(a->n);                           \
        const int two = lim > 8;                                                     \
        const double sc = a->gscale * a->inv_c;                                      \
        const __m512d zero = _mm512_setzero_pd();                                    \
        __m512d tot = zero;                                                          \
        double s, unused;                                                            \
        for (ptrdiff_t i = r0; i < r1; i++) {                                        \
            const ptrdiff_t y = a->labels[i];                                        \
            const T *x = (const T *)a->x + i * a->xs;                                \
            const uint64_t use = valid & ~((uint64_t)1 << y);                        \
            const __m512d base = _mm512_set1_pd(a->margin - (double)x[y]);           \
            __m512d z0, z1;                                                          \
            __mmask8 on0, on1;                                                       \
            __m512d acc = lossopt_ww_terms16_##SUFFIX(x, base, valid, use, two, &z0, &z1, \
                                                      &on0, &on1);                   \
            tot = _mm512_add_pd(tot, acc);                                           \
            if (want_g) {                                                            \
                T *g = (T *)a->g + i * a->gs;                                        \
                __mmask8 nan0 = _mm512_mask_cmp_pd_mask(on0, z0, z0, _CMP_UNORD_Q);  \
                __mmask8 nan1 = two ? _mm512_mask_cmp_pd_mask(on1, z1, z1, _CMP_UNORD_Q) : 0; \
                lossopt_margin_store_on_##SUFFIX(g, valid, on0, on1, sc, two);       \
                double gy = 0.0 - sc * (double)(__builtin_popcount(on0) + __builtin_popcount(on1)); \
                if (nan0 | nan1) {                                                   \
                    lossopt_margin_store8_##SUFFIX(g, nan0, z0);                     \
                    if (two)                                                         \
                        lossopt_margin_store8_##SUFFIX(g + 8, nan1, z1);             \
                    lossopt_margin_sum2(acc, zero, &gy, &unused);   /* NaN */        \
                }                                                                    \
                g[y] = (T)gy;                                                        \
            }                                                                        \
        }                                                                            \
        lossopt_margin_sum2(tot, zero, &s, &unused);                                 \
        return a->inv_c * s;                                                         \
    }                                                                                \
    LOSSOPT_DEFINE_MARGIN_ROW_LOOP(LOSSOPT_V4_INLINE, lossopt_margin_v4_##SUFFIX, T,  \
                                   lossopt_cs_row_v4_##SUFFIX, lossopt_ww_row_v4_##SUFFIX) \
    /* one kind, p and want_g, the chunk loops' bound a constant for short rows */  \
    LOSSOPT_V4_INLINE double lossopt_margin_v4_lim_##SUFFIX(                         \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1, int want_g, int p, \
        int cs)                                                                      \
    {                                                                                \
        if (a->n <= 8)                                                               \
            return lossopt_margin_v4_##SUFFIX(a, r0, r1, want_g, p, cs, 8);          \
        if (a->n <= 16)                                                              \
            return lossopt_margin_v4_##SUFFIX(a, r0, r1, want_g, p, cs, 16);         \
        return lossopt_margin_v4_##SUFFIX(a, r0, r1, want_g, p, cs, a->n);           \
    }                                                                                \
    LOSSOPT_TARGET_V4 static double lossopt_margin_rows_avx512_##SUFFIX(             \
        const void *args, ptrdiff_t r0, ptrdiff_t r1)                                \
    {                                                                                \
        const lossopt_margin_args *a = (const lossopt_margin_args *)args;            \
        if (lossopt_margin_block_bad(a, r0, r1))                                     \
            return 0.0;                                                              \
        if (!a->crammer_singer && a->p != 2 && a->n <= 16 && !a->sw && !a->cw &&      \
            !a->row_loss) {                                                          \
            if (a->n <= 8)                                                           \
                return a->g ? lossopt_ww_uniform_v4_##SUFFIX(a, r0, r1, 1, 8)        \
                            : lossopt_ww_uniform_v4_##SUFFIX(a, r0, r1, 0, 8);       \
            return a->g ? lossopt_ww_uniform_v4_##SUFFIX(a, r0, r1, 1, 16)           \
                        : lossopt_ww_uniform_v4_##SUFFIX(a, r0, r1, 0, 16);          \
        }                                                                            \
        if (a->crammer_singer && a->n <= 16 && !a->sw && !a->cw && !a->row_loss &&   \
            sizeof(T) == sizeof(float)) {                                            \
            const int key = (a->g != NULL) * 2 + (a->p == 2);                        \
            switch (key) {                                                           \
            case 0: return lossopt_cs_columns_f32_v4(a, r0, r1, 0, 1);               \
            case 1: return lossopt_cs_columns_f32_v4(a, r0, r1, 0, 2);               \
            case 2: return lossopt_cs_columns_f32_v4(a, r0, r1, 1, 1);               \
            default: return lossopt_cs_columns_f32_v4(a, r0, r1, 1, 2);              \
            }                                                                        \
        }                                                                            \
        /* want_g, p and the kind as constants */                                    \
        int key = (a->g != NULL) * 4 + (a->p == 2) * 2 + (a->crammer_singer != 0);   \
        switch (key) {                                                               \
        case 0: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 0, 1, 0);           \
        case 1: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 0, 1, 1);           \
        case 2: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 0, 2, 0);           \
        case 3: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 0, 2, 1);           \
        case 4: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 1, 1, 0);           \
        case 5: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 1, 1, 1);           \
        case 6: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 1, 2, 0);           \
        default: return lossopt_margin_v4_lim_##SUFFIX(a, r0, r1, 1, 2, 1);          \
        }                                                                            \
    }

/* Crammer-Singer on float rows of at most 16 classes, no sample or class
 * weights, no per-row losses: 16 rows at a time, transposed in registers
 * (lossopt_rows_columns_f32: lane r holds row r, X[j] its column j), so the
 * row's maximum over j != y, x_y, its NaN and its first maximiser k are
 * vertical operations over the columns instead of a horizontal reduction
 * per row (about 1.4 x faster on 10 classes).  The gradient is fill (0, or
 * NaN when h is) but at k and y: the group's zeros stored as whole vectors
 * when its gradient rows are contiguous and none is NaN, else each row's fill
 * as one masked vector; then d at k and -d at y (the fill where h <= 0, no
 * branch).  The same formulas as lossopt_cs_row_v4_f32; the
 * losses summed lane-wise over the block and across the lanes at its end
 * (a fixed order, with or without a gradient).  Rows are read before any
 * of the group is written (g may be x). */
LOSSOPT_V4_INLINE double lossopt_cs_columns_f32_v4(const lossopt_margin_args *a,
                                                   ptrdiff_t r0, ptrdiff_t r1, int want_g,
                                                   int p)
{
    const lossopt_margin_args args = *a;   /* the stores cannot change it */
    a = &args;
    const ptrdiff_t C = a->n;
    const __mmask16 cm = (__mmask16)lossopt_rows_first((int)C);
    const double sc = a->gscale * a->inv_c;
    const __m512d margin = _mm512_set1_pd(a->margin), zd = _mm512_setzero_pd();
    const __m512d nand = _mm512_set1_pd(NAN), two_sc = _mm512_set1_pd(2.0 * sc);
    __m512d tot0 = zd, tot1 = zd;
    for (ptrdiff_t i = r0; i < r1; i += 16) {
        const int nv = lossopt_rows_count(r1 - i, 16);
        const __mmask16 rows = (__mmask16)lossopt_rows_first(nv);
        const float *x = (const float *)a->x + i * a->xs;
        __m512 X[16];
        (void)lossopt_rows_columns_f32(x, a->xs, nv, C, X);
        const __m512i Y = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm512_cvtepi64_epi32(
                _mm512_maskz_loadu_epi64((__mmask8)rows, a->labels + i))),
            _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64((__mmask8)(rows >> 8),
                                                           a->labels + i + 8)), 1);
        __m512 mx = _mm512_set1_ps(-INFINITY), xy = _mm512_setzero_ps();
        __mmask16 nan = 0;
        for (ptrdiff_t j = 0; j < C; j++) {
            const __mmask16 isy = _mm512_cmpeq_epi32_mask(Y, _mm512_set1_epi32((int)j));
            xy = _mm512_mask_mov_ps(xy, isy, X[j]);
            nan |= _mm512_cmp_ps_mask(X[j], X[j], _CMP_UNORD_Q);
            mx = _mm512_mask_max_ps(mx, (__mmask16)~isy, mx, X[j]);
        }
        /* h = (margin + mx) - x_y in double (NaN where the row holds one) */
        __m512d h[2], v[2];
        __mmask8 on[2], hnan[2];
        for (int q = 0; q < 2; q++) {
            const __m512d mxq = q ? lossopt_rows_hi8(mx) : lossopt_rows_lo8(mx);
            const __m512d xyq = q ? lossopt_rows_hi8(xy) : lossopt_rows_lo8(xy);
            h[q] = _mm512_mask_mov_pd(_mm512_sub_pd(_mm512_add_pd(margin, mxq), xyq),
                                      (__mmask8)(nan >> (8 * q)), nand);
            /* max(0, h)^p, NaN kept: 0 where h <= 0 */
            v[q] = _mm512_mask_mov_pd(p == 2 ? _mm512_mul_pd(h[q], h[q]) : h[q],
                                      _mm512_cmp_pd_mask(h[q], zd, _CMP_LE_OQ), zd);
            on[q] = _mm512_cmp_pd_mask(h[q], zd, _CMP_GT_OQ);
            hnan[q] = _mm512_cmp_pd_mask(h[q], h[q], _CMP_UNORD_Q);
        }
        tot0 = _mm512_mask_add_pd(tot0, (__mmask8)rows, tot0, v[0]);
        tot1 = _mm512_mask_add_pd(tot1, (__mmask8)(rows >> 8), tot1, v[1]);
        if (!want_g)
            continue;
        /* the first maximiser k over j != y (where h > 0, there is one) */
        __m512i K = _mm512_setzero_si512();
        for (ptrdiff_t j = C - 1; j >= 0; j--) {
            const __mmask16 noty = _mm512_cmpneq_epi32_mask(Y, _mm512_set1_epi32((int)j));
            K = _mm512_mask_mov_epi32(K, _mm512_mask_cmp_ps_mask(noty, X[j], mx, _CMP_EQ_OQ),
                                      _mm512_set1_epi32((int)j));
        }
        /* d = sc d(max(0, h)^p)/dh, rounded to float; the fill of each row */
        const __m512 d = p == 2 ? lossopt_rows_join16(_mm512_mul_pd(two_sc, h[0]),
                                                      _mm512_mul_pd(two_sc, h[1]))
                                : _mm512_set1_ps((float)sc);
        const __m512 fill = _mm512_maskz_mov_ps(
            (__mmask16)(hnan[0] | (unsigned)hnan[1] << 8), lossopt_rows_join16(h[0], h[1]));
        const __mmask16 on16 = (__mmask16)(on[0] | (unsigned)on[1] << 8);
        /* at k: d where h > 0, else the fill; at y: -d, else the fill */
        float fl[16], dk[16], dy[16];
        int kl[16], yl[16];
        _mm512_storeu_ps(fl, fill);
        _mm512_storeu_ps(dk, _mm512_mask_mov_ps(fill, on16, d));
        _mm512_storeu_ps(dy, _mm512_mask_xor_ps(fill, on16, d, _mm512_set1_ps(-0.0f)));
        _mm512_storeu_si512(kl, K);
        _mm512_storeu_si512(yl, Y);
        float *g = (float *)a->g + i * a->gs;
        if (a->gs == C && !(hnan[0] | hnan[1])) {
            /* the group's rows are one run of nv C zeros: whole vectors */
            const ptrdiff_t len = nv * C;
            ptrdiff_t e = 0;
            for (; e + 16 <= len; e += 16)
                _mm512_storeu_ps(g + e, _mm512_setzero_ps());
            if (e < len)
                _mm512_mask_storeu_ps(g + e, (__mmask16)lossopt_rows_first((int)(len - e)),
                                      _mm512_setzero_ps());
        } else {
            for (int r = 0; r < nv; r++)
                _mm512_mask_storeu_ps(g + r * a->gs, cm, _mm512_set1_ps(fl[r]));
        }
        for (int r = 0; r < nv; r++, g += a->gs) {
            g[kl[r]] = dk[r];
            g[yl[r]] = dy[r];
        }
    }
    double s, unused;
    lossopt_margin_sum2(_mm512_add_pd(tot0, tot1), zd, &s, &unused);
    return s;
}

LOSSOPT_DEFINE_MARGIN_AVX512(double, f64)
LOSSOPT_DEFINE_MARGIN_AVX512(float, f32)
#endif /* LOSSOPT_HAVE_DISPATCH */

/* Rows [r0, r1) of the scores in `args` (a lossopt_margin_args): their
 * weighted losses summed (and stored in row_loss when given), their gradients
 * times gscale written into g (when given).  The x86-64-v4 path runs the
 * AVX-512 code above (faster than the vectorised loops for short and long
 * rows alike), the others lossopt_margin_rows_any_*. */
#if LOSSOPT_HAVE_DISPATCH
#define LOSSOPT_DEFINE_MARGIN_ROWS(SUFFIX)                                            \
    static double lossopt_margin_rows_##SUFFIX(const void *args, ptrdiff_t r0, ptrdiff_t r1) \
    {                                                                                \
        if (lossopt_isa_level() == LOSSOPT_ISA_V4)                                   \
            return lossopt_margin_rows_avx512_##SUFFIX(args, r0, r1);                \
        return lossopt_margin_rows_any_##SUFFIX(args, r0, r1);                       \
    }
#else
#define LOSSOPT_DEFINE_MARGIN_ROWS(SUFFIX)                                            \
    static double lossopt_margin_rows_##SUFFIX(const void *args, ptrdiff_t r0, ptrdiff_t r1) \
    {                                                                                \
        return lossopt_margin_rows_any_##SUFFIX(args, r0, r1);                       \
    }
#endif
LOSSOPT_DEFINE_MARGIN_ROWS(f64)
LOSSOPT_DEFINE_MARGIN_ROWS(f32)

#endif /* LOSSOPT_MARGIN_H */
