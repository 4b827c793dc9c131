/*
 * lossopt_probs.h -- the block kernels of the row engine (src/_softmax.pyx)
 * for the rows that carry a second array of the logits' shape:
 *
 *   - softmax cross-entropy with probability targets and the KL divergence:
 *     loss and gradient of a block of rows (lossopt_probs_rows_f64/_f32);
 *   - logsumexp with scale factors b: maxima, exponentials, sums and the
 *     result of a block of rows (lossopt_lse_b_rows_f64/_f32).
 *
 * Both take a whole block of rows (n_rows * n_cols <= LOSSOPT_BLOCK_ELEMS) in
 * vectorised passes, with no per-row function call: rows shorter than
 * LOSSOPT_FUSED_ROW_MIN are taken column by column, vectorised across the
 * rows (as lossopt_block_exp_sum_* does), longer rows one vectorised pass
 * each.  Every sum is in float64 and runs over a row's entries in order (or
 * in the fixed order of one `omp simd` reduction), so a row's result does
 * not depend on the block it is in nor on the thread that runs it.
 *
 * The formulas are the engine's (finalize_cross_entropy, finalize_lse in
 * _softmax.pyx); rows they do not cover (a maximum that is not finite, a
 * weight of 0, a logsumexp result that is not finite) are marked special
 * and left to the engine.
 */
#ifndef LOSSOPT_PROBS_H
#define LOSSOPT_PROBS_H

#include "lossopt_math.h"

/* The kernels' workspace: arrays of LOSSOPT_BLOCK_ELEMS doubles, array k at
 * LOSSOPT_WS_ARRAY(ws, k).  Not at multiples of 16 KiB from each other: a
 * loop that reads one array and writes another at the same index would
 * then have every load follow a store at the same address modulo 4 KiB,
 * which the CPU takes for a possible dependency (4K aliasing) -- measured
 * 20% of the kernel's time.  The 320-byte pad puts the arrays' starts at
 * distinct cache lines modulo 4 KiB. */
#define LOSSOPT_WS_STRIDE (LOSSOPT_BLOCK_ELEMS + 40)
#define LOSSOPT_WS_ARRAY(ws, k) ((ws) + (ptrdiff_t)(k) * LOSSOPT_WS_STRIDE)

/* ------------------------------------------------------ x log x, flat -- */

/*
 * out[k] = x[k] log x[k] (0 log 0 = 0) in double, for double or float x:
 * the targets' terms of the KL divergence.  The x86-64-v4 path multiplies
 * by the table-driven log of lossopt_math.h (lossopt_log_v8: no division;
 * the branch-free lossopt_log divides once per value, and that division was
 * half of the KL divergence's time).  It is exact at x = 1 (log 1 = 0: the
 * table point c = 1 leaves r = m - 1 exact), so a one-hot target adds
 * exactly 0, as on the other paths, and keeps its relative precision near
 * 1.  Error against mpmath: tests/test_probs_blocks.py.  Edges: x = +-0
 * gives 0, x < 0 NaN, +inf +inf, NaN NaN.
 * The other paths run lossopt_xlogx (lossopt_math.h), vectorised.
 */
#if LOSSOPT_HAVE_DISPATCH
LOSSOPT_TARGET_V4 static inline __m512d lossopt_xlogx_v8(__m512d x)
{
    /* 0 log 0 = 0 (the product would be 0 * -inf); inf log inf = inf (the
     * log's own edge); x < 0: NaN, as the portable lossopt_xlogx */
    __mmask8 zero = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_EQ_OQ);
    __mmask8 neg = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ);
    __m512d res = _mm512_mask_blend_pd(zero, _mm512_mul_pd(x, lossopt_log_v8(x)),
                                       _mm512_setzero_pd());
    return _mm512_mask_blend_pd(neg, res, _mm512_set1_pd(NAN));
}

