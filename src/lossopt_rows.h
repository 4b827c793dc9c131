/*
 * lossopt_rows.h -- kernels for the row engine's plain case (src/_softmax.pyx,
 * rows_block, short_rows): one pass for blocks of short rows, and a row
 * kernel for longer rows that fit the block buffer (see "Long rows" below).
 *
 * The engine takes short rows (n_cols below LOSSOPT_FUSED_ROW_MIN) in about
 * five passes over a block: maxima, shift + exp column-major, sums, log, the
 * rows' coefficients, the output pass.  Here the same results are computed
 * in one pass over the data, for the case without `where` mask (a mask is
 * applied before, by a copy of the block: lossopt_rows_masked_copy_*),
 * without b (logsumexp) and without probability targets (the cross-entropy with
 * labels with or without label smoothing: its extra terms, a row's
 * sum_j w_j (x_j - m) and the gradient's - sc eps/C w_j, ride along the
 * exponentials' and the outputs' passes, see lossopt_rows_acc_w8):
 *
 *   G rows at a time (8 doubles or 16 floats, one AVX-512 vector): the
 *   rows' chunks of G columns are loaded (masked at the row's end) and
 *   transposed in registers, so that vector j holds column j of the G rows;
 *   then the rows' maxima m (vmaxpd), the exponentials e_j = exp(x_j - m)
 *   (lossopt_exp_v8 / lossopt_expf_v16 with the exact two-sum split of
 *   x - m for floats, as the engine), the sums s (of the e != 1) and c (the
 *   number of e == 1: the maxima kept out of s, as the engine), in float64;
 *   lz = log(c + s) = log1p(s / c) + log1p(c - 1) (log1p(s) when every c is
 *   1: the same value; softmax does not need it), the rows' coefficients
 *   (the formulas of the engine's finalize_* functions), and the outputs,
 *   transposed back (softmax, the cross-entropy's gradient, whose label
 *   entries are then stored one by one) or row by row from x (log_softmax),
 *   stored with masks (no access past a row's end or the block's last
 *   row).  All sums run over j in order, per row, so a row's result does not
 *   depend on the rows around it (or on the thread count); the block's loss
 *   (CE) is summed in a fixed order too (lossopt_rows_short).
 *
 * Measured on Zen 4 (AVX-512 as 2 x 256 bits): gathers (vgatherqpd) instead
 * of the load transposes, and 256-bit loads + inserts for the last <= 4
 * columns, were both slower; a per-block split (all exponentials first, the
 * logs for the whole block, then the outputs) was slower too (the block's
 * exponentials no longer fit L1 next to its rows).
 *
 * Rows whose maximum is not finite (NaN, +-inf, all -inf), whose label is
 * ignore_index, whose weight sample_weight * grad_scale is 0, or whose
 * logsumexp is not finite are "special": nothing of them is written here,
 * special[k] = 1 and the engine writes them with its own formulas from
 * m, s, c, lz (stored for every row of the block).
 *
 * Only on the x86-64-v4 path: elsewhere lossopt_rows_short returns -1 and
 * the engine runs as before.  (No x86-64-v3 variant: the kernels lean on
 * AVX-512 masks for every row and column tail, and on the table exp, whose
 * vpermi2pd / vscalefpd have no AVX2 counterpart of the same cost.)
 */
#ifndef LOSSOPT_ROWS_H
#define LOSSOPT_ROWS_H

#include "lossopt_math.h"

/* the longest row the transposing kernels take (their column tile lives on
 * the stack): the engine's short rows.  From 64 classes on, row by row is
 * faster (measured at 64 classes, float64 logsumexp: the engine's row path
 * 1.5 x np.exp, the transposing kernel 1.9 x), so longer rows go to the
 * long-row kernels below. */
#define LOSSOPT_ROWS_MAX_C (LOSSOPT_FUSED_ROW_MIN - 1)

/* the engine's MODE_* (src/_softmax.pyx) that the kernels take */
enum {
    LOSSOPT_ROWS_LSE = 0,
    LOSSOPT_ROWS_SOFTMAX = 1,
    LOSSOPT_ROWS_LOG_SOFTMAX = 2,
    LOSSOPT_ROWS_CE = 3,          /* cross-entropy with class labels */
};

typedef struct {
    int mode;
    ptrdiff_t n_cols;
    ptrdiff_t xs, os;             /* row strides of x and out, in elements */
    const ptrdiff_t *labels;      /* CE: the labels of all rows (row r0 + k of the block) */
    ptrdiff_t ignore_index;
    const double *w;              /* class weights; NULL = ones */
    double wsum;                  /* their sum */
    const double *sw;             /* sample weights of all rows; NULL = ones */
    double grad_scale;
    double smoothing;             /* CE: label smoothing eps in [0, 1] */
    int want_grad;                /* CE: write the gradient into out */
    double *row_value;            /* lse (LSE) / weighted loss (CE) of all rows; CE: may be NULL */
} lossopt_rows_args;

#if LOSSOPT_HAVE_DISPATCH

/* the kernels' helpers: inlined into them (GCC would keep some calls) */
#define LOSSOPT_ROWS_INLINE LOSSOPT_TARGET_V4 static inline __attribute__((always_inline))

/* log1p of 8 lanes by the library's branch-free log1p (vectorised by the
 * compiler) */
LOSSOPT_ROWS_INLINE __m512d lossopt_rows_log1p8(__m512d v)
{
    double a[8] __attribute__((aligned(64)));
    _mm512_store_pd(a, v);
    LOSSOPT_OMP_SIMD()
    for (int k = 0; k < 8; k++)
        a[k] = lossopt_log1p(a[k]);
    return _mm512_load_pd(a);
}

/* min(n, g): the rows or columns of a group or chunk of g that exist */
static inline int lossopt_rows_count(ptrdiff_t n, int g)
{
    return n < g ? (int)n : g;
}

/* the mask of the first n lanes (n <= 16) */
static inline unsigned lossopt_rows_first(int n)
{
    return (1u << n) - 1u;
}

/* the lanes that are not finite (v - v is 0 exactly for finite v) */
LOSSOPT_ROWS_INLINE __mmask8 lossopt_rows_nonfinite8(__m512d v)
{
    return _mm512_cmp_pd_mask(_mm512_sub_pd(v, v), _mm512_setzero_pd(), _CMP_NEQ_UQ);
}

/* 8 x 8 transpose of doubles in place: r[j] lane i <- r[i] lane j */
LOSSOPT_ROWS_INLINE void lossopt_rows_t8(__m512d *r)
{
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    __m512d t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* u[4h + k]: rows 4h..4h+3 of columns k and k + 4 (k = 0..3) */
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm512_permutex2var_pd(t[4 * h], lo, t[4 * h + 2]);
        u[4 * h + 1] = _mm512_permutex2var_pd(t[4 * h + 1], lo, t[4 * h + 3]);
        u[4 * h + 2] = _mm512_permutex2var_pd(t[4 * h], hi, t[4 * h + 2]);
        u[4 * h + 3] = _mm512_permutex2var_pd(t[4 * h + 1], hi, t[4 * h + 3]);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f64x2(u[k], u[4 + k], 0x44);
        r[k + 4] = _mm512_shuffle_f64x2(u[k], u[4 + k], 0xEE);
    }
}

/* columns 0..3 of rows 0..7 <-> 4 vectors [rows 0..3 | rows 4..7] of one
 * column each: z[i] = [row i | row i + 4] (4 doubles each) in, column j out;
 * the same network maps the columns back to [row i | row i + 4] */
LOSSOPT_ROWS_INLINE void lossopt_rows_t4x2(__m512d *z)
{
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    __m512d t0 = _mm512_unpacklo_pd(z[0], z[1]), t1 = _mm512_unpackhi_pd(z[0], z[1]);
    __m512d t2 = _mm512_unpacklo_pd(z[2], z[3]), t3 = _mm512_unpackhi_pd(z[2], z[3]);
    z[0] = _mm512_permutex2var_pd(t0, lo, t2);
    z[1] = _mm512_permutex2var_pd(t1, lo, t3);
    z[2] = _mm512_permutex2var_pd(t0, hi, t2);
    z[3] = _mm512_permutex2var_pd(t1, hi, t3);
}

/* The C columns of a group of G rows (nv of them, row r at p + r * xs)
 * into X[j], chunk by chunk of G columns: masked loads (nothing read past a
 * row's end or the last row) and an in-register transpose; returns the
 * rows' maxima (vmaxpd / vmaxps keep the maximum so far where x is NaN).
 * lossopt_rows_columns_f64 (G = 8), _f32 (G = 16). */
#define LOSSOPT_ROWS_DEFINE_COLUMNS(T, SFX, G, VT, MASK, LOADU, TRANSPOSE, MAX, SET1,  \
                                    NARROW)                                          \
    LOSSOPT_ROWS_INLINE VT lossopt_rows_columns_##SFX(const T *p, ptrdiff_t xs,      \
        int nv, ptrdiff_t C, VT *X)                                                  \
    {                                                                                \
        VT m = SET1(-INFINITY);                                                      \
        for (ptrdiff_t j0 = 0; j0 < C; j0 += G) {                                    \
            const int w = lossopt_rows_count(C - j0, G);                             \
            if (NARROW(p, xs, nv, j0, w, X + j0, &m))                                \
                continue;                                                            \
            const MASK cm = (MASK)lossopt_rows_first(w);                             \
            VT v[G];                                                                 \
            for (int r = 0; r < G; r++)                                              \
                v[r] = LOADU(r < nv ? cm : 0, p + (r < nv ? r : 0) * xs + j0);       \
            TRANSPOSE(v);                                                            \
            for (int j = 0; j < w; j++) {                                            \
                X[j0 + j] = v[j];                                                    \
                m = MAX(v[j], m);                                                    \
            }                                                                        \
        }                                                                            \
        return m;                                                                    \
    }

/* the inverse: column vectors v[0 .. w-1] (lanes: rows) into the rows
 * (`store`: the rows written) at p + r * os, columns j0 .. j0 + w - 1 */
LOSSOPT_ROWS_INLINE void lossopt_rows_store_cols8(
    __m512d *v, int w, __mmask8 store, double *p, ptrdiff_t os, ptrdiff_t j0)
{
    if (w <= 4) {
        const __mmask8 cm = (__mmask8)lossopt_rows_first(w);
        lossopt_rows_t4x2(v);
        for (int r = 0; r < 4; r++) {
            /* 512-bit masked stores (vmovupd: masked-off lanes never fault); a
             * 256-bit one of a half was compiled to a masked vextractf64x4
             * to memory, which faulted past the end of a mapping */
            if (store >> r & 1)
                _mm512_mask_storeu_pd(p + r * os + j0, cm, v[r]);
            if (store >> (r + 4) & 1)
                _mm512_mask_storeu_pd(p + (r + 4) * os + j0, cm,
                                      _mm512_shuffle_f64x2(v[r], v[r], 0xEE));
        }
        return;
    }
    const __mmask8 cm = (__mmask8)lossopt_rows_first(w);
    lossopt_rows_t8(v);
    for (int r = 0; r < 8; r++)
        if (store >> r & 1)
            _mm512_mask_storeu_pd(p + r * os + j0, cm, v[r]);
}

