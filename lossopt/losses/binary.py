"""Binary classification losses: the Bernoulli NLL on logits, and the margin
family (perceptron, hinge, squared hinge).

Kernels: ``src/_binary.pyx`` (entry points), per-element formulas in
``src/lossopt_elementwise.h``, one shared driver ``src/_elementwise.pxd``.

Shapes and the mean, for every loss here: `pred` (logits or scores) has
shape (N,) or (N, K) (K independent binary problems, e.g. multi-label;
more dimensions are flattened into K), `target` the same shape,
``sample_weight`` shape (N,).  The loss of sample i sums over its K outputs;
``reduction="mean"`` divides the weighted sum by N, or by the sum of
``sample_weight`` when given.  Zero-weight samples contribute loss 0 and
gradient 0.

Labels of the margin losses: -1/+1 or 0/1 (+1 and 1 are the positive class;
-1 and 0 the negative one; the two codings may not be told apart, so an array
may even mix -1 and 0).  Any other value raises ``ValueError``; NaN propagates.
"""

import numpy as np

from .._kernels import _binary, _regression
from .._validation import (as_float_array, check_binary_labels, check_finite_float,
                           check_fraction, check_unit_interval)
from ._elementwise import ElementwiseLoss

__all__ = ["BinaryCrossEntropy", "binary_cross_entropy", "Perceptron", "perceptron",
           "Hinge", "hinge", "SquaredHinge", "squared_hinge"]


class BinaryCrossEntropy(ElementwiseLoss):
    r"""Binary cross-entropy on logits: the Bernoulli NLL with a sigmoid last activation.

    For a logit :math:`x`, the probability :math:`\sigma(x)` of the positive
    class and a (soft) target :math:`t \in [0, 1]`, per element

    .. math::

        \ell = -\,p_w\,t\ln\sigma(x) - (1 - t)\ln(1 - \sigma(x))
             = (1 - t)\,x + l_w \ln(1 + e^{-x}),
        \qquad \frac{\partial\ell}{\partial x} = l_w\,\sigma(x) - p_w\,t,

    with :math:`l_w = 1 + (p_w - 1)\,t` (:math:`p_w = 1` without
    `pos_weight`: :math:`\partial\ell/\partial x = \sigma(x) - t`), and
    :math:`\ell_i` sums the K outputs of sample i.  Label smoothing
    :math:`\varepsilon` replaces :math:`t` by
    :math:`t(1 - \varepsilon) + \varepsilon/2` (toward 1/2).

    *Likelihood.* For :math:`y \sim \operatorname{Bernoulli}(\sigma(x))`,
    :math:`-\ln p(y) = -y\ln\sigma(x) - (1-y)\ln(1-\sigma(x))`: the loss
    with :math:`p_w = 1` is exactly this NLL (no constant is dropped).

    *Stability.* Computed from the logit, never from :math:`\sigma(x)`:
    :math:`\ln(1 + e^{-x}) = \max(-x, 0) + \operatorname{log1p}(e^{-\lvert x\rvert})`,
    exact to rounding for every finite logit (the cut-offs are justified
    in ``src/lossopt_elementwise.h``); e.g. at :math:`x = 40`, :math:`t = 1`
    the loss is 4.2e-18 and the gradient -4.2e-18, not 0.

    Parameters
    ----------
    pos_weight : float or array_like, optional
        Weight :math:`p_w \ge 0` of the positive term: a scalar, or one per
        output (any shape that broadcasts to ``pred.shape[1:]``, as torch's
        "one per class").
    label_smoothing : float in [0, 1], default 0.0
        Smoothing of the targets toward 1/2 (not in torch; with it, torch
        agrees when given the smoothed targets).
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Same semantics as ``torch.nn.functional.binary_cross_entropy_with_logits``
    with ``pos_weight``: equal for (N,) logits; for (N, K) torch's mean is
    lossopt's mean divided by K.  torch's elementwise ``weight`` corresponds to
    ``sample_weight`` with ``reduction="sum"`` when it is one weight per
    sample (shape (N,) or (N, 1)); with "mean", torch divides by the number of
    elements and lossopt by the sum of the weights.  A torch ``weight`` that
    varies along the outputs has no lossopt equivalent.  Deliberate
    difference: an infinite logit on the side its target agrees with
    (:math:`x = +\infty`, :math:`t = 1`) gives the limit 0, where torch gives
    NaN (0 * inf).  Targets outside [0, 1] raise ``ValueError``.

    Examples
    --------
    >>> from lossopt import BinaryCrossEntropy
    >>> loss = BinaryCrossEntropy(reduction="none")
    >>> loss([0.0, 1000.0, -1000.0], [1.0, 1.0, 1.0]).tolist()
    [0.6931471805599453, 0.0, 1000.0]
    >>> BinaryCrossEntropy(reduction="sum").gradient([0.0, 2.0], [1.0, 0.0])
    array([-0.5       ,  0.88079708])
    """

    def __init__(self, pos_weight=None, label_smoothing=0.0, reduction="mean"):
        self.pos_weight = pos_weight
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    _kernel_fn = staticmethod(_binary.binary_cross_entropy)

    def _kernel_options(self, shape):
        options = {"label_smoothing": check_fraction(self.label_smoothing, "label_smoothing")}
        if self.pos_weight is None:
            return options
        pw = as_float_array(self.pos_weight, "pos_weight", dtype=np.float64)
        if pw.size and not np.all(pw >= 0):      # (NaN fails too)
            bad = pw[~(pw >= 0)].reshape(-1)[0]
            raise ValueError(f"pos_weight must be non-negative (and not NaN), got {bad}")
        if pw.size == 1:
            options["pos_weight"] = float(pw.reshape(-1)[0])
            return options
        while pw.ndim > len(shape) - 1 and pw.shape[0] == 1:
            pw = pw[0]                   # torch's (1, K) form: one weight per output
        try:
            cols = np.broadcast_to(pw, shape[1:])
        except ValueError:
            raise ValueError(f"pos_weight with shape {np.shape(self.pos_weight)} cannot be "
                             f"broadcast to the outputs of pred, {shape[1:]} (one weight per "
                             "output; weights that vary along the samples are not "
                             "supported)") from None
        options["pos_weight_cols"] = np.ascontiguousarray(cols, dtype=np.float64).reshape(-1)
        return options

    _target_domain = _regression.UNIT

    def _check_target(self, t2):
        check_unit_interval(t2, "target")


