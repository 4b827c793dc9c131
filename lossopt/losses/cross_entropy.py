"""Softmax cross-entropy: the categorical negative log-likelihood with a
softmax last activation; and the KL divergence, the cross-entropy minus the
targets' entropy.  Kernel: ``src/_softmax.pyx`` (MODE_CE_*, ``kl``)."""

import numpy as np

from .._memory import empty
from .._kernels import _softmax
from .._threads import get_num_threads
from .._validation import as_weights, check_fraction, check_int, check_out
from ._base import Loss, grad_scale, reduce_loss
from ._class_rows import (class_logits, class_rows, gradient_result, gradient_rows,
                          label_array, probability_array)

__all__ = ["SoftmaxCrossEntropy", "softmax_cross_entropy", "KLDivergence", "kl_divergence"]


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
        logits, axis, n_classes, batch = class_logits(logits, self.axis)

        target = np.asarray(target)
        labels = probs = None
        if target.dtype.kind in "iu":
            labels = label_array(target, batch, n_classes, ignore)
        elif target.dtype.kind == "f":
            probs = probability_array(target, logits)
        else:
            raise TypeError("target must hold integer class labels or float class "
                            f"probabilities, got dtype {target.dtype}")
        cw = None if self.class_weight is None else as_weights(
            self.class_weight, (n_classes,), "class_weight")
        return _softmax_rows_loss(logits, axis, batch, labels, probs, target, cw, ignore,
                                  eps, sample_weight, reduction, want_grad, out)


def _softmax_rows_loss(logits, axis, batch, labels, probs, target, cw, ignore, eps,
                       sample_weight, reduction, want_grad, out, kl=False):
    """Softmax cross-entropy (or with `kl`, the KL divergence) of checked
    logits and targets, by the fused row kernel: (value, gradient or None)."""
    n_classes = logits.shape[axis]
    sw = None if sample_weight is None else as_weights(
        sample_weight, batch, "sample_weight").reshape(-1)
    if out is not None:
        check_out(out, logits.shape, logits.dtype)
    rows, perm = class_rows(logits, axis)
    probs_rows = None if probs is None else class_rows(probs, axis)[0]

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

    grad = gradient_rows(out, logits, rows, perm, (probs_rows, target, cw, sw, labels)) \
        if want_grad else None
    row_loss = empty(rows.shape[0], np.float64) if reduction == "none" else None
    total = _softmax.softmax_cross_entropy_rows(
        rows, grad, labels, probs_rows, cw,
        float(np.sum(cw)) if cw is not None else float(n_classes),
        sw, ignore, eps, grad_scale(reduction, denominator), row_loss,
        get_num_threads(), logits_arr=rows, grad_arr=grad, probs_arr=probs_rows, kl=kl)
    value = reduce_loss(total, row_loss, denominator, reduction, batch, logits.dtype)
    if not want_grad:
        return value, None
    return value, gradient_result(grad, out, logits, perm)


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


