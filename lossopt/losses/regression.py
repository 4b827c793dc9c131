"""Regression losses: the negative log-likelihoods of continuous targets.

Kernels: ``src/_regression.pyx`` (entry points), per-element formulas in
``src/lossopt_elementwise.h``, one shared driver ``src/_elementwise.pxd``.

Shapes and the mean, for every loss here: `pred` has shape (N,) or (N, K)
(more dimensions are flattened into the K outputs), `target` the same shape,
``sample_weight`` shape (N,).  The loss of sample i sums over its K outputs;
``reduction="mean"`` divides the weighted sum by N, or by the sum of
``sample_weight`` when given.  For (N,) predictions this is torch's mean; for
K > 1 torch's elementwise mean divides by N*K, i.e. torch's mean equals
lossopt's mean / K (``reduction="sum"`` agrees exactly).  Zero-weight samples
contribute loss 0 and gradient 0.
"""

import numpy as np

from .._memory import empty
from .._kernels import _regression
from .._threads import get_num_threads
from .._validation import (as_float_array, check_nonnegative_array, check_out,
                           check_positive_float, overlaps)
from ._base import Loss, grad_scale, reduce_loss
from ._elementwise import (ElementwiseLoss, elementwise_inputs, finish_gradient,
                           gradient_target)

__all__ = ["SquaredError", "squared_error", "AbsoluteError", "absolute_error", "Huber",
           "huber", "GaussianNLL", "gaussian_nll", "PoissonNLL", "poisson_nll"]


class SquaredError(ElementwiseLoss):
    r"""Squared error, the L2 loss: the Gaussian negative log-likelihood.

    Per sample :math:`i` with :math:`K` outputs,

    .. math::

        \ell_i = \tfrac12 \sum_k (\hat y_{ik} - y_{ik})^2,
        \qquad \frac{\partial \ell_i}{\partial \hat y_{ik}} = \hat y_{ik} - y_{ik}.

    *Likelihood.* With :math:`y \sim \mathcal N(\hat y, \beta^{-1} I)`, the
    negative log-likelihood of :math:`M` samples is
    :math:`\frac{MK}{2}\ln 2\pi - \frac{MK}{2}\ln\beta + \frac\beta2\sum_i\lVert y_i-\hat y_i\rVert^2`;
    with :math:`\beta = 1` and the constants dropped it is the sum of
    :math:`\ell_i` -- hence the :math:`\tfrac12`.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by the number of samples N, or by
        the sum of ``sample_weight`` when given; "none" returns
        :math:`w_i \ell_i` per sample.

    Notes
    -----
    `pred` has shape (N,) or (N, K) (more dimensions are flattened into the
    K outputs); `target` has the same shape; ``sample_weight`` has shape (N,).
    The loss is computed in `pred`'s dtype with float64 sums; `target` is
    converted to it.

    Relation to ``torch.nn.functional.mse_loss``: torch has no 1/2 and its
    mean divides by all N*K elements, so
    ``mse_loss(p, y) == 2 * SquaredError()(p, y) / K``, and with
    ``reduction="sum"`` ``mse_loss == 2 * SquaredError``.

    ``out`` may be `pred` itself (the gradient overwrites it).

    Examples
    --------
    >>> from lossopt import SquaredError
    >>> loss = SquaredError()
    >>> loss([1.0, 2.0], [0.0, 0.0])
    1.25
    >>> loss.gradient([1.0, 2.0], [0.0, 0.0])
    array([0.5, 1. ])
    """

    _kernel_fn = staticmethod(_regression.squared_error)


def squared_error(pred, target, *, sample_weight=None, reduction="mean"):
    r"""Squared error :math:`\tfrac12\sum_k(\hat y_k - y_k)^2` per sample (functional form).

    Equals ``SquaredError(reduction)(pred, target, sample_weight)``; see
    :class:`SquaredError`.

    Examples
    --------
    >>> from lossopt import squared_error
    >>> squared_error([[1.0, 1.0]], [[0.0, 0.0]])
    1.0
    """
    return SquaredError(reduction=reduction)(pred, target, sample_weight)


