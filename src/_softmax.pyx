# cython: language_level=3, cdivision=True, initializedcheck=False
"""Row-wise log-sum-exp family: logsumexp, softmax, log_softmax and the fused
softmax cross-entropy loss + gradient.

All four run on one engine.  A kernel sees a 2-D array of rows (the reduced
axis last, unit stride) and processes it in blocks of rows:

1. per row: the maximum m over the entries that are present (not masked by
   `where`, and with b != 0 for logsumexp), and a flag for rows whose maximum
   is not finite (all entries -inf or absent, a +inf, or a NaN);
2. the shifted values t = x - m of the whole block are written into one
   contiguous buffer of at most BLOCK_ELEMS doubles and exponentiated in one
   vectorised sweep (a 10-class row is too short to vectorise on its own);
   rows longer than the buffer go through it in chunks;
3. per row: s = sum of e = exp(t) over the entries with e != 1 and c = the
   number of entries with e == 1 (the maxima).  Keeping the maxima out of s
   gives log(sum exp(t)) = log(c) + log1p(s / c) to full precision even when
   the other terms are far below one ulp of c (the same scheme as
   scipy.special.logsumexp);
4. per row: the result -- lse, probabilities, log-probabilities or the loss
   and its gradient -- written once.

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

cimport cython
from cython.parallel cimport prange, threadid
from libc.math cimport log, log1p, exp, fabs, INFINITY, NAN, isfinite
from libc.stdlib cimport malloc, free

import numpy as np

from _common cimport (floating, BLOCK_ELEMS, lossopt_exp_block, lossopt_exp_array,
                      threads_for, n_blocks_of, sum_in_order, PARALLEL_MIN_EXP_ELEMS)


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

# per-thread workspace: the exp buffer plus six per-row arrays
DEF N_ROW_ARRAYS = 6


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
    const double *b                # logsumexp scale factors; NULL = ones
    const Py_ssize_t *labels       # cross-entropy class labels
    Py_ssize_t ignore_index
    const double *class_weight     # NULL = ones
    double class_weight_sum
    const double *sample_weight    # NULL = ones
    double smoothing
    double grad_scale
    bint want_grad
    double *row_value              # lse per row / weighted loss per row; may be NULL
    double *row_sign               # lse sign per row; may be NULL
    double *block_loss             # cross-entropy partial sum per block; may be NULL


cdef inline bint is_present(const RowArgs *a, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    if a.mask != NULL and a.mask[i * a.mask_stride + j] == 0:
        return False
    if a.b != NULL and a.b[i * a.b_stride + j] == 0.0:
        return False
    return True


cdef inline double direct_lse(const RowArgs *a, const floating *xr, Py_ssize_t i,
                              double *sign) noexcept nogil:
    """log|sum b exp(x)| evaluated literally, for rows whose result is not finite
    (infinities, NaN, nothing present); this is what scipy falls back to."""
    cdef double total = 0.0, bj = 1.0
    cdef Py_ssize_t j
    for j in range(a.n_cols):
        if is_present(a, i, j):
            if a.b != NULL:
                bj = a.b[i * a.b_stride + j]
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


cdef inline void row_max(const RowArgs *a, const floating *xr, Py_ssize_t i,
                         double *m_out, double *flag_out) noexcept nogil:
    """Maximum of the present entries of row i, and the row's flag."""
    cdef Py_ssize_t j, C = a.n_cols
    cdef double m = -INFINITY, v, sign
    cdef bint has_nan = False
    if a.mode == MODE_CE_LABELS and a.labels[i] == a.ignore_index:
        m_out[0] = 0.0
        flag_out[0] = ROW_IGNORED
        return
    if a.mask == NULL and a.b == NULL:
        for j in range(C):
            v = xr[j]
            m = v if v > m else m
    else:
        for j in range(C):
            if is_present(a, i, j):
                v = xr[j]
                m = v if v > m else m
    m_out[0] = m
    flag_out[0] = ROW_FINITE
    if isfinite(m):
        return
    for j in range(C):
        if xr[j] != xr[j] and is_present(a, i, j):
            has_nan = True
            break
    if has_nan:
        flag_out[0] = ROW_NAN
    elif m > 0:
        flag_out[0] = ROW_POS_INF
    else:
        flag_out[0] = ROW_NEG_INF
    if a.mode == MODE_LSE:
        a.row_value[i] = direct_lse(a, xr, i, &sign)
        if a.row_sign != NULL:
            a.row_sign[i] = sign


