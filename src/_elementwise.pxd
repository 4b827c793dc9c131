# cython: language_level=3
"""The one driver of the element-wise losses (regression and binary).

The math of each loss is a tiny per-element function in
src/lossopt_elementwise.h; this driver cuts the rows into blocks of about
STREAM_BLOCK elements, runs the blocks on one thread or under prange, keeps
each block's loss sum and out-of-domain count apart and adds them in block
order, so the results are bit-identical for any thread count.

The domain check is fused into the same pass: the kernel checks the targets
(the variances, for the Gaussian NLL) of each span of about 512 elements of
a block just before it computes the span, and stops the block at the first
span that holds one outside the domain (nothing of it, nor of the rest of
the block, is written).  The caller raises after the pass; the spans before
(and, with threads, the blocks beside) a bad one have been written by
then.
"""

from cython.parallel cimport prange
from libc.stdlib cimport malloc, free

from _common cimport (floating, threads_for, n_blocks_of, sum_in_order,
                      PARALLEL_MIN_STREAM_ELEMS)

cdef extern from "lossopt_elementwise.h" nogil:
    enum:
        SQUARED_ERROR "LOSSOPT_SQUARED_ERROR"
        ABSOLUTE_ERROR "LOSSOPT_ABSOLUTE_ERROR"
        HUBER "LOSSOPT_HUBER"
        GAUSSIAN_NLL "LOSSOPT_GAUSSIAN_NLL"
        POISSON_NLL_LOG "LOSSOPT_POISSON_NLL_LOG"
        POISSON_NLL_LOG_FULL "LOSSOPT_POISSON_NLL_LOG_FULL"
        POISSON_NLL_RATE "LOSSOPT_POISSON_NLL_RATE"
        POISSON_NLL_RATE_FULL "LOSSOPT_POISSON_NLL_RATE_FULL"
        BINARY_CROSS_ENTROPY "LOSSOPT_BINARY_CROSS_ENTROPY"
        PERCEPTRON "LOSSOPT_PERCEPTRON"
        HINGE "LOSSOPT_HINGE"
        SQUARED_HINGE "LOSSOPT_SQUARED_HINGE"

    enum:
        DOMAIN_SIGN_LABEL "LOSSOPT_DOMAIN_SIGN_LABEL"
        DOMAIN_UNIT "LOSSOPT_DOMAIN_UNIT"
        DOMAIN_NONNEGATIVE "LOSSOPT_DOMAIN_NONNEGATIVE"

    Py_ssize_t lossopt_count_outside_f64(int domain, const double *x, Py_ssize_t n)
    Py_ssize_t lossopt_count_outside_f32(int domain, const float *x, Py_ssize_t n)
    int lossopt_elem_domain(int kind)
    bint lossopt_elem_margin_v4_runs(int kind, int is_float)
    bint lossopt_elem_checks_var(int kind)

    ctypedef struct lossopt_elem_params:
        int kind
        double a
        double b
        double c
        const double *col

    double lossopt_elem_block_f64(const lossopt_elem_params *P, const double *p,
                                  const double *t, const double *v, double *g, double *gv,
                                  const double *w, double *rl, Py_ssize_t r0,
                                  Py_ssize_t r1, Py_ssize_t K, double scale, int flat,
                                  int domain, const double *chk, Py_ssize_t *bad)
    double lossopt_elem_block_f32(const lossopt_elem_params *P, const float *p,
                                  const float *t, const float *v, float *g, float *gv,
                                  const double *w, double *rl, Py_ssize_t r0,
                                  Py_ssize_t r1, Py_ssize_t K, double scale, int flat,
                                  int domain, const float *chk, Py_ssize_t *bad)


cdef enum:
    # elements per block: the inputs and gradient of a block stay in L1/L2
    STREAM_BLOCK = 8192


cdef inline double elem_block(const lossopt_elem_params *P, const floating *p,
                              const floating *t, const floating *v, floating *g,
                              floating *gv, const double *w, double *rl, Py_ssize_t r0,
                              Py_ssize_t r1, Py_ssize_t K, double scale, bint flat,
                              int domain, const floating *chk,
                              Py_ssize_t *bad) noexcept nogil:
    """Rows [r0, r1) of the loss P.kind (pointers at row 0; any may be NULL
    but p and t).  With a domain (not 0), the values chk (targets or
    variances) are checked span by span before each span is computed; at the
    first bad one, *bad = the count from there on and the rest of the block
    is left unwritten (lossopt_elem_block_* in the C header)."""
    if floating is float:
        return lossopt_elem_block_f32(P, p, t, v, g, gv, w, rl, r0, r1, K, scale, flat,
                                      domain, chk, bad)
    else:
        return lossopt_elem_block_f64(P, p, t, v, g, gv, w, rl, r0, r1, K, scale, flat,
                                      domain, chk, bad)