/* 16 x 16 transpose of floats in place */
LOSSOPT_ROWS_INLINE void lossopt_rows_t16(__m512 *r)
{
    __m512 a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* b[4g + k], 128-bit lane l: rows 4g..4g+3 of column 4l + k */
    for (int g = 0; g < 4; g++) {
        __m512d a0 = _mm512_castps_pd(a[4 * g]), a1 = _mm512_castps_pd(a[4 * g + 1]);
        __m512d a2 = _mm512_castps_pd(a[4 * g + 2]), a3 = _mm512_castps_pd(a[4 * g + 3]);
        b[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        b[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        b[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        b[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    for (int k = 0; k < 4; k++) {
        __m512 clo = _mm512_shuffle_f32x4(b[k], b[4 + k], 0x44);
        __m512 chi = _mm512_shuffle_f32x4(b[k], b[4 + k], 0xEE);
        __m512 dlo = _mm512_shuffle_f32x4(b[8 + k], b[12 + k], 0x44);
        __m512 dhi = _mm512_shuffle_f32x4(b[8 + k], b[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(clo, dlo, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(clo, dlo, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(chi, dhi, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(chi, dhi, 0xDD);
    }
}

/* A chunk of w <= 4 columns of 8 double rows (10 classes: columns 8, 9) in
 * four vectors [row r | row r + 4] (masked loads: lanes 0 .. w-1 from row r,
 * lanes 4 .. 4 + w-1 from row r + 4, read 4 elements back, whose lanes are
 * off) and the 4 x 2 network (8 shuffles, not the 8 x 8 transpose's 24);
 * returns 0 (nothing done) for a wider chunk */
LOSSOPT_ROWS_INLINE int lossopt_rows_narrow_f64(const double *p, ptrdiff_t xs, int nv,
                                                ptrdiff_t j0, int w, __m512d *X, __m512d *m)
{
    if (w > 4)
        return 0;
    const unsigned cm = lossopt_rows_first(w);
    __m512d z[4];
    for (int r = 0; r < 4; r++) {
        const double *lo = p + (r < nv ? r : 0) * xs + j0;
        const double *hi = (const double *)(uintptr_t)((uintptr_t)(p + (r + 4 < nv ? r + 4 : 0) * xs + j0)
                                                       - 4 * sizeof(double));
        z[r] = _mm512_mask_loadu_pd(_mm512_maskz_loadu_pd((__mmask8)(r < nv ? cm : 0), lo),
                                    (__mmask8)(r + 4 < nv ? cm << 4 : 0), hi);
    }
    lossopt_rows_t4x2(z);
    for (int j = 0; j < w; j++) {
        X[j] = z[j];
        *m = _mm512_max_pd(z[j], *m);
    }
    return 1;
}

/* (float rows take every chunk through the 16 x 16 transpose) */
LOSSOPT_ROWS_INLINE int lossopt_rows_narrow_f32(const float *p, ptrdiff_t xs, int nv,
                                                ptrdiff_t j0, int w, __m512 *X, __m512 *m)
{
    (void)p; (void)xs; (void)nv; (void)j0; (void)w; (void)X; (void)m;
    return 0;
}

LOSSOPT_ROWS_DEFINE_COLUMNS(double, f64, 8, __m512d, __mmask8, _mm512_maskz_loadu_pd,
                            lossopt_rows_t8, _mm512_max_pd, _mm512_set1_pd,
                            lossopt_rows_narrow_f64)
LOSSOPT_ROWS_DEFINE_COLUMNS(float, f32, 16, __m512, __mmask16, _mm512_maskz_loadu_ps,
                            lossopt_rows_t16, _mm512_max_ps, _mm512_set1_ps,
                            lossopt_rows_narrow_f32)

/* The results of 8 rows (global rows i0 .. i0 + 7, `valid` of them), in
 * float64, from their maxima m, sums s and c, and (CE) the label's entry of
 * x (xy) and of e (ey) and the labels y:
 *   lz = log(c + s);
 *   coef: LSE the lse lz + m, softmax 1 / (c + s), log_softmax lz, CE the
 *   gradient's factor alpha = sc A / (c + s), sc = grad_scale sw;
 *   CE: lab = the label entry's gradient, rl = the row's weighted loss, sc.
 * CE with label smoothing eps (the engine's finalize_cross_entropy; keep =
 * 1 - eps, eps_c = eps / C, W = sum_k w_k, acc2 = sum_k w_k (x_k - m) over
 * the w_k != 0):
 *   loss = keep w_y (lz - (x_y - m)) + eps_c (W lz - acc2),
 *   A = keep w_y + eps_c W,  lab = sc (eps_c (W - w_y) - A (1 - p_y)),
 * and the other entries' gradient alpha e_j - sc eps_c w_j (the caller's);
 * eps = 0 gives A = w_y and the formulas without smoothing, bit for bit.
 * Returns the special rows (among `valid`). */
typedef struct {
    __m512d lz, coef, lab, rl, sc;
} lossopt_rows_res8;

LOSSOPT_ROWS_INLINE __mmask8 lossopt_rows_coefs8(
    const lossopt_rows_args *a, ptrdiff_t i0, __mmask8 valid, __m512d m, __m512d s,
    __m512d c, __m512d xy, __m512d ey, __m512i y, __m512d acc2, lossopt_rows_res8 *res)
{
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    __mmask8 special = lossopt_rows_nonfinite8(m);
    __m512d lz;
    if (a->mode == LOSSOPT_ROWS_SOFTMAX)
        lz = zero;                           /* (not used) */
    else if ((_mm512_cmp_pd_mask(c, one, _CMP_NEQ_UQ) & valid) == 0)
        lz = lossopt_rows_log1p8(s);         /* every row has one maximum */
    else
        lz = _mm512_add_pd(lossopt_rows_log1p8(_mm512_div_pd(s, c)),
                           lossopt_rows_log1p8(_mm512_sub_pd(c, one)));
    res->lz = lz;
    switch (a->mode) {
    case LOSSOPT_ROWS_LSE:
        res->coef = _mm512_add_pd(lz, m);
        special |= lossopt_rows_nonfinite8(res->coef);
        break;
    case LOSSOPT_ROWS_SOFTMAX:
        res->coef = _mm512_div_pd(one, _mm512_add_pd(c, s));
        break;
    case LOSSOPT_ROWS_LOG_SOFTMAX:
        res->coef = lz;
        break;
    default: {
        /* the engine's finalize_cross_entropy (eps = 0: keep = 1, A = w_y) */
        const double eps = a->smoothing, keep = 1.0 - eps, eps_c = eps / (double)a->n_cols;
        __mmask8 ign = _mm512_cmpeq_epi64_mask(y, _mm512_set1_epi64(a->ignore_index));
        __m512i yy = _mm512_mask_mov_epi64(y, ign, _mm512_setzero_si512());
        __m512d wy = a->w ? _mm512_mask_i64gather_pd(one, valid & (__mmask8)~ign, yy, a->w, 8)
                          : one;
        __m512d swk = a->sw ? _mm512_maskz_loadu_pd(valid, a->sw + i0) : one;
        __m512d sc = _mm512_mul_pd(_mm512_set1_pd(a->grad_scale), swk);
        special |= ign | _mm512_cmp_pd_mask(sc, zero, _CMP_EQ_OQ);
        __m512d acc1 = _mm512_sub_pd(xy, m);
        __m512d kw = _mm512_mul_pd(_mm512_set1_pd(keep), wy);
        __m512d loss = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(kw, zero, _CMP_NEQ_UQ), kw,
                                           _mm512_sub_pd(lz, acc1));
        const __m512d wsum = _mm512_set1_pd(a->wsum), epsc = _mm512_set1_pd(eps_c);
        __m512d A = kw;
        if (eps != 0.0) {
            loss = _mm512_add_pd(loss, _mm512_mul_pd(epsc, _mm512_sub_pd(
                _mm512_mul_pd(wsum, lz), acc2)));
            A = _mm512_add_pd(kw, _mm512_mul_pd(epsc, wsum));
        }
        __m512d inv = _mm512_div_pd(one, _mm512_add_pd(c, s));
        /* 1 - p_y, from the other terms when e_y == 1 (exact when p_y rounds to 1) */
        __m512d omp = _mm512_mask_mul_pd(_mm512_fnmadd_pd(ey, inv, one),
                                         _mm512_cmp_pd_mask(ey, one, _CMP_EQ_OQ),
                                         _mm512_add_pd(_mm512_sub_pd(c, one), s), inv);
        res->rl = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(swk, zero, _CMP_NEQ_UQ), swk, loss);
        res->coef = _mm512_mul_pd(_mm512_mul_pd(sc, inv), A);
        res->lab = _mm512_mul_pd(sc, _mm512_sub_pd(
            _mm512_mul_pd(epsc, _mm512_sub_pd(wsum, wy)), _mm512_mul_pd(A, omp)));
        res->sc = sc;
        break;
    }
    }
    return special & valid;
}

/* the label entries x[r][y_r] of nv rows (0 for an ignored row and past nv) */
#define LOSSOPT_ROWS_DEFINE_LABEL_X(T, SFX, VT, LOADU)                               \
    LOSSOPT_ROWS_INLINE VT lossopt_rows_label_x##SFX(                    \
        const T *p, ptrdiff_t xs, int nv, const ptrdiff_t *y, ptrdiff_t ignore_index)\
    {                                                                                \
        T t[64 / sizeof(T)] = {0};                                                   \
        for (int r = 0; r < nv; r++)                                                 \
            t[r] = y[r] == ignore_index ? (T)0 : p[r * xs + y[r]];                   \
        return LOADU(t);                                                             \
    }
LOSSOPT_ROWS_DEFINE_LABEL_X(double, 8, __m512d, _mm512_loadu_pd)
LOSSOPT_ROWS_DEFINE_LABEL_X(float, 16, __m512, _mm512_loadu_ps)

/* out[r][y_r] = lab lane r for the rows `store` (rows at p + r * os), after
 * the rows' vector stores; T float or double (is_float) */
LOSSOPT_ROWS_INLINE void lossopt_rows_put_labels(
    __m512d lab, __mmask8 store, const ptrdiff_t *y, int is_float, void *p, ptrdiff_t os)
{
    double t[8];
    _mm512_storeu_pd(t, lab);
    for (int r = 0; r < 8; r++) {
        if (!(store >> r & 1))
            continue;
        if (is_float)
            ((float *)p)[r * os + y[r]] = (float)t[r];
        else
            ((double *)p)[r * os + y[r]] = t[r];
    }
}

/* the per-row arrays a kernel fills for the engine (row k of the block at
 * [k]): m, s, c, lz (for the special rows, at least), rl (CE: the weighted
 * loss), special (1: a row left to the engine); and the block's loss (CE,
 * *loss) */
typedef struct {
    double *m, *s, *c, *lz, *rl, *special, *loss;
} lossopt_rows_arrays;

/* what a kernel counts over its block: the special rows, and the regular
 * rows' losses (CE), lane k holding the rows k mod 8 of the block */
typedef struct {
    ptrdiff_t n_special;
    __m512d loss;
} lossopt_rows_tally;

/* the per-row arrays of the block (rows k .. k + 7) and the CE row values;
 * t: the special rows and the CE loss */
LOSSOPT_ROWS_INLINE void lossopt_rows_keep8(
    const lossopt_rows_args *a, ptrdiff_t i0, ptrdiff_t k, __mmask8 valid, __mmask8 sp,
    __m512d m, __m512d s, __m512d c, const lossopt_rows_res8 *r,
    const lossopt_rows_arrays *w, lossopt_rows_tally *t)
{
    /* m, s, c, lz: the engine reads them for the special rows only, so
     * only the groups that hold one store them (four stores fewer per 8
     * rows: the 10-class rows streamed 4-11 % faster, every mode, float64
     * and float32; the long rows' m, s, c are in place from their
     * exponential pass) */
    if (sp) {
        _mm512_mask_storeu_pd(w->m + k, valid, m);
        _mm512_mask_storeu_pd(w->s + k, valid, s);
        _mm512_mask_storeu_pd(w->c + k, valid, c);
        _mm512_mask_storeu_pd(w->lz + k, valid, r->lz);
    }
    _mm512_mask_storeu_pd(w->special + k, valid, _mm512_maskz_mov_pd(sp, _mm512_set1_pd(1.0)));
    t->n_special += __builtin_popcount(sp);
    if (a->mode == LOSSOPT_ROWS_LSE) {
        _mm512_mask_storeu_pd(a->row_value + i0, valid & (__mmask8)~sp, r->coef);
    } else if (a->mode == LOSSOPT_ROWS_CE) {
        _mm512_mask_storeu_pd(w->rl + k, valid, r->rl);
        if (a->row_value)
            _mm512_mask_storeu_pd(a->row_value + i0, valid & (__mmask8)~sp, r->rl);
        t->loss = _mm512_mask_add_pd(t->loss, valid & (__mmask8)~sp, t->loss, r->rl);
    }
}

/* the kernels' result: *loss, the block's loss from the lanes of t.loss
 * added in lane order, and the number of special rows */
LOSSOPT_TARGET_V4 static inline ptrdiff_t lossopt_rows_result(const lossopt_rows_tally *t,
                                                             double *loss)
{
    double v[8], r = 0.0;
    _mm512_storeu_pd(v, t->loss);
    for (int l = 0; l < 8; l++)
        r += v[l];
    *loss = r;
    return t->n_special;
}

/* 8 values of T at p as doubles / stored from doubles, lanes cm only */
#define LOSSOPT_ROWS_LOAD8_F64(cm, p) _mm512_maskz_loadu_pd(cm, p)
#define LOSSOPT_ROWS_STORE8_F64(p, cm, v) _mm512_mask_storeu_pd(p, cm, v)
#define LOSSOPT_ROWS_LOAD8_F32(cm, p) _mm512_cvtps_pd(_mm256_maskz_loadu_ps(cm, p))
#define LOSSOPT_ROWS_STORE8_F32(p, cm, v) _mm256_mask_storeu_ps(p, cm, _mm512_cvtpd_ps(v))

/* Row outputs written row by row, in float64, for the rows `store` among 8
 * (row r: a + r * as, out + r * os): out = (mul_r a - m_r) - lz_r, a NULL
 * array standing for ones (mul) or zeros (m, lz): log_softmax from x
 * (mul NULL), softmax and the CE gradient from the row-major exponentials
 * of long rows (m, lz NULL: out = mul_r a exactly). */
#define LOSSOPT_ROWS_DEFINE_ROW_OUTPUTS(T, SFX, LOAD8, STORE8)                       \
    LOSSOPT_ROWS_INLINE void lossopt_rows_affine8_##SFX(const T *a, ptrdiff_t as,    \
        T *out, ptrdiff_t os, ptrdiff_t C, __mmask8 store, __m512d mul, __m512d m,   \
        __m512d lz)                                                                  \
    {                                                                                \
        for (int r = 0; r < 8; r++) {                                                \
            if (!(store >> r & 1))                                                   \
                continue;                                                            \
            const T *ar = a + r * as;                                                \
            T *o = out + r * os;                                                     \
            const __m512i lane = _mm512_set1_epi64(r);                               \
            const __m512d cb = _mm512_permutexvar_pd(lane, mul);                     \
            const __m512d mb = _mm512_permutexvar_pd(lane, m);                       \
            const __m512d lb = _mm512_permutexvar_pd(lane, lz);                      \
            ptrdiff_t j = 0;                                                         \
            for (; j + 8 <= C; j += 8) {   /* full vectors: no mask to compute */    \
                __m512d v = _mm512_mul_pd(cb, LOAD8((__mmask8)0xFF, ar + j));        \
                STORE8(o + j, (__mmask8)0xFF, _mm512_sub_pd(_mm512_sub_pd(v, mb), lb));\
            }                                                                        \
            if (j < C) {                                                             \
                const __mmask8 cm = (__mmask8)lossopt_rows_first((int)(C - j));      \
                __m512d v = _mm512_mul_pd(cb, LOAD8(cm, ar + j));                    \
                STORE8(o + j, cm, _mm512_sub_pd(_mm512_sub_pd(v, mb), lb));          \
            }                                                                        \
        }                                                                            \
    }
LOSSOPT_ROWS_DEFINE_ROW_OUTPUTS(double, f64, LOSSOPT_ROWS_LOAD8_F64, LOSSOPT_ROWS_STORE8_F64)
LOSSOPT_ROWS_DEFINE_ROW_OUTPUTS(float, f32, LOSSOPT_ROWS_LOAD8_F32, LOSSOPT_ROWS_STORE8_F32)

/* Label smoothing's two extra terms, column j of 8 rows (w: the class
 * weights, NULL for ones):
 *   acc + w_j d, d = x_j - m: the sum sum_j w_j (x_j - m) in order j, over
 *   the w_j != 0 (a class weighted 0 adds nothing, also where x_j = -inf);
 *   the gradient entry alpha e_j - sc eps_c w_j (the engine's grad_row,
 *   c_j = eps_c w_j), in float64. */
LOSSOPT_ROWS_INLINE __m512d lossopt_rows_acc_w8(__m512d acc, __m512d d, const double *w,
                                                ptrdiff_t j)
{
    if (w == NULL)
        return _mm512_add_pd(acc, d);
    return w[j] != 0.0 ? _mm512_fmadd_pd(_mm512_set1_pd(w[j]), d, acc) : acc;
}

LOSSOPT_ROWS_INLINE __m512d lossopt_rows_smooth_out8(__m512d alpha, __m512d e, __m512d sc,
                                                     const lossopt_rows_args *a, ptrdiff_t j)
{
    const double cj = a->smoothing / (double)a->n_cols * (a->w ? a->w[j] : 1.0);
    return _mm512_fnmadd_pd(sc, _mm512_set1_pd(cj), _mm512_mul_pd(alpha, e));
}

LOSSOPT_TARGET_V4 static ptrdiff_t lossopt_rows_f64_avx512(
    const lossopt_rows_args *a, const double *x, double *out, ptrdiff_t r0, ptrdiff_t nr,
    const lossopt_rows_arrays *w)
{
    const ptrdiff_t C = a->n_cols, xs = a->xs, os = a->os;
    const int mode = a->mode;
    const int smooth = mode == LOSSOPT_ROWS_CE && a->smoothing != 0.0;
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d X[LOSSOPT_ROWS_MAX_C];        /* column j of the group's rows */
    lossopt_rows_tally tally = {0, _mm512_setzero_pd()};
    for (ptrdiff_t g = 0; g < nr; g += 8) {
        const int nv = lossopt_rows_count(nr - g, 8);
        const __mmask8 valid = (__mmask8)lossopt_rows_first(nv);
        const double *xrows = x + g * xs;
        /* 1. the columns, and the rows' maxima (ignoring NaN: a row whose
         * maximum is then not finite is checked for NaN by the engine) */
        const __m512d m8 = lossopt_rows_columns_f64(xrows, xs, nv, C, X);
        /* 2. exponentials (in place of the columns) and their sums */
        __m512d s8 = _mm512_setzero_pd(), c8 = _mm512_setzero_pd();
        __m512d xy = _mm512_setzero_pd(), ey = _mm512_setzero_pd();
        __m512i y = _mm512_setzero_si512();
        if (mode == LOSSOPT_ROWS_CE) {
            y = _mm512_maskz_loadu_epi64(valid, a->labels + r0 + g);
            xy = lossopt_rows_label_x8(xrows, xs, nv, a->labels + r0 + g, a->ignore_index);
            ey = lossopt_exp_v8(_mm512_sub_pd(xy, m8));    /* = e at the label */
        }
        /* (CE with label smoothing: acc2 = sum_j w_j (x_j - m)) */
        __m512d acc2 = _mm512_setzero_pd();
        for (ptrdiff_t j = 0; j < C; j++) {
            const __m512d d = _mm512_sub_pd(X[j], m8);
            if (smooth)
                acc2 = lossopt_rows_acc_w8(acc2, d, a->w, j);
            __m512d e = lossopt_exp_v8(d);
            X[j] = e;
            __mmask8 is1 = _mm512_cmp_pd_mask(e, one, _CMP_EQ_OQ);
            c8 = _mm512_mask_add_pd(c8, is1, c8, one);
            s8 = _mm512_mask_add_pd(s8, (__mmask8)~is1, s8, e);
        }
        /* 3. the rows' coefficients */
        lossopt_rows_res8 res8;
        __mmask8 sp = lossopt_rows_coefs8(a, r0 + g, valid, m8, s8, c8, xy, ey, y, acc2,
                                          &res8);
        lossopt_rows_keep8(a, r0 + g, g, valid, sp, m8, s8, c8, &res8, w, &tally);
        /* 4. the outputs of the regular rows */
        const __mmask8 store = valid & (__mmask8)~sp;
        double *orows = out + g * os;
        if (mode == LOSSOPT_ROWS_LOG_SOFTMAX) {
            lossopt_rows_affine8_f64(xrows, xs, orows, os, C, store, one, m8, res8.lz);
            continue;
        }
        if (mode == LOSSOPT_ROWS_LSE || (mode == LOSSOPT_ROWS_CE && !a->want_grad) || !store)
            continue;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += 8) {
            const int w = lossopt_rows_count(C - j0, 8);
            __m512d v[8];
            for (int j = 0; j < 8; j++)
                v[j] = j >= w ? _mm512_setzero_pd()
                     : smooth ? lossopt_rows_smooth_out8(res8.coef, X[j0 + j], res8.sc, a, j0 + j)
                              : _mm512_mul_pd(res8.coef, X[j0 + j]);
            lossopt_rows_store_cols8(v, w, store, orows, os, j0);
        }
        if (mode == LOSSOPT_ROWS_CE)
            lossopt_rows_put_labels(res8.lab, store, a->labels + r0 + g, 0, orows, os);
    }
    return lossopt_rows_result(&tally, w->loss);
}

/* the lower / upper 8 floats of v as doubles */
LOSSOPT_ROWS_INLINE __m512d lossopt_rows_lo8(__m512 v)
{
    return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}

LOSSOPT_ROWS_INLINE __m512d lossopt_rows_hi8(__m512 v)
{
    return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
}

LOSSOPT_ROWS_INLINE __m512 lossopt_rows_join16(__m512d lo, __m512d hi)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)),
                              _mm512_cvtpd_ps(hi), 1);
}

/* exp(x - m) of floats, x - m split exactly into th + tl (the engine's
 * lossopt_diff_lo_f32: tl = 0 outside (-104, 89)); negm = -m */
LOSSOPT_ROWS_INLINE __m512 lossopt_rows_expf_diff(__m512 xv, __m512 m, __m512 negm)
{
    __m512 th = _mm512_sub_ps(xv, m);
    __m512 bp = _mm512_sub_ps(th, xv), ap = _mm512_sub_ps(th, bp);
    __m512 tl = _mm512_add_ps(_mm512_sub_ps(xv, ap), _mm512_sub_ps(negm, bp));
    __mmask16 inr = _mm512_cmp_ps_mask(th, _mm512_set1_ps(-104.0f), _CMP_GT_OQ) &
                    _mm512_cmp_ps_mask(th, _mm512_set1_ps(89.0f), _CMP_LT_OQ);
    return lossopt_expf_v16(th, _mm512_maskz_mov_ps(inr, tl));
}

LOSSOPT_TARGET_V4 static ptrdiff_t lossopt_rows_f32_avx512(
    const lossopt_rows_args *a, const float *x, float *out, ptrdiff_t r0, ptrdiff_t nr,
    const lossopt_rows_arrays *w)
{
    const ptrdiff_t C = a->n_cols, xs = a->xs, os = a->os;
    const int mode = a->mode;
    const int smooth = mode == LOSSOPT_ROWS_CE && a->smoothing != 0.0;
    const __m512 onef = _mm512_set1_ps(1.0f);
    const __m512d one = _mm512_set1_pd(1.0);
    __m512 X[LOSSOPT_ROWS_MAX_C];
    lossopt_rows_tally tally = {0, _mm512_setzero_pd()};
    for (ptrdiff_t g = 0; g < nr; g += 16) {
        const int nv = lossopt_rows_count(nr - g, 16);
        const __mmask16 valid = (__mmask16)lossopt_rows_first(nv);
        const float *xrows = x + g * xs;
        const __m512 m16 = lossopt_rows_columns_f32(xrows, xs, nv, C, X);
        /* exp(th + tl), th + tl = x - m exactly (the engine's two-sum) */
        __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo, c_lo, c_hi;
        /* the counts c in float lanes: integers below 64, exact */
        __m512 c16 = _mm512_setzero_ps();
        __m512 xy = _mm512_setzero_ps(), ey = xy;
        __m512i y_lo = _mm512_setzero_si512(), y_hi = y_lo;
        if (mode == LOSSOPT_ROWS_CE) {
            y_lo = _mm512_maskz_loadu_epi64((__mmask8)valid, a->labels + r0 + g);
            y_hi = _mm512_maskz_loadu_epi64((__mmask8)(valid >> 8), a->labels + r0 + g + 8);
        }
        const __m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), m16);
        if (mode == LOSSOPT_ROWS_CE) {
            xy = lossopt_rows_label_x16(xrows, xs, nv, a->labels + r0 + g, a->ignore_index);
            ey = lossopt_rows_expf_diff(xy, m16, negm);       /* = e at the label */
        }
        /* (CE with label smoothing: acc2 = sum_j w_j (x_j - m), in float64) */
        __m512d acc2_lo = _mm512_setzero_pd(), acc2_hi = acc2_lo;
        const __m512d m_lo = lossopt_rows_lo8(m16), m_hi = lossopt_rows_hi8(m16);
        for (ptrdiff_t j = 0; j < C; j++) {
            if (smooth) {
                acc2_lo = lossopt_rows_acc_w8(acc2_lo, _mm512_sub_pd(lossopt_rows_lo8(X[j]), m_lo),
                                              a->w, j);
                acc2_hi = lossopt_rows_acc_w8(acc2_hi, _mm512_sub_pd(lossopt_rows_hi8(X[j]), m_hi),
                                              a->w, j);
            }
            __m512 e = lossopt_rows_expf_diff(X[j], m16, negm);
            X[j] = e;
            __mmask16 is1 = _mm512_cmp_ps_mask(e, onef, _CMP_EQ_OQ);
            __mmask8 is1_lo = (__mmask8)is1, is1_hi = (__mmask8)(is1 >> 8);
            c16 = _mm512_mask_add_ps(c16, is1, c16, onef);
            s_lo = _mm512_mask_add_pd(s_lo, (__mmask8)~is1_lo, s_lo, lossopt_rows_lo8(e));
            s_hi = _mm512_mask_add_pd(s_hi, (__mmask8)~is1_hi, s_hi, lossopt_rows_hi8(e));
        }
        c_lo = lossopt_rows_lo8(c16);
        c_hi = lossopt_rows_hi8(c16);
        lossopt_rows_res8 rlo, rhi;
        __mmask8 v_lo = (__mmask8)valid, v_hi = (__mmask8)(valid >> 8);
        __mmask8 sp_lo = lossopt_rows_coefs8(a, r0 + g, v_lo, m_lo, s_lo, c_lo,
                                             lossopt_rows_lo8(xy), lossopt_rows_lo8(ey),
                                             y_lo, acc2_lo, &rlo);
        __mmask8 sp_hi = 0;
        if (v_hi)
            sp_hi = lossopt_rows_coefs8(a, r0 + g + 8, v_hi, m_hi, s_hi, c_hi,
                                        lossopt_rows_hi8(xy), lossopt_rows_hi8(ey), y_hi,
                                        acc2_hi, &rhi);
        lossopt_rows_keep8(a, r0 + g, g, v_lo, sp_lo, m_lo, s_lo, c_lo, &rlo, w, &tally);
        if (v_hi)
            lossopt_rows_keep8(a, r0 + g + 8, g + 8, v_hi, sp_hi, m_hi, s_hi, c_hi, &rhi, w,
                               &tally);
        const __mmask16 store16 = valid & (__mmask16)~(sp_lo | ((unsigned)sp_hi << 8));
        if (mode == LOSSOPT_ROWS_LOG_SOFTMAX) {
            lossopt_rows_affine8_f32(xrows, xs, out + g * os, os, C, (__mmask8)store16, one,
                                     m_lo, rlo.lz);
            if (v_hi)
                lossopt_rows_affine8_f32(xrows + 8 * xs, xs, out + (g + 8) * os, os, C,
                                         (__mmask8)(store16 >> 8), one, m_hi, rhi.lz);
            continue;
        }
        if (mode == LOSSOPT_ROWS_LSE || (mode == LOSSOPT_ROWS_CE && !a->want_grad) || !store16)
            continue;
        float *orows = out + g * os;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += 16) {
            const int w = lossopt_rows_count(C - j0, 16);
            const __mmask16 cm = (__mmask16)lossopt_rows_first(w);
            __m512 v[16];
            for (int j = 0; j < 16; j++) {
                if (j >= w) {
                    v[j] = _mm512_setzero_ps();
                    continue;
                }
                const __m512d alo = rlo.coef, ahi = v_hi ? rhi.coef : one;
                const __m512d elo = lossopt_rows_lo8(X[j0 + j]), ehi = lossopt_rows_hi8(X[j0 + j]);
                __m512d glo, ghi;
                if (smooth) {
                    glo = lossopt_rows_smooth_out8(alo, elo, rlo.sc, a, j0 + j);
                    ghi = lossopt_rows_smooth_out8(ahi, ehi, v_hi ? rhi.sc : one, a, j0 + j);
                } else {
                    glo = _mm512_mul_pd(alo, elo);
                    ghi = _mm512_mul_pd(ahi, ehi);
                }
                v[j] = lossopt_rows_join16(glo, ghi);
            }
            lossopt_rows_t16(v);
            for (int r = 0; r < 16; r++)
                if (store16 >> r & 1)
                    _mm512_mask_storeu_ps(orows + r * os + j0, cm, v[r]);
        }
        if (mode == LOSSOPT_ROWS_CE) {
            lossopt_rows_put_labels(rlo.lab, (__mmask8)store16, a->labels + r0 + g, 1, orows, os);
            if (v_hi)
                lossopt_rows_put_labels(rhi.lab, (__mmask8)(store16 >> 8), a->labels + r0 + g + 8,
                                        1, orows + 8 * os, os);
        }
    }
    return lossopt_rows_result(&tally, w->loss);
}