cdef inline void prep_segment(const RowArgs *a, const floating *xr, floating *outr,
                              const floating *pr, Py_ssize_t i, Py_ssize_t j0,
                              Py_ssize_t n, double m, int flag, double *buf,
                              double *acc1, double *acc2) noexcept nogil:
    """Write t = x - m (or -inf for absent entries) of columns [j0, j0+n) of
    row i into buf, and accumulate what the loss needs from t."""
    cdef Py_ssize_t j, y
    cdef double t, c, eps_c, keep, s1 = 0.0, s2 = 0.0
    cdef const double *w = a.class_weight
    if flag == ROW_FINITE or flag == ROW_POS_INF:
        if a.mask == NULL and a.b == NULL:
            for j in range(n):
                buf[j] = xr[j0 + j] - m
        else:
            for j in range(n):
                buf[j] = (xr[j0 + j] - m) if is_present(a, i, j0 + j) else -INFINITY
    else:
        t = NAN if flag == ROW_NAN else -INFINITY
        for j in range(n):
            buf[j] = t
    if a.mode == MODE_LOG_SOFTMAX:
        for j in range(n):
            outr[j0 + j] = <floating>buf[j]
    elif flag != ROW_FINITE:
        return
    elif a.mode == MODE_CE_LABELS:
        y = a.labels[i]
        if j0 <= y < j0 + n:
            acc1[0] = buf[y - j0]
        if a.smoothing != 0.0:
            if w == NULL:
                for j in range(n):
                    s2 += buf[j]
            else:
                for j in range(n):
                    if w[j0 + j] != 0.0:
                        s2 += w[j0 + j] * buf[j]
            acc2[0] += s2
    elif a.mode == MODE_CE_PROBS:
        keep = 1.0 - a.smoothing
        eps_c = a.smoothing / a.n_cols
        for j in range(n):
            c = keep * pr[j0 + j] + eps_c
            if w != NULL:
                c = c * w[j0 + j]
            if c != 0.0:
                s1 += c * buf[j]
                s2 += c
        acc1[0] += s1
        acc2[0] += s2


cdef inline void distribute_segment(const RowArgs *a, floating *outr, Py_ssize_t i,
                                    Py_ssize_t j0, Py_ssize_t n, const double *e,
                                    double *s_out, double *c_out) noexcept nogil:
    """Sum the exponentials of one segment (maxima counted apart, see the
    module docstring) and keep them in the output row where it needs them."""
    cdef Py_ssize_t j
    cdef double s = 0.0, c = 0.0, ej, bj
    cdef const double *br
    if a.b != NULL:
        br = a.b + i * a.b_stride + j0
        for j in range(n):
            ej = e[j]
            bj = br[j]
            if ej == 1.0:
                c += bj
            else:
                s += bj * ej
    else:
        for j in range(n):
            ej = e[j]
            c += 1.0 if ej == 1.0 else 0.0
            s += 0.0 if ej == 1.0 else ej
    s_out[0] += s
    c_out[0] += c
    if a.mode == MODE_SOFTMAX or (a.want_grad and (a.mode == MODE_CE_LABELS or
                                                    a.mode == MODE_CE_PROBS)):
        for j in range(n):
            outr[j0 + j] = <floating>e[j]


cdef inline double log_sum(double s, double c) noexcept nogil:
    """log(c + s) for c >= 1 maxima and the rest s, precise when s << c."""
    if c == 1.0:
        return log1p(s)
    return log1p(s / c) + log(c)


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


