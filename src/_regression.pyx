# cython: language_level=3, cdivision=True, initializedcheck=False
"""Regression losses: fused loss + gradient over (N, K) predictions.

Squared error (the L2 loss, the Gaussian negative log-likelihood with
precision 1 and the constants dropped):

    l_i = 1/2 sum_k (yhat_ik - y_ik)^2,      d l_i / d yhat_ik = yhat_ik - y_ik

Rows are processed in blocks of about STREAM_BLOCK elements; each block's
weighted sum is kept apart and the block sums are added in block order, so the
result does not depend on the number of threads.
"""

from cython.parallel cimport prange

import numpy as np

from _common cimport (floating, threads_for, n_blocks_of, sum_in_order,
                      PARALLEL_MIN_STREAM_ELEMS)

cdef enum:
    STREAM_BLOCK = 8192


cdef inline double squared_error_block(const floating *p, const floating *t,
                                       floating *g, const double *sw,
                                       double grad_scale, double *row_loss,
                                       Py_ssize_t r0, Py_ssize_t r1,
                                       Py_ssize_t K) noexcept nogil:
    cdef Py_ssize_t i, k, lo, hi
    cdef double d, acc, total = 0.0, w, sc
    if sw == NULL and row_loss == NULL:
        # unweighted: one flat, vectorisable loop over the block
        lo = r0 * K
        hi = r1 * K
        if g != NULL:
            for k in range(lo, hi):
                d = <double>p[k] - <double>t[k]
                total += d * d
                g[k] = <floating>(grad_scale * d)
        else:
            for k in range(lo, hi):
                d = <double>p[k] - <double>t[k]
                total += d * d
        return 0.5 * total
    for i in range(r0, r1):
        w = 1.0 if sw == NULL else sw[i]
        sc = grad_scale * w
        acc = 0.0
        lo = i * K
        for k in range(lo, lo + K):
            d = <double>p[k] - <double>t[k]
            acc += d * d
            if g != NULL:
                g[k] = <floating>(sc * d)
        acc = 0.5 * w * acc if w != 0.0 else 0.0
        if row_loss != NULL:
            row_loss[i] = acc
        total += acc
    return total


def squared_error(const floating[:, ::1] pred, const floating[:, ::1] target,
                  floating[:, ::1] grad, const double[::1] sample_weight,
                  double grad_scale, double[::1] row_loss, int n_threads=1, *,
                  Py_ssize_t min_parallel=-1):
    """Return sum_i w_i l_i; write grad = grad_scale * w_i (yhat - y) (when
    `grad` is given; it may be `pred` itself) and w_i l_i per row (when
    `row_loss` is given).  min_parallel overrides the thread threshold
    (bench/thread_threshold.py)."""
    cdef Py_ssize_t N = pred.shape[0], K = pred.shape[1]
    cdef Py_ssize_t R, nb, blk, r0
    cdef int nt
    cdef double total
    cdef double[::1] partial
    cdef floating *g = NULL
    cdef const double *sw = NULL
    cdef double *rl = NULL
    if N == 0 or K == 0:
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0
    R = max(<Py_ssize_t>1, STREAM_BLOCK // K)
    nb = n_blocks_of(N, R)
    nt = threads_for(N * K, nb, n_threads, PARALLEL_MIN_STREAM_ELEMS if min_parallel < 0
                     else min_parallel)
    partial = np.empty(nb, dtype=np.float64)
    if grad is not None:
        g = &grad[0, 0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    if row_loss is not None:
        rl = &row_loss[0]
    cdef const floating *p = &pred[0, 0]
    cdef const floating *t = &target[0, 0]
    with nogil:
        if nt == 1:
            for blk in range(nb):
                r0 = blk * R
                partial[blk] = squared_error_block(p, t, g, sw, grad_scale, rl, r0,
                                                   min(r0 + R, N), K)
        else:
            for blk in prange(nb, num_threads=nt, schedule='static'):
                r0 = blk * R
                partial[blk] = squared_error_block(p, t, g, sw, grad_scale, rl, r0,
                                                   min(r0 + R, N), K)
        total = sum_in_order(&partial[0], nb)
    return total