/*
 * Long rows (LOSSOPT_FUSED_ROW_MIN classes or more, a block's rows fitting
 * the buffer e: nr * C <= LOSSOPT_BLOCK_ELEMS), row by row without
 * transposes: per row the maximum (vector lanes, then across them), the
 * exponentials into e (row-major) with their sums s and c in vector lanes
 * (then added across them, a fixed order), then per 8 rows the
 * coefficients as for short rows (lossopt_rows_coefs8), and the outputs row
 * by row: e times the row's coefficient, or (x - m) - lz.
 */
/* the maximum of the row's C entries (NaN ignored, as the short rows'), in
 * four vector lanes' chains (the maximum is exact: any order gives the same
 * value; one chain's latency was the long rows' bottleneck) */
#define LOSSOPT_ROWS_DEFINE_ROW_MAX(T, SFX, G, VT, MASK, MASKLOAD, SET1, MAX, REDUCE)  \
    LOSSOPT_ROWS_INLINE T lossopt_rows_row_max_##SFX(const T *xr, ptrdiff_t C)        \
    {                                                                                \
        VT m0 = SET1(-INFINITY), m1 = m0, m2 = m0, m3 = m0;                          \
        ptrdiff_t j = 0;                                                             \
        for (; j + 4 * G <= C; j += 4 * G) {                                         \
            m0 = MAX(MASKLOAD(m0, (MASK)-1, xr + j), m0);                            \
            m1 = MAX(MASKLOAD(m1, (MASK)-1, xr + j + G), m1);                        \
            m2 = MAX(MASKLOAD(m2, (MASK)-1, xr + j + 2 * G), m2);                    \
            m3 = MAX(MASKLOAD(m3, (MASK)-1, xr + j + 3 * G), m3);                    \
        }                                                                            \
        for (; j < C; j += G) {                                                      \
            const MASK cm = (MASK)lossopt_rows_first(lossopt_rows_count(C - j, G));  \
            m0 = MAX(MASKLOAD(m0, cm, xr + j), m0);                                  \
        }                                                                            \
        return REDUCE(MAX(MAX(m0, m1), MAX(m2, m3)));                                \
    }
