# cython: language_level=3, cdivision=True, initializedcheck=False
"""Row-wise log-sum-exp family: logsumexp, softmax, log_softmax and the fused
softmax cross-entropy loss + gradient.

All four run on one engine.  A kernel sees a 2-D array of rows (the reduced
axis last, unit stride) and processes it in blocks of rows:

1. per row: the maximum m over the entries that are present (not masked by
   `where`, and with b != 0 for logsumexp), and a flag for rows whose maximum
   is not finite (all entries -inf or absent, a +inf, or a NaN);
2. the shifted values t = x - m of the whole block are written into one
   buffer of at most BLOCK_ELEMS values (of the data's type; float data gets
   a float exp) and exponentiated in one vectorised sweep: a 10-class row is
   too short to vectorise on its own, so rows shorter than 64 are even taken
   column by column across the block; rows longer than the buffer go through
   it in chunks;
3. per row: s = sum of e = exp(t) over the entries with e != 1 and c = the
   number of entries with e == 1 (the maxima), then, for the whole block in
   one vectorised sweep, lz = log(c + s) = log1p(s / c) + log1p(c - 1).
   Keeping the maxima out of s keeps full precision when the other terms are
   far below one ulp of c (the scheme of scipy.special.logsumexp).  For the
   KL divergence, the targets' sum t log t per row, in one vectorised sweep
   over the block's targets;
4. per row: the result -- lse, probabilities, log-probabilities or the loss
   and its gradient -- written once.  The exponentials of a row that fits the
   buffer are still there; a longer row recomputes them chunk by chunk (its
   output may be its input, so nothing is stored in the output early).

The inner loops (row maxima, shifts, exp, log1p, sums) are the vectorised C
helpers of lossopt_math.h.

Rows without b or probability targets (with or without `where`, with or
without label smoothing) that fit the buffer take a shortcut on the
x86-64-v4 path (short_rows, lossopt_rows.h; `where` by a copy of the block
with the absent entries -inf): rows of fewer than 64 classes in one pass, 8 / 16 rows at
a time transposed in registers, longer rows row by row; the results are
those of steps 1-4, and the rows they leave (a maximum that is not finite,
an ignored label, weight 0) get the per-row formulas below.  The short rows
pass through registers, not the buffer, so without `where` their blocks
hold 512 rows (block_rows): fewer blocks, and whole groups of 8 / 16 rows
(2048 // C rows left a partial group at most C; 1e7 values, 1 thread: 1-6 %
faster at 10 classes, 3-12 % for float32 at 50).

Sums are accumulated in float64 whatever the data type.  Reductions over rows
are summed per block, and the block sums are combined in block order, so the
result is the same bit for bit on any number of threads.

Row flags (the maximum is not finite):

* ``ROW_NAN``: a present entry is NaN and the maximum is not finite (with a
  finite maximum NaN propagates through the sums on its own): every output of
  the row is NaN;
* ``ROW_NEG_INF``: every present entry is -inf, or none is present: lse is
  -inf, softmax 0, log_softmax -inf, cross-entropy loss 0 and gradient 0;
* ``ROW_POS_INF``: a +inf entry: lse +inf, softmax NaN (as scipy),
  log_softmax x - inf (as scipy), cross-entropy NaN;
* ``ROW_IGNORED``: cross-entropy row whose label is ignore_index.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport log, log1p, exp, fabs, INFINITY, NAN, isfinite
from libc.stdlib cimport malloc, free

import numpy as np

from _common cimport (floating, BLOCK_ELEMS, lossopt_exp_array, lossopt_expf_array,
                      lossopt_log1p_array, lossopt_log, lossopt_log_sum_block, rows_max,
                      rows_exp_sum, row_max_b, row_exp_sum_b, block_exp_sum, block_out, rows_from_columns, block_log_softmax, ce_label_rows, grad_row,
                      lossopt_softmax_rows_coefs, probs_rows, lse_b_rows, WS_STRIDE,
                      lossopt_xlogx_flat_f64, lossopt_xlogx_flat_f32,
                      PROBS_WS_DOUBLES, PROBS_M, PROBS_S, PROBS_C, PROBS_LZ, PROBS_RL,
                      PROBS_XL, PROBS_SPECIAL, LSE_B_WS_DOUBLES, LSE_B_M, LSE_B_S,
                      LSE_B_C, LSE_B_RES, LSE_B_SIGN, LSE_B_SPECIAL,
                      log_softmax_row, coef_sums, rows_xlogx, FUSED_ROW_MIN,
                      threads_for, n_blocks_of, sum_in_order, row_stride,
                      PARALLEL_MIN_EXP_ELEMS)


cdef extern from "lossopt_rows.h" nogil:
    enum: LOSSOPT_ROWS_SHORT
    ctypedef struct lossopt_rows_args:
        int mode
        Py_ssize_t n_cols, xs, os
        const Py_ssize_t *labels
        Py_ssize_t ignore_index
        const double *w
        double wsum
        const double *sw
        double grad_scale
        double smoothing
        int want_grad
        double *row_value
    Py_ssize_t lossopt_rows_short(int is_float, const lossopt_rows_args *a, const void *x,
                                  void *out, Py_ssize_t r0, Py_ssize_t nr, void *e, double *m,
                                  double *s, double *c, double *lz, double *rl,
                                  double *special, double *loss)
    int lossopt_rows_kernel_for(int is_float, Py_ssize_t n_cols, Py_ssize_t nr)
    Py_ssize_t lossopt_rows_masked_copy_f64(const double *x, Py_ssize_t xs,
                                            const unsigned char *mask, Py_ssize_t ms,
                                            Py_ssize_t nr, Py_ssize_t C, double *tile,
                                            double *nan_rows)
    Py_ssize_t lossopt_rows_masked_copy_f32(const float *x, Py_ssize_t xs,
                                            const unsigned char *mask, Py_ssize_t ms,
                                            Py_ssize_t nr, Py_ssize_t C, float *tile,
                                            double *nan_rows)


cdef extern from "lossopt_cols.h" nogil:
    int lossopt_cols_available()
    void lossopt_cols_range(int is_float, int mode, const void *x, void *out, Py_ssize_t C,
                            Py_ssize_t B, Py_ssize_t a, Py_ssize_t i0, Py_ssize_t i1,
                            double *lse, unsigned char *special)


cdef extern from "lossopt_probs.h" nogil:
    int lossopt_probs_kernel_for(Py_ssize_t n_cols, int lse_b, int has_mask)


# rows per block of the plain short rows (block_rows); at most BLOCK_ELEMS,
# the length of the per-row arrays of the workspace.  512: as fast as 2048
# (measured at 10 and 50 classes) with 4 x the blocks for the threads to share
cdef enum:
    SHORT_BLOCK_ROWS = 512

cdef enum:
    MODE_LSE = 0
    MODE_SOFTMAX = 1
    MODE_LOG_SOFTMAX = 2
    MODE_CE_LABELS = 3
    MODE_CE_PROBS = 4

cdef enum:
    ROW_FINITE = 0
    ROW_NAN = 1
    ROW_NEG_INF = 2
    ROW_POS_INF = 3
    ROW_IGNORED = 4

# per-thread workspace: the exp buffer, five per-row arrays (m, flag, s, c, lz),
# for the KL divergence the targets' sum t log t per row and its buffer, and
# the short rows' per-row output coefficients (Deferred: three arrays and skip).
# short_rows (the kernels of lossopt_rows.h) uses the buffer and the five
# per-row arrays, the t log t array for the row losses, and with a where=
# mask the t log t buffer (rtmp) as the block's masked copy and the first
# Deferred array (alpha) as its per-row NaN flags: nothing else runs on them
# meanwhile
cdef enum:
    WS_ARRAYS = 12


cdef struct Deferred:
    # Short rows (fewer than FUSED_ROW_MIN classes, exponentials column-major
    # in the block buffer): the finalize functions leave the rows of finite
    # results to one vectorised pass over the block (block_out /
    # block_log_softmax) and only record each row's coefficients here; a row
    # they write themselves (flags, weight 0, masked log_softmax) gets skip.
    Py_ssize_t k              # the row's index in its block
    Py_ssize_t nr             # rows in the block
    double *alpha
    double *beta
    double *lab               # cross-entropy with labels: the label entry's gradient
    double *skip


cdef struct RowArgs:
    int mode
    Py_ssize_t n_rows
    Py_ssize_t n_cols
    Py_ssize_t rows_per_block
    # strides of the 2-D inputs/outputs, in elements (the inner stride is 1)
    Py_ssize_t x_stride
    Py_ssize_t out_stride
    Py_ssize_t probs_stride
    Py_ssize_t mask_stride
    Py_ssize_t b_stride
    const unsigned char *mask      # `where`; NULL = every entry present
    const void *b                  # logsumexp scale factors, of the data's type; NULL = ones
    const Py_ssize_t *labels       # cross-entropy class labels
    Py_ssize_t ignore_index
    const double *class_weight     # NULL = ones
    double class_weight_sum
    const double *sample_weight    # NULL = ones
    double smoothing
    bint kl                        # probability targets: KL divergence, not cross-entropy
    double grad_scale
    bint want_grad
    double *row_value              # lse per row / weighted loss per row; may be NULL
    double *row_sign               # lse sign per row; may be NULL
    double *block_loss             # cross-entropy partial sum per block; may be NULL


cdef inline double b_at(const RowArgs *a, const floating *xr, Py_ssize_t i,
                       Py_ssize_t j) noexcept nogil:
    """logsumexp's b_ij (b has the type of the data x, whose row xr only tells
    the type)."""
    return (<const floating *>a.b)[i * a.b_stride + j]


cdef inline bint is_present(const RowArgs *a, const floating *xr, Py_ssize_t i,
                            Py_ssize_t j) noexcept nogil:
    if a.mask != NULL and a.mask[i * a.mask_stride + j] == 0:
        return False
    if a.b != NULL and b_at(a, xr, i, j) == 0.0:
        return False
    return True


cdef inline double direct_lse(const RowArgs *a, const floating *xr, Py_ssize_t i,
                              double *sign) noexcept nogil:
    """log|sum b exp(x)| evaluated literally, for rows whose result is not finite
    (infinities, NaN, nothing present); this is what scipy falls back to."""
    cdef double total = 0.0, bj = 1.0
    cdef Py_ssize_t j
    for j in range(a.n_cols):
        if is_present(a, xr, i, j):
            if a.b != NULL:
                bj = b_at(a, xr, i, j)
            total += bj * exp(<double>xr[j])
    if total > 0:
        sign[0] = 1.0
    elif total < 0:
        sign[0] = -1.0
        if a.row_sign == NULL:
            return NAN                 # a negative sum without return_sign
    elif total == 0:
        sign[0] = 0.0
    else:
        sign[0] = NAN
    return log(fabs(total))


cdef inline double masked_max(const RowArgs *a, const floating *xr, Py_ssize_t i) noexcept nogil:
    cdef double m = -INFINITY, v
    cdef Py_ssize_t j
    for j in range(a.n_cols):
        if is_present(a, xr, i, j):
            v = xr[j]
            m = v if v > m else m
    return m


cdef inline int row_flag(const RowArgs *a, const floating *xr, Py_ssize_t i,
                         double m) noexcept nogil:
    """The row's flag, given its maximum m; for logsumexp rows whose maximum is
    not finite, also writes their (literal) result."""
    cdef Py_ssize_t j
    cdef int flag
    cdef double sign
    if a.mode == MODE_CE_LABELS and a.labels[i] == a.ignore_index:
        return ROW_IGNORED
    if isfinite(m):
        return ROW_FINITE
    flag = ROW_POS_INF if m > 0 else ROW_NEG_INF
    for j in range(a.n_cols):
        if xr[j] != xr[j] and is_present(a, xr, i, j):
            flag = ROW_NAN
            break
    if a.mode == MODE_LSE:
        a.row_value[i] = direct_lse(a, xr, i, &sign)
        if a.row_sign != NULL:
            a.row_sign[i] = sign
    return flag


cdef inline void exp_row(const RowArgs *a, const floating *xr, Py_ssize_t i, Py_ssize_t j0,
                         Py_ssize_t n, double m, floating *e, double *s,
                         double *c) noexcept nogil:
    """e[j] = exp(x[j0 + j] - m) for the present entries (0 for the others), and
    the sums of e (weighted by b for logsumexp with b)."""
    cdef const unsigned char *mask = NULL
    if a.mask != NULL:
        mask = a.mask + i * a.mask_stride + j0
    if a.b == NULL:
        rows_exp_sum(xr + j0, 0, mask, 0, 1, n, &m, e, s, c)
    else:
        # logsumexp with b: entries with b == 0 absent, exp in double
        row_exp_sum_b(xr + j0, mask, <const floating *>a.b + i * a.b_stride + j0, n, m, e,
                      s, c)


cdef inline const floating *exp_chunk(const RowArgs *a, const floating *xr, Py_ssize_t i,
                                      Py_ssize_t j0, Py_ssize_t n, double m,
                                      const floating *e, floating *buf) noexcept nogil:
    """exp(x - m) for columns [j0, j0 + n): from the block buffer when the row
    is still there (e != NULL), else recomputed into buf."""
    cdef double s = 0.0, c = 0.0
    if e != NULL:
        return e + j0
    exp_row(a, xr, i, j0, n, m, buf, &s, &c)
    return buf


cdef inline double one_minus_p(double e, double inv, double s, double c) noexcept nogil:
    """1 - p for an entry with exponential e, where p = e / (c + s).  For a
    maximum (e == 1) it is the sum of the other terms over the total, which
    keeps its precision when p rounds to 1."""
    if e == 1.0:
        return ((c - 1.0) + s) * inv
    return 1.0 - e * inv


cdef inline void fill_row(floating *outr, Py_ssize_t n, double v) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        outr[j] = <floating>v


cdef inline void finalize_lse(const RowArgs *a, const floating *xr, Py_ssize_t i, double m,
                              double s, double c, double lz) noexcept nogil:
    cdef double res, sg = 1.0
    cdef bint cancelled = False
    if a.b == NULL:
        res = lz + m
    elif c == 0.0:
        # the weights of the maxima cancel (c = 0, m finite): the sum is
        # e^m s, s the other entries' sum b e^(x - m), so log|s| + m with
        # sign(s), and -inf with sign 0 where s is 0 too -- not the literal
        # sum, which overflows to inf - inf = NaN for large x (scipy 1.17
        # returns that NaN; this is the value of the sum)
        sg = 1.0 if s > 0 else (-1.0 if s < 0 else (0.0 if s == 0 else NAN))
        res = log(fabs(s)) + m
        cancelled = s == 0.0
    else:
        # scipy's formula with signed weights: s/c, sign, log1p(s/c) + log|c| + m
        if s != 0.0:
            s = s / c
        sg = (1.0 if s + 1.0 > 0 else (-1.0 if s + 1.0 < 0 else 0.0))
        sg = sg * (1.0 if c > 0 else (-1.0 if c < 0 else 0.0))
        if s < -1.0:
            s = -s - 2.0
        res = log1p(s) + log(fabs(c)) + m
    if not isfinite(res) and not cancelled:
        res = direct_lse(a, xr, i, &sg)
    elif sg < 0 and a.row_sign == NULL:
        res = NAN
    a.row_value[i] = res
    if a.row_sign != NULL:
        a.row_sign[i] = sg


cdef inline void defer(Deferred *d, double alpha, double beta) noexcept nogil:
    d.alpha[d.k] = alpha
    d.beta[d.k] = beta
    d.skip[d.k] = 0


cdef inline void mask_row(const RowArgs *a, floating *outr, Py_ssize_t i) noexcept nogil:
    """Masked entries are absent: 0 / -inf even in a row holding NaN or +inf."""
    cdef Py_ssize_t j
    cdef const unsigned char *mr = a.mask + i * a.mask_stride
    for j in range(a.n_cols):
        if mr[j] == 0:
            outr[j] = <floating>(0.0 if a.mode == MODE_SOFTMAX else -INFINITY)


cdef inline void finalize_softmax(const RowArgs *a, const floating *xr, floating *outr,
                                  Py_ssize_t i, double m, int flag, double s, double c,
                                  double lz, const floating *e, floating *buf,
                                  Deferred *d) noexcept nogil:
    """softmax / log_softmax of row i into outr (or its coefficients into d)."""
    row_softmax(a, xr, outr, i, m, flag, s, c, lz, e, buf, d)
    if a.mask != NULL and (d == NULL or d.skip[d.k]):
        mask_row(a, outr, i)


cdef inline void row_softmax(const RowArgs *a, const floating *xr, floating *outr,
                             Py_ssize_t i, double m, int flag, double s, double c,
                             double lz, const floating *e, floating *buf,
                             Deferred *d) noexcept nogil:
    cdef Py_ssize_t j, j0, n, C = a.n_cols
    cdef double inv, lzv
    cdef const floating *ech
    if d != NULL:
        d.skip[d.k] = 1
    if a.mode == MODE_SOFTMAX:
        if flag != ROW_FINITE:
            fill_row(outr, C, 0.0 if flag == ROW_NEG_INF else NAN)
            return
        inv = 1.0 / (c + s)
        if d != NULL:
            defer(d, inv, 0.0)
            return
        j0 = 0
        while j0 < C:
            n = min(<Py_ssize_t>BLOCK_ELEMS, C - j0)
            ech = exp_chunk(a, xr, i, j0, n, m, e, buf)
            grad_row(ech, NULL, NULL, outr + j0, n, inv, 0.0, 0.0, 0.0, 0.0, 0.0)
            j0 += n
        return
    # log_softmax: (x - m) - lz; with a +inf, x - inf as scipy (lz = 0)
    if flag == ROW_NEG_INF or flag == ROW_NAN or flag == ROW_IGNORED:
        fill_row(outr, C, -INFINITY if flag == ROW_NEG_INF else NAN)
        return
    lzv = lz if flag == ROW_FINITE else 0.0
    if d != NULL:
        defer(d, lzv, 0.0)       # (x - m) - lzv by block_log_softmax
    elif a.mask == NULL:
        log_softmax_row(xr, outr, C, m, lzv)
    else:
        for j in range(C):
            outr[j] = <floating>(((xr[j] - m) - lzv) if is_present(a, xr, i, j)
                                   else -INFINITY)


cdef inline double finalize_cross_entropy(const RowArgs *a, const floating *xr,
                                          floating *outr, const floating *pr, Py_ssize_t i,
                                          double m, int flag, double s, double c, double lz,
                                          double tlogt, const floating *e,
                                          floating *buf, Deferred *d) noexcept nogil:
    """Write row i's gradient (when wanted; or its coefficients into d, e then
    being the block's column-major exponentials); return its weighted loss.
    tlogt is the row's sum t log t of the targets (KL divergence only)."""
    cdef Py_ssize_t j, j0, n, C = a.n_cols, y = 0
    cdef double inv, loss, sw, sc, wy = 0.0, keep, eps_c, A = 0.0, ey, wsum
    cdef double acc1 = 0.0, acc2 = 0.0
    cdef const double *w = a.class_weight
    cdef const floating *ech
    sw = 1.0 if a.sample_weight == NULL else a.sample_weight[i]
    if d != NULL:
        d.skip[d.k] = 1
    if flag != ROW_FINITE:
        # ignored or every class masked: 0; +inf or NaN logits: NaN, except that
        # a sample weighted 0 contributes nothing, to the gradient either
        loss = 0.0 if (flag == ROW_IGNORED or flag == ROW_NEG_INF) else NAN
        if a.want_grad:
            fill_row(outr, C, 0.0 if a.grad_scale * sw == 0.0 else loss)
    else:
        keep = 1.0 - a.smoothing
        eps_c = a.smoothing / C
        # everything the loss needs is read from x before the gradient is
        # written, so `outr` may be `xr`
        if a.mode == MODE_CE_LABELS:
            y = a.labels[i]
            wy = 1.0 if w == NULL else w[y]
            acc1 = xr[y] - m
            if a.smoothing != 0.0:
                # sum_k w_k (x_k - m): the smoothing term's log-probabilities
                wsum = 0.0
                coef_sums(xr, NULL, w, C, m, 1.0, 0.0, &acc2, &wsum)
            # loss = (1-eps) w_y (-log p_y) + (eps/C) sum_k w_k (-log p_k)
            loss = 0.0
            if keep * wy != 0.0:
                loss = keep * wy * (lz - acc1)
            if a.smoothing != 0.0:
                loss += eps_c * (a.class_weight_sum * lz - acc2)
            A = keep * wy + eps_c * a.class_weight_sum
        else:
            # probability targets: loss = sum_k c_k (-log p_k), c_k = w_k y'_k,
            # with 0 log 0 = 0 for c_k = 0; the KL divergence (a.kl: no class
            # weights, no smoothing) adds sum_k t_k log t_k, taken for the
            # whole block before (`tlogt`)
            coef_sums(xr, pr, w, C, m, keep, eps_c, &acc1, &acc2)
            loss = acc2 * lz - acc1 + tlogt
        sc = a.grad_scale * sw
        if a.want_grad and sc == 0.0:
            fill_row(outr, C, 0.0)          # weighted 0: contributes nothing
        elif a.want_grad and d != NULL:
            # (labels only: short rows with probability targets are not deferred)
            inv = 1.0 / (c + s)
            defer(d, sc * inv * A, sc)
            d.lab[d.k] = sc * (eps_c * (a.class_weight_sum - wy) -
                               A * one_minus_p(e[y * d.nr + d.k], inv, s, c))
        elif a.want_grad:
            inv = 1.0 / (c + s)
            j0 = 0
            while j0 < C:
                n = min(<Py_ssize_t>BLOCK_ELEMS, C - j0)
                ech = exp_chunk(a, xr, i, j0, n, m, e, buf)
                if a.mode == MODE_CE_LABELS:
                    # d loss / d x_j = p_j A - (eps/C) w_j - (1-eps) w_y [j == y]
                    grad_row(ech, NULL, w + j0 if w != NULL else NULL, outr + j0, n,
                             sc * inv * A, sc, 0.0, eps_c, 0.0, 0.0)
                    if j0 <= y < j0 + n:
                        # the label's entry, A (p_y - 1) + (eps/C)(W - w_y), with
                        # 1 - p_y from the other terms: exact when p_y rounds to 1
                        ey = ech[y - j0]
                        outr[y] = <floating>(sc * (eps_c * (a.class_weight_sum - wy) -
                                                   A * one_minus_p(ey, inv, s, c)))
                else:
                    # d loss / d x_j = p_j sum_k c_k - c_j; at a maximum (e == 1)
                    # (sum c - c_j) - sum c (1 - p_j), exact when p_j rounds to 1
                    grad_row(ech, pr + j0, w + j0 if w != NULL else NULL, outr + j0, n,
                             sc * inv * acc2, sc, keep, eps_c, acc2,
                             one_minus_p(1.0, inv, s, c))
                j0 += n
    loss = 0.0 if sw == 0.0 else sw * loss
    if a.row_value != NULL:
        a.row_value[i] = loss
    return loss