LOSSOPT_TARGET_V4 static void lossopt_xlogx_flat_f64_avx512(const double *x, double *out,
                                                            ptrdiff_t n)
{
    ptrdiff_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm512_storeu_pd(out + k, lossopt_xlogx_v8(_mm512_loadu_pd(x + k)));
    if (k < n) {
        __mmask8 mk = (__mmask8)((1u << (n - k)) - 1u);
        _mm512_mask_storeu_pd(out + k, mk, lossopt_xlogx_v8(_mm512_maskz_loadu_pd(mk, x + k)));
    }
}

LOSSOPT_TARGET_V4 static void lossopt_xlogx_flat_f32_avx512(const float *x, double *out,
                                                            ptrdiff_t n)
{
    ptrdiff_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm512_storeu_pd(out + k, lossopt_xlogx_v8(_mm512_cvtps_pd(_mm256_loadu_ps(x + k))));
    if (k < n) {
        __mmask8 mk = (__mmask8)((1u << (n - k)) - 1u);
        __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, x + k));
        _mm512_mask_storeu_pd(out + k, mk, lossopt_xlogx_v8(v));
    }
}
#endif

#define LOSSOPT_DEFINE_XLOGX_FLAT(T, SUFFIX)                                         \
    LOSSOPT_ALWAYS_INLINE void lossopt_xlogx_flat_##SUFFIX##_body(const T *x,        \
                                                                  double *out,       \
                                                                  ptrdiff_t n)       \
    {                                                                                \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t k = 0; k < n; k++)                                            \
            out[k] = lossopt_xlogx((double)x[k]);                                    \
    }                                                                                \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_xlogx_flat_##SUFFIX,                        \
                                 (const T *x, double *out, ptrdiff_t n), (x, out, n))

LOSSOPT_DEFINE_XLOGX_FLAT(double, f64)
LOSSOPT_DEFINE_XLOGX_FLAT(float, f32)

/* ------------------------------------- probability targets: CE and KL -- */

/*
 * Cross-entropy with probability targets t (rows at p + i * ps) and, with
 * kl, the KL divergence, for a block of nr rows of C classes (rows of the
 * logits at x + i * xs; nr * C <= LOSSOPT_BLOCK_ELEMS).  With the target
 * coefficients c_j = (keep t_j + eps_c) w_j (w NULL: 1), the row maxima m,
 * e_j = exp(x_j - m), s = sum of the e_j != 1, c = the count of e_j == 1
 * and lz = log(c + s) (lossopt_log_sum_block's):
 *
 *   loss_i = (sum_j c_j) lz_i - sum_{c_j != 0} c_j (x_ij - m_i)
 *            [+ sum_j t_j log t_j, 0 log 0 = 0, with kl]
 *   rl[i]  = sw_i loss_i (0 where sw_i = 0; sw NULL: 1)
 *   grad_ij = sc_i (p_ij sum_j c_j - c_j),  sc_i = grad_scale sw_i,
 *
 * at a maximum (e == 1) as sc_i ((sum c - c_j) - sum c (1 - p_ij)), exact
 * where p_ij rounds to 1 (the engine's finalize_cross_entropy formulas).
 * The gradient (out != NULL) goes to out + i * os except for the special
 * rows: special[i] = 1 where m_i is not finite or sc_i == 0; of those only
 * m, s, c, lz and xl are set.  Everything is read from x before the gradient
 * is written, so out may be x.
 *
 * Short rows (C < LOSSOPT_FUSED_ROW_MIN): the block's logits and targets are
 * gathered column by column (vectorised across the rows) into column-major
 * buffers once, and every later pass runs over those buffers with unit
 * stride: shift and the row sums of the targets, one flat exp sweep, the
 * sums of the exponentials, the gradient; then the rows are transposed into
 * out.  Longer rows: lossopt_block_exp_sum_*, then one vectorised pass per
 * row for the sums and one for the gradient.
 *
 * ws: LOSSOPT_PROBS_WS_DOUBLES doubles; the per-row results are the arrays
 * LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M) etc. (see the enum).
 */