cdef inline double finalize_row(const RowArgs *a, const floating *xr, floating *outr,
                                const floating *pr, Py_ssize_t i, double m, int flag,
                                double s, double c, double acc1, double acc2) noexcept nogil:
    """Write row i's result; return its weighted loss (cross-entropy) or 0."""
    cdef Py_ssize_t j, C = a.n_cols, y
    cdef double lz, res, sg, inv, loss, sw, sc, wy, keep, eps_c, A, cj, wj, ey, ej
    cdef const double *w = a.class_weight
    cdef bint grad = a.want_grad

    if a.mode == MODE_LSE:
        if flag != ROW_FINITE:
            return 0.0                     # done in row_max
        # scipy's formula: s/c, sign, log1p(s/c) + log|c| + m
        if s != 0.0:
            s = s / c
        sg = (1.0 if s + 1.0 > 0 else (-1.0 if s + 1.0 < 0 else 0.0))
        sg = sg * (1.0 if c > 0 else (-1.0 if c < 0 else 0.0))
        if s < -1.0:
            s = -s - 2.0
        res = log1p(s) + log(fabs(c)) + m
        if not isfinite(res):
            res = direct_lse(a, xr, i, &sg)
        elif sg < 0 and a.row_sign == NULL:
            res = NAN
        a.row_value[i] = res
        if a.row_sign != NULL:
            a.row_sign[i] = sg
        return 0.0

    if a.mode == MODE_SOFTMAX:
        if flag == ROW_FINITE:
            inv = 1.0 / (c + s)
            for j in range(C):
                outr[j] = <floating>(outr[j] * inv)
        else:
            fill_row(outr, C, 0.0 if flag == ROW_NEG_INF else NAN)
        return 0.0

    if a.mode == MODE_LOG_SOFTMAX:
        if flag == ROW_FINITE:
            lz = log_sum(s, c)
            for j in range(C):
                outr[j] = <floating>(outr[j] - lz)
        return 0.0

    # cross-entropy
    sw = 1.0 if a.sample_weight == NULL else a.sample_weight[i]
    if flag == ROW_IGNORED or flag == ROW_NEG_INF:
        if grad:
            fill_row(outr, C, 0.0)
        loss = 0.0
    elif flag != ROW_FINITE:
        if grad:
            fill_row(outr, C, NAN)
        loss = NAN
    else:
        lz = log_sum(s, c)
        inv = 1.0 / (c + s)
        sc = a.grad_scale * sw
        keep = 1.0 - a.smoothing
        eps_c = a.smoothing / C
        if a.mode == MODE_CE_LABELS:
            y = a.labels[i]
            wy = 1.0 if w == NULL else w[y]
            # loss = (1-eps) w_y (-log p_y) + (eps/C) sum_k w_k (-log p_k)
            loss = 0.0
            if keep * wy != 0.0:
                loss = keep * wy * (lz - acc1)
            if a.smoothing != 0.0:
                loss += eps_c * (a.class_weight_sum * lz - acc2)
            if grad:
                # d loss / d x_j = p_j A - (eps/C) w_j - (1-eps) w_y [j == y]
                A = keep * wy + eps_c * a.class_weight_sum
                ey = outr[y]
                if w == NULL:
                    for j in range(C):
                        outr[j] = <floating>(sc * (outr[j] * inv * A - eps_c))
                else:
                    for j in range(C):
                        outr[j] = <floating>(sc * (outr[j] * inv * A - eps_c * w[j]))
                # the label's entry, A (p_y - 1) + (eps/C)(W - w_y), with 1 - p_y
                # taken from the other terms: exact even when p_y rounds to 1
                wj = 1.0 if w == NULL else w[y]
                outr[y] = <floating>(sc * (eps_c * (a.class_weight_sum - wj) -
                                           A * one_minus_p(ey, inv, s, c)))
        else:
            # probability targets: loss = sum_k c_k (-log p_k), c_k = w_k y'_k
            loss = acc2 * lz - acc1
            if grad:
                # d loss / d x_j = p_j sum_k c_k - c_j
                for j in range(C):
                    cj = keep * pr[j] + eps_c
                    if w != NULL:
                        cj = cj * w[j]
                    ej = outr[j]
                    if ej == 1.0:
                        # a maximum: (sum c - c_j) - sum c (1 - p_j), as above
                        outr[j] = <floating>(sc * ((acc2 - cj) - acc2 * one_minus_p(ej, inv, s, c)))
                    else:
                        outr[j] = <floating>(sc * (ej * inv * acc2 - cj))
    if sw == 0.0:
        loss = 0.0
    else:
        loss = sw * loss
    if a.row_value != NULL:
        a.row_value[i] = loss
    return loss