cdef inline bint short_rows(const RowArgs *a, const floating *x, floating *out,
                            Py_ssize_t blk, Py_ssize_t r0, Py_ssize_t nr, floating *buf,
                            double *rm, double *rspecial, double *rs, double *rc, double *rlz,
                            double *rl, floating *tile, double *nan_rows) noexcept nogil:
    """The block's rows by the kernels of lossopt_rows.h (rows without b that
    fit the buffer buf, on the x86-64-v4 path: short rows in one pass, long
    rows row by row), the rows they leave (special) by the formulas below;
    False where those kernels do not run (the engine then does the block).
    Rows with a `where` mask (logsumexp, softmax, log_softmax) are copied into
    tile first, absent entries as -inf (lossopt_rows_masked_copy_*; nan_rows:
    its per-row NaN flags).
    rm .. rl: per-row arrays of the workspace (m, special, s, c, lz, loss)."""
    cdef lossopt_rows_args ra = lossopt_rows_args(
        mode=a.mode, n_cols=a.n_cols, xs=a.x_stride, os=a.out_stride, labels=a.labels,
        ignore_index=a.ignore_index, w=a.class_weight, wsum=a.class_weight_sum,
        sw=a.sample_weight, grad_scale=a.grad_scale, smoothing=a.smoothing,
        want_grad=a.want_grad, row_value=a.row_value)
    cdef double loss = 0.0
    cdef Py_ssize_t k, i, n_special, n_nan = 0
    cdef int flag
    cdef const floating *xr
    cdef const floating *xk = x + r0 * a.x_stride
    cdef floating *outr = NULL
    if a.mask != NULL:
        if lossopt_rows_kernel_for(sizeof(floating) == sizeof(float), a.n_cols, nr) == 0:
            return False
        if floating is float:
            n_nan = lossopt_rows_masked_copy_f32(xk, a.x_stride, a.mask + r0 * a.mask_stride,
                                                 a.mask_stride, nr, a.n_cols, tile, nan_rows)
        else:
            n_nan = lossopt_rows_masked_copy_f64(xk, a.x_stride, a.mask + r0 * a.mask_stride,
                                                 a.mask_stride, nr, a.n_cols, tile, nan_rows)
        xk = tile
        ra.xs = a.n_cols
    n_special = lossopt_rows_short(floating is float, &ra, xk,
                                   out + r0 * a.out_stride if out != NULL else NULL,
                                   r0, nr, buf, rm, rs, rc, rlz, rl, rspecial, &loss)
    if n_special < 0:
        return False
    if n_nan > 0 and a.mode != MODE_LSE:
        # a NaN among a row's present entries: its outputs are NaN, the absent
        # ones back to 0 / -inf (the engine's rule; special rows: below)
        for k in range(nr):
            if nan_rows[k] != 0.0 and rspecial[k] == 0.0:
                mask_row(a, out + (r0 + k) * a.out_stride, r0 + k)
    if a.mode == MODE_LSE and a.row_sign != NULL:
        for k in range(nr):
            if rspecial[k] == 0.0:
                a.row_sign[r0 + k] = 1.0     # (special rows: set below)
    if n_special > 0:
        loss = 0.0
        for k in range(nr):
            if rspecial[k] == 0.0:
                loss += rl[k]
                continue
            i = r0 + k
            xr = x + i * a.x_stride
            if out != NULL:
                outr = out + i * a.out_stride
            flag = row_flag(a, xr, i, rm[k])
            if a.mode == MODE_LSE:
                if flag == ROW_FINITE:
                    finalize_lse(a, xr, i, rm[k], rs[k], rc[k], rlz[k])
            elif a.mode == MODE_CE_LABELS:
                # (e is never read for these rows: no exponentials passed)
                loss += finalize_cross_entropy(a, xr, outr, NULL, i, rm[k], flag, rs[k],
                                               rc[k], rlz[k], 0.0, NULL, NULL, NULL)
            else:
                finalize_softmax(a, xr, outr, i, rm[k], flag, rs[k], rc[k], rlz[k], NULL,
                                 NULL, NULL)
    if a.block_loss != NULL:
        a.block_loss[blk] = loss
    return True