enum {
    LOSSOPT_PROBS_E = 0,      /* the exponentials (T), then the gradient */
    LOSSOPT_PROBS_T = 1,      /* short rows: the targets, column-major (T) */
    LOSSOPT_PROBS_M = 2,      /* per row: maxima */
    LOSSOPT_PROBS_S = 3,      /* sum of the exponentials != 1 */
    LOSSOPT_PROBS_C = 4,      /* count of the exponentials == 1 */
    LOSSOPT_PROBS_LZ = 5,     /* log(c + s) */
    LOSSOPT_PROBS_RL = 6,     /* weighted loss */
    LOSSOPT_PROBS_XL = 7,     /* sum t log t (kl) */
    LOSSOPT_PROBS_SPECIAL = 8,/* 1: left to the engine */
    LOSSOPT_PROBS_ALPHA = 9,  /* sum c_j (x_j - m), then the gradient's sc / (c + s) sum c */
    LOSSOPT_PROBS_SUMC = 10,  /* sum c_j */
    LOSSOPT_PROBS_OMP = 11,   /* 1 - p at a maximum: (c - 1 + s) / (c + s) */
    LOSSOPT_PROBS_SC = 12,    /* grad_scale * sample weight */
    LOSSOPT_PROBS_XT = 13,    /* kl: t log t of the block's targets (as in T) */
    LOSSOPT_PROBS_WS = 14
};
#define LOSSOPT_PROBS_WS_DOUBLES (LOSSOPT_PROBS_WS * LOSSOPT_WS_STRIDE)

