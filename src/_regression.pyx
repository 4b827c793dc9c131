# cython: language_level=3, cdivision=True, initializedcheck=False
"""Regression losses: fused loss + gradient over (N, K) predictions.

Each function here is a thin entry point into the shared element-wise driver
(src/_elementwise.pxd); the per-element formulas live in
src/lossopt_elementwise.h:

    squared error   l = (yhat - y)^2 / 2                      lossopt_el_squared
    absolute error  l = |yhat - y|                            lossopt_el_absolute
    Huber           l = d^2/2 or delta (|d| - delta/2)        lossopt_el_huber
    Gaussian NLL    l = (ln max(v, eps) + d^2 / max(v, eps)) / 2 [+ ln(2 pi) / 2]
                                                              lossopt_el_gaussian_nll
    Poisson NLL     l = e^yhat - y yhat  or  yhat - y ln(yhat + eps) [+ Stirling]
                                                              lossopt_el_poisson_*

Every function returns (sum_i w_i l_i, number of targets outside the loss's
domain) and writes grad = grad_scale * w_i * dl/dyhat when `grad` is given
(it may be `pred` itself) and w_i l_i per row when `row_loss` is given.
min_parallel overrides the thread threshold (bench/thread_threshold.py);
check_domain=False tells the kernel that the caller has checked the domain
(it skips its own check, and the count returned is 0).
"""

cdef extern from *:
    """
    #define LOSSOPT_ELEM_REGRESSION 1   /* the losses src/lossopt_elementwise.h compiles here */
    """

from _common cimport floating
from _elementwise cimport (run_elementwise, elem_params, count_outside as _count_outside,
                           DOMAIN_SIGN_LABEL, DOMAIN_UNIT, DOMAIN_NONNEGATIVE,
                           SQUARED_ERROR, ABSOLUTE_ERROR,
                           HUBER, GAUSSIAN_NLL, POISSON_NLL_LOG, POISSON_NLL_LOG_FULL,
                           POISSON_NLL_RATE, POISSON_NLL_RATE_FULL)

from libc.math cimport log, M_PI


def squared_error(const floating[:, ::1] pred, const floating[:, ::1] target,
                  floating[:, ::1] grad, const double[::1] sample_weight,
                  double grad_scale, double[::1] row_loss, int n_threads=1, *,
                  Py_ssize_t min_parallel=-1, bint check_domain=True):
    """l = (yhat - y)^2 / 2, dl/dyhat = yhat - y."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    return run_elementwise(elem_params(SQUARED_ERROR), pred, target, none, grad, none,
                           sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


def absolute_error(const floating[:, ::1] pred, const floating[:, ::1] target,
                   floating[:, ::1] grad, const double[::1] sample_weight,
                   double grad_scale, double[::1] row_loss, int n_threads=1, *,
                   Py_ssize_t min_parallel=-1, bint check_domain=True):
    """l = |yhat - y|, dl/dyhat = sign(yhat - y) (0 at 0)."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    return run_elementwise(elem_params(ABSOLUTE_ERROR), pred, target, none, grad, none,
                           sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


def huber(const floating[:, ::1] pred, const floating[:, ::1] target,
          floating[:, ::1] grad, const double[::1] sample_weight,
          double grad_scale, double[::1] row_loss, int n_threads=1, *,
          double delta=1.0, Py_ssize_t min_parallel=-1, bint check_domain=True):
    """torch's huber_loss per element, with `delta`."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    return run_elementwise(elem_params(HUBER, delta), pred, target, none, grad, none,
                           sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


def gaussian_nll(const floating[:, ::1] pred, const floating[:, ::1] target,
                 const floating[:, ::1] var, floating[:, ::1] grad,
                 floating[:, ::1] grad_var, const double[::1] sample_weight,
                 double grad_scale, double[::1] row_loss, int n_threads=1, *,
                 double eps=1e-6, bint full=False,
                 Py_ssize_t min_parallel=-1, bint check_domain=True):
    """torch's gaussian_nll_loss per element; `var` has pred's shape.  The
    count returned is that of negative variances."""
    cdef double cst = 0.5 * log(2.0 * M_PI) if full else 0.0
    return run_elementwise(elem_params(GAUSSIAN_NLL, eps, cst), pred, target, var, grad,
                           grad_var, sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


def poisson_nll(const floating[:, ::1] pred, const floating[:, ::1] target,
                floating[:, ::1] grad, const double[::1] sample_weight,
                double grad_scale, double[::1] row_loss, int n_threads=1, *,
                bint log_input=True, bint full=False, double eps=1e-8,
                Py_ssize_t min_parallel=-1, bint check_domain=True):
    """torch's poisson_nll_loss per element.  The count returned is that of
    negative targets."""
    cdef floating[:, ::1] none = None  # typed, for the fused driver
    cdef int kind
    if log_input:
        kind = POISSON_NLL_LOG_FULL if full else POISSON_NLL_LOG
    else:
        kind = POISSON_NLL_RATE_FULL if full else POISSON_NLL_RATE
    return run_elementwise(elem_params(kind, eps), pred, target, none, grad, none,
                           sample_weight, grad_scale, row_loss, n_threads,
                           min_parallel, check_domain)


# the domains count_outside checks (every element-wise loss uses it, the
# binary ones too)
SIGN_LABEL = DOMAIN_SIGN_LABEL
UNIT = DOMAIN_UNIT
NONNEGATIVE = DOMAIN_NONNEGATIVE


def count_outside(int domain, const floating[:, ::1] x):
    """Number of entries of x outside `domain` (SIGN_LABEL: -1, 0, +1; UNIT:
    [0, 1]; NONNEGATIVE: >= 0); NaN is never outside.  One vectorised pass."""
    return _count_outside(domain, x)
