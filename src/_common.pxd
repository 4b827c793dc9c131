# cython: language_level=3
"""Shared declarations of the lossopt kernels: fused types, the C math header,
and the rule that decides when a kernel uses more than one thread."""

from cython.parallel cimport prange
from libc.stdlib cimport malloc, free

ctypedef fused floating:
    float
    double

cdef extern from "lossopt_math.h" nogil:
    enum: BLOCK_ELEMS "LOSSOPT_BLOCK_ELEMS"
    enum: FUSED_ROW_MIN "LOSSOPT_FUSED_ROW_MIN"
    double lossopt_exp(double x)
    void lossopt_exp_block(double *x, Py_ssize_t n)
    void lossopt_exp_array(const double *x, double *out, Py_ssize_t n)
    double lossopt_log1p(double x)
    double lossopt_log(double x)
    void lossopt_log1p_block(double *x, Py_ssize_t n)
    void lossopt_log1p_array(const double *x, double *out, Py_ssize_t n)
    void lossopt_log_sum_block(const double *s, const double *c, double *lz, Py_ssize_t n)
    void lossopt_exp_block_f32(float *x, Py_ssize_t n)
    void lossopt_expf_array(const float *x, float *out, Py_ssize_t n)
    void lossopt_rows_max_f64(const double *x, Py_ssize_t stride, Py_ssize_t n_rows,
                              Py_ssize_t n_cols, double *m_out)
    void lossopt_rows_max_f32(const float *x, Py_ssize_t stride, Py_ssize_t n_rows,
                              Py_ssize_t n_cols, double *m_out)
    void lossopt_rows_exp_sum_f64(const double *x, Py_ssize_t stride,
                                  const unsigned char *mask, Py_ssize_t mask_stride,
                                  Py_ssize_t n_rows, Py_ssize_t n_cols, const double *m,
                                  double *e, double *s_out, double *c_out)
    void lossopt_rows_exp_sum_f32(const float *x, Py_ssize_t stride,
                                  const unsigned char *mask, Py_ssize_t mask_stride,
                                  Py_ssize_t n_rows, Py_ssize_t n_cols, const double *m,
                                  float *e, double *s_out, double *c_out)
    void lossopt_block_exp_sum_f64(const double *x, Py_ssize_t stride,
                                   const unsigned char *mask, Py_ssize_t mask_stride,
                                   Py_ssize_t n_rows, Py_ssize_t n_cols, double *m_out,
                                   double *e, double *s_out, double *c_out)
    void lossopt_block_exp_sum_f32(const float *x, Py_ssize_t stride,
                                   const unsigned char *mask, Py_ssize_t mask_stride,
                                   Py_ssize_t n_rows, Py_ssize_t n_cols, double *m_out,
                                   float *e, double *s_out, double *c_out)
    void lossopt_block_out_f64(double *e, Py_ssize_t nr, Py_ssize_t C, const double *alpha,
                               const double *beta, const double *w, double keep,
                               double eps_c, const double *skip, double *out, Py_ssize_t os)
    void lossopt_block_out_f32(float *e, Py_ssize_t nr, Py_ssize_t C, const double *alpha,
                               const double *beta, const double *w, double keep,
                               double eps_c, const double *skip, float *out, Py_ssize_t os)
    void lossopt_rows_from_columns_f64(const double *e, Py_ssize_t nr, Py_ssize_t C,
                                       double *dst)
    void lossopt_rows_from_columns_f32(const float *e, Py_ssize_t nr, Py_ssize_t C,
                                       float *dst)
    void lossopt_block_log_softmax_f64(const double *x, Py_ssize_t xs, Py_ssize_t nr,
                                       Py_ssize_t C, const double *m, const double *lz,
                                       const double *skip, double *out, Py_ssize_t os)
    void lossopt_block_log_softmax_f32(const float *x, Py_ssize_t xs, Py_ssize_t nr,
                                       Py_ssize_t C, const double *m, const double *lz,
                                       const double *skip, float *out, Py_ssize_t os)
    double lossopt_row_max_b_f64(const double *x, const unsigned char *mask, const double *b,
                                 Py_ssize_t n)
    double lossopt_row_max_b_f32(const float *x, const unsigned char *mask, const float *b,
                                 Py_ssize_t n)
    void lossopt_row_exp_sum_b_f64(const double *x, const unsigned char *mask, const double *b,
                                   Py_ssize_t n, double m, double *e, double *s_out,
                                   double *c_out)
    void lossopt_row_exp_sum_b_f32(const float *x, const unsigned char *mask, const float *b,
                                   Py_ssize_t n, double m, float *e, double *s_out,
                                   double *c_out)
    void lossopt_ce_label_rows(int is_float, const void *x, Py_ssize_t xs, const Py_ssize_t *y,
                               Py_ssize_t ignore_index, const double *w, double wsum,
                               const double *sw, double grad_scale, const void *e,
                               Py_ssize_t nr, const double *m, const double *s,
                               const double *c, const double *lz, double *rl, double *alpha,
                               double *beta, double *lab, double *special)
    void lossopt_softmax_rows_coefs(const double *m, const double *s, const double *c,
                                    const double *lz, Py_ssize_t nr, int log, double *alpha,
                                    double *special)
    void lossopt_grad_row_f64(const double *e, const double *p, const double *w, double *out,
                              Py_ssize_t n, double alpha, double sc, double keep,
                              double eps_c, double sum_c, double omp)
    void lossopt_grad_row_f32(const float *e, const float *p, const double *w, float *out,
                              Py_ssize_t n, double alpha, double sc, double keep,
                              double eps_c, double sum_c, double omp)
    void lossopt_log_softmax_row_f64(const double *x, double *out, Py_ssize_t n, double m,
                                     double lz)
    void lossopt_log_softmax_row_f32(const float *x, float *out, Py_ssize_t n, double m,
                                     double lz)
    void lossopt_coef_sums_f64(const double *x, const double *p, const double *w,
                               Py_ssize_t n, double m, double keep, double eps_c,
                               double *acc1, double *acc2)
    void lossopt_rows_xlogx_f64(const double *p, Py_ssize_t stride, Py_ssize_t n_rows,
                                Py_ssize_t n_cols, double *tmp, double *out)
    void lossopt_coef_sums_f32(const float *x, const float *p, const double *w,
                               Py_ssize_t n, double m, double keep, double eps_c,
                               double *acc1, double *acc2)
    void lossopt_rows_xlogx_f32(const float *p, Py_ssize_t stride, Py_ssize_t n_rows,
                                Py_ssize_t n_cols, double *tmp, double *out)
    int lossopt_openmp_enabled()
    int lossopt_omp_max_threads()
    int lossopt_omp_num_procs()
    int lossopt_openmp_version()
    const char *lossopt_compiler()
    const char *lossopt_simd_path()
    const char *lossopt_simd_best_path()
    int lossopt_isa_requested()


