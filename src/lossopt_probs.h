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
 * On the x86-64-v4 path both run AVX-512 kernels instead (the same sums,
 * coefficients and formulas; lossopt_probs_kernel_for says which): rows of
 * fewer than 64 classes in one pass, 8 / 16 rows at a time transposed in
 * registers in the manner of lossopt_rows.h (lossopt_probs_short_*,
 * lossopt_lse_b_short_*; logsumexp only without a mask), longer rows row by
 * row with every sum in the pass of the exponentials (lossopt_probs_long_*,
 * lossopt_lse_b_long_*).  The per-row logs, losses and results then run
 * vectorised across the block's rows (lossopt_probs_finish,
 * lossopt_lse_b_finish), on every path.  Measured (Zen 4, 1 thread,
 * `lossopt bench --clock thread --kernels kl_divergence
 * softmax_cross_entropy_probs logsumexp_b`, ratio to np.exp over N * C,
 * float64 / float32, medians of 3 runs): at (1e6, 10) the KL divergence
 * went from 6.8 / 9.2 to 4.6 / 7.7, the cross-entropy with probabilities
 * from 6.2 / 7.5 to 3.5 / 5.5, logsumexp with b from 3.8 / 5.5 to 3.1 / 4.0;
 * at (1e5, 100) from 4.4 / 6.8 to 3.5 / 6.0, 3.5 / 4.6 to 2.5 / 3.8 and
 * 2.3 / 2.9 to 1.6 / 2.2.  The long rows then took the block's maxima
 * first (the probability targets) and ask for the next block's lines while
 * the exponentials run (all three): streaming 1e7 values block by block
 * (float64 / float32, ns per value, min of 5 interleaved runs), the
 * cross-entropy with probabilities went from 1.87 / 1.56 to 1.68 / 1.52 at
 * 100 classes and from 2.46 / 1.53 to 1.93 / 1.32 at 1000, the KL
 * divergence from 2.72 / 2.53 to 2.61 / 2.47 and from 3.11 / 2.40 to
 * 2.25 / 2.15, logsumexp with b from 1.54 / 0.87 to 1.17 / 0.80 at 1000
 * classes and from 1.27 / 0.95 to 1.17 / 0.97 at 100 (float32: within the
 * noise).
 *
 * The formulas are the engine's (finalize_cross_entropy, finalize_lse in
 * _softmax.pyx); rows they do not cover (a maximum that is not finite, a
 * weight of 0, a logsumexp result that is not finite) are marked special
 * and left to the engine.
 */
#ifndef LOSSOPT_PROBS_H
#define LOSSOPT_PROBS_H

#include "lossopt_math.h"
#include "lossopt_rows.h"

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

/* The per-row results of a block from its sums (m, s, c, sum_j c_j (x_j - m)
 * in ALPHA, sum_j c_j in SUMC, kl: sum t log t in XL): lz, the weighted loss
 * rl, the gradient's coefficients (ALPHA, OMP, SC) and special, vectorised
 * across the rows. */
LOSSOPT_ALWAYS_INLINE void lossopt_probs_finish(double *ws, ptrdiff_t nr, const double *sw,
                                                double grad_scale, int kl)
{
    const double *m = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M);
    const double *s = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_S);
    const double *c = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_C);
    const double *xl = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_XL);
    const double *sum_c = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SUMC);
    double *lz = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_LZ);
    double *rl = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_RL);
    double *special = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SPECIAL);
    double *alpha = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_ALPHA);
    double *omp = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_OMP);
    double *scv = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SC);
        lossopt_log_sum_block(s, c, lz, nr);
        /* 5. per row: loss and the gradient's coefficients (sw: the weights  */
        /* copied first, so that no load depends on sw being NULL: a masked   */
        /* load from NULL costs a microcode assist per vector on AMD Zen 4)  */
        if (sw != NULL) {
            for (ptrdiff_t i = 0; i < nr; i++)
                scv[i] = sw[i];
        } else {
            for (ptrdiff_t i = 0; i < nr; i++)
                scv[i] = 1.0;
        }
        LOSSOPT_OMP_SIMD()
        for (ptrdiff_t i = 0; i < nr; i++) {
            double swi = scv[i], sci = grad_scale * swi;
            double loss = sum_c[i] * lz[i] - alpha[i] + (kl ? xl[i] : 0.0);
            double inv = 1.0 / (c[i] + s[i]);
            rl[i] = (swi == 0.0) ? 0.0 : swi * loss;
            alpha[i] = sci * inv * sum_c[i];
            omp[i] = ((c[i] - 1.0) + s[i]) * inv;
            scv[i] = sci;
            special[i] = (fabs(m[i]) < INFINITY && sci != 0.0) ? 0.0 : 1.0;
        }
}

#if LOSSOPT_HAVE_DISPATCH
/*
 * Short rows (C <= LOSSOPT_ROWS_MAX_C) on the x86-64-v4 path in one pass, in
 * the manner of lossopt_rows.h: 8 (float64) or 16 (float32) rows at a time,
 * the logits' and the targets' columns loaded with masks and transposed in
 * registers (lossopt_rows_columns_*), then per column j, with the rows in
 * the lanes: e = exp(x - m), c_j, and the rows' sums s, c, sum c_j (x_j - m),
 * sum c_j and (kl) sum t log t, in float64 and in the order of j (the sums of
 * the block kernel, so a row's results do not depend on its neighbours);
 * then the gradient's coefficients (a division, no log), the gradient
 * transposed back and stored with masks for the rows that are not special;
 * the sums go to the workspace, and lossopt_probs_finish takes the per-row
 * logs and losses for the whole block.  Everything of a group is loaded
 * before its gradient is stored, so out may be x (or p).
 */
/* the rows' running sums, 8 rows in the lanes */
typedef struct {
    __m512d s, c, a, sum, xl;
} lossopt_probs_acc8;

/* c_j = (keep t + eps_c) w_j (w NULL: 1) */
LOSSOPT_ROWS_INLINE __m512d lossopt_probs_coef8(__m512d t, double keep, double eps_c,
                                                const double *w, ptrdiff_t j)
{
    __m512d cj = _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(keep), t), _mm512_set1_pd(eps_c));
    return w ? _mm512_mul_pd(cj, _mm512_set1_pd(w[j])) : cj;
}

/* one column's terms: xm = x - m, e = exp(xm), t the targets, cj */
LOSSOPT_ROWS_INLINE void lossopt_probs_add8(lossopt_probs_acc8 *A, __m512d xm, __m512d e,
                                            __m512d t, __m512d cj, int kl)
{
    const __m512d one = _mm512_set1_pd(1.0);
    const __mmask8 is1 = _mm512_cmp_pd_mask(e, one, _CMP_EQ_OQ);
    A->c = _mm512_mask_add_pd(A->c, is1, A->c, one);
    A->s = _mm512_mask_add_pd(A->s, (__mmask8)~is1, A->s, e);
    /* 0 where c_j = 0 (x - m may be -inf) */
    A->a = _mm512_mask_add_pd(A->a, _mm512_cmp_pd_mask(cj, _mm512_setzero_pd(), _CMP_NEQ_UQ),
                              A->a, _mm512_mul_pd(cj, xm));
    A->sum = _mm512_add_pd(A->sum, cj);
    if (kl)
        A->xl = _mm512_add_pd(A->xl, lossopt_xlogx_v8(t));
}