LOSSOPT_ROWS_DEFINE_ROW_MAX(double, f64, 8, __m512d, __mmask8, _mm512_mask_loadu_pd,
                            _mm512_set1_pd, _mm512_max_pd, _mm512_reduce_max_pd)
LOSSOPT_ROWS_DEFINE_ROW_MAX(float, f32, 16, __m512, __mmask16, _mm512_mask_loadu_ps,
                            _mm512_set1_ps, _mm512_max_ps, _mm512_reduce_max_ps)

/* the maxima of a block's nr rows (row k at x + k * xs) into mk, all before
 * any row's exponentials, which then need not wait for their row's maximum
 * (its chains' latency and the reduction across the lanes):
 * lossopt_rows_block_maxima_f64 / _f32 */
#define LOSSOPT_ROWS_DEFINE_BLOCK_MAXIMA(T, SFX)                                     \
    LOSSOPT_ROWS_INLINE void lossopt_rows_block_maxima_##SFX(const T *x, ptrdiff_t xs,\
                                                             ptrdiff_t nr, ptrdiff_t C,\
                                                             double *mk)             \
    {                                                                                \
        for (ptrdiff_t k = 0; k < nr; k++)                                           \
            mk[k] = (double)lossopt_rows_row_max_##SFX(x + k * xs, C);               \
    }