# The block kernels of the rows with a second per-entry array: probability
# targets (cross-entropy, KL divergence) and logsumexp's b (lossopt_probs.h).
cdef extern from "lossopt_probs.h" nogil:
    void lossopt_xlogx_flat_f64(const double *x, double *out, Py_ssize_t n)
    void lossopt_xlogx_flat_f32(const float *x, double *out, Py_ssize_t n)
    enum: WS_STRIDE "LOSSOPT_WS_STRIDE"
    enum: PROBS_WS_DOUBLES "LOSSOPT_PROBS_WS_DOUBLES"
    enum: PROBS_M "LOSSOPT_PROBS_M"
    enum: PROBS_S "LOSSOPT_PROBS_S"
    enum: PROBS_C "LOSSOPT_PROBS_C"
    enum: PROBS_LZ "LOSSOPT_PROBS_LZ"
    enum: PROBS_RL "LOSSOPT_PROBS_RL"
    enum: PROBS_XL "LOSSOPT_PROBS_XL"
    enum: PROBS_SPECIAL "LOSSOPT_PROBS_SPECIAL"
    enum: LSE_B_WS_DOUBLES "LOSSOPT_LSE_B_WS_DOUBLES"
    enum: LSE_B_M "LOSSOPT_LSE_B_M"
    enum: LSE_B_S "LOSSOPT_LSE_B_S"
    enum: LSE_B_C "LOSSOPT_LSE_B_C"
    enum: LSE_B_RES "LOSSOPT_LSE_B_RES"
    enum: LSE_B_SIGN "LOSSOPT_LSE_B_SIGN"
    enum: LSE_B_SPECIAL "LOSSOPT_LSE_B_SPECIAL"
    void lossopt_probs_rows_f64(const double *x, Py_ssize_t xs, const double *p, Py_ssize_t ps,
                                Py_ssize_t nr, Py_ssize_t C, const double *w, double keep,
                                double eps_c, const double *sw, double grad_scale, int kl,
                                double *out, Py_ssize_t os, double *ws)
    void lossopt_probs_rows_f32(const float *x, Py_ssize_t xs, const float *p, Py_ssize_t ps,
                                Py_ssize_t nr, Py_ssize_t C, const double *w, double keep,
                                double eps_c, const double *sw, double grad_scale, int kl,
                                float *out, Py_ssize_t os, double *ws)
    void lossopt_lse_b_rows_f64(const double *x, Py_ssize_t xs, const unsigned char *mask,
                                Py_ssize_t ms, const double *b, Py_ssize_t bs, Py_ssize_t nr,
                                Py_ssize_t C, double *ws)
    void lossopt_lse_b_rows_f32(const float *x, Py_ssize_t xs, const unsigned char *mask,
                                Py_ssize_t ms, const float *b, Py_ssize_t bs, Py_ssize_t nr,
                                Py_ssize_t C, double *ws)