class KLDivergence(Loss):
    r"""Kullback-Leibler divergence of the softmax of logits from target
    probabilities, with fused loss and gradient.

    Per sample, with target probabilities :math:`t` and the model's softmax
    :math:`\hat y = \mathrm{softmax}(z)` over :math:`C` classes,

    .. math::

        \ell = \mathrm{KL}(t \,\|\, \hat y) = \sum_k t_k \left(\ln t_k - \ln \hat y_k\right),
        \qquad 0 \ln 0 = 0,

    and its gradient with respect to the logits is that of the cross-entropy,

    .. math::

        \frac{\partial \ell}{\partial z_j} = \hat y_j \sum_k t_k - t_j
        \quad (= \hat y_j - t_j \text{ when } \textstyle\sum_k t_k = 1).

    *Likelihood.* The cross-entropy :math:`-\sum_k t_k \ln \hat y_k` is the
    categorical negative log-likelihood (see :class:`SoftmaxCrossEntropy`),
    and cross-entropy = KL divergence + entropy of the targets
    :math:`H(t) = -\sum_k t_k \ln t_k`.  :math:`H(t)` does not depend on the
    model, so both have the same minimiser and the same gradient; the KL
    divergence is the one that is 0 at the optimum :math:`\hat y = t`.

    Parameters
    ----------
    log_target : bool, default False
        As in torch: the target holds log-probabilities :math:`\ln t` (any
        real or ``-inf``) instead of probabilities.  They are exponentiated
        into a temporary array of the logits' size first.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum of the per-sample divergences by
        the number of samples (the sum of ``sample_weight`` when given): the
        true KL divergence per sample.  A sample is one distribution over the
        classes, so for (N, C) logits that is N, torch's
        ``reduction="batchmean"``; for (N, C, d1, ...) logits it is
        N*d1*..., while torch's "batchmean" divides by N only (torch's value
        is ours times d1*...).  "none" returns the per-sample divergences
        (weighted), the logits' shape without the class axis.
    axis : int, default -1
        The class axis of the logits (torch's layout (N, C, d1, ...) is
        ``axis=1``).

    Notes
    -----
    *Targets* are float class probabilities of the logits' shape,
    non-negative (rows are not required to sum to 1, as in torch; the
    formulas above hold as written).  One-hot targets make the KL divergence
    equal to the cross-entropy with the corresponding labels.

    *Sample weights.* ``sample_weight`` (the logits' shape without the class
    axis) multiplies each sample's divergence and gradient.

    *Relation to torch.*
    ``KLDivergence(reduction=r)(z, t)`` equals
    ``torch.nn.functional.kl_div(log_softmax(z), t, reduction=r')`` with
    ``r' = "batchmean"`` for ``"mean"`` (2-D logits; see `reduction` for
    more dimensions) and ``"sum"`` for ``"sum"``; with
    ``"none"`` torch returns the element-wise terms, whose sum over the class
    axis is ours.  Deliberate differences, documented here:

    * torch's ``reduction="mean"`` (the mean over all N*C elements, which
      torch itself warns is not the KL divergence) does not exist here;
    * torch's ``kl_div`` takes log-probabilities; this class takes logits
      and applies the log-softmax itself, in the same pass;
    * a ``-inf`` logit is a masked class with probability 0, as in
      :class:`SoftmaxCrossEntropy`: zero target mass on it contributes 0,
      positive target mass on it makes the divergence ``+inf`` (as the math
      says; the gradient stays finite); torch gives NaN for the former
      (0 * -inf).  A row whose logits are all ``-inf`` has divergence 0 and
      gradient 0;
    * with ``log_target=True`` a log-target of ``-inf`` is a zero
      probability and contributes 0 (0 ln 0 = 0); torch gives NaN there;
    * a sample with ``sample_weight`` 0 contributes nothing, even where its
      logits hold NaN or ``+inf``; ``sample_weight`` does not exist in torch.

    NaN in the logits or targets propagates to the loss and that row's
    gradient; a ``+inf`` logit gives NaN.

    *Precision.* Sums are in float64.  Near its minimum, where
    :math:`\hat y \approx t`, the divergence is a small difference of terms
    of the size of the cross-entropy, so its error there is absolute, a few
    ulps of the cross-entropy (as in torch), and a divergence that is
    exactly 0 may come out as :math:`\pm 10^{-17}`.

    ``out`` may be the logits array itself.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import KLDivergence
    >>> logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])   # softmax: [.5 .5], [.75 .25]
    >>> target = np.array([[0.5, 0.5], [0.25, 0.75]])
    >>> KLDivergence(reduction="none")(logits, target).round(6)
    array([0.      , 0.549306])
    >>> value, grad = KLDivergence().loss_and_gradient(logits, target)
    >>> round(value, 6)
    0.274653
    >>> grad
    array([[ 0.  ,  0.  ],
           [ 0.25, -0.25]])
    """

    def __init__(self, log_target=False, reduction="mean", axis=-1):
        self.log_target = log_target
        self.reduction = reduction
        self.axis = axis

    def _evaluate(self, logits, target, sample_weight, want_grad, out):
        reduction = self._check_reduction()
        if not isinstance(self.log_target, (bool, np.bool_)):
            raise TypeError(f"log_target must be a bool, got {self.log_target!r}")
        logits, axis, _, batch = class_logits(logits, self.axis)
        target = np.asarray(target)
        if target.dtype.kind != "f":
            raise TypeError(
                f"target must hold float class probabilities, got dtype {target.dtype}; "
                "for integer class labels (one-hot targets) the KL divergence is the "
                "cross-entropy: use SoftmaxCrossEntropy")
        probs = probability_array(target, logits, bool(self.log_target))
        return _softmax_rows_loss(logits, axis, batch, None, probs, target, None, -100, 0.0,
                                  sample_weight, reduction, want_grad, out, kl=True)


def kl_divergence(logits, target, *, sample_weight=None, log_target=False,
                  reduction="mean", axis=-1):
    r"""KL divergence :math:`\sum_k t_k (\ln t_k - \ln \mathrm{softmax}(z)_k)`
    per sample (functional form).

    ``kl_divergence(z, t, **options)`` equals
    ``KLDivergence(**options)(z, t, sample_weight)``; see
    :class:`KLDivergence` for the targets, the mean's denominator (the number
    of samples: torch's ``"batchmean"``) and the edge cases.  Use the class
    for the gradient.

    Examples
    --------
    >>> from lossopt import kl_divergence
    >>> round(kl_divergence([[0.0, 0.0]], [[0.5, 0.5]]), 6)
    0.0
    >>> round(kl_divergence([[0.0, 0.0]], [[1.0, 0.0]]), 6)
    0.693147
    """
    loss = KLDivergence(log_target=log_target, reduction=reduction, axis=axis)
    return loss(logits, target, sample_weight)