/* the sums of rows k .. k + 7 (`valid`) into the workspace */
LOSSOPT_ROWS_INLINE void lossopt_probs_keep8(double *ws, ptrdiff_t k, __mmask8 valid,
                                             __m512d m, const lossopt_probs_acc8 *A)
{
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M) + k, valid, m);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_S) + k, valid, A->s);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_C) + k, valid, A->c);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_ALPHA) + k, valid, A->a);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_SUMC) + k, valid, A->sum);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_XL) + k, valid, A->xl);
}

/* the gradient's coefficients of 8 rows (those of lossopt_probs_finish):
 * g = al e - sc c_j, at a maximum sc ((sum - c_j) - sum om); returns the
 * rows to store (valid, m finite, sc != 0).  sw: the rows' sample weights
 * or NULL (no load from NULL: see lossopt_probs_finish) */
typedef struct {
    __m512d al, sc, sum, om;
} lossopt_probs_g8;

LOSSOPT_ROWS_INLINE __mmask8 lossopt_probs_gcoef8(const lossopt_probs_acc8 *A, __m512d m,
                                                  __mmask8 valid, const double *sw,
                                                  double grad_scale, lossopt_probs_g8 *g)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d swk = sw ? _mm512_maskz_loadu_pd(valid, sw) : one;
    __m512d inv = _mm512_div_pd(one, _mm512_add_pd(A->c, A->s));
    g->sc = _mm512_mul_pd(_mm512_set1_pd(grad_scale), swk);
    g->al = _mm512_mul_pd(_mm512_mul_pd(g->sc, inv), A->sum);
    g->om = _mm512_mul_pd(_mm512_add_pd(_mm512_sub_pd(A->c, one), A->s), inv);
    g->sum = A->sum;
    return valid & (__mmask8)~(lossopt_rows_nonfinite8(m) |
                               _mm512_cmp_pd_mask(g->sc, _mm512_setzero_pd(), _CMP_EQ_OQ));
}

LOSSOPT_ROWS_INLINE __m512d lossopt_probs_grad8(const lossopt_probs_g8 *g, __m512d e,
                                                __m512d cj)
{
    __m512d v = _mm512_sub_pd(_mm512_mul_pd(g->al, e), _mm512_mul_pd(g->sc, cj));
    __m512d vmax = _mm512_mul_pd(g->sc, _mm512_sub_pd(_mm512_sub_pd(g->sum, cj),
                                                      _mm512_mul_pd(g->sum, g->om)));
    return _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask(e, _mm512_set1_pd(1.0), _CMP_EQ_OQ), vmax);
}

LOSSOPT_TARGET_V4 static void lossopt_probs_short_f64(
    const double *x, ptrdiff_t xs, const double *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C,
    const double *w, double keep, double eps_c, const double *sw, double grad_scale, int kl,
    double *out, ptrdiff_t os, double *ws)
{
    __m512d X[LOSSOPT_ROWS_MAX_C], P[LOSSOPT_ROWS_MAX_C];
    for (ptrdiff_t g = 0; g < nr; g += 8) {
        const int nv = lossopt_rows_count(nr - g, 8);
        const __mmask8 valid = (__mmask8)lossopt_rows_first(nv);
        const __m512d m8 = lossopt_rows_columns_f64(x + g * xs, xs, nv, C, X);
        (void)lossopt_rows_columns_f64(p + g * ps, ps, nv, C, P);
        lossopt_probs_acc8 A;
        A.s = A.c = A.a = A.sum = A.xl = _mm512_setzero_pd();
        for (ptrdiff_t j = 0; j < C; j++) {
            const __m512d xm = _mm512_sub_pd(X[j], m8);
            const __m512d cj = lossopt_probs_coef8(P[j], keep, eps_c, w, j);
            X[j] = lossopt_exp_v8(xm);
            lossopt_probs_add8(&A, xm, X[j], P[j], cj, kl);
            P[j] = cj;
        }
        lossopt_probs_keep8(ws, g, valid, m8, &A);
        if (out == NULL)
            continue;
        lossopt_probs_g8 gc;
        const __mmask8 store = lossopt_probs_gcoef8(&A, m8, valid, sw ? sw + g : NULL,
                                                    grad_scale, &gc);
        if (!store)
            continue;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += 8) {
            const int wd = lossopt_rows_count(C - j0, 8);
            __m512d v[8];
            for (int j = 0; j < 8; j++)
                v[j] = j < wd ? lossopt_probs_grad8(&gc, X[j0 + j], P[j0 + j])
                              : _mm512_setzero_pd();
            lossopt_rows_store_cols8(v, wd, store, out + g * os, os, j0);
        }
    }
}

/* float columns v[0 .. w-1] (lanes: 16 rows) into the rows `store` at
 * p + r * os, columns j0 .. j0 + w - 1 (masked: nothing past a row's end) */
LOSSOPT_ROWS_INLINE void lossopt_probs_store_cols16(__m512 *v, int w, __mmask16 store,
                                                    float *p, ptrdiff_t os, ptrdiff_t j0)
{
    const __mmask16 cm = (__mmask16)lossopt_rows_first(w);
    lossopt_rows_t16(v);
    for (int r = 0; r < 16; r++)
        if (store >> r & 1)
            _mm512_mask_storeu_ps(p + r * os + j0, cm, v[r]);
}

