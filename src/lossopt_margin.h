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
 * Rows of LOSSOPT_FUSED_ROW_MIN classes or more are taken one by one: the
 * class loop of Weston-Watkins is one vectorised sweep that writes the row's
 * gradient and sums the terms; a Crammer-Singer row takes its maximum in one
 * vectorised sweep and finds the first maximiser in a second, short one.
 * Shorter rows (10 classes would leave those loops in their scalar
 * remainders) are copied, LOSSOPT_MARGIN_CHUNK rows at a time, into a
 * column-major buffer and processed column by column, vectorised across rows.
 */
#ifndef LOSSOPT_MARGIN_H
#define LOSSOPT_MARGIN_H

#include "lossopt_math.h"

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
} lossopt_margin_args;

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

#define LOSSOPT_DEFINE_MARGIN_HELPERS(T, SUFFIX)                                       \
    /* Weston-Watkins row: returns the sum of the terms; with g, writes           */ \
    /* g_j = sc d(term_j)/dz_j (j != y) and g_y = -sum_j g_j                       */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_ww_row_##SUFFIX(                        \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g)                                                                  \
    {                                                                                \
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
    LOSSOPT_ALWAYS_INLINE double lossopt_cs_row_##SUFFIX(                        \
        const T *x, T *g, ptrdiff_t n, ptrdiff_t y, double margin, int p, double sc, \
        int want_g)                                                                  \
    {                                                                                \
        double mx = -INFINITY;                                                       \
        int nan = 0;                                                                 \
        LOSSOPT_OMP_SIMD(reduction(max:mx) reduction(+:nan))                         \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            double v = (double)x[j];                                                 \
            nan += (v != v);                                                         \
            v = (j == y) ? -INFINITY : v;                                            \
            mx = v > mx ? v : mx;                                                    \
        }                                                                            \
        double h = nan ? NAN : (margin + mx) - (double)x[y];                         \
        double loss = (h <= 0.0) ? 0.0 : (p == 2 ? h * h : h);                       \
        if (want_g) {                                                                \
            double d = (p == 2 ? 2.0 * sc * h : sc);                                 \
            /* the first maximiser, found before g (which may be x) is written */    \
            ptrdiff_t k = 0;                                                         \
            while (h > 0.0 && k < n && (k == y || (double)x[k] != mx))               \
                k++;                                                                 \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t j = 0; j < n; j++)                                        \
                g[j] = (T)((h != h) ? h : 0.0);                                      \
            if (h > 0.0) {                                                           \
                if (k < n)                                                           \
                    g[k] = (T)d;                                                     \
                g[y] = (T)(-d);                                                      \
            }                                                                        \
        }                                                                            \
        return loss;                                                                 \
    }                                                                                \
    /* long rows, one by one (their class loops above vectorise) */              \
    LOSSOPT_ALWAYS_INLINE double lossopt_margin_long_##SUFFIX(                       \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1, int want_g)        \
    {                                                                                \
        const ptrdiff_t n = a->n;                                                    \
        double total = 0.0;                                                          \
        for (ptrdiff_t i = r0; i < r1; i++) {                                        \
            ptrdiff_t y = a->labels[i];                                              \
            const T *xr = (const T *)a->x + i * a->xs;                               \
            T *gr = want_g ? (T *)a->g + i * a->gs : NULL;                           \
            double lw = lossopt_margin_weight(a, i), sc = a->gscale * lw, v;         \
            if (lw == 0.0) {                                                         \
                /* weighted 0: contributes nothing, even with NaN scores */         \
                if (want_g)                                                          \
                    for (ptrdiff_t j = 0; j < n; j++)                                \
                        gr[j] = (T)0;                                                \
                v = 0.0;                                                             \
            } else if (a->crammer_singer) {                                          \
                v = lw * lossopt_cs_row_##SUFFIX(xr, gr, n, y, a->margin, a->p, sc,  \
                                                    want_g);                         \
            } else {                                                                 \
                v = lw * lossopt_ww_row_##SUFFIX(xr, gr, n, y, a->margin, a->p, sc,  \
                                                    want_g);                         \
            }                                                                        \
            total += lossopt_margin_store(a, i, v);                                  \
        }                                                                            \
        return total;                                                                \
    }                                                                                \
    /* short rows [r0, r0 + nr), nr <= LOSSOPT_MARGIN_CHUNK: copied into a     */ \
    /* column-major buffer xt[j * nr + i], then column by column, vectorised    */ \
    /* across the rows; the WW gradient goes through the buffer back to rows.   */ \
    /* The same formulas as the row by row loop, each row's terms summed in     */ \
    /* class order.                                                             */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_margin_short_##SUFFIX(                      \
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t nr, int want_g)        \
    {                                                                                \
        const T *x = (const T *)a->x + r0 * a->xs;                                   \
        T *g = want_g ? (T *)a->g + r0 * a->gs : NULL;                               \
        const ptrdiff_t *lab = a->labels + r0;                                       \
        const ptrdiff_t n = a->n, xs = a->xs, gs = a->gs;                            \
        const double margin = a->margin, gscale = a->gscale;                         \
        const int p = a->p;                                                          \
        double lw[LOSSOPT_MARGIN_CHUNK], xy[LOSSOPT_MARGIN_CHUNK];                   \
        double acc[LOSSOPT_MARGIN_CHUNK], gsum[LOSSOPT_MARGIN_CHUNK];                \
        ptrdiff_t arg[LOSSOPT_MARGIN_CHUNK];                                         \
        double xt[LOSSOPT_MARGIN_CHUNK * LOSSOPT_FUSED_ROW_MIN];                     \
        double total = 0.0;                                                          \
        for (ptrdiff_t i = 0; i < nr; i++)     /* read all of x before g is written */ \
            for (ptrdiff_t j = 0; j < n; j++)                                        \
                xt[j * nr + i] = (double)x[i * xs + j];                              \
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
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                if (want_g) {                                                        \
                    T *gr = g + i * gs;                                              \
                    for (ptrdiff_t j = 0; j < n; j++)                                \
                        gr[j] = (T)xt[j * nr + i];                                   \
                    gr[lab[i]] = (T)(0.0 - gsum[i]);                                 \
                }                                                                    \
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
        const lossopt_margin_args *a, ptrdiff_t r0, ptrdiff_t r1, int want_g)        \
    {                                                                                \
        if (a->n >= LOSSOPT_FUSED_ROW_MIN)                                           \
            return lossopt_margin_long_##SUFFIX(a, r0, r1, want_g);                  \
        double total = 0.0;                                                          \
        for (ptrdiff_t c0 = r0; c0 < r1; c0 += LOSSOPT_MARGIN_CHUNK) {               \
            ptrdiff_t nr = r1 - c0 < LOSSOPT_MARGIN_CHUNK ? r1 - c0 : LOSSOPT_MARGIN_CHUNK; \
            total += lossopt_margin_short_##SUFFIX(a, c0, nr, want_g);               \
        }                                                                            \
        return total;                                                                \
    }                                                                                \
    /* Rows [r0, r1) of the scores in `args` (a lossopt_margin_args): their     */ \
    /* weighted losses summed (and stored in row_loss when given), their        */ \
    /* gradients times gscale written into g (when given).                      */ \
    LOSSOPT_KERNEL(double, lossopt_margin_rows_##SUFFIX, (const void *args, ptrdiff_t r0,      \
                                               ptrdiff_t r1), (args, r0, r1))                         \
    {                                                                                \
        const lossopt_margin_args *a = (const lossopt_margin_args *)args;            \
        if (a->g)                                                                    \
            return lossopt_margin_block_##SUFFIX(a, r0, r1, 1);                      \
        return lossopt_margin_block_##SUFFIX(a, r0, r1, 0);                          \
    }

LOSSOPT_DEFINE_MARGIN_HELPERS(double, f64)
LOSSOPT_DEFINE_MARGIN_HELPERS(float, f32)

#endif /* LOSSOPT_MARGIN_H */