LOSSOPT_ROWS_DEFINE_BLOCK_MAXIMA(double, f64)
LOSSOPT_ROWS_DEFINE_BLOCK_MAXIMA(float, f32)

/* the address of p + n elements of size sz as an integer (0 for p NULL):
 * only ever prefetched, which never faults, so it may lie past the array's
 * end, where pointer arithmetic would be undefined */
static inline uintptr_t lossopt_rows_ahead(const void *p, ptrdiff_t n, size_t sz)
{
    return p ? (uintptr_t)p + (uintptr_t)n * sz : 0;
}

/* e = exp(x - m) of one row into er (NULL: not kept), and its sums s (of
 * the e != 1) and c (the number of e == 1, counted as an integer: popcount
 * of the compare masks, off the vector units; the same value as adding
 * ones), float64.  Each line of the row
 * asks for the same line of the next block's x (px) and, where the kernel
 * writes outputs, of its output (po, else 0) to be brought into L1
 * (prefetches never fault, past the array's end included): the block's
 * passes otherwise leave the memory idle while the exponentials run, and
 * the exponentials idle while the outputs' lines are fetched (1e7 values
 * streamed, 100 classes: softmax -16 %, CE -20 % with the lines brought
 * into L2; into L1 then measured a further -8..-16 % for float64 and
 * -8..-24 % for float32, but for the CE at 1000 classes, +3 %). */
LOSSOPT_ROWS_INLINE void lossopt_rows_exp_step_f64(const double *xr, ptrdiff_t j, __mmask8 cm,
                                                   __m512d mb, double *er, uintptr_t px,
                                                   uintptr_t po, __m512d *s8, ptrdiff_t *n1)
{
    const __m512d one = _mm512_set1_pd(1.0);
    _mm_prefetch((const char *)(px + (uintptr_t)j * sizeof *xr), _MM_HINT_T0);
    if (po)
        _mm_prefetch((const char *)(po + (uintptr_t)j * sizeof *xr), _MM_HINT_T0);
    /* x - m <= 0 (or NaN): the exp without its upper clamp */
    __m512d e = lossopt_exp_v8_nonpos(_mm512_sub_pd(_mm512_maskz_loadu_pd(cm, xr + j), mb));
    if (er)
        _mm512_mask_storeu_pd(er + j, cm, e);
    __mmask8 is1 = _mm512_cmp_pd_mask(e, one, _CMP_EQ_OQ);
    *n1 += __builtin_popcount((unsigned)(is1 & cm));
    *s8 = _mm512_mask_add_pd(*s8, (__mmask8)~is1 & cm, *s8, e);
}

LOSSOPT_ROWS_INLINE void lossopt_rows_row_exp_f64(const double *xr, ptrdiff_t C, double m,
                                                  double *er, double *s, double *c,
                                                  uintptr_t px, uintptr_t po)
{
    const __m512d mb = _mm512_set1_pd(m);
    __m512d s8 = _mm512_setzero_pd();
    ptrdiff_t n1 = 0;
    ptrdiff_t j = 0;
    for (; j + 8 <= C; j += 8)          /* full vectors: no mask to compute */
        lossopt_rows_exp_step_f64(xr, j, (__mmask8)0xFF, mb, er, px, po, &s8, &n1);
    if (j < C)
        lossopt_rows_exp_step_f64(xr, j, (__mmask8)lossopt_rows_first((int)(C - j)), mb, er,
                                  px, po, &s8, &n1);
    *s = _mm512_reduce_add_pd(s8);
    *c = (double)n1;
}

/* How a long float row's x - m is split and its exps clamped (split: the
 * bits LOSSOPT_ROWS_SPLIT_*, per row, lossopt_rows_long_maxima_f32):
 * _FAST: Fast2Sum (else the two-sum); _NEAR: every x - m of the row is
 * above -100, so no lane needs the range mask or the exp's lower clamp. */
enum { LOSSOPT_ROWS_SPLIT_FAST = 1, LOSSOPT_ROWS_SPLIT_NEAR = 2 };

/* exp(x - m) of a long row's floats, x - m = th + tl exactly as in
 * lossopt_rows_expf_diff (tl = 0 where th <= -104; th <= 0 or NaN, so the
 * upper bound of the range and the exp's upper clamp change nothing and are
 * left out; where the row is _NEAR, the range mask and the lower clamp
 * change nothing either: the same bits as lossopt_rows_expf_diff in every
 * case).  _FAST where the row's |x| are all below 2^(E(m) + 1): then
 * tl = x - (th + m) exactly (Fast2Sum: 2 operations instead of the
 * two-sum's 5). */
LOSSOPT_ROWS_INLINE __m512 lossopt_rows_expf_long(__m512 xv, __m512 mb, __m512 negm,
                                                  const int split)
{
    const __m512 th = _mm512_sub_ps(xv, mb);
    __m512 tl;
    if (split & LOSSOPT_ROWS_SPLIT_FAST) {
        tl = _mm512_sub_ps(xv, _mm512_add_ps(th, mb));
    } else {
        __m512 bp = _mm512_sub_ps(th, xv), ap = _mm512_sub_ps(th, bp);
        tl = _mm512_add_ps(_mm512_sub_ps(xv, ap), _mm512_sub_ps(negm, bp));
    }
    if (split & LOSSOPT_ROWS_SPLIT_NEAR)
        return lossopt_expf_v16_core(th, tl);
    const __mmask16 inr = _mm512_cmp_ps_mask(th, _mm512_set1_ps(-104.0f), _CMP_GT_OQ);
    return lossopt_expf_v16_nonpos(th, _mm512_maskz_mov_ps(inr, tl));
}

LOSSOPT_ROWS_INLINE void lossopt_rows_exp_step_f32(const float *xr, ptrdiff_t j, __mmask16 cm,
                                                   __m512 mb, __m512 negm, float *er,
                                                   uintptr_t px, uintptr_t po, __m512d *s_lo,
                                                   __m512d *s_hi, ptrdiff_t *n1,
                                                   const int split)
{
    _mm_prefetch((const char *)(px + (uintptr_t)j * sizeof *xr), _MM_HINT_T0);
    if (po)
        _mm_prefetch((const char *)(po + (uintptr_t)j * sizeof *xr), _MM_HINT_T0);
    __m512 e = lossopt_rows_expf_long(_mm512_maskz_loadu_ps(cm, xr + j), mb, negm, split);
    if (er)
        _mm512_mask_storeu_ps(er + j, cm, e);
    __mmask16 is1 = _mm512_cmp_ps_mask(e, _mm512_set1_ps(1.0f), _CMP_EQ_OQ);
    __mmask16 no1 = (__mmask16)~is1 & cm;
    *n1 += __builtin_popcount((unsigned)(is1 & cm));
    *s_lo = _mm512_mask_add_pd(*s_lo, (__mmask8)no1, *s_lo, lossopt_rows_lo8(e));
    *s_hi = _mm512_mask_add_pd(*s_hi, (__mmask8)(no1 >> 8), *s_hi, lossopt_rows_hi8(e));
}

/* The partial sums of a block's float rows whose tail (the last C mod 16
 * entries, 1 to 8 of them) is left for lossopt_rows_tails_f32, which takes
 * the tails of two rows in one vector (row k in lanes 0-7, row k + 1 in
 * lanes 8-15): at 100 classes a row's 7th vector held 4 entries.  The tail's
 * exponentials and sums are the same values in the same lanes and order
 * (s_lo lanes 0..t-1, last) as a vector of its own gives. */
#define LOSSOPT_ROWS_MAX_BLOCK_ROWS (LOSSOPT_BLOCK_ELEMS / LOSSOPT_FUSED_ROW_MIN + 8)
typedef struct {
    __m512d s_lo[LOSSOPT_ROWS_MAX_BLOCK_ROWS], s_hi[LOSSOPT_ROWS_MAX_BLOCK_ROWS];
    ptrdiff_t n1[LOSSOPT_ROWS_MAX_BLOCK_ROWS];
} lossopt_rows_pending;

/* a row's tail is left pending where it fits 8 lanes */
static inline int lossopt_rows_tail_pends(ptrdiff_t C)
{
    return C % 16 != 0 && C % 16 <= 8;
}

/* the row's s and c from its lanes' sums */
LOSSOPT_ROWS_INLINE void lossopt_rows_sums_f32(__m512d s_lo, __m512d s_hi, ptrdiff_t n1,
                                               double *s, double *c)
{
    *s = _mm512_reduce_add_pd(s_lo) + _mm512_reduce_add_pd(s_hi);
    *c = (double)n1;
}

LOSSOPT_ROWS_INLINE void lossopt_rows_row_exp_f32_with(const float *xr, ptrdiff_t C, double m,
                                                       float *er, double *s, double *c,
                                                       uintptr_t px, uintptr_t po,
                                                       const int split,
                                                       lossopt_rows_pending *st, ptrdiff_t k)
{
    const __m512 mb = _mm512_set1_ps((float)m), negm = _mm512_set1_ps(-(float)m);
    __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo;
    ptrdiff_t n1 = 0;
    ptrdiff_t j = 0;
    for (; j + 16 <= C; j += 16)
        lossopt_rows_exp_step_f32(xr, j, (__mmask16)0xFFFF, mb, negm, er, px, po, &s_lo,
                                  &s_hi, &n1, split);
    if (lossopt_rows_tail_pends(C)) {
        st->s_lo[k] = s_lo;
        st->s_hi[k] = s_hi;
        st->n1[k] = n1;
        return;
    }
    if (j < C)
        lossopt_rows_exp_step_f32(xr, j, (__mmask16)lossopt_rows_first((int)(C - j)), mb,
                                  negm, er, px, po, &s_lo, &s_hi, &n1, split);
    lossopt_rows_sums_f32(s_lo, s_hi, n1, s, c);
}