LOSSOPT_TARGET_V4 static void lossopt_probs_short_f32(
    const float *x, ptrdiff_t xs, const float *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C,
    const double *w, double keep, double eps_c, const double *sw, double grad_scale, int kl,
    float *out, ptrdiff_t os, double *ws)
{
    __m512 X[LOSSOPT_ROWS_MAX_C], P[LOSSOPT_ROWS_MAX_C];
    for (ptrdiff_t g = 0; g < nr; g += 16) {
        const int nv = lossopt_rows_count(nr - g, 16);
        const __mmask16 valid = (__mmask16)lossopt_rows_first(nv);
        const __mmask8 v_lo = (__mmask8)valid, v_hi = (__mmask8)(valid >> 8);
        const __m512 m16 = lossopt_rows_columns_f32(x + g * xs, xs, nv, C, X);
        (void)lossopt_rows_columns_f32(p + g * ps, ps, nv, C, P);
        const __m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), m16);
        const __m512d m_lo = lossopt_rows_lo8(m16), m_hi = lossopt_rows_hi8(m16);
        lossopt_probs_acc8 lo, hi;
        lo.s = lo.c = lo.a = lo.sum = lo.xl = _mm512_setzero_pd();
        hi = lo;
        for (ptrdiff_t j = 0; j < C; j++) {
            /* exp(th + tl), th + tl = x - m exactly (the engine's two-sum) */
            const __m512 e = lossopt_rows_expf_diff(X[j], m16, negm);
            const __m512d t_lo = lossopt_rows_lo8(P[j]), t_hi = lossopt_rows_hi8(P[j]);
            lossopt_probs_add8(&lo, _mm512_sub_pd(lossopt_rows_lo8(X[j]), m_lo),
                               lossopt_rows_lo8(e), t_lo,
                               lossopt_probs_coef8(t_lo, keep, eps_c, w, j), kl);
            lossopt_probs_add8(&hi, _mm512_sub_pd(lossopt_rows_hi8(X[j]), m_hi),
                               lossopt_rows_hi8(e), t_hi,
                               lossopt_probs_coef8(t_hi, keep, eps_c, w, j), kl);
            X[j] = e;
        }
        lossopt_probs_keep8(ws, g, v_lo, m_lo, &lo);
        if (v_hi)
            lossopt_probs_keep8(ws, g + 8, v_hi, m_hi, &hi);
        if (out == NULL)
            continue;
        lossopt_probs_g8 g_lo, g_hi;
        __mmask16 store = lossopt_probs_gcoef8(&lo, m_lo, v_lo, sw ? sw + g : NULL,
                                               grad_scale, &g_lo);
        if (v_hi)
            store |= (__mmask16)((unsigned)lossopt_probs_gcoef8(
                &hi, m_hi, v_hi, sw ? sw + g + 8 : NULL, grad_scale, &g_hi) << 8);
        else
            g_hi = g_lo;                  /* (lanes not stored) */
        if (!store)
            continue;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += 16) {
            const int wd = lossopt_rows_count(C - j0, 16);
            __m512 v[16];
            for (int j = 0; j < 16; j++) {
                if (j >= wd) {
                    v[j] = _mm512_setzero_ps();
                    continue;
                }
                const __m512 e = X[j0 + j], t = P[j0 + j];
                const __m512d t_lo = lossopt_rows_lo8(t), t_hi = lossopt_rows_hi8(t);
                v[j] = lossopt_rows_join16(
                    lossopt_probs_grad8(&g_lo, lossopt_rows_lo8(e),
                                        lossopt_probs_coef8(t_lo, keep, eps_c, w, j0 + j)),
                    lossopt_probs_grad8(&g_hi, lossopt_rows_hi8(e),
                                        lossopt_probs_coef8(t_hi, keep, eps_c, w, j0 + j)));
            }
            lossopt_probs_store_cols16(v, wd, store, out + g * os, os, j0);
        }
    }
}
/*
 * Long rows (LOSSOPT_ROWS_MAX_C < C <= LOSSOPT_BLOCK_ELEMS) on the x86-64-v4
 * path: the maxima of all the block's rows first, then row by row in two
 * passes: e = exp(x - m) into the buffer with every sum of the row (s, c,
 * sum c_j (x_j - m), sum c_j, kl: sum t log t) in vector lanes, added
 * across the lanes at the row's end (a fixed order), asking for the next
 * block's lines of x, t and the gradient meanwhile; the gradient from e and
 * t while the row is in L1.  The lanes past the row's end hold x = -inf,
 * t = 0 and c_j = 0: nothing added.  (The same sums in the same order as
 * before the maxima went first: the results are bit for bit the same.)
 */
/* The CE with probabilities and KL take the block's maxima first
 * (lossopt_rows_block_maxima_*): with the next block's lines prefetched
 * (below) 0-9 % faster than each row's maximum before its exponentials;
 * without them slower (the maxima's pass then waits for the memory alone).
 * logsumexp with b keeps each row's maximum before its exponentials: taking
 * them first measured no better there. */

/* The lines of the next block that a long row's exponentials' pass asks
 * for, as lossopt_rows.h's long rows do (lossopt_rows_ahead: integer
 * addresses, only ever prefetched, which never faults, past the arrays'
 * ends included): the same row of the next block's logits x, its targets
 * (or b) p and, where the kernel writes a gradient, its output (0: none).
 * The memory otherwise idles while the exponentials run, and they idle
 * while the next rows' lines come in.  Into L1 (_MM_HINT_T0): measured
 * (1e7 values streamed block by block, Zen 4, 1 thread), into L2 (T1, as
 * lossopt_rows.h) made logsumexp with b 15-20 % slower at 100 classes and
 * the float32 rows of 100-512 classes 5-10 % slower than no prefetching;
 * into L1 logsumexp with b is 12-14 % faster than into L2 at 1000 classes
 * and as fast as without at 100 (within 2 %, the noise), the other kernels
 * 2-30 % faster than without. */
typedef struct {
    uintptr_t x, p, out;
} lossopt_probs_next;

/* the lines `ahead` rows after row k (rows xr, pr; out: the block's first
 * row): ahead = nr, the block's row count, for the same row of the next
 * block */
LOSSOPT_ROWS_INLINE lossopt_probs_next lossopt_probs_next_of(
    const void *xr, ptrdiff_t xs, const void *pr, ptrdiff_t ps, const void *out, ptrdiff_t os,
    ptrdiff_t ahead, ptrdiff_t k, size_t sz)
{
    lossopt_probs_next nx;
    nx.x = lossopt_rows_ahead(xr, ahead * xs, sz);
    nx.p = lossopt_rows_ahead(pr, ahead * ps, sz);
    nx.out = lossopt_rows_ahead(out, (ahead + k) * os, sz);
    return nx;
}

/* the next block's lines at the row's entry j (one 64-byte line per call) */
LOSSOPT_ROWS_INLINE void lossopt_probs_fetch(const lossopt_probs_next *nx, ptrdiff_t j,
                                             size_t sz)
{
    const uintptr_t off = (uintptr_t)j * sz;
    _mm_prefetch((const char *)(nx->x + off), _MM_HINT_T0);
    _mm_prefetch((const char *)(nx->p + off), _MM_HINT_T0);
    if (nx->out)
        _mm_prefetch((const char *)(nx->out + off), _MM_HINT_T0);
}

/* c_j of a row's entries j .. j + 7 (the lanes cm; 0 elsewhere) */
LOSSOPT_ROWS_INLINE __m512d lossopt_probs_row_coef8(__m512d t, double keep, double eps_c,
                                                    const double *w, ptrdiff_t j, __mmask8 cm)
{
    __m512d cj = _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(keep), t), _mm512_set1_pd(eps_c));
    if (w)
        cj = _mm512_mul_pd(cj, _mm512_maskz_loadu_pd(cm, w + j));
    return _mm512_maskz_mov_pd(cm, cj);
}

/* the row's sums, lanes added, into the workspace at row k; then (out not
 * NULL) its gradient's coefficients as vectors (every lane the row's), and
 * whether to write it */