#define LOSSOPT_DEFINE_PROBS_ROWS(T, SUFFIX, IS_FLOAT)                               \
    LOSSOPT_ALWAYS_INLINE void lossopt_probs_rows_body_##SUFFIX(                     \
        const T *x, ptrdiff_t xs, const T *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C,\
        const double *w, double keep, double eps_c, const double *sw,                \
        double grad_scale, T *out, ptrdiff_t os, double *ws, int has_w, int kl)      \
    {                                                                                \
        T *e = (T *)LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_E);                          \
        T *pc = (T *)LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_T);                         \
        double *m = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M);                          \
        double *s = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_S);                          \
        double *c = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_C);                          \
        double *lz = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_LZ);                        \
        double *rl = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_RL);                        \
        double *xl = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_XL);                        \
        double *special = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SPECIAL);              \
        double *alpha = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_ALPHA);                  \
        double *sum_c = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SUMC);                   \
        double *omp = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_OMP);                      \
        double *scv = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SC);                       \
        double *xt = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_XT);                        \
        const int cols = C < LOSSOPT_FUSED_ROW_MIN;                                  \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            s[i] = 0.0;                                                              \
            c[i] = 0.0;                                                              \
            alpha[i] = 0.0;                                                          \
            sum_c[i] = 0.0;                                                          \
            xl[i] = 0.0;                                                             \
        }                                                                            \
        if (cols) {                                                                  \
            T tlo[IS_FLOAT ? LOSSOPT_BLOCK_ELEMS : 1];                               \
            for (ptrdiff_t i = 0; i < nr; i++)                                       \
                m[i] = -INFINITY;                                                    \
            /* 1. gather the columns of x and t; the row maxima */                   \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                T *ec = e + j * nr, *tc = pc + j * nr;                               \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T xv = x[i * xs + j];                                            \
                    ec[i] = xv;                                                      \
                    tc[i] = p[i * ps + j];                                           \
                    m[i] = (double)xv > m[i] ? (double)xv : m[i];                    \
                }                                                                    \
            }                                                                        \
            if (kl)                                                                  \
                lossopt_xlogx_flat_##SUFFIX(pc, xt, nr * C);                         \
            /* 2. shift (th + tl = x - m exactly for floats) and the sums of   */   \
            /* the targets' terms                                              */   \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                T *ec = e + j * nr, *lr = tlo + (j * nr) * IS_FLOAT;                 \
                const T *tc = pc + j * nr;                                           \
                const double *xtc = xt + j * nr;                                     \
                const double wj = has_w ? w[j] : 1.0;                                \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T xv = ec[i], mi = (T)m[i];                                      \
                    T th = xv - mi;                                                  \
                    double t = (double)tc[i];                                        \
                    double cj = (keep * t + eps_c) * wj, d = cj * ((double)xv - m[i]);\
                    alpha[i] += (cj != 0.0) ? d : 0.0;                               \
                    sum_c[i] += cj;                                                  \
                    if (kl)                                                          \
                        xl[i] += xtc[i];                                             \
                    if (IS_FLOAT)                                                    \
                        lr[i * IS_FLOAT] = lossopt_diff_lo_##SUFFIX(xv, mi, th);     \
                    ec[i] = th;                                                      \
                }                                                                    \
            }                                                                        \
            /* 3. one flat exp sweep, 4. the sums of the exponentials */            \
            lossopt_column_exp_sums_##SUFFIX(e, IS_FLOAT ? tlo : NULL, nr, C, s, c); \
        } else {                                                                     \
            lossopt_block_exp_sum_##SUFFIX(x, xs, NULL, 0, nr, C, m, e, s, c);       \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *xr = x + i * xs, *pr = p + i * ps;                          \
                const double mi = m[i];                                              \
                double a1 = 0.0, a2 = 0.0, a3 = 0.0;                                 \
                if (kl)                                                              \
                    lossopt_xlogx_flat_##SUFFIX(pr, xt, C);                          \
                LOSSOPT_OMP_SIMD(reduction(+:a1, a2, a3))                            \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    double t = (double)pr[j], xv = (double)xr[j];                    \
                    double cj = (keep * t + eps_c) * (has_w ? w[j] : 1.0);           \
                    double d = cj * (xv - mi);                                       \
                    a1 += (cj != 0.0) ? d : 0.0;                                     \
                    a2 += cj;                                                        \
                    if (kl)                                                          \
                        a3 += xt[j];                                                 \
                }                                                                    \
                alpha[i] = a1;                                                       \
                sum_c[i] = a2;                                                       \
                xl[i] = a3;                                                          \
            }                                                                        \
        }                                                                            \
        lossopt_log_sum_block(s, c, lz, nr);                                         \
        /* 5. per row: loss and the gradient's coefficients (sw: the weights  */   \
        /* copied first, so that no load depends on sw being NULL: a masked   */   \
        /* load from NULL costs a microcode assist per vector on AMD Zen 4)  */   \
        if (sw != NULL) {                                                            \
            for (ptrdiff_t i = 0; i < nr; i++)                                       \
                scv[i] = sw[i];                                                      \
        } else {                                                                     \
            for (ptrdiff_t i = 0; i < nr; i++)                                       \
                scv[i] = 1.0;                                                        \
        }                                                                            \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            double swi = scv[i], sci = grad_scale * swi;                             \
            double loss = sum_c[i] * lz[i] - alpha[i] + (kl ? xl[i] : 0.0);          \
            double inv = 1.0 / (c[i] + s[i]);                                        \
            rl[i] = (swi == 0.0) ? 0.0 : swi * loss;                                 \
            alpha[i] = sci * inv * sum_c[i];                                         \
            omp[i] = ((c[i] - 1.0) + s[i]) * inv;                                    \
            scv[i] = sci;                                                            \
            special[i] = (fabs(m[i]) < INFINITY && sci != 0.0) ? 0.0 : 1.0;          \
        }                                                                            \
        if (out == NULL)                                                             \
            return;                                                                  \
        /* 6. the gradient */                                                        \
        if (cols) {                                                                  \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                const double wj = has_w ? w[j] : 1.0;                                \
                T *ec = e + j * nr;                                                  \
                const T *tc = pc + j * nr;                                           \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    double cj = (keep * (double)tc[i] + eps_c) * wj;                 \
                    double sci = scv[i], sum = sum_c[i], om = omp[i];                \
                    T ev = ec[i];                                                    \
                    double g = alpha[i] * (double)ev - sci * cj;                     \
                    double gmax = sci * ((sum - cj) - sum * om);                     \
                    g = (ev == (T)1) ? gmax : g;                                     \
                    ec[i] = (T)g;                                                    \
                }                                                                    \
            }                                                                        \
            lossopt_transpose_rows_##SUFFIX(e, nr, C, special, out, os);             \
            return;                                                                  \
        }                                                                            \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            if (special[i] != 0.0)                                                   \
                continue;                                                            \
            const T *er = e + i * C, *pr = p + i * ps;                               \
            T *o = out + i * os;                                                     \
            const double al = alpha[i], sci = scv[i];                                \
            const double sum = sum_c[i], om = omp[i];                                \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                double cj = (keep * (double)pr[j] + eps_c) * (has_w ? w[j] : 1.0);   \
                double g = al * (double)er[j] - sci * cj;                            \
                double gmax = sci * ((sum - cj) - sum * om);                         \
                g = (er[j] == (T)1) ? gmax : g;                                      \
                o[j] = (T)g;                                                         \
            }                                                                        \
        }                                                                            \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_probs_rows_##SUFFIX, (const T *x, ptrdiff_t xs,      \
        const T *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C, const double *w,        \
        double keep, double eps_c, const double *sw, double grad_scale, int kl,      \
        T *out, ptrdiff_t os, double *ws),                                           \
        (x, xs, p, ps, nr, C, w, keep, eps_c, sw, grad_scale, kl, out, os, ws))      \
    {                                                                                \
        /* constant class weights / kl per variant, so that each vectorises */       \
        if (w == NULL && !kl)                                                        \
            lossopt_probs_rows_body_##SUFFIX(x, xs, p, ps, nr, C, NULL, keep, eps_c, \
                                             sw, grad_scale, out, os, ws, 0, 0);     \
        else if (w == NULL)                                                          \
            lossopt_probs_rows_body_##SUFFIX(x, xs, p, ps, nr, C, NULL, keep, eps_c, \
                                             sw, grad_scale, out, os, ws, 0, 1);     \
        else if (!kl)                                                                \
            lossopt_probs_rows_body_##SUFFIX(x, xs, p, ps, nr, C, w, keep, eps_c,    \
                                             sw, grad_scale, out, os, ws, 1, 0);     \
        else                                                                         \
            lossopt_probs_rows_body_##SUFFIX(x, xs, p, ps, nr, C, w, keep, eps_c,    \
                                             sw, grad_scale, out, os, ws, 1, 1);     \
    }