def binary_cross_entropy(pred, target, *, pos_weight=None, label_smoothing=0.0,
                         sample_weight=None, reduction="mean"):
    r"""Binary cross-entropy on logits (functional form).

    Equals ``BinaryCrossEntropy(pos_weight, label_smoothing, reduction)(pred,
    target, sample_weight)``; see :class:`BinaryCrossEntropy`.

    Examples
    --------
    >>> from lossopt import binary_cross_entropy
    >>> binary_cross_entropy([0.0, 0.0], [1.0, 0.0])
    0.6931471805599453
    """
    return BinaryCrossEntropy(pos_weight=pos_weight, label_smoothing=label_smoothing,
                              reduction=reduction)(pred, target, sample_weight)


class _MarginLoss(ElementwiseLoss):
    _target_domain = _regression.SIGN_LABEL

    def _check_target(self, t2):
        check_binary_labels(t2, "target")


class Perceptron(_MarginLoss):
    r"""The perceptron criterion: the summed violation of the misclassified samples.

    With labels :math:`y \in \{-1, +1\}` (0 is read as -1) and scores
    :math:`\hat y`, per element

    .. math::

        \ell = \max(0, -y\hat y), \qquad
        \frac{\partial\ell}{\partial\hat y} = \begin{cases}
            -y & y\hat y \le 0 \\ 0 & y\hat y > 0 \end{cases},

    i.e. :math:`-\sum_{\text{misclassified}} y\,\hat y`; :math:`\ell_i` sums
    the K outputs of sample i.

    *Subgradient.* At :math:`y\hat y = 0` the subdifferential is the segment
    between :math:`-y` and 0; lossopt returns :math:`-y` (a score of 0 counts
    as misclassified, the perceptron's update rule), so that training from
    zero weights moves at all.

    *Likelihood.* None: the perceptron criterion is not a negative
    log-likelihood (it is the hinge loss with margin 0).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Labels -1/+1 or 0/1 (see the module docstring); other values raise
    ``ValueError``.

    Examples
    --------
    >>> from lossopt import Perceptron
    >>> loss = Perceptron(reduction="sum")
    >>> loss([2.0, -0.5, 0.0], [1, 1, 0])
    0.5
    >>> loss.gradient([2.0, -0.5, 0.0], [1, 1, 0])
    array([ 0., -1.,  1.])
    """

    _kernel_fn = staticmethod(_binary.perceptron)