class AbsoluteError(ElementwiseLoss):
    r"""Absolute error, the L1 loss: the Laplace negative log-likelihood.

    Per sample :math:`i` with :math:`K` outputs,

    .. math::

        \ell_i = \sum_k \lvert \hat y_{ik} - y_{ik} \rvert,
        \qquad \frac{\partial \ell_i}{\partial \hat y_{ik}}
        = \operatorname{sign}(\hat y_{ik} - y_{ik}).

    *Subgradient.* At the kink :math:`\hat y = y` the subdifferential is
    :math:`[-1, 1]`; lossopt returns 0 (as torch's ``l1_loss`` does).

    *Likelihood.* With :math:`y \sim \operatorname{Laplace}(\hat y, b)`,
    :math:`-\ln p(y) = \ln 2b + \lvert y - \hat y\rvert / b`, so the NLL of
    :math:`M` samples is :math:`MK \ln 2b + \frac1b \sum_i \ell_i`: with
    :math:`b = 1` and the constant dropped, the sum of :math:`\ell_i`.  Its
    minimiser is the median, where the squared error's is the mean.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Shapes, dtypes and ``out=`` as in :class:`SquaredError`.  Relation to
    ``torch.nn.functional.l1_loss``: equal for (N,) predictions; for (N, K)
    torch's mean is lossopt's mean divided by K (``reduction="sum"`` is equal).

    Examples
    --------
    >>> from lossopt import AbsoluteError
    >>> loss = AbsoluteError()
    >>> loss([1.0, -2.0, 0.5], [0.0, 0.0, 0.5])
    1.0
    >>> loss.gradient([1.0, -2.0, 0.5], [0.0, 0.0, 0.5])
    array([ 0.33333333, -0.33333333,  0.        ])
    """

    _kernel_fn = staticmethod(_regression.absolute_error)


def absolute_error(pred, target, *, sample_weight=None, reduction="mean"):
    r"""Absolute error :math:`\sum_k \lvert\hat y_k - y_k\rvert` per sample (functional form).

    Equals ``AbsoluteError(reduction)(pred, target, sample_weight)``; see
    :class:`AbsoluteError`.

    Examples
    --------
    >>> from lossopt import absolute_error
    >>> absolute_error([[1.0, -1.0]], [[0.0, 0.0]])
    2.0
    """
    return AbsoluteError(reduction=reduction)(pred, target, sample_weight)


class Huber(ElementwiseLoss):
    r"""Huber loss: quadratic near the target, linear far from it.

    With :math:`d = \hat y - y` and :math:`z = \lvert d\rvert`, per element

    .. math::

        h(d) = \begin{cases} \tfrac12 d^2 & z < \delta \\
                             \delta\,(z - \tfrac12\delta) & z \ge \delta \end{cases},
        \qquad h'(d) = \operatorname{clip}(d, -\delta, \delta),

    and :math:`\ell_i = \sum_k h(d_{ik})`.  The same value and gradient as
    ``torch.nn.functional.huber_loss``; :math:`h` is continuously
    differentiable (at :math:`z = \delta` both pieces give
    :math:`\tfrac12\delta^2` and slope :math:`\pm\delta`), so there is no
    subgradient to choose.

    *Likelihood.* :math:`e^{-h(d)}` is (up to normalisation) the density of
    a Gaussian core with Laplace tails; the loss is its NLL with the
    normaliser dropped -- L2 for small residuals, L1 (robust to outliers)
    for large ones.

    Parameters
    ----------
    delta : float, default 1.0
        Where the quadratic turns linear; must be > 0 (as in torch).
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Shapes, dtypes and ``out=`` as in :class:`SquaredError`.  Relation to
    torch: equal for (N,) predictions; for (N, K) torch's mean is lossopt's
    mean divided by K (``reduction="sum"`` is equal).  torch's elementwise
    ``weight`` corresponds to ``sample_weight`` with ``reduction="sum"``.

    Examples
    --------
    >>> from lossopt import Huber
    >>> loss = Huber(delta=1.0, reduction="none")
    >>> loss([0.5, 3.0], [0.0, 0.0])
    array([0.125, 2.5  ])
    >>> Huber().gradient([0.5, 3.0], [0.0, 0.0])
    array([0.25, 0.5 ])
    """

    _kernel_fn = staticmethod(_regression.huber)

    def __init__(self, delta=1.0, reduction="mean"):
        self.delta = delta
        self.reduction = reduction

    def _kernel_options(self, shape):
        return {"delta": check_positive_float(self.delta, "delta")}