# ------------------------------ rows with a second array: probs, KL, b --
# Cross-entropy with probability targets, the KL divergence and logsumexp
# with b, for rows that fit the block buffer: one block kernel each
# (lossopt_probs.h: the block's sums, results and gradient in vectorised
# passes, no per-row calls); the rows it marks special go through the
# engine's formulas below (row_flag, finalize_lse, finalize_cross_entropy).

cdef inline void lse_b_block(const RowArgs *a, const floating *x, Py_ssize_t r0,
                             Py_ssize_t nr, double *ws) noexcept nogil:
    """logsumexp with b of the rows [r0, r0 + nr) (nr * n_cols <= BLOCK_ELEMS)."""
    cdef Py_ssize_t k, i
    cdef double *rm = ws + LSE_B_M * WS_STRIDE
    cdef double *rs = ws + LSE_B_S * WS_STRIDE
    cdef double *rc = ws + LSE_B_C * WS_STRIDE
    cdef double *res = ws + LSE_B_RES * WS_STRIDE
    cdef double *sgn = ws + LSE_B_SIGN * WS_STRIDE
    cdef double *special = ws + LSE_B_SPECIAL * WS_STRIDE
    cdef const floating *xr
    cdef double r
    lse_b_rows(x + r0 * a.x_stride, a.x_stride,
               a.mask + r0 * a.mask_stride if a.mask != NULL else NULL, a.mask_stride,
               <const floating *>a.b + r0 * a.b_stride, a.b_stride, nr, a.n_cols, ws)
    for k in range(nr):
        i = r0 + k
        if special[k] != 0.0:
            # not finite: the literal sum (row_flag writes it where the
            # maximum is not finite, finalize_lse where the result is not)
            xr = x + i * a.x_stride
            if row_flag(a, xr, i, rm[k]) == ROW_FINITE:
                finalize_lse(a, xr, i, rm[k], rs[k], rc[k], 0.0)
            continue
        r = res[k]
        if sgn[k] < 0 and a.row_sign == NULL:
            r = NAN                       # a negative sum without return_sign
        a.row_value[i] = r
        if a.row_sign != NULL:
            a.row_sign[i] = sgn[k]