cdef inline void probs_rows(const floating *x, Py_ssize_t xs, const floating *p, Py_ssize_t ps,
                            Py_ssize_t nr, Py_ssize_t C, const double *w, double keep,
                            double eps_c, const double *sw, double grad_scale, bint kl,
                            floating *out, Py_ssize_t os, double *ws) noexcept nogil:
    """Cross-entropy with probability targets (with kl: the KL divergence) of
    a block of rows: per row (at ws + PROBS_* * WS_STRIDE) the maxima,
    sums, lz, weighted loss, the targets' sum t log t (kl) and special = 1
    for the rows left to the engine (maximum not finite, weight 0); the
    gradient of the others into out (when not NULL).  ws: PROBS_WS_DOUBLES
    doubles."""
    if floating is float:
        lossopt_probs_rows_f32(x, xs, p, ps, nr, C, w, keep, eps_c, sw, grad_scale, kl, out,
                               os, ws)
    else:
        lossopt_probs_rows_f64(x, xs, p, ps, nr, C, w, keep, eps_c, sw, grad_scale, kl, out,
                               os, ws)


cdef inline void lse_b_rows(const floating *x, Py_ssize_t xs, const unsigned char *mask,
                            Py_ssize_t ms, const floating *b, Py_ssize_t bs, Py_ssize_t nr,
                            Py_ssize_t C, double *ws) noexcept nogil:
    """logsumexp with b of a block of rows: per row (at ws + LSE_B_* *
    WS_STRIDE) the maxima, sums s and c, result, sign, and special = 1 for
    the rows left to the engine (maximum or result not finite).  ws:
    LSE_B_WS_DOUBLES doubles."""
    if floating is float:
        lossopt_lse_b_rows_f32(x, xs, mask, ms, b, bs, nr, C, ws)
    else:
        lossopt_lse_b_rows_f64(x, xs, mask, ms, b, bs, nr, C, ws)


# Thread thresholds, in elements.  Below them a kernel runs on the calling
# thread only: starting and joining an OpenMP team costs a few microseconds,
# as much as the work.  Measured with bench/thread_threshold.py (its docstring
# has the table): on the 2-core development machine a second thread is as
# often slower as faster up to 16384 elements and faster in every kernel from
# 32768 on, for the exp-bound row kernels and the streaming ones alike.
cdef enum:
    PARALLEL_MIN_EXP_ELEMS = 32768
    PARALLEL_MIN_STREAM_ELEMS = 32768


cdef inline void rows_max(const floating *x, Py_ssize_t stride, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, double *m_out) noexcept nogil:
    """m_out[i] = max of row i (rows at x + i * stride)."""
    if floating is float:
        lossopt_rows_max_f32(x, stride, n_rows, n_cols, m_out)
    else:
        lossopt_rows_max_f64(x, stride, n_rows, n_cols, m_out)


cdef inline void rows_exp_sum(const floating *x, Py_ssize_t stride, const unsigned char *mask,
                              Py_ssize_t mask_stride, Py_ssize_t n_rows, Py_ssize_t n_cols,
                              const double *m, floating *e, double *s_out,
                              double *c_out) noexcept nogil:
    """e = exp(x - m) row by row (0 where masked); s += sum of e != 1 and
    c += count of e == 1, per row, in float64."""
    if floating is float:
        lossopt_rows_exp_sum_f32(x, stride, mask, mask_stride, n_rows, n_cols, m, e,
                                 s_out, c_out)
    else:
        lossopt_rows_exp_sum_f64(x, stride, mask, mask_stride, n_rows, n_cols, m, e,
                                 s_out, c_out)