def huber(pred, target, *, delta=1.0, sample_weight=None, reduction="mean"):
    r"""Huber loss per sample (functional form).

    Equals ``Huber(delta, reduction)(pred, target, sample_weight)``; see
    :class:`Huber`.

    Examples
    --------
    >>> from lossopt import huber
    >>> huber([0.5, 3.0], [0.0, 0.0], reduction="sum")
    2.625
    """
    return Huber(delta=delta, reduction=reduction)(pred, target, sample_weight)


class PoissonNLL(ElementwiseLoss):
    r"""Poisson negative log-likelihood, as ``torch.nn.functional.poisson_nll_loss``.

    For a count :math:`y \ge 0` and a predicted rate :math:`\lambda`,
    :math:`-\ln p(y) = \lambda - y\ln\lambda + \ln y!`.  Per element, with
    `log_input` (the prediction is :math:`\ln\lambda`, the canonical link)

    .. math::

        \ell = e^{\hat y} - y\,\hat y, \qquad \ell' = e^{\hat y} - y,

    and without it (the prediction is :math:`\lambda` itself)

    .. math::

        \ell = \hat y - y\ln(\hat y + \varepsilon), \qquad
        \ell' = 1 - \frac{y}{\hat y + \varepsilon}.

    With `full`, Stirling's approximation of :math:`\ln y!`,
    :math:`y\ln y - y + \tfrac12\ln(2\pi y)`, is added for :math:`y > 1`
    (0 for :math:`y \le 1`), as torch does; it does not change the gradient.
    :math:`\ell_i` sums the K outputs of sample i.

    *Likelihood.* Without `full` this is the Poisson NLL with the constant
    :math:`\sum \ln y!` dropped.

    Parameters
    ----------
    log_input : bool, default True
        Whether `pred` is the log-rate (True) or the rate (False).
    full : bool, default False
        Add the Stirling term.
    eps : float, default 1e-8
        Added to the rate before its logarithm (``log_input=False`` only); >= 0.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Targets must be non-negative (a count, or a non-negative rate); a negative
    target raises ``ValueError`` (torch does not check).  A negative rate with
    ``log_input=False`` gives NaN, as in torch.  Shapes, dtypes and ``out=``
    as in :class:`SquaredError`; for (N, K) torch's mean is lossopt's mean / K.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import PoissonNLL
    >>> loss = PoissonNLL(reduction="sum")
    >>> round(loss([0.0, np.log(2.0)], [1.0, 3.0]), 12)
    0.92055845832
    >>> loss.gradient([0.0, np.log(2.0)], [1.0, 3.0])
    array([ 0., -1.])
    """

    _kernel_fn = staticmethod(_regression.poisson_nll)

    def __init__(self, log_input=True, full=False, eps=1e-8, reduction="mean"):
        self.log_input = log_input
        self.full = full
        self.eps = eps
        self.reduction = reduction

    def _kernel_options(self, shape):
        return {"log_input": bool(self.log_input), "full": bool(self.full),
                "eps": check_positive_float(self.eps, "eps", allow_zero=True)}

    _target_domain = _regression.NONNEGATIVE

    def _check_target(self, t2):
        check_nonnegative_array(t2, "target")