cdef inline double probs_block(const RowArgs *a, const floating *x, floating *out,
                               const floating *probs, Py_ssize_t r0, Py_ssize_t nr,
                               double *ws) noexcept nogil:
    """Cross-entropy with probability targets (a.kl: the KL divergence) of
    the rows [r0, r0 + nr) (nr * n_cols <= BLOCK_ELEMS; no mask): writes
    their gradient (when wanted) and row losses, returns their weighted loss
    summed in row order."""
    cdef Py_ssize_t xs = a.x_stride, k, i
    cdef double *rm = ws + PROBS_M * WS_STRIDE
    cdef double *rs = ws + PROBS_S * WS_STRIDE
    cdef double *rc = ws + PROBS_C * WS_STRIDE
    cdef double *rlz = ws + PROBS_LZ * WS_STRIDE
    cdef double *rl = ws + PROBS_RL * WS_STRIDE
    cdef double *xl = ws + PROBS_XL * WS_STRIDE
    cdef double *special = ws + PROBS_SPECIAL * WS_STRIDE
    cdef double loss = 0.0
    cdef const floating *xr
    probs_rows(x + r0 * xs, xs, probs + r0 * a.probs_stride, a.probs_stride, nr, a.n_cols,
               a.class_weight, 1.0 - a.smoothing, a.smoothing / a.n_cols,
               a.sample_weight + r0 if a.sample_weight != NULL else NULL, a.grad_scale,
               a.kl, out + r0 * a.out_stride if a.want_grad else NULL, a.out_stride, ws)
    for k in range(nr):
        i = r0 + k
        if special[k] != 0.0:
            # maximum not finite or weight 0: nothing of the exponentials used
            xr = x + i * xs
            rl[k] = finalize_cross_entropy(a, xr, out + i * a.out_stride if a.want_grad
                                           else NULL, probs + i * a.probs_stride, i, rm[k],
                                           row_flag(a, xr, i, rm[k]), rs[k], rc[k], rlz[k],
                                           xl[k], <const floating *>NULL, <floating *>ws,
                                           <Deferred *>NULL)
        elif a.row_value != NULL:
            a.row_value[i] = rl[k]
        loss += rl[k]
    return loss


