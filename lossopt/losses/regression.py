"""Regression losses: the negative log-likelihoods of continuous targets.
Kernels: ``src/_regression.pyx``."""

import math

import numpy as np

from .._kernels import _regression
from .._threads import get_num_threads
from .._validation import as_float_array, as_weights, check_out, overlaps
from ._base import Loss, grad_scale, reduce_loss

__all__ = ["SquaredError", "squared_error"]


def _regression_inputs(pred, target, sample_weight):
    """pred and target as (N, K) arrays of pred's float dtype, and the weights."""
    pred = as_float_array(pred, "pred")
    if pred.ndim == 0:
        raise ValueError("pred must have at least one dimension (the samples)")
    target = as_float_array(target, "target")
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred, {pred.shape}; got "
                         f"{target.shape}")
    n, k = pred.shape[0], math.prod(pred.shape[1:])
    p2 = np.ascontiguousarray(pred).reshape(n, k)
    t2 = np.ascontiguousarray(target, dtype=pred.dtype).reshape(n, k)
    sw = None if sample_weight is None else as_weights(sample_weight, (n,), "sample_weight")
    return pred, p2, t2, sw


def _gradient_target(out, pred, p2, others):
    """(N, K) array the kernel writes the gradient into."""
    if out is None:
        return np.empty(p2.shape, dtype=p2.dtype)
    check_out(out, pred.shape, pred.dtype)
    if out.flags.c_contiguous and out.size and not any(overlaps(out, o) for o in others):
        g = out.reshape(p2.shape)
        if not overlaps(g, p2) or g.__array_interface__["data"][0] == \
                p2.__array_interface__["data"][0]:
            return g
    return np.empty(p2.shape, dtype=p2.dtype)


class SquaredError(Loss):
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

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def _evaluate(self, pred, target, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        pred, p2, t2, sw = _regression_inputs(pred, target, sample_weight)
        n = p2.shape[0]
        denominator = float(n) if sw is None else float(np.sum(sw))
        grad = _gradient_target(out, pred, p2, (t2, sw)) if want_grad else None
        row_loss = np.empty(n) if reduction == "none" else None
        total = _regression.squared_error(p2, t2, grad, sw, grad_scale(reduction, denominator),
                                          row_loss, get_num_threads())
        value = reduce_loss(total, row_loss, denominator, reduction, (n,), pred.dtype)
        if not want_grad:
            return value, None
        if out is None:
            return value, grad.reshape(pred.shape)
        if not np.may_share_memory(grad, out):
            np.copyto(out, grad.reshape(pred.shape))
        return value, out


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
