"""What the losses over a class axis share: the logits and their class axis,
integer labels or probability targets checked, and the row layout of the
kernels (``lossopt._rows``) with the caller's ``out``.

Used by the softmax cross-entropy, the KL divergence and the multiclass hinge.
"""

import numpy as np

from .._memory import empty
from .. import _rows
from .._validation import as_float_array, check_int, least_value, normalize_axes


def class_logits(logits, axis, name="logits"):
    """(logits as a float array, the class axis >= 0, C, the batch shape)."""
    logits = as_float_array(logits, name)
    if logits.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the classes)")
    axis = check_int(axis, "axis")
    (axis,) = normalize_axes(axis, logits.ndim, "axis")
    return logits, axis, logits.shape[axis], logits.shape[:axis] + logits.shape[axis + 1:]


def label_array(target, batch, n_classes, ignore_index=None, name="target"):
    """Integer class labels of the batch shape as a flat contiguous intp array.
    Their range is checked by the caller (in one pass of a kernel)."""
    if target.shape != batch:
        raise ValueError(
            f"{name} holds class labels, so its shape must be the logits' shape "
            f"without the class axis, {batch}; got {target.shape}")
    if target.dtype.kind == "u" and target.size and target.max() > np.iinfo(np.intp).max:
        raise ValueError(f"{name} holds class label {target.max()}, outside "
                         f"[0, {n_classes})" + ("" if ignore_index is None else
                                                f" and not ignore_index={ignore_index}"))
    return np.ascontiguousarray(target.reshape(-1), dtype=np.intp)


def probability_array(target, logits, log_target=False, name="target"):
    """Class probabilities of the logits' shape and dtype (non-negative; rows
    need not sum to 1).  With `log_target` the target holds their logarithms
    (any real or -inf) and the probabilities are exp(target), a new array.
    NaN is not negative (it propagates to the loss), but it does not hide a
    negative value beside it (least_value)."""
    if target.shape != logits.shape:
        raise ValueError(
            f"{name} holds class probabilities (float dtype), so its shape must be "
            f"the logits' shape {logits.shape}; got {target.shape}. Class labels "
            f"need an integer dtype")
    probs = as_float_array(target, name, dtype=logits.dtype)
    if log_target:
        return np.exp(probs)
    least = least_value(probs)
    if least < 0:
        raise ValueError(f"{name} probabilities must be non-negative, got a minimum of "
                         f"{least}")
    return probs


def class_rows(logits, axis):
    """(rows, perm): the logits as (samples, C) rows with unit-stride classes."""
    rows, _, perm = _rows.to_rows(logits, (axis,))
    return rows, perm


def gradient_rows(out, logits, rows, perm, others):
    """The (samples, C) array the kernel writes the gradient into: a row view
    of `out` (already checked) when it can be one (see ``_rows.out_rows``),
    else a new array."""
    grad = None
    if out is not None:
        grad = _rows.out_rows(out, perm, rows, others=others)
    if grad is None:
        grad = empty(rows.shape, logits.dtype)
    return grad


def gradient_result(grad, out, logits, perm):
    """The gradient in the logits' layout: `out` (filled) when given."""
    if out is None:
        return _rows.from_rows(grad, logits.shape, perm)
    if not np.may_share_memory(grad, out):
        np.copyto(out, _rows.from_rows(grad, logits.shape, perm))
    return out