LOSSOPT_DEFINE_PROBS_ROWS(double, f64, 0)
LOSSOPT_DEFINE_PROBS_ROWS(float, f32, 1)

/* ------------------------------------------------- logsumexp with b= -- */

/*
 * logsumexp with scale factors b (rows of b at b + i * bs, b's type the
 * data's) for a block of nr rows of C entries; an entry is present where
 * the mask (when given, rows at mask + i * ms) is set and b != 0:
 *
 *   m_i = the maximum over the present entries (-inf when none; NaN is
 *         passed over, and propagates through the sums where m_i is finite)
 *   e_ij = exp(x_ij - m_i) (floats: in float, of x - m split exactly into
 *          th + tl as in the rows without b)
 *   c_i = sum of b_ij over the present entries with e_ij == 1 (the maxima),
 *   s_i = sum of b_ij e_ij over the other present ones (float64, in order)
 *
 * and then, as scipy.special.logsumexp does with signed weights:
 *
 *   q = s / c (s when s == 0),  sign_i = sign(q + 1) sign(c),
 *   res_i = log1p(q') + log|c| + m_i,  q' = q, or -q - 2 where q < -1.
 *
 * special[i] = 1 where m_i or res_i is not finite: the engine evaluates
 * those rows literally (finalize_lse / direct_lse in _softmax.pyx).
 * ws: LOSSOPT_LSE_B_WS_DOUBLES doubles; m, s, c, res, sign and special per
 * row are the arrays LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_M) etc.
 */