LOSSOPT_ROWS_INLINE __mmask8 lossopt_probs_row_end(double *ws, ptrdiff_t k, double m,
                                                   lossopt_probs_acc8 *A, const double *sw,
                                                   double grad_scale, lossopt_probs_g8 *g)
{
    A->s = _mm512_set1_pd(_mm512_reduce_add_pd(A->s));
    A->c = _mm512_set1_pd(_mm512_reduce_add_pd(A->c));
    A->a = _mm512_set1_pd(_mm512_reduce_add_pd(A->a));
    A->sum = _mm512_set1_pd(_mm512_reduce_add_pd(A->sum));
    A->xl = _mm512_set1_pd(_mm512_reduce_add_pd(A->xl));
    lossopt_probs_keep8(ws, k, 1, _mm512_set1_pd(m), A);
    return lossopt_probs_gcoef8(A, _mm512_set1_pd(m), 0xFF, NULL,
                                grad_scale * (sw ? sw[k] : 1.0), g);
}

/* The long rows' two passes vector by vector, entries j .. j + G - 1 of
 * a row (cm: those that exist; the rows' loops run full vectors with cm
 * constant, then one masked tail: measured, the per-step masks cost 6-20 %
 * in logsumexp with b): the exponential pass (e, the sums A) and the
 * gradient's (from e and t): lossopt_probs_exp_step_f64 / _f32,
 * lossopt_probs_grad_step_f64 / _f32 (G = 8 / 16) */
LOSSOPT_ROWS_INLINE void lossopt_probs_exp_step_f64(
    const double *xr, const double *pr, ptrdiff_t j, __mmask8 cm, __m512d mb,
    const lossopt_probs_next *nx, double *e, double keep, double eps_c, const double *w,
    int kl, lossopt_probs_acc8 *A)
{
    lossopt_probs_fetch(nx, j, sizeof *xr);
    const __m512d xm = _mm512_sub_pd(_mm512_mask_loadu_pd(_mm512_set1_pd(-INFINITY), cm, xr + j),
                                     mb);
    const __m512d t = _mm512_maskz_loadu_pd(cm, pr + j);
    const __m512d ev = lossopt_exp_v8(xm);
    _mm512_mask_storeu_pd(e + j, cm, ev);
    lossopt_probs_add8(A, xm, ev, t, lossopt_probs_row_coef8(t, keep, eps_c, w, j, cm), kl);
}

LOSSOPT_ROWS_INLINE void lossopt_probs_grad_step_f64(
    const double *pr, const double *e, double *o, ptrdiff_t j, __mmask8 cm,
    const lossopt_probs_g8 *g, double keep, double eps_c, const double *w)
{
    const __m512d t = _mm512_maskz_loadu_pd(cm, pr + j);
    _mm512_mask_storeu_pd(o + j, cm, lossopt_probs_grad8(
        g, _mm512_maskz_loadu_pd(cm, e + j), lossopt_probs_row_coef8(t, keep, eps_c, w, j, cm)));
}

LOSSOPT_ROWS_INLINE void lossopt_probs_exp_step_f32(
    const float *xr, const float *pr, ptrdiff_t j, __mmask16 cm, __m512 mb, __m512 negm,
    __m512d md, const lossopt_probs_next *nx, float *e, double keep, double eps_c,
    const double *w, int kl, lossopt_probs_acc8 *A)
{
    lossopt_probs_fetch(nx, j, sizeof *xr);
    const __m512 xv = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), cm, xr + j);
    const __m512 t = _mm512_maskz_loadu_ps(cm, pr + j);
    /* exp(th + tl), th + tl = x - m exactly (the engine's two-sum) */
    const __m512 ev = lossopt_rows_expf_diff(xv, mb, negm);
    _mm512_mask_storeu_ps(e + j, cm, ev);
    const __m512d t_lo = lossopt_rows_lo8(t), t_hi = lossopt_rows_hi8(t);
    lossopt_probs_add8(A, _mm512_sub_pd(lossopt_rows_lo8(xv), md), lossopt_rows_lo8(ev), t_lo,
                       lossopt_probs_row_coef8(t_lo, keep, eps_c, w, j, (__mmask8)cm), kl);
    lossopt_probs_add8(A, _mm512_sub_pd(lossopt_rows_hi8(xv), md), lossopt_rows_hi8(ev), t_hi,
                       lossopt_probs_row_coef8(t_hi, keep, eps_c, w, j + 8, (__mmask8)(cm >> 8)),
                       kl);
}

LOSSOPT_ROWS_INLINE void lossopt_probs_grad_step_f32(
    const float *pr, const float *e, float *o, ptrdiff_t j, __mmask16 cm,
    const lossopt_probs_g8 *g, double keep, double eps_c, const double *w)
{
    const __m512 t = _mm512_maskz_loadu_ps(cm, pr + j), ev = _mm512_maskz_loadu_ps(cm, e + j);
    const __m512d t_lo = lossopt_rows_lo8(t), t_hi = lossopt_rows_hi8(t);
    _mm512_mask_storeu_ps(o + j, cm, lossopt_rows_join16(
        lossopt_probs_grad8(g, lossopt_rows_lo8(ev), lossopt_probs_row_coef8(
            t_lo, keep, eps_c, w, j, (__mmask8)cm)),
        lossopt_probs_grad8(g, lossopt_rows_hi8(ev), lossopt_probs_row_coef8(
            t_hi, keep, eps_c, w, j + 8, (__mmask8)(cm >> 8)))));
}

LOSSOPT_TARGET_V4 static void lossopt_probs_long_f64(
    const double *x, ptrdiff_t xs, const double *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C,
    const double *w, double keep, double eps_c, const double *sw, double grad_scale, int kl,
    double *out, ptrdiff_t os, double *ws)
{
    double *e = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_E);
    double *mk = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M);
    lossopt_rows_block_maxima_f64(x, xs, nr, C, mk);
    for (ptrdiff_t k = 0; k < nr; k++) {
        const double *xr = x + k * xs, *pr = p + k * ps;
        const double m = mk[k];
        const __m512d mb = _mm512_set1_pd(m);
        const lossopt_probs_next nx = lossopt_probs_next_of(xr, xs, pr, ps, out, os, nr, k,
                                                            sizeof *x);
        lossopt_probs_acc8 A;
        A.s = A.c = A.a = A.sum = A.xl = _mm512_setzero_pd();
        const __mmask8 tail = (__mmask8)lossopt_rows_first((int)(C % 8));
        ptrdiff_t j = 0;
        for (; j + 8 <= C; j += 8)      /* full vectors: no mask to compute */
            lossopt_probs_exp_step_f64(xr, pr, j, (__mmask8)0xFF, mb, &nx, e, keep, eps_c, w,
                                       kl, &A);
        if (j < C)
            lossopt_probs_exp_step_f64(xr, pr, j, tail, mb, &nx, e, keep, eps_c, w, kl, &A);
        lossopt_probs_g8 g;
        const __mmask8 store = lossopt_probs_row_end(ws, k, m, &A, sw, grad_scale, &g);
        if (out == NULL || !store)
            continue;
        double *o = out + k * os;
        for (j = 0; j + 8 <= C; j += 8)
            lossopt_probs_grad_step_f64(pr, e, o, j, (__mmask8)0xFF, &g, keep, eps_c, w);
        if (j < C)
            lossopt_probs_grad_step_f64(pr, e, o, j, tail, &g, keep, eps_c, w);
    }
}