cdef inline tuple run_elementwise(lossopt_elem_params P, const floating[:, ::1] pred,
                                  const floating[:, ::1] target,
                                  const floating[:, ::1] aux, floating[:, ::1] grad,
                                  floating[:, ::1] grad_aux,
                                  const double[::1] sample_weight, double grad_scale,
                                  double[::1] row_loss, int n_threads,
                                  Py_ssize_t min_parallel, bint check_domain=True):
    """Return (sum_i w_i l_i, number of targets outside the loss's domain).

    With check_domain, the targets (variances, for the Gaussian NLL) are
    checked span by span before each span is computed, and the rest of a
    block from a span that holds one outside the domain is left unwritten
    (see the module's docstring); with
    check_domain False the caller has checked the domain already (nothing is
    counted, the count returned is 0).

    Writes grad = grad_scale * w_i * dl/dpred (when `grad` is given; it may be
    `pred` itself), grad_aux = grad_scale * w_i * dl/daux (Gaussian NLL: aux
    is the variance), and w_i l_i per row (when `row_loss` is given).
    min_parallel overrides the thread threshold (bench/thread_threshold.py).
    """
    cdef Py_ssize_t N = pred.shape[0], K = pred.shape[1]
    cdef Py_ssize_t R, nb, blk, r0
    cdef int nt
    cdef bint flat
    cdef double total
    cdef Py_ssize_t n_bad = 0
    cdef double *partial
    cdef Py_ssize_t *bad
    cdef int domain = lossopt_elem_domain(P.kind) if check_domain else 0
    cdef const floating *chk
    cdef const floating *p
    cdef const floating *t
    cdef const floating *v = NULL
    cdef floating *g = NULL
    cdef floating *gv = NULL
    cdef const double *sw = NULL
    cdef double *rl = NULL
    if N == 0 or K == 0:
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0, 0
    p = &pred[0, 0]
    t = &target[0, 0]
    if aux is not None:
        v = &aux[0, 0]
    if grad is not None:
        g = &grad[0, 0]
    if grad_aux is not None:
        gv = &grad_aux[0, 0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    if row_loss is not None:
        rl = &row_loss[0]
    chk = v if lossopt_elem_checks_var(P.kind) else t
    if chk == NULL:
        domain = 0
    # flat: the block is n_rows * K independent elements (see the C header)
    flat = K == 1 or (sw == NULL and rl == NULL and P.col == NULL)
    R = max(<Py_ssize_t>1, STREAM_BLOCK // K)
    nb = n_blocks_of(N, R)
    # the exp-bound and the streaming thresholds are the same (_common.pxd)
    nt = threads_for(N * K, nb, n_threads, PARALLEL_MIN_STREAM_ELEMS if min_parallel < 0
                     else min_parallel)
    partial = <double *>malloc(nb * sizeof(double))
    bad = <Py_ssize_t *>malloc(nb * sizeof(Py_ssize_t))
    if partial == NULL or bad == NULL:
        free(partial)
        free(bad)
        raise MemoryError()
    try:
        with nogil:
            if nt == 1:
                for blk in range(nb):
                    r0 = blk * R
                    bad[blk] = 0
                    partial[blk] = elem_block(&P, p, t, v, g, gv, sw, rl, r0, min(r0 + R, N),
                                              K, grad_scale, flat, domain, chk, &bad[blk])
            else:
                for blk in prange(nb, num_threads=nt, schedule='static'):
                    r0 = blk * R
                    bad[blk] = 0
                    partial[blk] = elem_block(&P, p, t, v, g, gv, sw, rl, r0, min(r0 + R, N),
                                              K, grad_scale, flat, domain, chk, &bad[blk])
            total = sum_in_order(partial, nb)
            for blk in range(nb):
                n_bad += bad[blk]
    finally:
        free(partial)
        free(bad)
    return total, n_bad


cdef inline lossopt_elem_params elem_params(int kind, double a=0.0, double b=0.0,
                                            double c=0.0) noexcept:
    cdef lossopt_elem_params P
    P.kind = kind
    P.a = a
    P.b = b
    P.c = c
    P.col = NULL
    return P


cdef inline Py_ssize_t count_outside(int domain, const floating[:, ::1] x) noexcept:
    """How many entries of x are outside the domain (NaN never is)."""
    cdef Py_ssize_t n = x.shape[0] * x.shape[1], bad
    if n == 0:
        return 0
    with nogil:
        if floating is float:
            bad = lossopt_count_outside_f32(domain, &x[0, 0], n)
        else:
            bad = lossopt_count_outside_f64(domain, &x[0, 0], n)
    return bad
