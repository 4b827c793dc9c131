"""Softmax cross-entropy: the categorical negative log-likelihood with a
softmax last activation.  Kernel: ``src/_softmax.pyx`` (MODE_CE_*)."""

import numpy as np

from .. import _rows
from .._kernels import _softmax
from .._threads import get_num_threads
from .._validation import (as_float_array, as_weights, check_fraction, check_int,
                           check_out, normalize_axes)
from ._base import Loss, grad_scale, reduce_loss

__all__ = ["SoftmaxCrossEntropy", "softmax_cross_entropy"]


class SoftmaxCrossEntropy(Loss):
    r"""Softmax cross-entropy on logits, with fused loss and gradient.

    The model's last activation is the softmax
    :math:`\hat y_k = e^{z_k} / \sum_j e^{z_j}` of the logits :math:`z`, and
    the categorical (multinoulli) likelihood of a label :math:`y` is
    :math:`\prod_k \hat y_k^{y_k}`.  Its negative logarithm, per sample, is the
    cross-entropy

    .. math::

        \ell = -\sum_k w_k\, y'_k \log \hat y_k,
        \qquad y' = (1 - \varepsilon)\, y + \varepsilon / C,

    with class weights :math:`w_k`, label smoothing :math:`\varepsilon` and
    :math:`C` classes.  With a one-hot label :math:`y` (class :math:`c`) and no
    smoothing only :math:`-w_c \log \hat y_c` survives.  The gradient with
    respect to the logits is

    .. math::

        \frac{\partial \ell}{\partial z_j} = \hat y_j \sum_k w_k y'_k - w_j y'_j,

    i.e. :math:`\hat y - y` without weights.

    Parameters
    ----------
    class_weight : array_like of shape (C,), optional
        Non-negative weight of each class (torch's ``weight``).
    label_smoothing : float in [0, 1], default 0
        Mixes the target with the uniform distribution over the C classes.
    ignore_index : int, default -100
        Samples whose integer label equals it contribute nothing, not even to
        the mean's denominator.  Unused with probability targets.
    reduction : {"mean", "sum", "none"}, default "mean"
    axis : int, default -1
        The class axis of the logits (torch's layout (N, C, d1, ...) is
        ``axis=1``).

    Notes
    -----
    *Targets.* Either integer class labels of any integer dtype, with the
    logits' shape minus the class axis, each in ``[0, C)`` or equal to
    `ignore_index`; or class probabilities of the logits' shape (float,
    non-negative; rows are not required to sum to 1, as in torch).

    *Sample weights.* ``sample_weight`` (the labels' shape) multiplies each
    sample's loss and gradient.

    *The mean's denominator*, as in ``torch.nn.functional.cross_entropy``:
    with labels, the sum over the non-ignored samples of
    ``class_weight[label] * sample_weight`` (the count of non-ignored samples
    without weights) -- also when label smoothing is on; with probability
    targets, the number of samples (the sum of ``sample_weight`` when given).

    *Deliberate differences from torch*, documented here:

    * if the denominator is 0 (every sample ignored, or all weights 0), the
      mean loss is 0 and the gradient 0, not NaN;
    * an ignored sample, or one with ``sample_weight`` 0, contributes nothing:
      loss 0 and gradient 0 even where its logits hold NaN or ``+inf`` (torch's
      autograd gives NaN there);
    * a ``-inf`` logit is a masked class with probability 0: it never makes a
      NaN.  Zero target mass on it contributes 0 (0 log 0 = 0); positive mass
      on it (its label, or label smoothing, which spreads mass over every
      class) makes the loss ``+inf`` with a finite gradient.  A row whose
      logits are all ``-inf`` has loss 0 and gradient 0;
    * ``sample_weight`` does not exist in torch.

    NaN in the logits or targets propagates to the loss and that row's
    gradient; a ``+inf`` logit gives NaN, as in torch.

    *In place.* ``out`` may be the logits array itself: the gradient then
    overwrites the logits row by row, which saves allocating, and the memory
    traffic of, a second array of that size.

    The fused ``loss_and_gradient`` reads each row of logits once (into a
    block buffer kept in cache) and writes its gradient once; it allocates no
    temporary the size of the input for C-contiguous logits.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import SoftmaxCrossEntropy
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> loss = SoftmaxCrossEntropy()
    >>> round(loss(logits, [0, 2]), 6)
    0.634229
    >>> value, grad = loss.loss_and_gradient(logits, [0, 2])
    >>> grad.round(4)
    array([[-0.0781,  0.0571,  0.021 ],
           [ 0.1667,  0.1667, -0.3333]])
    >>> round(SoftmaxCrossEntropy(label_smoothing=0.1)(logits, [0, -100]), 6)
    0.336513
    """

    def __init__(self, class_weight=None, label_smoothing=0.0, ignore_index=-100,
                 reduction="mean", axis=-1):
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.axis = axis

    def _evaluate(self, logits, target, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        eps = check_fraction(self.label_smoothing, "label_smoothing")
        ignore = check_int(self.ignore_index, "ignore_index")
        logits = as_float_array(logits, "logits")
        if logits.ndim == 0:
            raise ValueError("logits must have at least one dimension (the classes)")
        axis = check_int(self.axis, "axis")
        (axis,) = normalize_axes(axis, logits.ndim, "axis")
        n_classes = logits.shape[axis]
        batch = logits.shape[:axis] + logits.shape[axis + 1:]

        target = np.asarray(target)
        labels = probs = probs_rows = None
        if target.dtype.kind in "iu":
            if target.shape != batch:
                raise ValueError(
                    f"target holds class labels, so its shape must be the logits' shape "
                    f"without the class axis, {batch}; got {target.shape}")
            if target.dtype.kind == "u" and target.size and \
                    target.max() > np.iinfo(np.intp).max:
                raise ValueError(f"target holds class label {target.max()}, outside "
                                 f"[0, {n_classes}) and not ignore_index={ignore}")
            labels = np.ascontiguousarray(target.reshape(-1), dtype=np.intp)
        elif target.dtype.kind == "f":
            if target.shape != logits.shape:
                raise ValueError(
                    f"target holds class probabilities (float dtype), so its shape must be "
                    f"the logits' shape {logits.shape}; got {target.shape}. Class labels "
                    f"need an integer dtype")
            probs = as_float_array(target, "target", dtype=logits.dtype)
            if probs.size and np.min(probs) < 0:
                raise ValueError("target probabilities must be non-negative, got a "
                                 f"minimum of {np.min(probs)}")
        else:
            raise TypeError("target must hold integer class labels or float class "
                            f"probabilities, got dtype {target.dtype}")

        cw = None if self.class_weight is None else as_weights(
            self.class_weight, (n_classes,), "class_weight")
        sw = None if sample_weight is None else as_weights(
            sample_weight, batch, "sample_weight").reshape(-1)
        if out is not None:
            check_out(out, logits.shape, logits.dtype)

        rows, _, perm = _rows.to_rows(logits, (axis,))
        if probs is not None:
            probs_rows = _rows.to_rows(probs, (axis,))[0]

        # the mean's denominator (torch's rule, see the class docstring), and
        # the labels checked, in one pass
        if labels is not None:
            denominator, bad = _softmax.label_denominator(labels, n_classes, ignore, cw, sw)
            if bad >= 0:
                raise ValueError(
                    f"target holds class label {labels[bad]}, outside [0, {n_classes}) and "
                    f"not ignore_index={ignore}")
        else:
            denominator = float(rows.shape[0]) if sw is None else float(np.sum(sw))

        grad = None
        if want_grad:
            if out is not None:
                grad = _rows.out_rows(out, perm, rows,
                                      others=(probs_rows, target, cw, sw, labels))
            if grad is None:
                grad = np.empty(rows.shape, dtype=logits.dtype)
        row_loss = np.empty(rows.shape[0]) if reduction == "none" else None
        total = _softmax.softmax_cross_entropy_rows(
            rows, grad, labels, probs_rows, cw,
            float(np.sum(cw)) if cw is not None else float(n_classes),
            sw, ignore, eps, grad_scale(reduction, denominator), row_loss,
            get_num_threads(), logits_arr=rows, grad_arr=grad, probs_arr=probs_rows)
        value = reduce_loss(total, row_loss, denominator, reduction, batch, logits.dtype)
        if not want_grad:
            return value, None
        if out is None:
            return value, _rows.from_rows(grad, logits.shape, perm)
        if not np.may_share_memory(grad, out):
            np.copyto(out, _rows.from_rows(grad, logits.shape, perm))
        return value, out


def softmax_cross_entropy(logits, target, *, sample_weight=None, class_weight=None,
                          label_smoothing=0.0, ignore_index=-100, reduction="mean",
                          axis=-1):
    r"""Softmax cross-entropy of `logits` against `target` (functional form).

    ``softmax_cross_entropy(z, y, **options)`` equals
    ``SoftmaxCrossEntropy(**options)(z, y, sample_weight)``; see
    :class:`SoftmaxCrossEntropy` for the formula, the targets, the mean's
    denominator and the edge cases.  Use the class for the gradient.

    Examples
    --------
    >>> from lossopt import softmax_cross_entropy
    >>> round(softmax_cross_entropy([[0.0, 0.0]], [1]), 6)
    0.693147
    >>> round(softmax_cross_entropy([[0.0, 0.0]], [[0.25, 0.75]]), 6)
    0.693147
    """
    loss = SoftmaxCrossEntropy(class_weight=class_weight, label_smoothing=label_smoothing,
                               ignore_index=ignore_index, reduction=reduction, axis=axis)
    return loss(logits, target, sample_weight)
