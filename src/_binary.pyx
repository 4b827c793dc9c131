# cython: language_level=3, cdivision=True, initializedcheck=False
"""Binary classification losses: fused loss + gradient over (N, K) logits or
scores.

Each function here is a thin entry point into the shared element-wise driver
(src/_elementwise.pxd); the per-element formulas live in
src/lossopt_elementwise.h:

    binary cross-entropy  (1 - t) x + lw softplus(-x), lw = 1 + (pw - 1) t
                                                      lossopt_el_bce
    perceptron            max(0, -y yhat)              lossopt_el_perceptron
    hinge                 max(0, margin - y yhat)      lossopt_el_hinge
    squared hinge         max(0, margin - y yhat)^2    lossopt_el_hinge

Every function returns (sum_i w_i l_i, number of targets outside the loss's
domain: [0, 1] for the cross-entropy, {-1, 0, +1} for the margin losses) and
writes grad = grad_scale * w_i * dl/dyhat when `grad` is given (it may be
`pred` itself) and w_i l_i per row when `row_loss` is given.  min_parallel
overrides the thread threshold (bench/thread_threshold.py); check_domain=False
tells the kernel that the caller has checked the domain (it skips its own
check, and the count returned is 0).
"""

cdef extern from *:
    """
    #define LOSSOPT_ELEM_BINARY 1   /* the losses src/lossopt_elementwise.h compiles here */
    """

from _common cimport floating
from _elementwise cimport (run_elementwise, elem_params, lossopt_elem_params,
                           lossopt_elem_margin_v4_runs,
                           BINARY_CROSS_ENTROPY, PERCEPTRON, HINGE, SQUARED_HINGE)


def binary_cross_entropy(const floating[:, ::1] pred, const floating[:, ::1] target,
                         floating[:, ::1] grad, const double[::1] sample_weight,
                         double grad_scale, double[::1] row_loss, int n_threads=1, *,
                         double label_smoothing=0.0, double pos_weight=1.0,
                         const double[::1] pos_weight_cols=None,
                         Py_ssize_t min_parallel=-1, bint check_domain=True):
    """torch's binary_cross_entropy_with_logits per element, targets smoothed
    toward 1/2; pos_weight is a scalar, or one per column (pos_weight_cols,
    length K)."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    cdef lossopt_elem_params P = elem_params(BINARY_CROSS_ENTROPY, 1.0 - label_smoothing,
                                             0.5 * label_smoothing, pos_weight)
    if pos_weight_cols is not None:
        if pos_weight_cols.shape[0] != pred.shape[1]:
            raise ValueError("pos_weight_cols must have one entry per column")
        P.col = &pos_weight_cols[0]
    return run_elementwise(P, pred, target, none, grad, none, sample_weight, grad_scale,
                           row_loss, n_threads, min_parallel, check_domain)


def perceptron(const floating[:, ::1] pred, const floating[:, ::1] target,
               floating[:, ::1] grad, const double[::1] sample_weight,
               double grad_scale, double[::1] row_loss, int n_threads=1, *,
               Py_ssize_t min_parallel=-1, bint check_domain=True):
    """max(0, -y yhat), subgradient -y at y yhat = 0."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    return run_elementwise(elem_params(PERCEPTRON), pred, target, none, grad, none,
                           sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


def hinge(const floating[:, ::1] pred, const floating[:, ::1] target,
          floating[:, ::1] grad, const double[::1] sample_weight,
          double grad_scale, double[::1] row_loss, int n_threads=1, *,
          double margin=1.0, bint squared=False,
          Py_ssize_t min_parallel=-1, bint check_domain=True):
    """max(0, margin - y yhat) (squared with `squared`), subgradient 0 at the
    kink."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    return run_elementwise(elem_params(SQUARED_HINGE if squared else HINGE, margin), pred,
                           target, none, grad, none, sample_weight, grad_scale, row_loss,
                           n_threads, min_parallel, check_domain)


def margin_loop(str name, bint is_float):
    """Test hook: "avx512" when a flat call without sample weights and
    per-sample losses of the margin loss `name` ("perceptron", "hinge" or
    "squared_hinge") on float32 (is_float) or float64 data runs the AVX-512
    loop of src/lossopt_elementwise.h (lossopt_margin_plain_f32_v4), else
    None."""
    cdef int kind = {"perceptron": PERCEPTRON, "hinge": HINGE,
                     "squared_hinge": SQUARED_HINGE}[name]
    return "avx512" if lossopt_elem_margin_v4_runs(kind, is_float) else None