/* The pending tails of the block's rows (e: their exponentials, NULL: not
 * kept; out: the output, NULL: none to prefetch), two rows at a time, then
 * every row's s and c. */
LOSSOPT_ROWS_INLINE void lossopt_rows_tails_f32(const float *x, ptrdiff_t xs, ptrdiff_t nr,
                                                ptrdiff_t C, const double *mk, float *e,
                                                const float *out, ptrdiff_t os,
                                                lossopt_rows_pending *st, double *s, double *c)
{
    if (!lossopt_rows_tail_pends(C))
        return;
    const ptrdiff_t j0 = C - C % 16;
    const __mmask16 lo = (__mmask16)lossopt_rows_first((int)(C - j0));
    for (ptrdiff_t k = 0; k < nr; k += 2) {
        const int two = k + 1 < nr;
        const __mmask16 hi = two ? (__mmask16)(lo << 8) : 0;
        const float *x0 = x + k * xs, *x1 = x0 + (two ? xs : 0);
        for (int r = 0; r <= two; r++) {
            const float *xr = r ? x1 : x0;
            _mm_prefetch((const char *)lossopt_rows_ahead(xr, nr * xs + j0, sizeof *xr),
                         _MM_HINT_T0);
            if (out)
                _mm_prefetch((const char *)lossopt_rows_ahead(out, (nr + k + r) * os + j0,
                                                              sizeof *out), _MM_HINT_T0);
        }
        const float m0 = (float)mk[k], m1 = (float)mk[two ? k + 1 : k];
        const __m512 mb = _mm512_mask_mov_ps(_mm512_set1_ps(m0), hi, _mm512_set1_ps(m1));
        __m512 v = _mm512_maskz_loadu_ps(lo, x0 + j0);
        /* lanes 8.. of the second row's tail: entries j0.. at x1 + j0 - 8 + 8 */
        if (two)
            v = _mm512_mask_loadu_ps(v, hi, x1 + j0 - 8);
        const __m512 ev = lossopt_rows_expf_long(v, mb, _mm512_sub_ps(_mm512_setzero_ps(), mb),
                                                 0);
        if (e) {
            _mm512_mask_storeu_ps(e + k * C + j0, lo, ev);
            if (two)
                _mm512_mask_storeu_ps(e + (k + 1) * C + j0 - 8, hi, ev);
        }
        const __mmask16 is1 = _mm512_cmp_ps_mask(ev, _mm512_set1_ps(1.0f), _CMP_EQ_OQ);
        const __mmask16 no1 = (__mmask16)~is1;
        st->n1[k] += __builtin_popcount((unsigned)(is1 & lo));
        st->s_lo[k] = _mm512_mask_add_pd(st->s_lo[k], (__mmask8)(no1 & lo), st->s_lo[k],
                                         lossopt_rows_lo8(ev));
        lossopt_rows_sums_f32(st->s_lo[k], st->s_hi[k], st->n1[k], &s[k], &c[k]);
        if (two) {
            st->n1[k + 1] += __builtin_popcount((unsigned)(is1 & hi));
            st->s_lo[k + 1] = _mm512_mask_add_pd(st->s_lo[k + 1], (__mmask8)((no1 & hi) >> 8),
                                                 st->s_lo[k + 1], lossopt_rows_hi8(ev));
            lossopt_rows_sums_f32(st->s_lo[k + 1], st->s_hi[k + 1], st->n1[k + 1], &s[k + 1],
                                  &c[k + 1]);
        }
    }
}

/* the f64 rows leave no tail pending */
LOSSOPT_ROWS_INLINE void lossopt_rows_tails_f64(const double *x, ptrdiff_t xs, ptrdiff_t nr,
                                                ptrdiff_t C, const double *mk, double *e,
                                                const double *out, ptrdiff_t os,
                                                lossopt_rows_pending *st, double *s, double *c)
{
    (void)x; (void)xs; (void)nr; (void)C; (void)mk; (void)e; (void)out; (void)os; (void)st;
    (void)s; (void)c;
}

/* the row's exponentials with the split its entries allow (split: see
 * lossopt_rows_long_maxima_f32) */
LOSSOPT_ROWS_INLINE void lossopt_rows_row_exp_f32(const float *xr, ptrdiff_t C, double m,
                                                  float *er, double *s, double *c,
                                                  uintptr_t px, uintptr_t po, int split,
                                                  lossopt_rows_pending *st, ptrdiff_t k)
{
    /* one copy of the loop per split, each with it a constant */
    switch (split) {
    case LOSSOPT_ROWS_SPLIT_FAST | LOSSOPT_ROWS_SPLIT_NEAR:
        lossopt_rows_row_exp_f32_with(xr, C, m, er, s, c, px, po,
                                      LOSSOPT_ROWS_SPLIT_FAST | LOSSOPT_ROWS_SPLIT_NEAR, st, k);
        break;
    case LOSSOPT_ROWS_SPLIT_NEAR:
        lossopt_rows_row_exp_f32_with(xr, C, m, er, s, c, px, po, LOSSOPT_ROWS_SPLIT_NEAR, st,
                                      k);
        break;
    case LOSSOPT_ROWS_SPLIT_FAST:
        lossopt_rows_row_exp_f32_with(xr, C, m, er, s, c, px, po, LOSSOPT_ROWS_SPLIT_FAST, st,
                                      k);
        break;
    default:
        lossopt_rows_row_exp_f32_with(xr, C, m, er, s, c, px, po, 0, st, k);
        break;
    }
}

/* the f64 rows need no split (split ignored) */
LOSSOPT_ROWS_INLINE void lossopt_rows_row_exp_f64_any(const double *xr, ptrdiff_t C, double m,
                                                      double *er, double *s, double *c,
                                                      uintptr_t px, uintptr_t po, int split,
                                                      lossopt_rows_pending *st, ptrdiff_t k)
{
    (void)split; (void)st; (void)k;
    lossopt_rows_row_exp_f64(xr, C, m, er, s, c, px, po);
}

/* The block's row maxima into mk (as lossopt_rows_block_maxima_*) and, per
 * row, the LOSSOPT_ROWS_SPLIT_* bits in f2s[k]: _FAST where every |x| of the
 * row is below 2^(E(m) + 1), E(m) the exponent of a normal m (x <= m, so:
 * the row's minimum above -2^(E(m) + 1); Fast2Sum is then exact); _NEAR
 * where min - m > -100 (in double: exact enough for the margin; false
 * where min is -inf or m +inf).  The minimum ignores NaN as the maximum
 * does.  f64: the maxima only (f2s left alone). */
LOSSOPT_ROWS_INLINE void lossopt_rows_long_maxima_f64(const double *x, ptrdiff_t xs,
                                                      ptrdiff_t nr, ptrdiff_t C, double *mk,
                                                      unsigned char *f2s)
{
    (void)f2s;
    lossopt_rows_block_maxima_f64(x, xs, nr, C, mk);
}

LOSSOPT_ROWS_INLINE void lossopt_rows_long_maxima_f32(const float *x, ptrdiff_t xs,
                                                      ptrdiff_t nr, ptrdiff_t C, double *mk,
                                                      unsigned char *f2s)
{
    for (ptrdiff_t k = 0; k < nr; k++) {
        const float *xr = x + k * xs;
        __m512 a0 = _mm512_set1_ps(-INFINITY), a1 = a0, b0 = _mm512_set1_ps(INFINITY), b1 = b0;
        ptrdiff_t j = 0;
        for (; j + 32 <= C; j += 32) {
            const __m512 u = _mm512_loadu_ps(xr + j), v = _mm512_loadu_ps(xr + j + 16);
            a0 = _mm512_max_ps(u, a0);
            a1 = _mm512_max_ps(v, a1);
            b0 = _mm512_min_ps(u, b0);
            b1 = _mm512_min_ps(v, b1);
        }
        for (; j < C; j += 16) {
            const __mmask16 cm = (__mmask16)lossopt_rows_first(lossopt_rows_count(C - j, 16));
            a0 = _mm512_max_ps(_mm512_mask_loadu_ps(a0, cm, xr + j), a0);
            b0 = _mm512_min_ps(_mm512_mask_loadu_ps(b0, cm, xr + j), b0);
        }
        const float m = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        const float lo = _mm512_reduce_min_ps(_mm512_min_ps(b0, b1));
        mk[k] = (double)m;
        /* 2^(E(m) + 1) from m's exponent bits; m normal and finite only */
        uint32_t bits;
        memcpy(&bits, &m, sizeof bits);
        const uint32_t ex = bits & 0x7F800000u;
        int ok = 0;
        if (ex != 0 && ex < 0x7F000000u) {
            const uint32_t pb = ex + 0x00800000u;
            float p;
            memcpy(&p, &pb, sizeof p);
            if (lo > -p)
                ok = LOSSOPT_ROWS_SPLIT_FAST;
        }
        if ((double)lo - (double)m > -100.0)
            ok |= LOSSOPT_ROWS_SPLIT_NEAR;
        f2s[k] = (unsigned char)ok;
    }
}

/* The long rows' softmax / CE-gradient outputs out = coef_r e of the rows
 * `store` among 8 (row r: e + r * C, out + r * os).
 * f64: the double product (lossopt_rows_affine8_f64).
 * f32: in float arithmetic, 4 operations per 16 values instead of the
 * double product's 12 (conversions both ways): the double coefficient,
 * scaled by 2^24, split into two floats h = fl(2^24 coef), l = fl(2^24 coef
 * - h) (|h + l - 2^24 coef| <= 2^-48 |2^24 coef|), and
 * out = fl(fma(e, h, fl(e l)) 2^-24).  Scaled, e l does not underflow
 * where the output is a normal float; so a normal output is fl(e coef
 * (1 + d)), |d| <= 2^-46, within 0.5 ulp + 2^-46 relative of e coef, as
 * fl32(fl64(e coef)) is (0.5 ulp + 2^-53): the two differ only where e coef
 * lies within 2^-46 relative of a midpoint between floats.  A subnormal
 * output is rounded twice (24 bits, then the subnormal grid): within
 * 0.5 ulp + 2^-47 of e coef.  Measured: tests/test_rows_long_f32.py.  Rows
 * whose coefficient is outside [2^-100, 2^100] (and not 0) take the double
 * product (h would overflow, l lose bits). */
LOSSOPT_ROWS_INLINE void lossopt_rows_scale8_f64(const double *e, ptrdiff_t C, double *out,
                                                 ptrdiff_t os, __mmask8 store, __m512d coef)
{
    lossopt_rows_affine8_f64(e, C, out, os, C, store, coef, _mm512_setzero_pd(),
                             _mm512_setzero_pd());
}