def poisson_nll(pred, target, *, log_input=True, full=False, eps=1e-8, sample_weight=None,
                reduction="mean"):
    r"""Poisson negative log-likelihood per sample (functional form).

    Equals ``PoissonNLL(log_input, full, eps, reduction)(pred, target,
    sample_weight)``; see :class:`PoissonNLL`.

    Examples
    --------
    >>> from lossopt import poisson_nll
    >>> poisson_nll([0.0, 0.0], [1.0, 1.0])
    1.0
    """
    return PoissonNLL(log_input=log_input, full=full, eps=eps,
                      reduction=reduction)(pred, target, sample_weight)


def _variance_layout(var, pred):
    """var as an array that broadcasts to pred's shape with pred's ndim
    (torch's rule: pred's shape, pred's shape without the last axis, or one
    size-1 axis; lossopt accepts any broadcast of equal ndim and scalars)."""
    if var.shape == pred.shape or var.ndim == 0:
        return var
    if pred.ndim >= 1 and var.shape == pred.shape[:-1]:
        return var[..., None]
    if var.ndim == pred.ndim:
        try:
            np.broadcast_shapes(var.shape, pred.shape)
            if np.broadcast_shapes(var.shape, pred.shape) == pred.shape:
                return var
        except ValueError:
            pass
    raise ValueError(f"var must have pred's shape {pred.shape}, pred's shape without the "
                     f"last axis {pred.shape[:-1]}, a shape that broadcasts to it with the "
                     f"same number of axes, or be a scalar; got {var.shape}")


def _sum_to_shape(g, shape):
    """Sum g (pred's shape) over the axes that var was broadcast along."""
    if g.shape == tuple(shape):
        return g
    if len(shape) == 0:
        return np.asarray(g.sum(dtype=np.float64), dtype=g.dtype)
    axes = tuple(ax for ax, (a, b) in enumerate(zip(shape, g.shape)) if a == 1 and b != 1)
    return g.sum(axis=axes, keepdims=True, dtype=np.float64).astype(g.dtype)