cdef inline void rows_block(const RowArgs *a, const floating *x, floating *out,
                            const floating *probs, Py_ssize_t blk,
                            double *ws) noexcept nogil:
    """Process the rows of block `blk` with the per-thread workspace `ws`."""
    cdef Py_ssize_t C = a.n_cols, R = a.rows_per_block, xs = a.x_stride
    cdef Py_ssize_t r0 = blk * R
    cdef Py_ssize_t r1 = min(r0 + R, a.n_rows)
    cdef Py_ssize_t nr = r1 - r0
    cdef floating *buf = <floating *>ws
    cdef double *rm = ws + BLOCK_ELEMS
    cdef double *rflag = rm + BLOCK_ELEMS
    cdef double *rs = rflag + BLOCK_ELEMS
    cdef double *rc = rs + BLOCK_ELEMS
    cdef double *rlz = rc + BLOCK_ELEMS
    cdef double *rtlogt = rlz + BLOCK_ELEMS
    cdef double *rtmp = rtlogt + BLOCK_ELEMS
    cdef bint plain = a.mask == NULL and a.b == NULL
    # short rows: exponentials column-major, outputs written for the whole block
    cdef bint short = a.b == NULL and C < FUSED_ROW_MIN
    # short rows of the cross-entropy with labels and no smoothing: the rows'
    # results vectorised across rows (ce_label_rows), special rows by row
    cdef bint fast_ce = short and a.mode == MODE_CE_LABELS and a.smoothing == 0.0
    # and of softmax / log_softmax without a mask (lossopt_softmax_rows_coefs)
    cdef bint fast_sm = short and a.mask == NULL and (a.mode == MODE_SOFTMAX or
                                                      a.mode == MODE_LOG_SOFTMAX)
    cdef Deferred dd
    cdef Deferred *d = NULL
    cdef floating *erow = buf         # the exponentials row by row (see below)
    cdef Py_ssize_t i, k, j0, n
    cdef double loss = 0.0, eps_c = 0.0
    cdef const floating *e
    cdef const floating *xr
    cdef const floating *pr = NULL
    cdef floating *outr = NULL

    if C <= BLOCK_ELEMS and a.mode == MODE_LSE and a.b != NULL:
        lse_b_block(a, x, r0, nr, ws)
        return
    if C <= BLOCK_ELEMS and a.mode == MODE_CE_PROBS:
        a.block_loss[blk] = probs_block(a, x, out, probs, r0, nr, ws)
        return
    if (a.b == NULL and C <= BLOCK_ELEMS and a.mode != MODE_CE_PROBS and
            (a.mask == NULL or a.mode == MODE_LSE or a.mode == MODE_SOFTMAX or
             a.mode == MODE_LOG_SOFTMAX) and
            short_rows(a, x, out, blk, r0, nr, buf, rm, rflag, rs, rc, rlz, rtlogt,
                       <floating *>rtmp, rtmp + BLOCK_ELEMS)):
        return
    for k in range(nr):
        rs[k] = 0.0
        rc[k] = 0.0
    if a.b == NULL and C <= BLOCK_ELEMS:
        # 1-2. maxima, exponentials and their sums for the whole block at once
        block_exp_sum(x + r0 * xs, xs, a.mask + r0 * a.mask_stride if a.mask != NULL
                      else NULL, a.mask_stride, nr, C, rm, buf, rs, rc)
        if not (fast_ce or fast_sm):   # (flags of their special rows only)
            for k in range(nr):
                rflag[k] = row_flag(a, x + (r0 + k) * xs, r0 + k, rm[k])
    else:
        # 1. maxima and flags; 2. exponentials row by row, a long row in chunks
        for k in range(nr):
            xr = x + (r0 + k) * xs
            if plain:
                rows_max(xr, xs, 1, C, &rm[k])
            elif a.b != NULL:
                rm[k] = row_max_b(xr, a.mask + (r0 + k) * a.mask_stride if a.mask != NULL
                                  else NULL, <const floating *>a.b + (r0 + k) * a.b_stride, C)
            else:
                rm[k] = masked_max(a, xr, r0 + k)
            rflag[k] = row_flag(a, xr, r0 + k, rm[k])
        if C <= BLOCK_ELEMS:
            for k in range(nr):
                exp_row(a, x + (r0 + k) * xs, r0 + k, 0, C, rm[k], buf + k * C,
                        &rs[k], &rc[k])
        else:
            xr = x + r0 * xs
            j0 = 0
            while j0 < C:
                n = min(<Py_ssize_t>BLOCK_ELEMS, C - j0)
                exp_row(a, xr, r0, j0, n, rm[0], buf, rs, rc)
                j0 += n

    # 3. lz = log(c + s) for the whole block (rows with a flag ignore it);
    # for the KL divergence, the targets' sum t log t per row, vectorised
    if a.b == NULL:
        lossopt_log_sum_block(rs, rc, rlz, nr)
    if a.kl:
        rows_xlogx(probs + r0 * a.probs_stride, a.probs_stride, nr, C, rtmp, rtlogt)

    dd.nr = nr
    dd.alpha = rtmp + BLOCK_ELEMS
    dd.beta = dd.alpha + BLOCK_ELEMS
    dd.lab = dd.beta + BLOCK_ELEMS
    dd.skip = dd.lab + BLOCK_ELEMS
    if short and (a.mode == MODE_SOFTMAX or (a.want_grad and a.mode == MODE_CE_LABELS) or
                  (a.mode == MODE_LOG_SOFTMAX and a.mask == NULL)):
        d = &dd
    elif short and a.want_grad:
        # probability targets (CE, KL): their gradient needs the rows' targets
        # in order, so the exponentials go back to rows (in the spare alpha
        # array) and each row's gradient is taken by the engine's rows
        erow = <floating *>dd.alpha
        rows_from_columns(buf, nr, C, erow)
    if fast_ce:
        ce_label_rows(x + r0 * xs, xs, a.labels + r0, a.ignore_index, a.class_weight,
                      a.class_weight_sum, a.sample_weight + r0 if a.sample_weight != NULL
                      else NULL, a.grad_scale, buf, nr, rm, rs, rc, rlz, rtmp, dd.alpha,
                      dd.beta, dd.lab, dd.skip)
        for k in range(nr):
            i = r0 + k
            if not dd.skip[k]:
                loss += rtmp[k]
                if a.row_value != NULL:
                    a.row_value[i] = rtmp[k]
                continue
            # a special row: the engine's own formulas (it sets skip when it
            # writes the row itself)
            dd.k = k
            xr = x + i * xs
            rflag[k] = row_flag(a, xr, i, rm[k])
            loss += finalize_cross_entropy(a, xr, out + i * a.out_stride if out != NULL
                                           else NULL, NULL, i, rm[k], <int>rflag[k], rs[k],
                                           rc[k], rlz[k], 0.0, buf, buf, d)
        nr = 0                    # (nothing left for the row loop below)
    if fast_sm:
        lossopt_softmax_rows_coefs(rm, rs, rc, rlz, nr, a.mode == MODE_LOG_SOFTMAX, dd.alpha,
                                   dd.skip)
        for k in range(nr):
            if dd.skip[k]:
                # a special row: flagged and filled by the engine (sets skip)
                dd.k = k
                i = r0 + k
                xr = x + i * xs
                rflag[k] = row_flag(a, xr, i, rm[k])
                finalize_softmax(a, xr, out + i * a.out_stride, i, rm[k], <int>rflag[k],
                                 rs[k], rc[k], rlz[k], buf, buf, d)
            else:
                dd.beta[k] = 0.0
        nr = 0

    # 4. results, row by row (short rows: their coefficients, see Deferred)
    for k in range(nr):
        i = r0 + k
        xr = x + i * xs
        if d != NULL:
            e = buf                       # column-major: row k at e[j * nr + k]
            dd.k = k
        else:
            e = erow + k * C if C <= BLOCK_ELEMS else NULL
        if out != NULL:
            outr = out + i * a.out_stride
        if a.mode == MODE_LSE:
            if <int>rflag[k] == ROW_FINITE:
                finalize_lse(a, xr, i, rm[k], rs[k], rc[k], rlz[k] if a.b == NULL else 0.0)
        elif a.mode == MODE_SOFTMAX or a.mode == MODE_LOG_SOFTMAX:
            # a long row (e == NULL) is alone in its block: buf is free again
            finalize_softmax(a, xr, outr, i, rm[k], <int>rflag[k], rs[k], rc[k], rlz[k], e,
                             buf, d)
        else:
            if probs != NULL:
                pr = probs + i * a.probs_stride
            loss += finalize_cross_entropy(a, xr, outr, pr, i, rm[k], <int>rflag[k], rs[k],
                                           rc[k], rlz[k], rtlogt[k] if a.kl else 0.0, e, buf,
                                           d)
    if a.block_loss != NULL:
        a.block_loss[blk] = loss
    if d == NULL:
        return
    nr = r1 - r0

    # 5. short rows: the block's outputs in one pass, then the entries that
    # take another formula (the label's entry, masked entries)
    outr = out + r0 * a.out_stride
    if a.mode == MODE_LOG_SOFTMAX:
        block_log_softmax(x + r0 * xs, xs, nr, C, rm, dd.alpha, dd.skip, outr, a.out_stride)
        return
    if a.mode != MODE_SOFTMAX:
        eps_c = a.smoothing / C
    block_out(buf, nr, C, dd.alpha, dd.beta, a.class_weight, 0.0, eps_c, dd.skip, outr,
              a.out_stride)
    for k in range(nr):
        if dd.skip[k]:
            continue
        outr = out + (r0 + k) * a.out_stride
        if a.mode == MODE_CE_LABELS:
            outr[a.labels[r0 + k]] = <floating>dd.lab[k]
        elif a.mask != NULL:
            mask_row(a, outr, r0 + k)