cdef inline void block_exp_sum(const floating *x, Py_ssize_t stride, const unsigned char *mask,
                               Py_ssize_t mask_stride, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               double *m_out, floating *e, double *s_out,
                               double *c_out) noexcept nogil:
    """For a block of rows: their maxima m (over the unmasked entries), then
    e = exp(x - m) (0 where masked), s += sum of e != 1, c += count of e == 1.
    e (n_rows * n_cols elements) holds the exponentials afterwards: row-major
    for rows of FUSED_ROW_MIN classes or more, column-major (e[j * n_rows + i])
    for shorter rows."""
    if floating is float:
        lossopt_block_exp_sum_f32(x, stride, mask, mask_stride, n_rows, n_cols, m_out, e,
                                  s_out, c_out)
    else:
        lossopt_block_exp_sum_f64(x, stride, mask, mask_stride, n_rows, n_cols, m_out, e,
                                  s_out, c_out)


cdef inline void block_out(floating *e, Py_ssize_t nr, Py_ssize_t C, const double *alpha,
                           const double *beta, const double *w, double keep, double eps_c,
                           const double *skip, floating *out, Py_ssize_t os) noexcept nogil:
    """Rows of short rows from their column-major exponentials e: row i is
    grad_row(e_i, NULL, w, out_i, C, alpha[i], beta[i], keep, eps_c, 0, 0),
    except the rows with skip[i] != 0, which are left alone."""
    if floating is float:
        lossopt_block_out_f32(e, nr, C, alpha, beta, w, keep, eps_c, skip, out, os)
    else:
        lossopt_block_out_f64(e, nr, C, alpha, beta, w, keep, eps_c, skip, out, os)


cdef inline void rows_from_columns(const floating *e, Py_ssize_t nr, Py_ssize_t C,
                                   floating *dst) noexcept nogil:
    """dst (row-major, nr rows of C) <- the column-major e of short rows."""
    if floating is float:
        lossopt_rows_from_columns_f32(e, nr, C, dst)
    else:
        lossopt_rows_from_columns_f64(e, nr, C, dst)


cdef inline void block_log_softmax(const floating *x, Py_ssize_t xs, Py_ssize_t nr,
                                   Py_ssize_t C, const double *m, const double *lz,
                                   const double *skip, floating *out,
                                   Py_ssize_t os) noexcept nogil:
    """out_ij = (x_ij - m_i) - lz_i for the rows of a block without skip[i]."""
    if floating is float:
        lossopt_block_log_softmax_f32(x, xs, nr, C, m, lz, skip, out, os)
    else:
        lossopt_block_log_softmax_f64(x, xs, nr, C, m, lz, skip, out, os)


cdef inline double row_max_b(const floating *x, const unsigned char *mask, const floating *b,
                            Py_ssize_t n) noexcept nogil:
    """The maximum of a row over its entries present in the mask (when given)
    and with b != 0 (logsumexp's scale factors, of the data's type); -inf
    when none is."""
    if floating is float:
        return lossopt_row_max_b_f32(x, mask, b, n)
    else:
        return lossopt_row_max_b_f64(x, mask, b, n)


cdef inline void row_exp_sum_b(const floating *x, const unsigned char *mask, const floating *b,
                               Py_ssize_t n, double m, floating *e, double *s_out,
                               double *c_out) noexcept nogil:
    """e = exp(x - m) in double (0 where absent); c += sum of b where e == 1,
    s += sum of b e over the other present entries."""
    if floating is float:
        lossopt_row_exp_sum_b_f32(x, mask, b, n, m, e, s_out, c_out)
    else:
        lossopt_row_exp_sum_b_f64(x, mask, b, n, m, e, s_out, c_out)


cdef inline void ce_label_rows(const floating *x, Py_ssize_t xs, const Py_ssize_t *y,
                               Py_ssize_t ignore_index, const double *w, double wsum,
                               const double *sw, double grad_scale, const floating *e,
                               Py_ssize_t nr, const double *m, const double *s, const double *c,
                               const double *lz, double *rl, double *alpha, double *beta,
                               double *lab, double *special) noexcept nogil:
    """Cross-entropy with labels, no smoothing, for a block of short rows
    (column-major exponentials e): loss, gradient coefficients and label
    entry per row, vectorised across rows; special[k] for the rows left to
    the engine (non-finite maximum, ignored label, weight 0)."""
    lossopt_ce_label_rows(floating is float, x, xs, y, ignore_index, w, wsum, sw, grad_scale, e,
                          nr, m, s, c, lz, rl, alpha, beta, lab, special)