def perceptron(pred, target, *, sample_weight=None, reduction="mean"):
    r"""Perceptron criterion (functional form).

    Equals ``Perceptron(reduction)(pred, target, sample_weight)``; see
    :class:`Perceptron`.

    Examples
    --------
    >>> from lossopt import perceptron
    >>> perceptron([-1.0, 1.0], [1, 1])
    0.5
    """
    return Perceptron(reduction=reduction)(pred, target, sample_weight)


class Hinge(_MarginLoss):
    r"""Hinge loss (binary): the loss of the support vector machine.

    With labels :math:`y \in \{-1, +1\}` (0 is read as -1), scores
    :math:`\hat y` and margin :math:`m`, per element

    .. math::

        \ell = \max(0, m - y\hat y), \qquad
        \frac{\partial\ell}{\partial\hat y} = \begin{cases}
            -y & y\hat y < m \\ 0 & y\hat y \ge m \end{cases};

    :math:`\ell_i` sums the K outputs of sample i.  An SVM is this loss plus
    an L2 penalty on the weights.

    *Subgradient.* At the kink :math:`y\hat y = m` the subdifferential is the
    segment between :math:`-y` and 0; lossopt returns 0.

    *Likelihood.* None: the hinge loss is a convex upper bound of the 0-1
    loss (times m), not a negative log-likelihood.

    Parameters
    ----------
    margin : float, default 1.0
        The margin :math:`m` (finite).
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Labels -1/+1 or 0/1 (see the module docstring); other values (e.g. 2)
    raise ``ValueError``.

    Examples
    --------
    >>> from lossopt import Hinge
    >>> loss = Hinge(reduction="none")
    >>> loss([2.0, 0.5, 1.0], [1, 1, 1])
    array([0. , 0.5, 0. ])
    >>> Hinge(reduction="sum").gradient([2.0, 0.5, 1.0], [1, 0, 1])
    array([0., 1., 0.])
    """

    _kernel_fn = staticmethod(_binary.hinge)
    _squared = False

    def __init__(self, margin=1.0, reduction="mean"):
        self.margin = margin
        self.reduction = reduction

    def _kernel_options(self, shape):
        return {"margin": check_finite_float(self.margin, "margin"), "squared": self._squared}


def hinge(pred, target, *, margin=1.0, sample_weight=None, reduction="mean"):
    r"""Binary hinge loss (functional form).

    Equals ``Hinge(margin, reduction)(pred, target, sample_weight)``; see
    :class:`Hinge`.

    Examples
    --------
    >>> from lossopt import hinge
    >>> hinge([0.0, 3.0], [1, -1])
    2.5
    """
    return Hinge(margin=margin, reduction=reduction)(pred, target, sample_weight)


class SquaredHinge(Hinge):
    r"""Squared hinge loss (binary), the loss of the L2-SVM.

    With labels :math:`y \in \{-1, +1\}` (0 is read as -1), scores
    :math:`\hat y` and margin :math:`m`, per element

    .. math::

        \ell = \max(0, m - y\hat y)^2, \qquad
        \frac{\partial\ell}{\partial\hat y} = -2y\max(0, m - y\hat y);

    :math:`\ell_i` sums the K outputs of sample i.  Differentiable
    everywhere (the gradient is 0 at the kink), so no subgradient is chosen.
    No 1/2 factor (as scikit-learn's ``squared_hinge``).

    *Likelihood.* None (a margin loss).

    Parameters
    ----------
    margin : float, default 1.0
        The margin :math:`m` (finite).
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum by N, or by the sum of
        ``sample_weight``; "none" returns :math:`w_i \ell_i` per sample.

    Notes
    -----
    Labels -1/+1 or 0/1; other values raise ``ValueError``.

    Examples
    --------
    >>> from lossopt import SquaredHinge
    >>> loss = SquaredHinge(reduction="sum")
    >>> loss([0.5, -1.0], [1, 1])
    4.25
    >>> loss.gradient([0.5, -1.0], [1, 1])
    array([-1., -4.])
    """

    _squared = True


def squared_hinge(pred, target, *, margin=1.0, sample_weight=None, reduction="mean"):
    r"""Binary squared hinge loss (functional form).

    Equals ``SquaredHinge(margin, reduction)(pred, target, sample_weight)``;
    see :class:`SquaredHinge`.

    Examples
    --------
    >>> from lossopt import squared_hinge
    >>> squared_hinge([0.0, 3.0], [1, -1])
    8.5
    """
    return SquaredHinge(margin=margin, reduction=reduction)(pred, target, sample_weight)