cdef inline Py_ssize_t block_rows(const RowArgs *a, bint is_float) noexcept nogil:
    """Rows per block: as many as fill the buffer of BLOCK_ELEMS values; the
    plain short rows of the x86-64-v4 kernels (one pass through registers,
    no buffer) SHORT_BLOCK_ROWS.  The same for any thread count (the block
    sums are added in block order: bit-identical results)."""
    if a.n_cols <= 0:
        return BLOCK_ELEMS
    if (a.mask == NULL and a.b == NULL and a.mode != MODE_CE_PROBS and
            lossopt_rows_kernel_for(is_float, a.n_cols, 1) == LOSSOPT_ROWS_SHORT):
        return max(SHORT_BLOCK_ROWS, BLOCK_ELEMS // a.n_cols)
    return max(<Py_ssize_t>1, BLOCK_ELEMS // a.n_cols)


cdef int run_rows(RowArgs *a, const floating *x, floating *out, const floating *probs,
                  int n_threads, Py_ssize_t min_parallel) except -1 nogil:
    """Run the engine over all rows; returns 0, or raises MemoryError."""
    # (the engine's arrays, or the block kernels' of lossopt_probs.h)
    cdef Py_ssize_t n_blocks, blk, ws_size = max(WS_ARRAYS * BLOCK_ELEMS, max(
        <Py_ssize_t>PROBS_WS_DOUBLES, <Py_ssize_t>LSE_B_WS_DOUBLES))
    cdef int nt, tid
    cdef double *ws
    a.rows_per_block = block_rows(a, floating is float)
    n_blocks = n_blocks_of(a.n_rows, a.rows_per_block)
    nt = threads_for(a.n_rows * a.n_cols, n_blocks, n_threads,
                     PARALLEL_MIN_EXP_ELEMS if min_parallel < 0 else min_parallel)
    ws = <double *>malloc(nt * ws_size * sizeof(double))
    if ws == NULL:
        with gil:
            raise MemoryError()
    if nt == 1:
        for blk in range(n_blocks):
            rows_block(a, x, out, probs, blk, ws)
    else:
        for blk in prange(n_blocks, num_threads=nt, schedule='static'):
            tid = threadid()
            rows_block(a, x, out, probs, blk, ws + tid * ws_size)
    free(ws)
    return 0


# ------------------------------------------------------------------ wrappers --

cdef inline void _init_args(RowArgs *a, int mode, Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept:
    a.mode = mode
    a.n_rows = n_rows
    a.n_cols = n_cols
    a.rows_per_block = 1
    a.x_stride = a.out_stride = a.probs_stride = a.mask_stride = a.b_stride = 0
    a.mask = NULL
    a.b = NULL
    a.labels = NULL
    a.ignore_index = -100
    a.class_weight = NULL
    a.class_weight_sum = 0.0
    a.sample_weight = NULL
    a.smoothing = 0.0
    a.kl = False
    a.grad_scale = 1.0
    a.want_grad = False
    a.row_value = NULL
    a.row_sign = NULL
    a.block_loss = NULL


cdef inline void _set_mask(RowArgs *a, const unsigned char[:, :] where, object where_arr) except *:
    if where is not None:
        a.mask_stride = row_stride(where_arr, 1)
        if where.shape[0] * where.shape[1] > 0:
            a.mask = &where[0, 0]


def logsumexp_rows(const floating[:, :] x, double[::1] out, double[::1] sign=None,
                   const unsigned char[:, :] where=None, const floating[:, :] b=None,
                   int n_threads=1, *, x_arr=None, where_arr=None, b_arr=None,
                   Py_ssize_t min_parallel=-1):
    """out[i] = log|sum_j b_ij exp(x_ij)| over the present entries of row i
    (b, when given, of x's dtype)."""
    cdef RowArgs a
    _init_args(&a, MODE_LSE, x.shape[0], x.shape[1])
    a.x_stride = row_stride(x_arr, sizeof(floating))
    _set_mask(&a, where, where_arr)
    if b is not None:
        a.b_stride = row_stride(b_arr, sizeof(floating))
        if b.shape[0] * b.shape[1] > 0:
            a.b = &b[0, 0]
    if a.n_rows == 0:
        return
    a.row_value = &out[0]
    if sign is not None:
        a.row_sign = &sign[0]
    if a.n_cols == 0:
        # the sum of nothing: -inf, with scipy's sign for it, sign(-inf) = -1
        for i in range(a.n_rows):
            out[i] = -INFINITY
            if sign is not None:
                sign[i] = -1.0
        return
    with nogil:
        run_rows(&a, &x[0, 0], <floating *>NULL, <const floating *>NULL, n_threads,
                 min_parallel)


def cols_available():
    """True where cols_rows has its kernel (the x86-64-v4 path)."""
    return bool(lossopt_cols_available())


# samples per work item of cols_rows: 8 tiles of 8 doubles (4 of 16 floats)
cdef enum:
    COLS_CHUNK = 64


def cols_rows(const floating[::1] x, floating[::1] out, double[::1] lse,
              unsigned char[::1] special, int mode, Py_ssize_t A, Py_ssize_t C,
              Py_ssize_t B, int n_threads=1, Py_ssize_t min_parallel=-1):
    """logsumexp (mode 0, into lse), softmax (1) or log_softmax (2, into out)
    over the middle axis of x viewed as a C-contiguous (A, C, B) array
    (lossopt_cols.h), for the x86-64-v4 path (cols_available()).  special[k]
    (k = a * B + i) is set for the samples left to the caller (maximum or
    result not finite: the row engine's rules); their outputs are not
    written meaningfully.  out is not x (the softmax keeps its exponentials
    in out before scaling them)."""
    cdef Py_ssize_t n_per = (B + COLS_CHUNK - 1) // COLS_CHUNK
    cdef Py_ssize_t n_items = A * n_per, t, a, i0
    cdef floating *op = NULL
    cdef double *lp = NULL
    cdef int nt
    if x.shape[0] != A * C * B or special.shape[0] != A * B:
        raise ValueError("cols_rows: x must hold A * C * B values, special A * B")
    if mode == MODE_LSE:
        if lse.shape[0] != A * B:
            raise ValueError("cols_rows: lse must hold A * B values")
        lp = &lse[0]
    else:
        if out.shape[0] != x.shape[0]:
            raise ValueError("cols_rows: out must have x's size")
        op = &out[0]
    if n_items == 0 or C == 0:
        return
    nt = threads_for(A * B * C, n_items, n_threads,
                     PARALLEL_MIN_EXP_ELEMS if min_parallel < 0 else min_parallel)
    with nogil:
        if nt == 1:
            for t in range(n_items):
                a = t // n_per
                i0 = (t % n_per) * COLS_CHUNK
                lossopt_cols_range(floating is float, mode, &x[0], op, C, B, a, i0,
                                   min(i0 + COLS_CHUNK, B), lp, &special[0])
        else:
            for t in prange(n_items, num_threads=nt, schedule='static'):
                a = t // n_per
                i0 = (t % n_per) * COLS_CHUNK
                lossopt_cols_range(floating is float, mode, &x[0], op, C, B, a, i0,
                                   min(i0 + COLS_CHUNK, B), lp, &special[0])


def softmax_rows(const floating[:, :] x, floating[:, :] out, bint log,
                 const unsigned char[:, :] where=None, int n_threads=1, *,
                 x_arr=None, out_arr=None, where_arr=None, Py_ssize_t min_parallel=-1):
    """out = softmax(x) (log=False) or log_softmax(x) (log=True), row by row.
    `out` may be `x` itself."""
    cdef RowArgs a
    _init_args(&a, MODE_LOG_SOFTMAX if log else MODE_SOFTMAX, x.shape[0], x.shape[1])
    a.x_stride = row_stride(x_arr, sizeof(floating))
    a.out_stride = row_stride(out_arr, sizeof(floating))
    _set_mask(&a, where, where_arr)
    if a.n_rows == 0 or a.n_cols == 0:
        return
    with nogil:
        run_rows(&a, &x[0, 0], &out[0, 0], <const floating *>NULL, n_threads, min_parallel)


def softmax_cross_entropy_rows(const floating[:, :] logits, floating[:, :] grad,
                               const Py_ssize_t[::1] labels, const floating[:, :] probs,
                               const double[::1] class_weight, double class_weight_sum,
                               const double[::1] sample_weight, Py_ssize_t ignore_index,
                               double smoothing, double grad_scale,
                               double[::1] row_loss, int n_threads=1, *,
                               logits_arr=None, grad_arr=None, probs_arr=None,
                               bint kl=False, Py_ssize_t min_parallel=-1):
    """Fused softmax cross-entropy over rows: returns the (sample-weighted) sum
    of the row losses, writes each row's gradient times `grad_scale` into
    `grad` (when given; it may be `logits` itself) and each row's weighted loss
    into `row_loss` (when given).  Exactly one of `labels`/`probs` is given.
    With `kl` (probs only, no class weights, no smoothing) the row loss is the
    KL divergence sum_k t_k (log t_k - log softmax_k): the cross-entropy minus
    the targets' entropy, taken in the same pass over each block of rows; the
    gradient is the same."""
    cdef RowArgs a
    cdef Py_ssize_t n_blocks
    cdef double total
    cdef double[::1] partial
    cdef const floating *x_ptr
    cdef floating *g_ptr = NULL
    cdef const floating *p_ptr = NULL
    _init_args(&a, MODE_CE_LABELS if labels is not None else MODE_CE_PROBS,
               logits.shape[0], logits.shape[1])
    a.x_stride = row_stride(logits_arr, sizeof(floating))
    if a.n_rows == 0:
        return 0.0
    if a.n_cols == 0:
        # every label must be ignore_index (checked by the caller): loss 0.
        # Before any &w[0] below: class_weight is empty then.
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0
    if labels is not None:
        a.labels = &labels[0]
    else:
        a.probs_stride = row_stride(probs_arr, sizeof(floating))
    if class_weight is not None and class_weight.shape[0] > 0:
        a.class_weight = &class_weight[0]
    a.class_weight_sum = class_weight_sum
    if sample_weight is not None:
        a.sample_weight = &sample_weight[0]
    a.ignore_index = ignore_index
    a.smoothing = smoothing
    a.kl = kl and probs is not None and class_weight is None and smoothing == 0.0
    if kl and not a.kl:
        raise ValueError("kl needs probability targets, no class weights, no smoothing")
    a.grad_scale = grad_scale
    a.want_grad = grad is not None
    if grad is not None:
        a.out_stride = row_stride(grad_arr, sizeof(floating))
    if row_loss is not None:
        a.row_value = &row_loss[0]
    a.rows_per_block = block_rows(&a, floating is float)
    n_blocks = n_blocks_of(a.n_rows, a.rows_per_block)
    partial = np.empty(n_blocks, dtype=np.float64)
    a.block_loss = &partial[0]
    x_ptr = &logits[0, 0]
    if grad is not None:
        g_ptr = &grad[0, 0]
    if probs is not None:
        p_ptr = &probs[0, 0]
    with nogil:
        run_rows(&a, x_ptr, g_ptr, p_ptr, n_threads, min_parallel)
        total = sum_in_order(&partial[0], n_blocks)
    return total


def rows_kernel(Py_ssize_t n_cols, bint is_float, Py_ssize_t n_rows=1):
    """Which kernel of lossopt_rows.h takes a block of n_rows plain rows of
    n_cols values on the running ISA path: "short", "long" or None (the
    engine); for the tests, which check that the kernels they test run."""
    return (None, "short", "long")[lossopt_rows_kernel_for(is_float, n_cols, n_rows)]


def probs_kernel(Py_ssize_t n_cols, bint lse_b=False, bint has_mask=False):
    """Which kernel of lossopt_probs.h takes a block of rows of n_cols values
    with probability targets (lse_b False) or of logsumexp with b (lse_b
    True; has_mask: with `where`) on the running ISA path: "short" (one
    pass, x86-64-v4), "long" (row by row, x86-64-v4) or None (the block
    kernels); for the tests."""
    return (None, "short", "long")[lossopt_probs_kernel_for(n_cols, lse_b, has_mask)]


def exp_array(const double[::1] x, double[::1] out):
    """out = exp(x) with the library's vectorised exp (for tests)."""
    if x.shape[0]:
        lossopt_exp_array(&x[0], &out[0], x.shape[0])


def expf_array(const float[::1] x, float[::1] out):
    """out = exp(x) with the library's vectorised float exp (for tests)."""
    if x.shape[0]:
        lossopt_expf_array(&x[0], &out[0], x.shape[0])


def xlogx_array(const floating[::1] x, double[::1] out):
    """out = x log x (0 log 0 = 0), in double, with the KL divergence's flat
    sweep (lossopt_probs.h; for tests)."""
    if x.shape[0]:
        if floating is float:
            lossopt_xlogx_flat_f32(&x[0], &out[0], x.shape[0])
        else:
            lossopt_xlogx_flat_f64(&x[0], &out[0], x.shape[0])


def log_array(const double[::1] x, double[::1] out):
    """out = log(x) with the library's branch-free log (for tests)."""
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        out[i] = lossopt_log(x[i])


def log1p_array(const double[::1] x, double[::1] out):
    """out = log1p(x) with the library's vectorised log1p (for tests)."""
    if x.shape[0]:
        lossopt_log1p_array(&x[0], &out[0], x.shape[0])


def label_denominator(const Py_ssize_t[::1] labels, Py_ssize_t n_classes,
                      Py_ssize_t ignore_index, const double[::1] class_weight,
                      const double[::1] sample_weight):
    """One pass over the class labels: (the sum over the non-ignored samples of
    class_weight[label] * sample_weight, the index of the first label outside
    [0, n_classes) that is not ignore_index, or -1).  The sum runs in sample
    order with Neumaier's compensation, so it is as exact as a pairwise sum
    and does not depend on the thread count."""
    cdef Py_ssize_t i, y, n = labels.shape[0], bad = -1
    cdef double total = 0.0, comp = 0.0, w, t
    with nogil:
        for i in range(n):
            y = labels[i]
            if y == ignore_index:
                continue
            if y < 0 or y >= n_classes:
                bad = i
                break
            w = 1.0 if class_weight is None else class_weight[y]
            if sample_weight is not None:
                w = w * sample_weight[i]
            t = total + w
            if fabs(total) >= fabs(w):
                comp += (total - t) + w
            else:
                comp += (w - t) + total
            total = t
    return total + comp, bad