class GaussianNLL(Loss):
    r"""Heteroscedastic Gaussian negative log-likelihood, as
    ``torch.nn.functional.gaussian_nll_loss``.

    The model predicts a mean :math:`\hat y` and a variance :math:`v` per
    output (or one variance shared by several outputs).  With
    :math:`\tilde v = \max(v, \varepsilon)` and :math:`d = \hat y - y`, per element

    .. math::

        \ell = \tfrac12\Bigl(\ln\tilde v + \frac{d^2}{\tilde v}\Bigr)
               \;[+\; \tfrac12\ln 2\pi \text{ with full}],
        \qquad \frac{\partial\ell}{\partial\hat y} = \frac{d}{\tilde v},
        \qquad \frac{\partial\ell}{\partial v}
               = \tfrac12\Bigl(\frac1{\tilde v} - \frac{d^2}{\tilde v^2}\Bigr),

    and :math:`\ell_i` sums the K outputs of sample i.  As in torch, the
    clamp at :math:`\varepsilon` is not differentiated: the variance gradient
    is the formula above at :math:`\tilde v`, also where :math:`v < \varepsilon`.

    *Likelihood.* :math:`-\ln \mathcal N(y; \hat y, v)
    = \tfrac12\ln 2\pi + \tfrac12\ln v + \frac{(y-\hat y)^2}{2v}`: with `full`
    this is the exact NLL.  With a fixed precision :math:`\beta = 1/v` the sum
    is :math:`\beta\cdot` ``SquaredError(reduction="sum")`` :math:`- \frac{MK}2\ln\beta`
    (+ :math:`\frac{MK}2\ln 2\pi` with full): the L2 loss is this NLL with a
    constant variance.

    Parameters
    ----------
    full : bool, default False
        Include the constant :math:`\tfrac12\ln 2\pi` per element.
    eps : float, default 1e-6
        Lower clamp of the variance; >= 0.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    *Calls.* The variance is a third argument, and the gradient is a pair:
    ``loss(pred, target, var, sample_weight=None)``,
    ``loss.gradient(pred, target, var, sample_weight=None, out=None)``
    ``-> (d_pred, d_var)`` and ``loss.loss_and_gradient(...)``
    ``-> (value, (d_pred, d_var))``; ``out`` is None or a pair
    ``(out_pred, out_var)`` whose entries may be None.

    *Shapes of var* (torch's rules): `pred`'s shape (one variance per
    output), `pred`'s shape without the last axis (one per sample, shared by
    its outputs), a shape with size-1 axes that broadcasts to `pred`'s, or a
    scalar.  ``d_var`` has `var`'s shape: where `var` was broadcast, the
    gradient is summed over the broadcast axes (as autograd does).  The
    kernel's pass is fused when `var` has `pred`'s shape; otherwise `var` is
    first expanded to it.

    *Domain.* A negative variance raises ``ValueError`` (torch does too).
    For (N, K) torch's mean is lossopt's mean divided by K.

    *Precision.* float32 data is computed in single precision (float32 log
    and divisions, the clamp at ``eps`` rounded to float32 as torch's clamp
    of a float32 tensor), with the per-element losses summed in float64;
    float64 data in double precision.

    Examples
    --------
    >>> from lossopt import GaussianNLL
    >>> loss = GaussianNLL(reduction="sum")
    >>> loss([1.0, 0.0], [0.0, 0.0], [1.0, 2.0])
    0.8465735902799727
    >>> d_pred, d_var = loss.gradient([1.0, 0.0], [0.0, 0.0], [1.0, 2.0])
    >>> d_pred, d_var
    (array([1., 0.]), array([0.  , 0.25]))
    """

    def __init__(self, full=False, eps=1e-6, reduction="mean"):
        self.full = full
        self.eps = eps
        self.reduction = reduction

    def __call__(self, pred, target, var, sample_weight=None):
        """The loss of the predicted means `pred` and variances `var`.

        Parameters
        ----------
        pred : array_like of shape (N,) or (N, K)
            The predicted means.
        target : array_like of `pred`'s shape
        var : array_like
            The predicted variances, >= 0: `pred`'s shape, `pred`'s shape
            without the last axis, a shape that broadcasts to it, or a scalar.
        sample_weight : array_like of shape (N,), optional

        Returns
        -------
        float, or ndarray of shape (N,) with ``reduction="none"``

        Examples
        --------
        >>> from lossopt import GaussianNLL
        >>> GaussianNLL()([1.0, 0.0], [0.0, 0.0], 1.0)     # (1/2 + 0) / 2
        0.25
        >>> GaussianNLL(reduction="none", full=True)([0.0], [0.0], [1.0])   # ln sqrt(2 pi)
        array([0.91893853])
        """
        return self._evaluate(pred, target, var, sample_weight, False, None)[0]

    def gradient(self, pred, target, var, sample_weight=None, out=None):
        """The gradients with respect to the means and to the variances.

        Parameters
        ----------
        pred, target, var, sample_weight
            As for calling the loss.
        out : pair (out_pred, out_var), optional
            Arrays of `pred`'s and `var`'s shapes to write the two
            gradients into; either may be None.

        Returns
        -------
        d_pred : ndarray of `pred`'s shape
        d_var : ndarray of `var`'s shape
            Summed over the axes `var` was broadcast along.

        Examples
        --------
        >>> from lossopt import GaussianNLL
        >>> d_pred, d_var = GaussianNLL(reduction="sum").gradient([1.0, 2.0], [0.0, 0.0], 2.0)
        >>> d_pred                               # (pred - target) / var
        array([0.5, 1. ])
        >>> d_var                                # sum of (1/v - d^2/v^2) / 2: shared variance
        array(-0.125)
        """
        return self._evaluate(pred, target, var, sample_weight, True, out)[1]

    def loss_and_gradient(self, pred, target, var, sample_weight=None, out=None):
        """The loss and both gradients, from one pass.

        Parameters
        ----------
        pred, target, var, sample_weight, out
            As for :meth:`gradient`.

        Returns
        -------
        value : float, or ndarray of shape (N,) with ``reduction="none"``
        (d_pred, d_var) : pair of ndarrays, as :meth:`gradient` returns

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt import GaussianNLL
        >>> value, (d_pred, d_var) = GaussianNLL().loss_and_gradient(
        ...     [1.0, 0.0], [0.0, 0.0], np.array([1.0, 4.0]))
        >>> round(value, 6)                      # (1/2 + ln(4)/2) / 2
        0.596574
        >>> d_pred, d_var
        (array([0.5, 0. ]), array([0.    , 0.0625]))
        """
        return self._evaluate(pred, target, var, sample_weight, True, out)

    def _evaluate(self, pred, target, var, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        eps = check_positive_float(self.eps, "eps", allow_zero=True)
        pred, p2, t2, sw = elementwise_inputs(pred, target, sample_weight)
        var = as_float_array(var, "var")
        var_b = _variance_layout(var, pred)
        # checked: the variances are known to be >= 0 (or NaN) before the
        # kernel runs, which then skips its own check (check_domain=False)
        checked = var.size < pred.size or var.dtype.itemsize > p2.dtype.itemsize
        if checked:
            # small, or about to be rounded by the cast to pred's dtype
            # (-1e-50 -> -0.0f): check the caller's values here
            if _regression.count_outside(_regression.NONNEGATIVE,
                                         np.ascontiguousarray(var).reshape(1, -1)):
                check_nonnegative_array(var, "var")
        v2 = np.ascontiguousarray(np.broadcast_to(var_b, pred.shape),
                                  dtype=p2.dtype).reshape(p2.shape)
        if out is None:
            out = (None, None)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("out must be None or a pair (out_pred, out_var)")
        out_pred, out_var = out
        if overlaps(out_pred, out_var):
            raise ValueError("out_pred and out_var overlap; pass two separate arrays")
        if (out_pred is not None or out_var is not None) and var.size == pred.size:
            if _regression.count_outside(_regression.NONNEGATIVE, v2):
                check_nonnegative_array(v2, "var")           # before anything is written
            checked = True
        n = p2.shape[0]
        denominator = float(n) if sw is None else float(np.sum(sw))
        grad = grad_var = None
        if want_grad:
            grad = gradient_target(out_pred, pred.shape, p2, (t2, v2, sw), "out_pred")
            if var.shape == pred.shape:
                grad_var = gradient_target(out_var, var.shape, p2, (t2, v2, sw, grad),
                                           "out_var")
            else:
                if out_var is not None:
                    check_out(out_var, var.shape, p2.dtype, "out_var")
                grad_var = empty(p2.shape, p2.dtype)
        row_loss = empty(n, np.float64) if reduction == "none" else None
        total, n_bad = _regression.gaussian_nll(
            p2, t2, v2, grad, grad_var, sw, grad_scale(reduction, denominator), row_loss,
            get_num_threads(), eps=eps, full=bool(self.full), check_domain=not checked)
        if n_bad:
            check_nonnegative_array(v2, "var")
        value = reduce_loss(total, row_loss, denominator, reduction, (n,), pred.dtype)
        if not want_grad:
            return value, None
        d_pred = finish_gradient(grad, out_pred, pred.shape)
        if var.shape == pred.shape:
            d_var = finish_gradient(grad_var, out_var, var.shape)
        else:
            d_var = _sum_to_shape(grad_var.reshape(pred.shape), var_b.shape).reshape(var.shape)
            if out_var is not None:
                np.copyto(out_var, d_var)
                d_var = out_var
        return value, (d_pred, d_var)


def gaussian_nll(pred, target, var, *, full=False, eps=1e-6, sample_weight=None,
                 reduction="mean"):
    r"""Gaussian negative log-likelihood with predicted variance (functional form).

    Equals ``GaussianNLL(full, eps, reduction)(pred, target, var,
    sample_weight)``; see :class:`GaussianNLL`.

    Examples
    --------
    >>> from lossopt import gaussian_nll
    >>> gaussian_nll([0.0, 2.0], [0.0, 0.0], 1.0)
    1.0
    """
    return GaussianNLL(full=full, eps=eps, reduction=reduction)(pred, target, var,
                                                                 sample_weight)