LOSSOPT_TARGET_V4 static void lossopt_probs_long_f32(
    const float *x, ptrdiff_t xs, const float *p, ptrdiff_t ps, ptrdiff_t nr, ptrdiff_t C,
    const double *w, double keep, double eps_c, const double *sw, double grad_scale, int kl,
    float *out, ptrdiff_t os, double *ws)
{
    float *e = (float *)LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_E);
    double *mk = LOSSOPT_WS_ARRAY(ws, LOSSOPT_PROBS_M);
    lossopt_rows_block_maxima_f32(x, xs, nr, C, mk);
    for (ptrdiff_t k = 0; k < nr; k++) {
        const float *xr = x + k * xs, *pr = p + k * ps;
        const float mf = (float)mk[k];
        const lossopt_probs_next nx = lossopt_probs_next_of(xr, xs, pr, ps, out, os, nr, k,
                                                            sizeof *x);
        const __m512 mb = _mm512_set1_ps(mf), negm = _mm512_set1_ps(-mf);
        const __m512d md = _mm512_set1_pd((double)mf);
        lossopt_probs_acc8 A;
        A.s = A.c = A.a = A.sum = A.xl = _mm512_setzero_pd();
        const __mmask16 tail = (__mmask16)lossopt_rows_first((int)(C % 16));
        ptrdiff_t j = 0;
        for (; j + 16 <= C; j += 16)    /* full vectors: no mask to compute */
            lossopt_probs_exp_step_f32(xr, pr, j, (__mmask16)0xFFFF, mb, negm, md, &nx, e, keep,
                                       eps_c, w, kl, &A);
        if (j < C)
            lossopt_probs_exp_step_f32(xr, pr, j, tail, mb, negm, md, &nx, e, keep, eps_c, w, kl,
                                       &A);
        lossopt_probs_g8 g;
        const __mmask8 store = lossopt_probs_row_end(ws, k, (double)mf, &A, sw, grad_scale, &g);
        if (out == NULL || !store)
            continue;
        float *o = out + k * os;
        for (j = 0; j + 16 <= C; j += 16)
            lossopt_probs_grad_step_f32(pr, e, o, j, (__mmask16)0xFFFF, &g, keep, eps_c, w);
        if (j < C)
            lossopt_probs_grad_step_f32(pr, e, o, j, tail, &g, keep, eps_c, w);
    }
}

#endif  /* LOSSOPT_HAVE_DISPATCH */

/* its argument on the x86-64 paths with dispatch (a kernel's hand-written
 * AVX-512 variant), nothing elsewhere */
#if LOSSOPT_HAVE_DISPATCH
#define LOSSOPT_IF_DISPATCH(...) __VA_ARGS__
#else
#define LOSSOPT_IF_DISPATCH(...)
#endif

/* Which kernel takes a block of rows with probability targets (lse_b = 0)
 * or of logsumexp with b (lse_b = 1, has_mask: a `where` mask given):
 * LOSSOPT_PROBS_SHORT / _LONG for the x86-64-v4 kernels above, _BLOCK for
 * the block kernels below (for the tests: src/_softmax.pyx probs_kernel). */
enum { LOSSOPT_PROBS_BLOCK = 0, LOSSOPT_PROBS_SHORT = 1, LOSSOPT_PROBS_LONG = 2 };

static int lossopt_probs_kernel_for(ptrdiff_t n_cols, int lse_b, int has_mask)
{
#if LOSSOPT_HAVE_DISPATCH
    if (lossopt_isa_level() != LOSSOPT_ISA_V4 || n_cols < 1 || n_cols > LOSSOPT_BLOCK_ELEMS ||
            (lse_b && has_mask && n_cols <= LOSSOPT_ROWS_MAX_C))
        return LOSSOPT_PROBS_BLOCK;     /* (no short-row kernel with a mask) */
    return n_cols <= LOSSOPT_ROWS_MAX_C ? LOSSOPT_PROBS_SHORT : LOSSOPT_PROBS_LONG;
#else
    (void)n_cols; (void)lse_b; (void)has_mask;
    return 0;
#endif
}

/* the parameters of lossopt_probs_rows_f64 / _f32 (T: the data's type) */
#define LOSSOPT_PROBS_PARAMS(T) const T *x, ptrdiff_t xs, const T *p, ptrdiff_t ps,     \
    ptrdiff_t nr, ptrdiff_t C, const double *w, double keep, double eps_c,              \
    const double *sw, double grad_scale, int kl, T *out, ptrdiff_t os, double *ws
#define LOSSOPT_PROBS_ARGS x, xs, p, ps, nr, C, w, keep, eps_c, sw, grad_scale, kl, out, os, ws

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
        lossopt_probs_finish(ws, nr, sw, grad_scale, kl);                            \
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
    LOSSOPT_ALWAYS_INLINE void lossopt_probs_rows_##SUFFIX##_body(LOSSOPT_PROBS_PARAMS(T))\
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
    }                                                                                \
    /* x86-64-v4: short rows in one pass, long rows row by row */                   \
    LOSSOPT_IF_DISPATCH(LOSSOPT_TARGET_V4 static void                                \
        lossopt_probs_rows_##SUFFIX##_avx512(LOSSOPT_PROBS_PARAMS(T))                \
    {                                                                                \
        switch (lossopt_probs_kernel_for(C, 0, 0)) {                                 \
        case LOSSOPT_PROBS_SHORT:                                                    \
            lossopt_probs_short_##SUFFIX(LOSSOPT_PROBS_ARGS);                        \
            break;                                                                   \
        case LOSSOPT_PROBS_LONG:                                                     \
            lossopt_probs_long_##SUFFIX(LOSSOPT_PROBS_ARGS);                         \
            break;                                                                   \
        default:                                                                     \
            lossopt_probs_rows_##SUFFIX##_body(LOSSOPT_PROBS_ARGS);                  \
            return;                                                                  \
        }                                                                            \
        lossopt_probs_finish(ws, nr, sw, grad_scale, kl);                            \
    })                                                                               \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_probs_rows_##SUFFIX, (LOSSOPT_PROBS_PARAMS(T)), \
                                 (LOSSOPT_PROBS_ARGS))

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
/* The results of a block's rows from their m, s and c (see above), vectorised
 * across the rows: res, sign and special. */
LOSSOPT_ALWAYS_INLINE void lossopt_lse_b_finish(double *ws, ptrdiff_t nr)
{
    const double *m = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_M);
    const double *s_out = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_S);
    const double *c_out = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_C);
    double *res = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_RES);
    double *sgn = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_SIGN);
    double *special = LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_SPECIAL);
        /* 4. the results, vectorised across the rows */
        LOSSOPT_OMP_SIMD()
        for (ptrdiff_t i = 0; i < nr; i++) {
            double sv = s_out[i], cv = c_out[i];
            double q = (sv != 0.0) ? sv / cv : sv;
            double sq = (q + 1.0 > 0.0) ? 1.0 : ((q + 1.0 < 0.0) ? -1.0 : 0.0);
            double sc = (cv > 0.0) ? 1.0 : ((cv < 0.0) ? -1.0 : 0.0);
            q = (q < -1.0) ? -q - 2.0 : q;
            double r = lossopt_log1p(q) + lossopt_log(fabs(cv)) + m[i];
            res[i] = r;
            sgn[i] = sq * sc;
            special[i] = (fabs(m[i]) < INFINITY && fabs(r) < INFINITY) ? 0.0 : 1.0;
        }
}