cdef inline void rows_block(const RowArgs *a, const floating *x, floating *out,
                            const floating *probs, Py_ssize_t blk,
                            double *ws) noexcept nogil:
    """Process the rows of block `blk` with the per-thread workspace `ws`."""
    cdef Py_ssize_t C = a.n_cols, R = a.rows_per_block
    cdef Py_ssize_t r0 = blk * R
    cdef Py_ssize_t r1 = min(r0 + R, a.n_rows)
    cdef double *buf = ws
    cdef double *rm = ws + BLOCK_ELEMS
    cdef double *rflag = rm + BLOCK_ELEMS
    cdef double *rs = rflag + BLOCK_ELEMS
    cdef double *rc = rs + BLOCK_ELEMS
    cdef double *ra1 = rc + BLOCK_ELEMS
    cdef double *ra2 = ra1 + BLOCK_ELEMS
    cdef Py_ssize_t i, j, k, di, dj, fill, pos, take
    cdef double loss = 0.0
    cdef const floating *pr = NULL
    cdef floating *outr = NULL

    for i in range(r0, r1):
        k = i - r0
        row_max(a, x + i * a.x_stride, i, &rm[k], &rflag[k])
        rs[k] = 0.0
        rc[k] = 0.0
        ra1[k] = 0.0
        ra2[k] = 0.0

    # stream the block through the buffer: whole rows when they fit,
    # chunks of one row otherwise
    i = r0
    j = 0
    di = r0
    dj = 0
    while i < r1:
        fill = 0
        while i < r1 and fill < BLOCK_ELEMS:
            take = min(C - j, BLOCK_ELEMS - fill)
            k = i - r0
            if probs != NULL:
                pr = probs + i * a.probs_stride
            if out != NULL:
                outr = out + i * a.out_stride
            prep_segment(a, x + i * a.x_stride, outr, pr, i, j, take, rm[k],
                         <int>rflag[k], buf + fill, &ra1[k], &ra2[k])
            fill += take
            j += take
            if j == C:
                i += 1
                j = 0
        lossopt_exp_block(buf, fill)
        pos = 0
        while pos < fill:
            take = min(C - dj, fill - pos)
            k = di - r0
            if out != NULL:
                outr = out + di * a.out_stride
            distribute_segment(a, outr, di, dj, take, buf + pos, &rs[k], &rc[k])
            pos += take
            dj += take
            if dj == C:
                di += 1
                dj = 0

    for i in range(r0, r1):
        k = i - r0
        if probs != NULL:
            pr = probs + i * a.probs_stride
        if out != NULL:
            outr = out + i * a.out_stride
        loss += finalize_row(a, x + i * a.x_stride, outr, pr, i, rm[k], <int>rflag[k],
                             rs[k], rc[k], ra1[k], ra2[k])
    if a.block_loss != NULL:
        a.block_loss[blk] = loss


