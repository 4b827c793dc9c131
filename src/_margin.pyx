# cython: language_level=3, cdivision=True, initializedcheck=False
"""Margin losses over rows of class scores: the multiclass hinge, fused loss +
gradient.

For scores x (N, C), integer labels y, margin Delta, power p in {1, 2}, and
the weight l_i = sample_weight_i * class_weight[y_i] of each row:

    Weston-Watkins:  l_i / C * sum_{j != y} max(0, Delta - x_y + x_j)^p
    Crammer-Singer:  l_i * max(0, Delta + max_{j != y} x_j - x_y)^p

(torch's multi_margin_loss and optax's multiclass_hinge_loss).  The
gradient of a term that is on (> 0) is p * term^(p-1) at the class j (for
Crammer-Singer: the first maximiser of x_j over j != y, as np.argmax) and
minus that at y; a term exactly at its kink (0) contributes 0.  NaN
propagates.  The inner loops are the vectorised helpers of lossopt_margin.h.

Rows are processed in blocks of about MARGIN_BLOCK elements; each block's
weighted sum is kept apart and the block sums are added in block order, so
the result does not depend on the number of threads.
"""

from cython.parallel cimport prange

import numpy as np

from _common cimport (floating, threads_for, n_blocks_of, sum_in_order, row_stride,
                      PARALLEL_MIN_STREAM_ELEMS)

cdef extern from "lossopt_margin.h" nogil:
    double lossopt_margin_rows_f64(const double *x, Py_ssize_t xs, double *g, Py_ssize_t gs,
                                   const Py_ssize_t *labels, const double *cw,
                                   const double *sw, double inv_c, double gscale,
                                   Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, double margin,
                                   int p, int crammer_singer, double *row_loss)
    double lossopt_margin_rows_f32(const float *x, Py_ssize_t xs, float *g, Py_ssize_t gs,
                                   const Py_ssize_t *labels, const double *cw,
                                   const double *sw, double inv_c, double gscale,
                                   Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, double margin,
                                   int p, int crammer_singer, double *row_loss)

cdef enum:
    MARGIN_BLOCK = 8192


cdef inline double margin_block(const floating *x, Py_ssize_t xs, floating *g, Py_ssize_t gs,
                                const Py_ssize_t *labels, const double *cw, const double *sw,
                                double inv_c, double gscale, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t C, double margin, int p, int crammer_singer,
                                double *row_loss) noexcept nogil:
    if floating is float:
        return lossopt_margin_rows_f32(x, xs, g, gs, labels, cw, sw, inv_c, gscale, r0, r1,
                                       C, margin, p, crammer_singer, row_loss)
    else:
        return lossopt_margin_rows_f64(x, xs, g, gs, labels, cw, sw, inv_c, gscale, r0, r1,
                                       C, margin, p, crammer_singer, row_loss)


def first_bad_label(const Py_ssize_t[::1] labels, Py_ssize_t n_classes):
    """Index of the first label outside [0, n_classes), or -1."""
    cdef Py_ssize_t i, n = labels.shape[0], bad = -1
    with nogil:
        for i in range(n):
            if labels[i] < 0 or labels[i] >= n_classes:
                bad = i
                break
    return bad


def multiclass_hinge_rows(const floating[:, :] scores, floating[:, :] grad,
                          const Py_ssize_t[::1] labels, const double[::1] class_weight,
                          const double[::1] sample_weight, double margin, int p,
                          bint crammer_singer, double grad_scale, double[::1] row_loss,
                          int n_threads=1, *, scores_arr=None, grad_arr=None,
                          Py_ssize_t min_parallel=-1):
    """Return the weighted sum of the row losses; write each row's gradient
    times `grad_scale` into `grad` (when given; it may be `scores` itself) and
    each row's weighted loss into `row_loss` (when given).  The labels must be
    in [0, C) (first_bad_label).  Rows have unit stride; `scores_arr` and
    `grad_arr` are the arrays behind the views, for their row strides."""
    cdef Py_ssize_t N = scores.shape[0], C = scores.shape[1]
    cdef Py_ssize_t R, nb, blk, r0, xs, gs = 0
    cdef int nt
    cdef double total, inv_c
    cdef double[::1] partial
    cdef floating *g = NULL
    cdef const double *cw = NULL
    cdef const double *sw = NULL
    cdef double *rl = NULL
    if N == 0 or C == 0:
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0
    xs = row_stride(scores_arr, sizeof(floating))
    R = max(<Py_ssize_t>1, MARGIN_BLOCK // C)
    nb = n_blocks_of(N, R)
    nt = threads_for(N * C, nb, n_threads, PARALLEL_MIN_STREAM_ELEMS if min_parallel < 0
                     else min_parallel)
    partial = np.empty(nb, dtype=np.float64)
    if grad is not None:
        g = &grad[0, 0]
        gs = row_stride(grad_arr, sizeof(floating))
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    if row_loss is not None:
        rl = &row_loss[0]
    inv_c = 1.0 if crammer_singer else 1.0 / C
    cdef const floating *x = &scores[0, 0]
    cdef const Py_ssize_t *y = &labels[0]
    with nogil:
        if nt == 1:
            for blk in range(nb):
                r0 = blk * R
                partial[blk] = margin_block(x, xs, g, gs, y, cw, sw, inv_c, grad_scale, r0,
                                            min(r0 + R, N), C, margin, p, crammer_singer, rl)
        else:
            for blk in prange(nb, num_threads=nt, schedule='static'):
                r0 = blk * R
                partial[blk] = margin_block(x, xs, g, gs, y, cw, sw, inv_c, grad_scale, r0,
                                            min(r0 + R, N), C, margin, p, crammer_singer, rl)
        total = sum_in_order(&partial[0], nb)
    return total