#if LOSSOPT_HAVE_DISPATCH
/*
 * Short rows without a mask on the x86-64-v4 path in one pass, as the
 * probability targets' (lossopt_probs_short_*): the columns of x and b of 8
 * (float64) or 16 (float32) rows transposed in registers, the absent
 * entries (b == 0) set to -inf (and their b to 0), the maxima, then per
 * column e = exp(x - m) and the sums c and s in float64 in the order of j;
 * m, s and c go to the workspace, lossopt_lse_b_finish does the rest.
 */
/* one column's terms of the sums: c += b where e == 1, else s += b e */
LOSSOPT_ROWS_INLINE void lossopt_lse_b_add8(__m512d *s, __m512d *c, __m512d e, __m512d b)
{
    const __mmask8 is1 = _mm512_cmp_pd_mask(e, _mm512_set1_pd(1.0), _CMP_EQ_OQ);
    *c = _mm512_mask_add_pd(*c, is1, *c, b);
    *s = _mm512_mask_add_pd(*s, (__mmask8)~is1, *s, _mm512_mul_pd(b, e));
}

/* m, s and c of rows k .. k + 7 (`valid`) into the workspace */
LOSSOPT_ROWS_INLINE void lossopt_lse_b_keep8(double *ws, ptrdiff_t k, __mmask8 valid,
                                             __m512d m, __m512d s, __m512d c)
{
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_M) + k, valid, m);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_S) + k, valid, s);
    _mm512_mask_storeu_pd(LOSSOPT_WS_ARRAY(ws, LOSSOPT_LSE_B_C) + k, valid, c);
}

/* the columns of x and b of a group (nv rows) into X and B, the absent
 * entries' x set to -inf and b to 0 (b != 0 present: NaN too); returns the
 * rows' maxima over the present entries (NaN passed over).
 * lossopt_lse_b_columns_f64 / _f32. */
#define LOSSOPT_LSE_B_DEFINE_COLUMNS(T, SFX, VT, MASK, CMP, MOV, MOVZ, MAX, SET1, ZERO)  \
    LOSSOPT_ROWS_INLINE VT lossopt_lse_b_columns_##SFX(const T *x, ptrdiff_t xs,     \
        const T *b, ptrdiff_t bs, int nv, ptrdiff_t C, VT *X, VT *B)                 \
    {                                                                                \
        VT m = SET1(-INFINITY);                                                      \
        (void)lossopt_rows_columns_##SFX(x, xs, nv, C, X);                           \
        (void)lossopt_rows_columns_##SFX(b, bs, nv, C, B);                           \
        for (ptrdiff_t j = 0; j < C; j++) {                                          \
            const MASK pres = CMP(B[j], ZERO(), _CMP_NEQ_UQ);                        \
            X[j] = MOV(SET1(-INFINITY), pres, X[j]);                                 \
            B[j] = MOVZ(pres, B[j]);                                                 \
            m = MAX(X[j], m);                                                        \
        }                                                                            \
        return m;                                                                    \
    }
LOSSOPT_LSE_B_DEFINE_COLUMNS(double, f64, __m512d, __mmask8, _mm512_cmp_pd_mask,
                             _mm512_mask_mov_pd, _mm512_maskz_mov_pd, _mm512_max_pd,
                             _mm512_set1_pd, _mm512_setzero_pd)
LOSSOPT_LSE_B_DEFINE_COLUMNS(float, f32, __m512, __mmask16, _mm512_cmp_ps_mask,
                             _mm512_mask_mov_ps, _mm512_maskz_mov_ps, _mm512_max_ps,
                             _mm512_set1_ps, _mm512_setzero_ps)

LOSSOPT_TARGET_V4 static void lossopt_lse_b_short_f64(const double *x, ptrdiff_t xs,
                                                      const double *b, ptrdiff_t bs,
                                                      ptrdiff_t nr, ptrdiff_t C, double *ws)
{
    __m512d X[LOSSOPT_ROWS_MAX_C], B[LOSSOPT_ROWS_MAX_C];
    for (ptrdiff_t g = 0; g < nr; g += 8) {
        const int nv = lossopt_rows_count(nr - g, 8);
        const __m512d m8 = lossopt_lse_b_columns_f64(x + g * xs, xs, b + g * bs, bs, nv, C,
                                                     X, B);
        __m512d s = _mm512_setzero_pd(), c = s;
        for (ptrdiff_t j = 0; j < C; j++)
            lossopt_lse_b_add8(&s, &c, lossopt_exp_v8(_mm512_sub_pd(X[j], m8)), B[j]);
        lossopt_lse_b_keep8(ws, g, (__mmask8)lossopt_rows_first(nv), m8, s, c);
    }
}

LOSSOPT_TARGET_V4 static void lossopt_lse_b_short_f32(const float *x, ptrdiff_t xs,
                                                      const float *b, ptrdiff_t bs,
                                                      ptrdiff_t nr, ptrdiff_t C, double *ws)
{
    __m512 X[LOSSOPT_ROWS_MAX_C], B[LOSSOPT_ROWS_MAX_C];
    for (ptrdiff_t g = 0; g < nr; g += 16) {
        const int nv = lossopt_rows_count(nr - g, 16);
        const __mmask16 valid = (__mmask16)lossopt_rows_first(nv);
        const __m512 m16 = lossopt_lse_b_columns_f32(x + g * xs, xs, b + g * bs, bs, nv, C,
                                                     X, B);
        const __m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), m16);
        __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo, c_lo = s_lo, c_hi = s_lo;
        for (ptrdiff_t j = 0; j < C; j++) {
            const __m512 e = lossopt_rows_expf_diff(X[j], m16, negm);
            lossopt_lse_b_add8(&s_lo, &c_lo, lossopt_rows_lo8(e), lossopt_rows_lo8(B[j]));
            lossopt_lse_b_add8(&s_hi, &c_hi, lossopt_rows_hi8(e), lossopt_rows_hi8(B[j]));
        }
        lossopt_lse_b_keep8(ws, g, (__mmask8)valid, lossopt_rows_lo8(m16), s_lo, c_lo);
        if (valid >> 8)
            lossopt_lse_b_keep8(ws, g + 8, (__mmask8)(valid >> 8), lossopt_rows_hi8(m16), s_hi,
                                c_hi);
    }
}
/* Long rows (LOSSOPT_ROWS_MAX_C < C <= LOSSOPT_BLOCK_ELEMS), with or
 * without a mask, row by row in two passes over x and b: the maximum over
 * the present entries, then e = exp(x - m) and the sums in vector lanes,
 * added across the lanes at the row's end (a fixed order), asking for the
 * next block's lines of x, b and the mask meanwhile (lossopt_probs_next).
 * Past the row's end: b = 0, absent. */