LOSSOPT_ROWS_INLINE void lossopt_rows_scale8_f32(const float *e, ptrdiff_t C, float *out,
                                                 ptrdiff_t os, __mmask8 store, __m512d coef)
{
    const __m512d ac = _mm512_abs_pd(coef);
    const __mmask8 in = _mm512_cmp_pd_mask(ac, _mm512_set1_pd(0x1p-100), _CMP_GE_OQ) &
                        _mm512_cmp_pd_mask(ac, _mm512_set1_pd(0x1p100), _CMP_LE_OQ);
    const __mmask8 ok = store & (in | _mm512_cmp_pd_mask(coef, _mm512_setzero_pd(),
                                                         _CMP_EQ_OQ));
    if (store & (__mmask8)~ok)
        lossopt_rows_affine8_f32(e, C, out, os, C, store & (__mmask8)~ok, coef,
                                 _mm512_setzero_pd(), _mm512_setzero_pd());
    float hs[8], ls[8];
    const __m512d c24 = _mm512_mul_pd(coef, _mm512_set1_pd(0x1p24));   /* exact */
    const __m256 h8 = _mm512_cvtpd_ps(c24);
    _mm256_storeu_ps(hs, h8);
    _mm256_storeu_ps(ls, _mm512_cvtpd_ps(_mm512_sub_pd(c24, _mm512_cvtps_pd(h8))));
    const __m512 down = _mm512_set1_ps(0x1p-24f);
    for (int r = 0; r < 8; r++) {
        if (!(ok >> r & 1))
            continue;
        const float *er = e + r * C;
        float *o = out + r * os;
        const __m512 hb = _mm512_set1_ps(hs[r]), lb = _mm512_set1_ps(ls[r]);
        ptrdiff_t j = 0;
        for (; j + 16 <= C; j += 16) {
            const __m512 v = _mm512_loadu_ps(er + j);
            _mm512_storeu_ps(o + j, _mm512_mul_ps(_mm512_fmadd_ps(v, hb, _mm512_mul_ps(v, lb)),
                                                  down));
        }
        if (j < C) {
            const __mmask16 cm = (__mmask16)lossopt_rows_first((int)(C - j));
            const __m512 v = _mm512_maskz_loadu_ps(cm, er + j);
            _mm512_mask_storeu_ps(o + j, cm, _mm512_mul_ps(_mm512_fmadd_ps(v, hb,
                                                                           _mm512_mul_ps(v, lb)),
                                                           down));
        }
    }
}

/* Long rows, CE with label smoothing (the terms of lossopt_rows_acc_w8 and
 * lossopt_rows_smooth_out8 along a row): lossopt_rows_acc2_*, a row's
 * sum_j w_j (x_j - m) over the w_j != 0, in float64 (vector lanes, then
 * across them: a fixed order); lossopt_rows_smooth8_*, the gradient of the
 * rows `store` among 8 (row r: e + r * C, out + r * os),
 * out_j = alpha_r e_j - sc_r eps_c w_j, in float64, rounded once. */
#define LOSSOPT_ROWS_DEFINE_SMOOTH_LONG(T, SFX, LOAD8, STORE8)                        \
    LOSSOPT_ROWS_INLINE double lossopt_rows_acc2_##SFX(const T *xr, ptrdiff_t C,      \
                                                       double m, const double *w)    \
    {                                                                                \
        const __m512d mb = _mm512_set1_pd(m);                                        \
        __m512d acc = _mm512_setzero_pd();                                           \
        for (ptrdiff_t j = 0; j < C; j += 8) {                                       \
            const __mmask8 cm = (__mmask8)lossopt_rows_first(lossopt_rows_count(C - j, 8));\
            const __m512d d = _mm512_sub_pd(LOAD8(cm, xr + j), mb);                  \
            if (w == NULL) {                                                         \
                acc = _mm512_mask_add_pd(acc, cm, acc, d);                           \
            } else {                                                                 \
                const __m512d wv = _mm512_maskz_loadu_pd(cm, w + j);                 \
                acc = _mm512_mask3_fmadd_pd(wv, d, acc, cm & _mm512_cmp_pd_mask(     \
                    wv, _mm512_setzero_pd(), _CMP_NEQ_UQ));                          \
            }                                                                        \
        }                                                                            \
        return _mm512_reduce_add_pd(acc);                                            \
    }                                                                                \
    LOSSOPT_ROWS_INLINE void lossopt_rows_smooth8_##SFX(                             \
        const T *e, ptrdiff_t C, T *out, ptrdiff_t os, __mmask8 store, __m512d alpha,\
        __m512d sc, const lossopt_rows_args *a)                                      \
    {                                                                                \
        const double eps_c = a->smoothing / (double)C;                               \
        for (int r = 0; r < 8; r++) {                                                \
            if (!(store >> r & 1))                                                   \
                continue;                                                            \
            const __m512i lane = _mm512_set1_epi64(r);                               \
            const __m512d ab = _mm512_permutexvar_pd(lane, alpha);                   \
            const __m512d sb = _mm512_permutexvar_pd(lane, sc);                      \
            const T *er = e + r * C;                                                 \
            T *o = out + r * os;                                                     \
            for (ptrdiff_t j = 0; j < C; j += 8) {                                   \
                const __mmask8 cm = (__mmask8)lossopt_rows_first(lossopt_rows_count(C - j, 8));\
                const __m512d cj = a->w ? _mm512_mul_pd(_mm512_set1_pd(eps_c),       \
                                                        _mm512_maskz_loadu_pd(cm, a->w + j))\
                                        : _mm512_set1_pd(eps_c);                     \
                STORE8(o + j, cm, _mm512_fnmadd_pd(sb, cj,                           \
                                                   _mm512_mul_pd(ab, LOAD8(cm, er + j))));\
            }                                                                        \
        }                                                                            \
    }
LOSSOPT_ROWS_DEFINE_SMOOTH_LONG(double, f64, LOSSOPT_ROWS_LOAD8_F64, LOSSOPT_ROWS_STORE8_F64)
LOSSOPT_ROWS_DEFINE_SMOOTH_LONG(float, f32, LOSSOPT_ROWS_LOAD8_F32, LOSSOPT_ROWS_STORE8_F32)

/* the long-row kernels, lossopt_rows_long_f64 and _f32 (e: the block's
 * exponentials, nr * C values of T) */
#define LOSSOPT_ROWS_DEFINE_LONG(T, SFX, ROW_EXP)                                    \
    LOSSOPT_ROWS_INLINE ptrdiff_t lossopt_rows_long_body_##SFX(                      \
        const lossopt_rows_args *a, const T *x, T *out, ptrdiff_t r0, ptrdiff_t nr,  \
        T *e, const lossopt_rows_arrays *w, const int mode)                          \
    {                                                                                \
        const ptrdiff_t C = a->n_cols, xs = a->xs, os = a->os;                       \
        double xy[LOSSOPT_BLOCK_ELEMS / LOSSOPT_FUSED_ROW_MIN + 8];                   \
        double ey[LOSSOPT_BLOCK_ELEMS / LOSSOPT_FUSED_ROW_MIN + 8];                   \
        double acc2[LOSSOPT_BLOCK_ELEMS / LOSSOPT_FUSED_ROW_MIN + 8];                 \
        const int smooth = mode == LOSSOPT_ROWS_CE && a->smoothing != 0.0;           \
        lossopt_rows_tally tally = {0, _mm512_setzero_pd()};                         \
        unsigned char f2s[LOSSOPT_BLOCK_ELEMS / LOSSOPT_FUSED_ROW_MIN + 8];            \
        lossopt_rows_pending st;                                                      \
        lossopt_rows_long_maxima_##SFX(x, xs, nr, C, w->m, f2s);  /* maxima first */\
        for (ptrdiff_t k = 0; k < nr; k++) {                                         \
            const T *xr = x + k * xs;                                                \
            const double m = w->m[k];                                                \
            const uintptr_t px = lossopt_rows_ahead(xr, nr * xs, sizeof(T));         \
            const uintptr_t po = lossopt_rows_ahead(out, (nr + k) * os, sizeof(T));  \
            /* the exponentials kept only where an output is made of them */        \
            if (mode == LOSSOPT_ROWS_LSE)                                            \
                ROW_EXP(xr, C, m, NULL, &w->s[k], &w->c[k], px, 0, f2s[k], &st, k);  \
            else if (mode == LOSSOPT_ROWS_LOG_SOFTMAX)                               \
                ROW_EXP(xr, C, m, NULL, &w->s[k], &w->c[k], px, po, f2s[k], &st, k); \
            else                                                                     \
                ROW_EXP(xr, C, m, e + k * C, &w->s[k], &w->c[k], px, po, f2s[k], &st, k);\
        }                                                                            \
        lossopt_rows_tails_##SFX(x, xs, nr, C, w->m,                                 \
                                 mode == LOSSOPT_ROWS_LSE || mode == LOSSOPT_ROWS_LOG_SOFTMAX\
                                     ? NULL : e,                                     \
                                 mode == LOSSOPT_ROWS_LSE ? NULL : out, os, &st, w->s, w->c);\
        for (ptrdiff_t k = 0; mode == LOSSOPT_ROWS_CE && k < nr; k++) {              \
            const ptrdiff_t y = a->labels[r0 + k];                                   \
            const ptrdiff_t yy = y == a->ignore_index ? 0 : y;                       \
            xy[k] = (double)x[k * xs + yy];                                          \
            ey[k] = (double)e[k * C + yy];                                           \
            if (smooth)       /* (the block's rows are in cache after the exps) */   \
                acc2[k] = lossopt_rows_acc2_##SFX(x + k * xs, C, w->m[k], a->w);     \
        }                                                                            \
        for (ptrdiff_t g = 0; g < nr; g += 8) {                                      \
            const __mmask8 valid = (__mmask8)lossopt_rows_first(lossopt_rows_count(nr - g, 8));\
            lossopt_rows_res8 res8;                                                  \
            __m512i y = _mm512_setzero_si512();                                      \
            __m512d xy8 = _mm512_setzero_pd(), ey8 = xy8;                            \
            const __m512d m8 = _mm512_maskz_loadu_pd(valid, w->m + g);                \
            const __m512d s8 = _mm512_maskz_loadu_pd(valid, w->s + g);                \
            const __m512d c8 = _mm512_maskz_loadu_pd(valid, w->c + g);                \
            if (mode == LOSSOPT_ROWS_CE) {                                           \
                y = _mm512_maskz_loadu_epi64(valid, a->labels + r0 + g);             \
                xy8 = _mm512_maskz_loadu_pd(valid, xy + g);                          \
                ey8 = _mm512_maskz_loadu_pd(valid, ey + g);                          \
            }                                                                        \
            const __m512d acc28 = smooth ? _mm512_maskz_loadu_pd(valid, acc2 + g)     \
                                         : _mm512_setzero_pd();                      \
            __mmask8 sp = lossopt_rows_coefs8(a, r0 + g, valid, m8, s8, c8, xy8, ey8, y,\
                                              acc28, &res8);                         \
            lossopt_rows_keep8(a, r0 + g, g, valid, sp, m8, s8, c8, &res8, w, &tally); \
            const __mmask8 store = valid & (__mmask8)~sp;                            \
            if (!store || mode == LOSSOPT_ROWS_LSE ||                                \
                    (mode == LOSSOPT_ROWS_CE && !a->want_grad))                      \
                continue;                                                            \
            if (mode == LOSSOPT_ROWS_LOG_SOFTMAX) {                                  \
                /* (in double, rounded once: float arithmetic from the split \
                 * x - m = th + tl and lz = L + ll measured 1.03 ulp against \
                 * 0.81 and 2-6 % faster; accuracy does not drop) */         \
                lossopt_rows_affine8_##SFX(x + g * xs, xs, out + g * os, os, C, store,  \
                                           _mm512_set1_pd(1.0), m8, res8.lz);        \
                continue;                                                            \
            }                                                                        \
            if (smooth)                                                              \
                lossopt_rows_smooth8_##SFX(e + g * C, C, out + g * os, os, store, res8.coef,\
                                           res8.sc, a);                              \
            else                                                                     \
                lossopt_rows_scale8_##SFX(e + g * C, C, out + g * os, os, store, res8.coef);\
            if (mode == LOSSOPT_ROWS_CE)                                             \
                lossopt_rows_put_labels(res8.lab, store, a->labels + r0 + g,         \
                                        sizeof(T) == sizeof(float), out + g * os, os);\
        }                                                                            \
        return lossopt_rows_result(&tally, w->loss);                                    \
    }                                                                                \
    /* one copy of the body per mode, each compiled with its mode a constant */     \
    LOSSOPT_TARGET_V4 static ptrdiff_t lossopt_rows_long_##SFX(                      \
        const lossopt_rows_args *a, const T *x, T *out, ptrdiff_t r0, ptrdiff_t nr,  \
        T *e, const lossopt_rows_arrays *w)                                          \
    {                                                                                \
        switch (a->mode) {                                                           \
        case LOSSOPT_ROWS_LSE:                                                       \
            return lossopt_rows_long_body_##SFX(a, x, out, r0, nr, e, w, LOSSOPT_ROWS_LSE);\
        case LOSSOPT_ROWS_SOFTMAX:                                                   \
            return lossopt_rows_long_body_##SFX(a, x, out, r0, nr, e, w,             \
                                                LOSSOPT_ROWS_SOFTMAX);               \
        case LOSSOPT_ROWS_LOG_SOFTMAX:                                               \
            return lossopt_rows_long_body_##SFX(a, x, out, r0, nr, e, w,             \
                                                LOSSOPT_ROWS_LOG_SOFTMAX);           \
        default:                                                                     \
            return lossopt_rows_long_body_##SFX(a, x, out, r0, nr, e, w, LOSSOPT_ROWS_CE);\
        }                                                                            \
    }