cdef int run_rows(RowArgs *a, const floating *x, floating *out, const floating *probs,
                  int n_threads) except -1 nogil:
    """Run the engine over all rows; returns 0, or raises MemoryError."""
    cdef Py_ssize_t n_blocks, blk, ws_size = (1 + N_ROW_ARRAYS) * BLOCK_ELEMS
    cdef int nt, tid
    cdef double *ws
    if a.n_cols > 0:
        a.rows_per_block = max(<Py_ssize_t>1, BLOCK_ELEMS // a.n_cols)
    else:
        a.rows_per_block = BLOCK_ELEMS
    n_blocks = n_blocks_of(a.n_rows, a.rows_per_block)
    nt = threads_for(a.n_rows * a.n_cols, n_blocks, n_threads, PARALLEL_MIN_EXP_ELEMS)
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

cdef inline Py_ssize_t _stride(object arr, int itemsize) except? -1:
    """Row stride in elements of a 2-D array whose rows have unit stride."""
    shape = arr.shape
    strides = arr.strides
    if shape[0] == 0 or shape[1] == 0:
        return 0
    if shape[1] > 1 and strides[1] != itemsize:
        raise ValueError("kernel needs rows with unit stride")
    if strides[0] % itemsize:
        raise ValueError("kernel needs strides that are multiples of the item size")
    return strides[0] // itemsize


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
    a.grad_scale = 1.0
    a.want_grad = False
    a.row_value = NULL
    a.row_sign = NULL
    a.block_loss = NULL


cdef inline void _set_mask(RowArgs *a, const unsigned char[:, :] where, object where_arr) except *:
    if where is not None:
        a.mask_stride = _stride(where_arr, 1)
        if where.shape[0] * where.shape[1] > 0:
            a.mask = &where[0, 0]


def logsumexp_rows(const floating[:, :] x, double[::1] out, double[::1] sign=None,
                   const unsigned char[:, :] where=None, const double[:, :] b=None,
                   int n_threads=1, *, x_arr=None, where_arr=None, b_arr=None):
    """out[i] = log|sum_j b_ij exp(x_ij)| over the present entries of row i."""
    cdef RowArgs a
    _init_args(&a, MODE_LSE, x.shape[0], x.shape[1])
    a.x_stride = _stride(x_arr, sizeof(floating))
    _set_mask(&a, where, where_arr)
    if b is not None:
        a.b_stride = _stride(b_arr, sizeof(double))
        if b.shape[0] * b.shape[1] > 0:
            a.b = &b[0, 0]
    if a.n_rows == 0:
        return
    a.row_value = &out[0]
    if sign is not None:
        a.row_sign = &sign[0]
    if a.n_cols == 0:
        for i in range(a.n_rows):
            out[i] = -INFINITY
            if sign is not None:
                sign[i] = 0.0
        return
    with nogil:
        run_rows(&a, &x[0, 0], <floating *>NULL, <const floating *>NULL, n_threads)


def softmax_rows(const floating[:, :] x, floating[:, :] out, bint log,
                 const unsigned char[:, :] where=None, int n_threads=1, *,
                 x_arr=None, out_arr=None, where_arr=None):
    """out = softmax(x) (log=False) or log_softmax(x) (log=True), row by row.
    `out` may be `x` itself."""
    cdef RowArgs a
    _init_args(&a, MODE_LOG_SOFTMAX if log else MODE_SOFTMAX, x.shape[0], x.shape[1])
    a.x_stride = _stride(x_arr, sizeof(floating))
    a.out_stride = _stride(out_arr, sizeof(floating))
    _set_mask(&a, where, where_arr)
    if a.n_rows == 0 or a.n_cols == 0:
        return
    with nogil:
        run_rows(&a, &x[0, 0], &out[0, 0], <const floating *>NULL, n_threads)


def softmax_cross_entropy_rows(const floating[:, :] logits, floating[:, :] grad,
                               const Py_ssize_t[::1] labels, const floating[:, :] probs,
                               const double[::1] class_weight, double class_weight_sum,
                               const double[::1] sample_weight, Py_ssize_t ignore_index,
                               double smoothing, double grad_scale,
                               double[::1] row_loss, int n_threads=1, *,
                               logits_arr=None, grad_arr=None, probs_arr=None):
    """Fused softmax cross-entropy over rows: returns the (sample-weighted) sum
    of the row losses, writes each row's gradient times `grad_scale` into
    `grad` (when given; it may be `logits` itself) and each row's weighted loss
    into `row_loss` (when given).  Exactly one of `labels`/`probs` is given."""
    cdef RowArgs a
    cdef Py_ssize_t n_blocks
    cdef double total
    cdef double[::1] partial
    cdef const floating *x_ptr
    cdef floating *g_ptr = NULL
    cdef const floating *p_ptr = NULL
    _init_args(&a, MODE_CE_LABELS if labels is not None else MODE_CE_PROBS,
               logits.shape[0], logits.shape[1])
    a.x_stride = _stride(logits_arr, sizeof(floating))
    if a.n_rows == 0:
        return 0.0
    if labels is not None:
        a.labels = &labels[0]
    else:
        a.probs_stride = _stride(probs_arr, sizeof(floating))
    if class_weight is not None:
        a.class_weight = &class_weight[0]
    a.class_weight_sum = class_weight_sum
    if sample_weight is not None:
        a.sample_weight = &sample_weight[0]
    a.ignore_index = ignore_index
    a.smoothing = smoothing
    a.grad_scale = grad_scale
    a.want_grad = grad is not None
    if grad is not None:
        a.out_stride = _stride(grad_arr, sizeof(floating))
    if row_loss is not None:
        a.row_value = &row_loss[0]
    if a.n_cols == 0:
        # every label must be ignore_index (checked by the caller): loss 0
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0
    a.rows_per_block = max(<Py_ssize_t>1, BLOCK_ELEMS // a.n_cols)
    n_blocks = n_blocks_of(a.n_rows, a.rows_per_block)
    partial = np.empty(n_blocks, dtype=np.float64)
    a.block_loss = &partial[0]
    x_ptr = &logits[0, 0]
    if grad is not None:
        g_ptr = &grad[0, 0]
    if probs is not None:
        p_ptr = &probs[0, 0]
    with nogil:
        run_rows(&a, x_ptr, g_ptr, p_ptr, n_threads)
        total = sum_in_order(&partial[0], n_blocks)
    return total


def exp_array(const double[::1] x, double[::1] out):
    """out = exp(x) with the library's vectorised exp (for tests)."""
    if x.shape[0]:
        lossopt_exp_array(&x[0], &out[0], x.shape[0])