/* the entries j .. j + 15 of a mask row that are set (mr NULL: all; cm: the
 * entries that exist) */
LOSSOPT_ROWS_INLINE __mmask16 lossopt_lse_b_mask16(const unsigned char *mr, ptrdiff_t j,
                                                   __mmask16 cm)
{
    if (mr == NULL)
        return cm;
    const __m128i v = _mm_maskz_loadu_epi8(cm, mr + j);
    return _mm_test_epi8_mask(v, v);
}

/* the maximum of a row's present entries (b != 0 and, with a mask, where
 * set): lossopt_lse_b_row_max_f64 / _f32 */
#define LOSSOPT_LSE_B_DEFINE_ROW_MAX(T, SFX, G, VT, MASK, SET1, LOADZ, LOADM, CMP, MAX, ZERO, \
                                     REDUCE)                                         \
    LOSSOPT_TARGET_V4 static inline T lossopt_lse_b_row_max_##SFX(                   \
        const T *xr, const T *br, const unsigned char *mr, ptrdiff_t C, int *absent) \
    {                                                                                \
        const VT ninf = SET1(-INFINITY);                                             \
        VT mv[4] = {ninf, ninf, ninf, ninf};                                         \
        unsigned off = 0;                   /* lanes of absent entries (b == 0) */   \
        ptrdiff_t j = 0;                                                             \
        for (; j + 4 * G <= C; j += 4 * G)   /* full vectors, four max chains */    \
            for (int q = 0; q < 4; q++) {                                            \
                const ptrdiff_t jq = j + q * G;                                      \
                const MASK pres = CMP((MASK)lossopt_lse_b_mask16(mr, jq, (MASK)-1),  \
                                      LOADZ((MASK)-1, br + jq), ZERO(), _CMP_NEQ_UQ);\
                off |= (MASK)~pres;                                                  \
                mv[q] = MAX(LOADM(ninf, pres, xr + jq), mv[q]);                      \
            }                                                                        \
        for (; j < C; j += G) {                                                      \
            const MASK cm = (MASK)lossopt_rows_first(lossopt_rows_count(C - j, G));  \
            const MASK pres = CMP((MASK)lossopt_lse_b_mask16(mr, j, cm), LOADZ(cm, br + j), \
                                  ZERO(), _CMP_NEQ_UQ);                              \
            off |= cm & (MASK)~pres;                                                 \
            mv[0] = MAX(LOADM(ninf, pres, xr + j), mv[0]);                           \
        }                                                                            \
        *absent = off != 0;                                                          \
        return REDUCE(MAX(MAX(mv[0], mv[1]), MAX(mv[2], mv[3])));                    \
    }
LOSSOPT_LSE_B_DEFINE_ROW_MAX(double, f64, 8, __m512d, __mmask8, _mm512_set1_pd,
                             _mm512_maskz_loadu_pd, _mm512_mask_loadu_pd, _mm512_mask_cmp_pd_mask,
                             _mm512_max_pd, _mm512_setzero_pd, _mm512_reduce_max_pd)
LOSSOPT_LSE_B_DEFINE_ROW_MAX(float, f32, 16, __m512, __mmask16, _mm512_set1_ps,
                             _mm512_maskz_loadu_ps, _mm512_mask_loadu_ps, _mm512_mask_cmp_ps_mask,
                             _mm512_max_ps, _mm512_setzero_ps, _mm512_reduce_max_ps)

/* float64 logsumexp with b asks for the lines 2 rows ahead, not the next
 * block's: measured (streamed, as above) 7-9 % faster at 100 and 256
 * classes, the same at 1000 (two runs each); float32 was not faster so
 * (0 to +7 %) and asks for the next block's */
#define LOSSOPT_LSE_B_AHEAD_F64 2

/* the next block's mask line at entry j of a row (nm 0: no mask) */
LOSSOPT_ROWS_INLINE void lossopt_lse_b_fetch(const lossopt_probs_next *nx, uintptr_t nm,
                                             ptrdiff_t j, size_t sz)
{
    lossopt_probs_fetch(nx, j, sz);
    if (nm && !(j & 63))
        _mm_prefetch((const char *)(nm + (uintptr_t)j), _MM_HINT_T0);
}

/* one vector of a row's entries j .. j + G - 1 (cm: those that exist) into
 * the sums s, c (lossopt_lse_b_add8), asking for the lines ahead:
 * lossopt_lse_b_step_f64 (G = 8), _f32 (G = 16, float exponentials as the
 * short rows', sums in float64) */
LOSSOPT_ROWS_INLINE void lossopt_lse_b_step_f64(const double *xr, const double *br,
                                                const unsigned char *mr, ptrdiff_t j,
                                                __mmask8 cm, const int all, __m512d m,
                                                const lossopt_probs_next *nx, uintptr_t nm,
                                                __m512d *s, __m512d *c)
{
    lossopt_lse_b_fetch(nx, nm, j, sizeof *xr);
    const __m512d bv = _mm512_maskz_loadu_pd(cm, br + j);
    if (all) {   /* every entry of the row present, a full vector: no mask */
        lossopt_lse_b_add8(s, c, lossopt_exp_v8(_mm512_sub_pd(_mm512_loadu_pd(xr + j), m)), bv);
        return;
    }
    const __mmask8 pres = _mm512_mask_cmp_pd_mask((__mmask8)lossopt_lse_b_mask16(mr, j, cm), bv,
                                                  _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __m512d ev = lossopt_exp_v8(
        _mm512_sub_pd(_mm512_mask_loadu_pd(_mm512_set1_pd(-INFINITY), pres, xr + j), m));
    lossopt_lse_b_add8(s, c, ev, _mm512_maskz_mov_pd(pres, bv));
}

LOSSOPT_TARGET_V4 static void lossopt_lse_b_long_f64(const double *x, ptrdiff_t xs,
                                                     const unsigned char *mask, ptrdiff_t ms,
                                                     const double *b, ptrdiff_t bs,
                                                     ptrdiff_t nr, ptrdiff_t C, double *ws)
{
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    for (ptrdiff_t k = 0; k < nr; k++) {
        const double *xr = x + k * xs, *br = b + k * bs;
        const unsigned char *mr = mask ? mask + k * ms : NULL;
        const lossopt_probs_next nx = lossopt_probs_next_of(xr, xs, br, bs, NULL, 0,
                                                            LOSSOPT_LSE_B_AHEAD_F64, k,
                                                            sizeof *x);
        const uintptr_t nm = lossopt_rows_ahead(mr, LOSSOPT_LSE_B_AHEAD_F64 * ms, 1);
        int absent;
        const __m512d m = _mm512_set1_pd(lossopt_lse_b_row_max_f64(xr, br, mr, C, &absent));
        __m512d s = _mm512_setzero_pd(), c = s;
        ptrdiff_t j = 0;
        if (absent)
            for (; j + 8 <= C; j += 8)      /* full vectors: no mask to compute */
                lossopt_lse_b_step_f64(xr, br, mr, j, (__mmask8)0xFF, 0, m, &nx, nm, &s, &c);
        else  /* and every entry present (no b == 0, every where= true): none to apply */
            for (; j + 8 <= C; j += 8)
                lossopt_lse_b_step_f64(xr, br, mr, j, (__mmask8)0xFF, 1, m, &nx, nm, &s, &c);
        if (j < C)
            lossopt_lse_b_step_f64(xr, br, mr, j, (__mmask8)lossopt_rows_first((int)(C - j)), 0,
                                   m, &nx, nm, &s, &c);
        lossopt_lse_b_keep8(ws, k, 1, m, _mm512_set1_pd(_mm512_reduce_add_pd(s)),
                            _mm512_set1_pd(_mm512_reduce_add_pd(c)));
    }
}

LOSSOPT_ROWS_INLINE void lossopt_lse_b_step_f32(const float *xr, const float *br,
                                                const unsigned char *mr, ptrdiff_t j,
                                                __mmask16 cm, const int all, __m512 m,
                                                __m512 negm, const lossopt_probs_next *nx,
                                                uintptr_t nm, __m512d *s, __m512d *c)
{
    lossopt_lse_b_fetch(nx, nm, j, sizeof *xr);
    const __m512 bv = _mm512_maskz_loadu_ps(cm, br + j);
    if (all) {   /* every entry of the row present, a full vector: no mask */
        const __m512 ev = lossopt_rows_expf_diff(_mm512_loadu_ps(xr + j), m, negm);
        lossopt_lse_b_add8(s, c, lossopt_rows_lo8(ev), lossopt_rows_lo8(bv));
        lossopt_lse_b_add8(s, c, lossopt_rows_hi8(ev), lossopt_rows_hi8(bv));
        return;
    }
    const __mmask16 pres = _mm512_mask_cmp_ps_mask(lossopt_lse_b_mask16(mr, j, cm), bv,
                                                   _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const __m512 ev = lossopt_rows_expf_diff(
        _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), pres, xr + j), m, negm);
    const __m512 bp = _mm512_maskz_mov_ps(pres, bv);
    lossopt_lse_b_add8(s, c, lossopt_rows_lo8(ev), lossopt_rows_lo8(bp));
    lossopt_lse_b_add8(s, c, lossopt_rows_hi8(ev), lossopt_rows_hi8(bp));
}