enum {
    LOSSOPT_LSE_B_E = 0,      /* the exponentials (T) */
    LOSSOPT_LSE_B_BW = 1,     /* b where present, else 0 */
    LOSSOPT_LSE_B_M = 2,
    LOSSOPT_LSE_B_S = 3,
    LOSSOPT_LSE_B_C = 4,
    LOSSOPT_LSE_B_RES = 5,
    LOSSOPT_LSE_B_SIGN = 6,
    LOSSOPT_LSE_B_SPECIAL = 7,
    LOSSOPT_LSE_B_WS = 8
};
#define LOSSOPT_LSE_B_WS_DOUBLES (LOSSOPT_LSE_B_WS * LOSSOPT_WS_STRIDE)
#define LOSSOPT_DEFINE_LSE_B_ROWS(T, SUFFIX, IS_FLOAT)                               \
    LOSSOPT_ALWAYS_INLINE void lossopt_lse_b_rows_body_##SUFFIX(                     \
        const T *x, ptrdiff_t xs, const unsigned char *mask, ptrdiff_t ms,           \
        const T *b, ptrdiff_t bs, ptrdiff_t nr, ptrdiff_t C, double *ws,             \
        int has_mask)                                                                \
    {                                                                                \
        T *e = (T *)LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_E);                          \
        double *bw = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_BW);                        \
        double *m = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_M);                          \
        double *s_out = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_S);                      \
        double *c_out = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_C);                      \
        double *res = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_RES);                      \
        double *sgn = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_SIGN);                     \
        double *special = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_SPECIAL);              \
        const int cols = C < LOSSOPT_FUSED_ROW_MIN;                                  \
        /* e and bw: column-major (e[j * nr + i]) for short rows, else row-major */  \
        T tlo[IS_FLOAT ? LOSSOPT_BLOCK_ELEMS : 1];                                   \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            m[i] = -INFINITY;                                                        \
            s_out[i] = 0.0;                                                          \
            c_out[i] = 0.0;                                                          \
        }                                                                            \
        /* 1. the present entries (x, or -inf) and b (or 0), and the maxima */       \
        if (cols) {                                                                  \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    double bv = (double)b[i * bs + j];                               \
                    int pres = (has_mask ? mask[i * ms + j] != 0 : 1) & (bv != 0.0); \
                    T xv = x[i * xs + j];                                            \
                    T v = pres ? xv : (T)-INFINITY;                                  \
                    e[j * nr + i] = v;                                               \
                    bw[j * nr + i] = pres ? bv : 0.0;                                \
                    m[i] = (double)v > m[i] ? (double)v : m[i];                      \
                }                                                                    \
            }                                                                        \
        } else {                                                                     \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *xr = x + i * xs, *br = b + i * bs;                          \
                const unsigned char *mr = has_mask ? mask + i * ms : NULL;           \
                T *er = e + i * C;                                                   \
                double *bwr = bw + i * C;                                            \
                T mx = (T)-INFINITY;                                                 \
                LOSSOPT_OMP_SIMD(reduction(max:mx))                                  \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    double bv = (double)br[j];                                       \
                    int pres = (has_mask ? mr[j] != 0 : 1) & (bv != 0.0);            \
                    T xv = xr[j];                                                    \
                    T v = pres ? xv : (T)-INFINITY;                                  \
                    er[j] = v;                                                       \
                    bwr[j] = pres ? bv : 0.0;                                        \
                    mx = v > mx ? v : mx;                                            \
                }                                                                    \
                m[i] = (double)mx;                                                   \
            }                                                                        \
        }                                                                            \
        /* 2. shift (th + tl = x - m exactly for floats), one flat exp sweep */      \
        if (cols) {                                                                  \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                T *col = e + j * nr, *lr = tlo + (j * nr) * IS_FLOAT;                \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T v = col[i], mi = (T)m[i];                                      \
                    T th = v - mi;                                                   \
                    if (IS_FLOAT)                                                    \
                        lr[i * IS_FLOAT] = lossopt_diff_lo_##SUFFIX(v, mi, th);      \
                    col[i] = th;                                                     \
                }                                                                    \
            }                                                                        \
        } else {                                                                     \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                T *er = e + i * C, *lr = tlo + (i * C) * IS_FLOAT;                   \
                const T mi = (T)m[i];                                                \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    T v = er[j];                                                     \
                    T th = v - mi;                                                   \
                    if (IS_FLOAT)                                                    \
                        lr[j * IS_FLOAT] = lossopt_diff_lo_##SUFFIX(v, mi, th);      \
                    er[j] = th;                                                      \
                }                                                                    \
            }                                                                        \
        }                                                                            \
        lossopt_exp_flat_##SUFFIX(e, IS_FLOAT ? tlo : NULL, nr * C);                 \
        /* 3. the sums c (b of the maxima) and s (b e of the others) */              \
        if (cols) {                                                                  \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                const T *col = e + j * nr;                                           \
                const double *bc = bw + j * nr;                                      \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T ev = col[i];                                                   \
                    double bv = bc[i];                                               \
                    c_out[i] += (ev == (T)1) ? bv : 0.0;                             \
                    s_out[i] += (ev == (T)1) ? 0.0 : bv * (double)ev;                \
                }                                                                    \
            }                                                                        \
        } else {                                                                     \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *er = e + i * C;                                             \
                const double *bwr = bw + i * C;                                      \
                double sv = 0.0, cv = 0.0;                                           \
                LOSSOPT_OMP_SIMD(reduction(+:sv, cv))                                \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    double bv = bwr[j];                                              \
                    cv += (er[j] == (T)1) ? bv : 0.0;                                \
                    sv += (er[j] == (T)1) ? 0.0 : bv * (double)er[j];                \
                }                                                                    \
                s_out[i] = sv;                                                       \
                c_out[i] = cv;                                                       \
            }                                                                        \
        }                                                                            \
        /* 4. the results, vectorised across the rows */                             \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            double sv = s_out[i], cv = c_out[i];                                     \
            double q = (sv != 0.0) ? sv / cv : sv;                                   \
            double sq = (q + 1.0 > 0.0) ? 1.0 : ((q + 1.0 < 0.0) ? -1.0 : 0.0);      \
            double sc = (cv > 0.0) ? 1.0 : ((cv < 0.0) ? -1.0 : 0.0);                \
            q = (q < -1.0) ? -q - 2.0 : q;                                           \
            double r = lossopt_log1p(q) + lossopt_log(fabs(cv)) + m[i];              \
            res[i] = r;                                                              \
            sgn[i] = sq * sc;                                                        \
            special[i] = (fabs(m[i]) < INFINITY && fabs(r) < INFINITY) ? 0.0 : 1.0;  \
        }                                                                            \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_lse_b_rows_##SUFFIX, (const T *x, ptrdiff_t xs,      \
        const unsigned char *mask, ptrdiff_t ms, const T *b, ptrdiff_t bs,           \
        ptrdiff_t nr, ptrdiff_t C, double *ws),                                      \
        (x, xs, mask, ms, b, bs, nr, C, ws))                                         \
    {                                                                                \
        if (mask == NULL)                                                            \
            lossopt_lse_b_rows_body_##SUFFIX(x, xs, NULL, 0, b, bs, nr, C, ws, 0);   \
        else                                                                         \
            lossopt_lse_b_rows_body_##SUFFIX(x, xs, mask, ms, b, bs, nr, C, ws, 1);  \
    }

LOSSOPT_DEFINE_LSE_B_ROWS(double, f64, 0)
LOSSOPT_DEFINE_LSE_B_ROWS(float, f32, 1)

#endif /* LOSSOPT_PROBS_H */