LOSSOPT_ROWS_DEFINE_LONG(double, f64, lossopt_rows_row_exp_f64_any)
LOSSOPT_ROWS_DEFINE_LONG(float, f32, lossopt_rows_row_exp_f32)

#endif  /* LOSSOPT_HAVE_DISPATCH */

/*
 * The rows r0 .. r0 + nr - 1 of a block (x and out at the block's first row;
 * out NULL for logsumexp and the cross-entropy without gradient; e: a
 * buffer of LOSSOPT_BLOCK_ELEMS values of the data's type): the
 * regular rows' outputs, for every row special (1: left to the engine) and
 * (CE) its weighted loss rl, and m, s, c, lz for the special rows (the
 * values of the others' may be left unwritten).  *loss: the regular rows'
 * weighted losses summed (CE): the rows k mod 8 of the block in lane k of a
 * vector, then the lanes in order (a fixed order for a given block).
 * Returns the number of special rows, or -1 where there is no such kernel
 * (the engine then does all).
 */
/* Rows with a `where` mask (logsumexp, softmax, log_softmax): the block's
 * rows copied into tile (nr rows of C, contiguous) with the absent entries
 * (mask 0) as -inf, which the kernels above then take as plain rows: an
 * absent entry adds exp(-inf) = 0 to the sums (whatever x holds there, NaN
 * and +inf included), its softmax output is 0 and its log_softmax output
 * -inf, the engine's values for an absent entry; rows with no entry
 * present have the maximum -inf and are left to the engine.  A row with a
 * NaN among its present entries (nan_rows[k] = 1; the number of them is
 * returned) gets NaN in every output from the kernels, the absent entries
 * included: the caller puts those back to 0 / -inf, as the engine does.  The copy
 * stays in L1 (at most LOSSOPT_BLOCK_ELEMS values), so the mask costs one
 * pass over it instead of the engine's five passes.
 * lossopt_rows_masked_copy_f64 / _f32. */
#if LOSSOPT_HAVE_DISPATCH
/* (x86-64-v4 only, as the kernels: the mask bytes of G entries tested into
 * a lane mask, x loaded under it over a vector of -inf) */
#define LOSSOPT_ROWS_DEFINE_MASKED_COPY(T, SFX, G, MASK, SET1, MASKLOAD, STORE, CMP)  \
    LOSSOPT_TARGET_V4 static ptrdiff_t lossopt_rows_masked_copy_##SFX(               \
        const T *x, ptrdiff_t xs, const unsigned char *mask, ptrdiff_t ms,           \
        ptrdiff_t nr, ptrdiff_t C, T *tile, double *nan_rows)                        \
    {                                                                                \
        const __m128i none = _mm_setzero_si128();                                    \
        ptrdiff_t n_nan = 0;                                                         \
        for (ptrdiff_t k = 0; k < nr; k++) {                                         \
            const T *xr = x + k * xs;                                                \
            const unsigned char *mr = mask + k * ms;                                 \
            T *t = tile + k * C;                                                     \
            MASK nan = 0;                                                            \
            for (ptrdiff_t j = 0; j < C; j += G) {                                   \
                const MASK cm = (MASK)lossopt_rows_first(lossopt_rows_count(C - j, G));\
                const __m128i mb = _mm_maskz_loadu_epi8((__mmask16)cm, mr + j);      \
                const MASK present = (MASK)_mm_cmpneq_epi8_mask(mb, none);           \
                const __typeof__(SET1(0)) v = MASKLOAD(SET1((T)-INFINITY), present, xr + j);\
                nan |= CMP(v, v, _CMP_UNORD_Q);                                      \
                STORE(t + j, cm, v);                                                 \
            }                                                                        \
            nan_rows[k] = nan ? 1.0 : 0.0;                                           \
            n_nan += nan != 0;                                                       \
        }                                                                            \
        return n_nan;                                                                \
    }
LOSSOPT_ROWS_DEFINE_MASKED_COPY(double, f64, 8, __mmask8, _mm512_set1_pd, _mm512_mask_loadu_pd,
                                _mm512_mask_storeu_pd, _mm512_cmp_pd_mask)
LOSSOPT_ROWS_DEFINE_MASKED_COPY(float, f32, 16, __mmask16, _mm512_set1_ps, _mm512_mask_loadu_ps,
                                _mm512_mask_storeu_ps, _mm512_cmp_ps_mask)
#else
/* (no kernels to feed: never called) */
static inline ptrdiff_t lossopt_rows_masked_copy_f64(const double *x, ptrdiff_t xs,
    const unsigned char *mask, ptrdiff_t ms, ptrdiff_t nr, ptrdiff_t C, double *tile,
    double *nan_rows)
{
    (void)x; (void)xs; (void)mask; (void)ms; (void)nr; (void)C; (void)tile; (void)nan_rows;
    return 0;
}
static inline ptrdiff_t lossopt_rows_masked_copy_f32(const float *x, ptrdiff_t xs,
    const unsigned char *mask, ptrdiff_t ms, ptrdiff_t nr, ptrdiff_t C, float *tile,
    double *nan_rows)
{
    (void)x; (void)xs; (void)mask; (void)ms; (void)nr; (void)C; (void)tile; (void)nan_rows;
    return 0;
}
#endif

enum { LOSSOPT_ROWS_NONE = 0, LOSSOPT_ROWS_SHORT = 1, LOSSOPT_ROWS_LONG = 2 };

/* Which kernel takes a block of nr rows of n_cols values (LOSSOPT_ROWS_*):
 * the short-row one for C < LOSSOPT_ROWS_MAX_C, the long-row one while the
 * block fits the buffer (the engine up to 256 classes of float64 before the
 * long rows' maxima went first and the next block's lines were prefetched:
 * it is now 35 % slower at 1000 classes), none off the x86-64-v4 path. */
static int lossopt_rows_kernel_for(int is_float, ptrdiff_t n_cols, ptrdiff_t nr)
{
#if LOSSOPT_HAVE_DISPATCH
    if (lossopt_isa_level() != LOSSOPT_ISA_V4 || n_cols < 1)
        return LOSSOPT_ROWS_NONE;
    if (n_cols <= LOSSOPT_ROWS_MAX_C)
        return LOSSOPT_ROWS_SHORT;
    if (nr * n_cols <= LOSSOPT_BLOCK_ELEMS)
        return LOSSOPT_ROWS_LONG;
#endif
    (void)is_float; (void)n_cols; (void)nr;
    return LOSSOPT_ROWS_NONE;
}

static ptrdiff_t lossopt_rows_short(int is_float, const lossopt_rows_args *a, const void *x,
                                    void *out, ptrdiff_t r0, ptrdiff_t nr, void *e,
                                    double *m, double *s, double *c, double *lz, double *rl,
                                    double *special, double *loss)
{
#if LOSSOPT_HAVE_DISPATCH
    const lossopt_rows_arrays w = {m, s, c, lz, rl, special, loss};
    switch (lossopt_rows_kernel_for(is_float, a->n_cols, nr)) {
    case LOSSOPT_ROWS_SHORT:
        if (is_float)
            return lossopt_rows_f32_avx512(a, (const float *)x, (float *)out, r0, nr, &w);
        return lossopt_rows_f64_avx512(a, (const double *)x, (double *)out, r0, nr, &w);
    case LOSSOPT_ROWS_LONG:
        if (is_float)
            return lossopt_rows_long_f32(a, (const float *)x, (float *)out, r0, nr, (float *)e,
                                         &w);
        return lossopt_rows_long_f64(a, (const double *)x, (double *)out, r0, nr, (double *)e,
                                     &w);
    default:
        break;
    }
#endif
    (void)is_float; (void)a; (void)x; (void)out; (void)r0; (void)nr; (void)e; (void)m;
    (void)s; (void)c; (void)lz; (void)rl; (void)special; (void)loss;
    return -1;
}

#endif /* LOSSOPT_ROWS_H */
