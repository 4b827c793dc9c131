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

import numpy as np

from _common cimport (floating, row_stride, rows_block_fn, sum_row_blocks,
                      PARALLEL_MIN_STREAM_ELEMS)

cdef extern from "lossopt_margin.h" nogil:
    ctypedef struct lossopt_margin_args:
        const void *x
        Py_ssize_t xs
        void *g
        Py_ssize_t gs
        const Py_ssize_t *labels
        const double *cw
        const double *sw
        double inv_c
        double gscale
        double margin
        Py_ssize_t n
        int p
        int crammer_singer
        double *row_loss
        unsigned char *bad
        Py_ssize_t rows_per_block
    Py_ssize_t lossopt_count_bad_labels(const Py_ssize_t *labels, Py_ssize_t count,
                                        Py_ssize_t n)
    double lossopt_margin_rows_f64(const void *args, Py_ssize_t r0, Py_ssize_t r1)
    double lossopt_margin_rows_f32(const void *args, Py_ssize_t r0, Py_ssize_t r1)

cdef enum:
    MARGIN_BLOCK = 8192


cdef object bad_label_error(const Py_ssize_t[::1] labels, Py_ssize_t n_classes):
    """The error for the first label outside [0, n_classes) (error path only)."""
    cdef Py_ssize_t i
    for i in range(labels.shape[0]):
        if labels[i] < 0 or labels[i] >= n_classes:
            return ValueError(f"target holds class label {labels[i]}, outside "
                              f"[0, {n_classes})")


def multiclass_hinge_rows(const floating[:, :] scores, floating[:, :] grad,
                          const Py_ssize_t[::1] labels, const double[::1] class_weight,
                          const double[::1] sample_weight, double margin, int p,
                          bint crammer_singer, double grad_scale, double[::1] row_loss,
                          int n_threads=1, *, scores_arr=None, grad_arr=None,
                          Py_ssize_t min_parallel=-1, bint check_first=True):
    """Return the weighted sum of the row losses; write each row's gradient
    times `grad_scale` into `grad` (when given; it may be `scores` itself) and
    each row's weighted loss into `row_loss` (when given).  Rows have unit
    stride; `scores_arr` and `grad_arr` are the arrays behind the views, for
    their row strides.  min_parallel overrides the thread threshold.

    A label outside [0, C) raises ValueError ("target holds class label ...").
    With check_first, every label is checked (one vectorised sweep over the
    labels only) before anything is written: for outputs the caller can see.
    Without it, each block checks its own labels as the first step of the
    main pass and writes nothing when one is bad, and the error is raised
    after the pass: for outputs the caller throws away on error (a gradient
    array of our own, row_loss)."""
    cdef Py_ssize_t N = scores.shape[0], C = scores.shape[1]
    cdef lossopt_margin_args a
    cdef rows_block_fn block
    cdef double total
    cdef Py_ssize_t nbad = 0
    cdef unsigned char[::1] bad
    if N > 0 and C == 0:
        raise bad_label_error(labels, C)      # no label is in [0, 0)
    if N == 0:
        if row_loss is not None:
            row_loss[:] = 0.0
        return 0.0
    a.x = &scores[0, 0]
    a.xs = row_stride(scores_arr, sizeof(floating))
    a.g = NULL
    a.gs = 0
    if grad is not None:
        a.g = &grad[0, 0]
        a.gs = row_stride(grad_arr, sizeof(floating))
    a.labels = &labels[0]
    a.cw = &class_weight[0] if class_weight is not None else NULL
    a.sw = &sample_weight[0] if sample_weight is not None else NULL
    a.inv_c = 1.0 if crammer_singer else 1.0 / C
    a.gscale = grad_scale
    a.margin = margin
    a.n = C
    a.p = p
    a.crammer_singer = crammer_singer
    a.row_loss = &row_loss[0] if row_loss is not None else NULL
    a.bad = NULL
    a.rows_per_block = max(<Py_ssize_t>1, MARGIN_BLOCK // C)   # as sum_row_blocks
    if check_first:
        with nogil:
            nbad = lossopt_count_bad_labels(&labels[0], N, C)
        if nbad:
            raise bad_label_error(labels, C)
    else:
        bad = np.zeros((N + a.rows_per_block - 1) // a.rows_per_block, dtype=np.uint8)
        a.bad = &bad[0]
    block = lossopt_margin_rows_f32 if floating is float else lossopt_margin_rows_f64
    with nogil:
        total = sum_row_blocks(block, &a, N, C, MARGIN_BLOCK, n_threads,
                               PARALLEL_MIN_STREAM_ELEMS if min_parallel < 0 else min_parallel)
    if not check_first and np.any(bad):
        raise bad_label_error(labels, C)
    return total