cdef inline void grad_row(const floating *e, const floating *p, const double *w,
                          floating *out, Py_ssize_t n, double alpha, double sc, double keep,
                          double eps_c, double sum_c, double omp) noexcept nogil:
    """out_j = alpha e_j - sc c_j with c_j = (keep p_j + eps_c) w_j (p_j, w_j = 1
    where NULL); with p, at the maxima (e_j == 1): sc ((sum_c - c_j) - sum_c omp)."""
    if floating is float:
        lossopt_grad_row_f32(e, p, w, out, n, alpha, sc, keep, eps_c, sum_c, omp)
    else:
        lossopt_grad_row_f64(e, p, w, out, n, alpha, sc, keep, eps_c, sum_c, omp)


cdef inline void log_softmax_row(const floating *x, floating *out, Py_ssize_t n, double m,
                                 double lz) noexcept nogil:
    """out_j = (x_j - m) - lz."""
    if floating is float:
        lossopt_log_softmax_row_f32(x, out, n, m, lz)
    else:
        lossopt_log_softmax_row_f64(x, out, n, m, lz)


cdef inline void coef_sums(const floating *x, const floating *p, const double *w,
                           Py_ssize_t n, double m, double keep, double eps_c,
                           double *acc1, double *acc2) noexcept nogil:
    """acc1 += sum c_j (x_j - m) over c_j != 0, acc2 += sum c_j."""
    if floating is float:
        lossopt_coef_sums_f32(x, p, w, n, m, keep, eps_c, acc1, acc2)
    else:
        lossopt_coef_sums_f64(x, p, w, n, m, keep, eps_c, acc1, acc2)


cdef inline void rows_xlogx(const floating *p, Py_ssize_t stride, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, double *tmp, double *out) noexcept nogil:
    """out[r] = sum_j p_rj log p_rj (0 log 0 = 0) for a block of rows; tmp is a
    workspace of BLOCK_ELEMS doubles."""
    if floating is float:
        lossopt_rows_xlogx_f32(p, stride, n_rows, n_cols, tmp, out)
    else:
        lossopt_rows_xlogx_f64(p, stride, n_rows, n_cols, tmp, out)


cdef inline void exp_block(floating *x, Py_ssize_t n) noexcept nogil:
    """x = exp(x) in the data's precision, vectorised."""
    if floating is float:
        lossopt_exp_block_f32(x, n)
    else:
        lossopt_exp_block(x, n)


cdef inline int threads_for(Py_ssize_t work, Py_ssize_t n_blocks, int n_threads,
                            Py_ssize_t threshold) noexcept nogil:
    """How many threads a kernel with `work` elements in `n_blocks` blocks uses."""
    if n_threads <= 1 or n_blocks <= 1 or work < threshold:
        return 1
    if n_threads > n_blocks:
        return <int>n_blocks
    return n_threads


cdef inline Py_ssize_t n_blocks_of(Py_ssize_t n, Py_ssize_t block) noexcept nogil:
    return (n + block - 1) // block if n > 0 else 0


cdef inline double sum_in_order(const double *partial, Py_ssize_t n) noexcept nogil:
    """Combine per-block partial sums in block order, so the total does not
    depend on which thread computed which block (bit-identical results)."""
    cdef double total = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        total += partial[i]
    return total


cdef inline Py_ssize_t row_stride(object arr, int itemsize) except? -1:
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


# A kernel over a block of rows [r0, r1): returns the block's (weighted) loss.
ctypedef double (*rows_block_fn)(const void *args, Py_ssize_t r0,
                                 Py_ssize_t r1) noexcept nogil


cdef inline double sum_row_blocks(rows_block_fn block, const void *args, Py_ssize_t n_rows,
                                  Py_ssize_t row_elems, Py_ssize_t block_elems,
                                  int n_threads, Py_ssize_t threshold) except? -1 nogil:
    """Run `block` over blocks of about `block_elems` elements (whole rows of
    `row_elems`), on as many threads as threads_for allows, and return the
    block results added in block order (the same bits on any thread count)."""
    cdef Py_ssize_t R = max(<Py_ssize_t>1, block_elems // max(<Py_ssize_t>1, row_elems))
    cdef Py_ssize_t nb = n_blocks_of(n_rows, R), blk, r0
    cdef int nt = threads_for(n_rows * row_elems, nb, n_threads, threshold)
    cdef double total
    cdef double *partial = <double *>malloc(max(<Py_ssize_t>1, nb) * sizeof(double))
    if partial == NULL:
        with gil:
            raise MemoryError()
    if nt == 1:
        for blk in range(nb):
            partial[blk] = block(args, blk * R, min(blk * R + R, n_rows))
    else:
        for blk in prange(nb, num_threads=nt, schedule='static'):
            r0 = blk * R
            partial[blk] = block(args, r0, min(r0 + R, n_rows))
    total = sum_in_order(partial, nb)
    free(partial)
    return total