LOSSOPT_TARGET_V4 static void lossopt_lse_b_long_f32(const float *x, ptrdiff_t xs,
                                                     const unsigned char *mask, ptrdiff_t ms,
                                                     const float *b, ptrdiff_t bs,
                                                     ptrdiff_t nr, ptrdiff_t C, double *ws)
{
    for (ptrdiff_t k = 0; k < nr; k++) {
        const float *xr = x + k * xs, *br = b + k * bs;
        const unsigned char *mr = mask ? mask + k * ms : NULL;
        const lossopt_probs_next nx = lossopt_probs_next_of(xr, xs, br, bs, NULL, 0, nr, k,
                                                            sizeof *x);
        const uintptr_t nm = lossopt_rows_ahead(mr, nr * ms, 1);
        int absent;
        const float mf = lossopt_lse_b_row_max_f32(xr, br, mr, C, &absent);
        const __m512 m = _mm512_set1_ps(mf), negm = _mm512_set1_ps(-mf);
        __m512d s = _mm512_setzero_pd(), c = s;
        ptrdiff_t j = 0;
        if (absent)
            for (; j + 16 <= C; j += 16)    /* full vectors: no mask to compute */
                lossopt_lse_b_step_f32(xr, br, mr, j, (__mmask16)0xFFFF, 0, m, negm, &nx, nm,
                                       &s, &c);
        else  /* and every entry present (no b == 0, every where= true): none to apply */
            for (; j + 16 <= C; j += 16)
                lossopt_lse_b_step_f32(xr, br, mr, j, (__mmask16)0xFFFF, 1, m, negm, &nx, nm,
                                       &s, &c);
        if (j < C)
            lossopt_lse_b_step_f32(xr, br, mr, j, (__mmask16)lossopt_rows_first((int)(C - j)),
                                   0, m, negm, &nx, nm, &s, &c);
        lossopt_lse_b_keep8(ws, k, 1, _mm512_set1_pd((double)mf),
                            _mm512_set1_pd(_mm512_reduce_add_pd(s)),
                            _mm512_set1_pd(_mm512_reduce_add_pd(c)));
    }
}

#endif  /* LOSSOPT_HAVE_DISPATCH */

/* the parameters of lossopt_lse_b_rows_f64 / _f32 */
#define LOSSOPT_LSE_B_PARAMS(T) const T *x, ptrdiff_t xs, const unsigned char *mask,     \
    ptrdiff_t ms, const T *b, ptrdiff_t bs, ptrdiff_t nr, ptrdiff_t C, double *ws
#define LOSSOPT_LSE_B_ARGS x, xs, mask, ms, b, bs, nr, C, ws

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
        lossopt_lse_b_finish(ws, nr);                                                \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE void lossopt_lse_b_rows_##SUFFIX##_body(LOSSOPT_LSE_B_PARAMS(T))\
    {                                                                                \
        if (mask == NULL)                                                            \
            lossopt_lse_b_rows_body_##SUFFIX(x, xs, NULL, 0, b, bs, nr, C, ws, 0);   \
        else                                                                         \
            lossopt_lse_b_rows_body_##SUFFIX(x, xs, mask, ms, b, bs, nr, C, ws, 1);  \
    }                                                                                \
    /* x86-64-v4: short rows without a mask in one pass, long rows row by row */   \
    LOSSOPT_IF_DISPATCH(LOSSOPT_TARGET_V4 static void                                \
        lossopt_lse_b_rows_##SUFFIX##_avx512(LOSSOPT_LSE_B_PARAMS(T))                \
    {                                                                                \
        switch (lossopt_probs_kernel_for(C, 1, mask != NULL)) {                      \
        case LOSSOPT_PROBS_SHORT:                                                    \
            lossopt_lse_b_short_##SUFFIX(x, xs, b, bs, nr, C, ws);                   \
            break;                                                                   \
        case LOSSOPT_PROBS_LONG:                                                     \
            lossopt_lse_b_long_##SUFFIX(x, xs, mask, ms, b, bs, nr, C, ws);          \
            break;                                                                   \
        default:                                                                     \
            lossopt_lse_b_rows_##SUFFIX##_body(LOSSOPT_LSE_B_ARGS);                  \
            return;                                                                  \
        }                                                                            \
        lossopt_lse_b_finish(ws, nr);                                                \
    })                                                                               \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_lse_b_rows_##SUFFIX, (LOSSOPT_LSE_B_PARAMS(T)), \
                                 (LOSSOPT_LSE_B_ARGS))

LOSSOPT_DEFINE_LSE_B_ROWS(double, f64, 0)
LOSSOPT_DEFINE_LSE_B_ROWS(float, f32, 1)

#endif /* LOSSOPT_PROBS_H */
