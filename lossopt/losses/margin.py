"""The multiclass hinge loss (Weston-Watkins and Crammer-Singer): the margin
losses of multiclass support vector machines.  Kernel: ``src/_margin.pyx``."""

import numpy as np

from .._memory import empty
from .._kernels import _margin
from .._threads import get_num_threads
from .._validation import as_weights, check_finite_float, check_out
from ._base import Loss, grad_scale, reduce_loss
from ._class_rows import class_logits, class_rows, gradient_result, gradient_rows, label_array

__all__ = ["MulticlassHinge", "multiclass_hinge"]

KINDS = ("weston_watkins", "crammer_singer")


class MulticlassHinge(Loss):
    r"""Multiclass hinge loss on class scores, with fused loss and (sub)gradient.

    For scores :math:`x` over :math:`C` classes, the true class :math:`y`,
    margin :math:`\Delta` and power :math:`p \in \{1, 2\}`, per sample:

    * ``kind="weston_watkins"`` (the sum form; torch's ``multi_margin_loss``):

      .. math::

          \ell = \frac{w_y}{C} \sum_{j \ne y} \max(0,\; \Delta - x_y + x_j)^p

    * ``kind="crammer_singer"`` (the max form; optax's
      ``multiclass_hinge_loss``, there with :math:`\Delta = 1`, :math:`p = 1`):

      .. math::

          \ell = w_y \max\bigl(0,\; \Delta + \max_{j \ne y} x_j - x_y\bigr)^p
               = w_y \Bigl(\max_j \bigl(x_j + \Delta [j \ne y]\bigr) - x_y\Bigr)^p

      With ``p=2`` the single max-term is squared.

    with :math:`w_y` the class weight of the true class (1 without).

    *No likelihood.*  Unlike the cross-entropy, a hinge loss is not the
    negative log-likelihood of a distribution over the labels: it is a margin
    criterion.  The score of the true class must beat every other score
    (Weston-Watkins: each of them; Crammer-Singer: the best of them) by at
    least :math:`\Delta`; scores that do cost nothing, so the loss is 0 on a
    whole region, not only at one point.  A linear model :math:`x = W a + b`
    trained on this loss plus an L2 penalty :math:`\frac\lambda2\lVert W\rVert^2`
    is the multiclass support vector machine of Weston and Watkins (1999) or
    of Crammer and Singer (2001).

    *Subgradient.* The loss is convex and piecewise linear (piecewise
    quadratic with ``p=2``) in the scores.  The gradient of a term
    :math:`h > 0` is :math:`p\, h^{p-1}` times its coefficient (:math:`w_y/C`
    or :math:`w_y`) at the competing class :math:`j` and minus that at
    :math:`y`.  At the kinks the returned element of the subdifferential is:

    * a term exactly 0 (:math:`h = 0`, the hinge's corner) contributes 0;
    * Crammer-Singer with ties in :math:`\max_{j \ne y} x_j`: the whole
      gradient goes to the first maximiser in class order (as ``np.argmax``),
      not split among them.

    Parameters
    ----------
    margin : float, default 1.0
        The margin :math:`\Delta`, finite (torch's ``margin``).
    kind : {"weston_watkins", "crammer_singer"}, default "weston_watkins"
    p : {1, 2}, default 1
        1: the hinge; 2: the squared hinge (torch's ``p``).
    class_weight : array_like of shape (C,), optional
        Non-negative weights; the one of the sample's true class multiplies
        its loss (torch's ``weight``, with the same semantics for
        Weston-Watkins).
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the sum by the number of samples N (the sum of
        ``sample_weight`` when given); as in torch, the class weights do not
        enter the denominator.  "none" returns the weighted per-sample losses.
    axis : int, default -1
        The class axis of the scores.

    Notes
    -----
    *Labels* are integer class indices in ``[0, C)`` of the scores' shape
    without the class axis (any integer dtype).  ``sample_weight`` (the same
    shape) multiplies each sample's loss and gradient.

    Weston-Watkins equals ``torch.nn.functional.multi_margin_loss(x, y, p,
    margin, weight, reduction)`` for scores of shape (N, C), including its
    division by C (the term :math:`j = y` is left out of the sum but counted
    in C).  Crammer-Singer does not divide by C.  Deliberate differences from
    torch:

    * NaN in a row's scores propagates to that row's loss and gradient;
      torch's kernel drops NaN terms (it tests ``term > 0``);
    * ``sample_weight`` and Crammer-Singer do not exist in torch;
    * a sample whose weight (sample weight times class weight) is 0
      contributes nothing, loss 0 and gradient 0, even with NaN scores.

    With one class the loss is 0 (there is no competing class).  ``out`` may
    be the scores array itself.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import MulticlassHinge
    >>> scores = np.array([[2.0, 1.5, -1.0], [0.0, 0.5, 0.2]])
    >>> labels = np.array([0, 2])
    >>> MulticlassHinge(reduction="none")(scores, labels).round(6)
    array([0.166667, 0.7     ])
    >>> MulticlassHinge(kind="crammer_singer", reduction="none")(scores, labels)
    array([0.5, 1.3])
    >>> MulticlassHinge(kind="crammer_singer").gradient(scores, labels)
    array([[-0.5,  0.5,  0. ],
           [ 0. ,  0.5, -0.5]])
    """

    def __init__(self, margin=1.0, kind="weston_watkins", p=1, class_weight=None,
                 reduction="mean", axis=-1):
        self.margin = margin
        self.kind = kind
        self.p = p
        self.class_weight = class_weight
        self.reduction = reduction
        self.axis = axis

    def _check_options(self):
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.p, (bool, np.bool_)) or self.p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {self.p!r}")
        margin = check_finite_float(self.margin, "margin")
        return margin, int(self.p), self.kind == "crammer_singer"

    def _evaluate(self, scores, target, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        margin, p, crammer_singer = self._check_options()
        scores, axis, n_classes, batch = class_logits(scores, self.axis, "scores")
        target = np.asarray(target)
        if target.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class labels in [0, {n_classes}), "
                            f"got dtype {target.dtype}")
        labels = label_array(target, batch, n_classes)
        cw = None if self.class_weight is None else as_weights(
            self.class_weight, (n_classes,), "class_weight")
        sw = None if sample_weight is None else as_weights(
            sample_weight, batch, "sample_weight").reshape(-1)
        if out is not None:
            check_out(out, scores.shape, scores.dtype)
        rows, perm = class_rows(scores, axis)
        denominator = float(rows.shape[0]) if sw is None else float(np.sum(sw))
        grad = gradient_rows(out, scores, rows, perm, (target, cw, sw, labels)) \
            if want_grad else None
        row_loss = empty(rows.shape[0], np.float64) if reduction == "none" else None
        # labels are checked by the kernel: block by block within its one pass
        # when only arrays of our own are written, all of them first when the
        # gradient goes straight into the caller's out (nothing written then)
        total = _margin.multiclass_hinge_rows(
            rows, grad, labels, cw, sw, margin, p, crammer_singer,
            grad_scale(reduction, denominator), row_loss, get_num_threads(),
            scores_arr=rows, grad_arr=grad,
            check_first=out is not None and np.may_share_memory(grad, out))
        value = reduce_loss(total, row_loss, denominator, reduction, batch, scores.dtype)
        if not want_grad:
            return value, None
        return value, gradient_result(grad, out, scores, perm)


def multiclass_hinge(scores, target, *, sample_weight=None, margin=1.0,
                     kind="weston_watkins", p=1, class_weight=None, reduction="mean",
                     axis=-1):
    r"""Multiclass hinge loss of `scores` against integer labels (functional form).

    ``multiclass_hinge(x, y, **options)`` equals
    ``MulticlassHinge(**options)(x, y, sample_weight)``; see
    :class:`MulticlassHinge` for the two kinds, the subgradient at the kinks
    and the mean's denominator (the number of samples).  Use the class for
    the gradient.

    Examples
    --------
    >>> from lossopt import multiclass_hinge
    >>> multiclass_hinge([[1.0, 0.0]], [0])
    0.0
    >>> multiclass_hinge([[0.0, 0.0]], [0], p=2, kind="crammer_singer")
    1.0
    """
    loss = MulticlassHinge(margin=margin, kind=kind, p=p, class_weight=class_weight,
                           reduction=reduction, axis=axis)
    return loss(scores, target, sample_weight)
