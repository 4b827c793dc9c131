"""What the element-wise losses (regression and binary) share: turning
(pred, target, sample_weight) into (N, K) arrays, the gradient's target
array, and the one `_evaluate` that calls a kernel of the shared driver
(``src/_elementwise.pxd``)."""

import math

import numpy as np

from .._memory import empty
from .._kernels import _regression
from .._threads import get_num_threads
from .._validation import as_float_array, as_weights, check_out, overlaps
from ._base import Loss, grad_scale, reduce_loss


def elementwise_inputs(pred, target, sample_weight):
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


def gradient_target(out, shape, p2, others, name="out"):
    """(N, K) array the kernel writes a gradient of `shape` into: `out` itself
    when it is C-contiguous and overlaps no input other than being `pred`
    exactly, else a new array (copied into `out` afterwards)."""
    if out is None:
        return empty(p2.shape, p2.dtype)
    check_out(out, shape, p2.dtype, name)
    if out.flags.c_contiguous and out.size and not any(overlaps(out, o) for o in others):
        g = out.reshape(p2.shape)
        if not overlaps(g, p2) or g.__array_interface__["data"][0] == \
                p2.__array_interface__["data"][0]:
            return g
    return empty(p2.shape, p2.dtype)


def finish_gradient(grad, out, shape):
    """The gradient as the caller sees it (in `out` when given)."""
    if out is None:
        return grad.reshape(shape)
    if not np.may_share_memory(grad, out):
        np.copyto(out, grad.reshape(shape))
    return out


class ElementwiseLoss(Loss):
    """Base of the losses that are a sum over elements of f(pred, target).

    Subclasses set ``_kernel_fn``, a kernel of ``src/_regression.pyx`` or
    ``src/_binary.pyx`` called as ``(p2, t2, grad, sw, scale, row_loss,
    n_threads, **options)`` and returning the weighted sum and the number of
    targets outside the domain; ``_kernel_options(shape)`` (the validated
    hyper-parameters, knowing pred's shape); and ``_check_target(target)``
    (raising the error for a target outside the domain; None when every real
    target is allowed) with ``_target_domain``, the domain's code for
    ``_regression.count_outside``.
    """

    _check_target = None
    _target_domain = None      # _regression.SIGN_LABEL, UNIT or NONNEGATIVE
    _kernel_fn = None

    def _kernel_options(self, shape):
        return {}

    def _evaluate(self, pred, target, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        pred, p2, t2, sw = elementwise_inputs(pred, target, sample_weight)
        if self._check_target is not None:
            t_in = np.asarray(target)
            if t_in.dtype.kind == "f" and t_in.dtype.itemsize > p2.dtype.itemsize:
                # the cast to pred's dtype could round a target outside the
                # domain into it (1 + 1e-9 -> 1.0f): count the caller's values
                # (one vectorised pass), explain with _check_target
                t_wide = np.ascontiguousarray(t_in).reshape(p2.shape)
                if _regression.count_outside(self._target_domain, t_wide):
                    self._check_target(t_in)
        options = self._kernel_options(pred.shape)
        n = p2.shape[0]
        denominator = float(n) if sw is None else float(np.sum(sw))
        # The domain is checked in the kernel's own pass (it counts the targets
        # outside, and this raises afterwards), but a gradient written into
        # the caller's out= must not be started with bad targets: then one
        # vectorised pass checks them before anything is written, and the
        # kernel skips its check (check_domain=False).
        checked = out is not None and self._check_target is not None
        if checked and _regression.count_outside(self._target_domain, t2):
            self._check_target(t2)
        grad = gradient_target(out, pred.shape, p2, (t2, sw)) if want_grad else None
        row_loss = empty(n, np.float64) if reduction == "none" else None
        total, n_bad = type(self)._kernel_fn(p2, t2, grad, sw,
                                             grad_scale(reduction, denominator), row_loss,
                                             get_num_threads(), check_domain=not checked,
                                             **options)
        if n_bad:
            self._check_target(t2)
            raise AssertionError("kernel and validation disagree")  # pragma: no cover
        value = reduce_loss(total, row_loss, denominator, reduction, (n,), pred.dtype)
        if not want_grad:
            return value, None
        return value, finish_gradient(grad, out, pred.shape)
