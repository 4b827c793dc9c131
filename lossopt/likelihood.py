r"""The maximum-likelihood view: each loss is a negative log-likelihood.

With i.i.d. samples, maximising :math:`\prod_m p(y_m \mid x_m, w)` over the
weights is minimising :math:`-\sum_m \ln p(y_m \mid x_m, w)`.  For each
distribution below, that negative log-likelihood (NLL) is a lossopt loss times
a positive scale (``loss_scale``) plus a constant that does not depend on the prediction:

.. math::

    \mathrm{NLL}(y, \hat y) = \text{loss\_scale}\cdot L(\hat y, y) + \text{constant}(y),

so the prediction that minimises the NLL minimises the loss, and vice versa.

=============================  ====================  ==============================  ==========================================
distribution of :math:`y`      last activation       loss (``dist.loss``)            loss_scale, constant per sample (K outputs)
=============================  ====================  ==============================  ==========================================
``Gaussian(beta)``             identity              :class:`~lossopt.SquaredError`  :math:`\beta`, :math:`\frac K2\ln 2\pi - \frac K2\ln\beta`
``Laplace(scale=b)``           identity              :class:`~lossopt.AbsoluteError` :math:`1/b`, :math:`K\ln 2b`
``Bernoulli()``                sigmoid               :class:`~lossopt.BinaryCrossEntropy`  1, 0
``Categorical()``              softmax               :class:`~lossopt.SoftmaxCrossEntropy` 1, 0
``Poisson()``                  exp (log-rate input)  :class:`~lossopt.PoissonNLL`    1, :math:`\sum_k \ln y_k!`
=============================  ====================  ==============================  ==========================================

Conventions shared by every distribution:

* ``nll(target, prediction)`` takes the target first, as in
  :math:`p(y \mid \hat y)`, and the *raw* prediction second: the same input
  the loss takes (the mean for Gaussian and Laplace, the logits for Bernoulli
  and Categorical, the log-rate for Poisson).  The last activation is applied
  inside.
* Natural logarithms; ``full=True`` (the default) keeps every constant, so the
  value is the exact NLL of the data; ``full=False`` drops the terms that do
  not depend on the prediction, and then ``nll == loss_scale * loss``.
* ``reduction``: "sum" (the default: the NLL of the whole data set, the
  lecture's :math:`-\ln L(w)`), "mean" (divided by the number of samples M,
  like the losses' "mean"), or "none" (one value per sample).
* The NLL is computed here with plain NumPy float64 formulas, independently of
  the compiled loss kernels, so the identity above is a real check of both.

Examples
--------
>>> import numpy as np
>>> from lossopt.likelihood import Gaussian
>>> y, yhat = np.array([1.0, 2.0]), np.array([1.5, 2.0])
>>> g = Gaussian(beta=2.0)
>>> nll = g.nll(y, yhat)
>>> bool(np.isclose(nll, g.loss_scale * g.make_loss("sum")(yhat, y) + g.constant(y)))
True
"""

import math

import numpy as np

from ._validation import (as_float_array, check_positive_float, check_reduction,
                          check_unit_interval)
from .losses._base import reduce_loss

__all__ = ["Distribution", "Gaussian", "Laplace", "Bernoulli", "Categorical", "Poisson"]

_LOG_2PI = math.log(2.0 * math.pi)


def _pair(target, prediction):
    """target and prediction as float64 arrays of one shape, at least 1-D."""
    t = as_float_array(target, "target", dtype=np.float64)
    p = as_float_array(prediction, "prediction", dtype=np.float64)
    if p.ndim == 0:
        raise ValueError("prediction must have at least one dimension (the samples)")
    if t.shape != p.shape:
        raise ValueError(f"target must have the shape of prediction, {p.shape}; got {t.shape}")
    return t, p


def _per_sample(elementwise):
    """Sum an (M, ...) array of per-element terms over everything but axis 0."""
    return elementwise.reshape(elementwise.shape[0], -1).sum(axis=1)


def _reduce(per_sample, reduction):
    """The losses' reductions (lossopt.losses._base.reduce_loss), over M samples."""
    return reduce_loss(float(np.sum(per_sample)), per_sample, per_sample.shape[0], reduction,
                       per_sample.shape, np.float64)


class Distribution:
    """Base class: a conditional distribution :math:`p(y \\mid \\hat y)` whose
    negative log-likelihood is ``loss_scale * loss + constant``.

    Subclasses define ``_nll_terms(t, p)`` (per sample, all constants),
    ``_constant_terms(t)`` (per sample), ``loss_scale`` and ``make_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.likelihood import Distribution, Poisson
    >>> d = Poisson()
    >>> isinstance(d, Distribution), d.loss_scale
    (True, 1.0)
    >>> y, log_rate = np.array([0.0, 2.0]), np.array([0.0, np.log(2.0)])
    >>> round(d.nll(y, log_rate), 6)            # (1 - 0) + (2 - 2 ln 2 + ln 2!) = 3 - ln 2
    2.306853
    >>> round(d.loss_scale * d.make_loss("sum")(log_rate, y) + d.constant(y), 6)
    2.306853
    """

    #: the positive factor in ``nll == loss_scale * loss + constant``
    loss_scale = 1.0

    def _check(self, target, prediction):
        return _pair(target, prediction)

    def nll(self, target, prediction, reduction="sum", full=True):
        """Negative log-likelihood of `target` given the raw `prediction`.

        Parameters
        ----------
        target, prediction : array_like
            See the distribution's class docstring for shapes and domains.
        reduction : {"sum", "mean", "none"}, default "sum"
        full : bool, default True
            Keep the terms that do not depend on the prediction.

        Returns
        -------
        float or ndarray of shape (M,)

        Examples
        --------
        >>> from lossopt.likelihood import Laplace
        >>> round(Laplace(scale=1.0).nll([0.0], [1.0]), 6)   # ln 2 + |0 - 1|
        1.693147
        """
        reduction = check_reduction(reduction)
        t, p = self._check(target, prediction)
        terms = self._nll_terms(t, p)
        if not full:
            terms = terms - self._constant_terms(t)
        return _reduce(terms, reduction)

    def constant(self, target, reduction="sum"):
        """The prediction-free part of the NLL: ``nll - loss_scale * loss``.

        Examples
        --------
        >>> from lossopt.likelihood import Gaussian
        >>> round(Gaussian(beta=1.0).constant([0.0, 0.0]), 6)   # (M/2) ln 2 pi
        1.837877
        """
        reduction = check_reduction(reduction)
        return _reduce(self._constant_terms(self._check_target(target)), reduction)

    def _check_target(self, target):
        """`target` alone, validated (for ``constant``)."""
        t = as_float_array(target, "target", dtype=np.float64)
        if t.ndim == 0:
            raise ValueError("target must have at least one dimension (the samples)")
        return t

    @property
    def loss(self):
        """The equivalent loss object (reduction "mean").

        Examples
        --------
        >>> from lossopt.likelihood import Gaussian
        >>> Gaussian().loss
        SquaredError(reduction='mean')
        """
        return self.make_loss()

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class Gaussian(Distribution):
    r"""Gaussian :math:`y \sim \mathcal N(\hat y, \beta^{-1} I)`: the L2 loss.

    Per sample with :math:`K` outputs,

    .. math::

        -\ln p(y \mid \hat y) = \tfrac K2 \ln 2\pi - \tfrac K2 \ln\beta
        + \tfrac\beta2 \lVert y - \hat y\rVert^2,

    i.e. ``loss_scale = beta`` times :class:`~lossopt.SquaredError` plus
    :math:`\frac K2 \ln(2\pi/\beta)`.  Summed over M samples this is the
    lecture's :math:`\frac M2\ln 2\pi - \frac M2\ln\beta + \frac\beta2\sum_m (y_m-\hat y_m)^2`.

    Parameters
    ----------
    beta : float > 0, default 1.0
        The precision (inverse variance).

    Examples
    --------
    >>> from lossopt.likelihood import Gaussian
    >>> round(Gaussian(beta=1.0).nll([0.0], [0.0]), 6)   # ln sqrt(2 pi)
    0.918939
    """

    def __init__(self, beta=1.0):
        self.beta = check_positive_float(beta, "beta")

    @property
    def loss_scale(self):
        """float: :math:`\\beta`, the factor of the squared error in the NLL.

        Examples
        --------
        >>> from lossopt.likelihood import Gaussian
        >>> Gaussian(beta=4.0).loss_scale
        4.0
        """
        return self.beta

    def _nll_terms(self, t, p):
        return _per_sample(0.5 * (_LOG_2PI - math.log(self.beta))
                           + 0.5 * self.beta * (t - p) ** 2)

    def _constant_terms(self, t):
        return _per_sample(np.full(t.shape, 0.5 * (_LOG_2PI - math.log(self.beta))))

    def make_loss(self, reduction="mean"):
        """:class:`~lossopt.SquaredError` with this `reduction`.

        Examples
        --------
        >>> from lossopt.likelihood import Gaussian
        >>> Gaussian().make_loss("sum")
        SquaredError(reduction='sum')
        """
        from .losses import SquaredError
        return SquaredError(reduction=reduction)


class Laplace(Distribution):
    r"""Laplace :math:`p(y \mid \hat y) = \frac1{2b} e^{-|y - \hat y|/b}`: the L1 loss.

    Per sample with :math:`K` outputs,
    :math:`-\ln p = K \ln 2b + \frac1b \sum_k |y_k - \hat y_k|`, i.e.
    ``loss_scale = 1/b`` times :class:`~lossopt.AbsoluteError` plus :math:`K\ln 2b`.
    The NLL's minimiser over a constant prediction is the median.

    Parameters
    ----------
    scale : float > 0, default 1.0
        The distribution's scale (diversity) :math:`b`; the loss's multiplier
        ``loss_scale`` is its inverse.

    Examples
    --------
    >>> from lossopt.likelihood import Laplace
    >>> d = Laplace(scale=2.0)
    >>> d.scale, d.loss_scale
    (2.0, 0.5)
    """

    def __init__(self, scale=1.0):
        self.scale = check_positive_float(scale, "scale")

    @property
    def loss_scale(self):
        """float: :math:`1/b`, the factor of the absolute error in the NLL.

        Examples
        --------
        >>> from lossopt.likelihood import Laplace
        >>> Laplace(scale=4.0).loss_scale
        0.25
        """
        return 1.0 / self.scale

    def _nll_terms(self, t, p):
        return _per_sample(math.log(2.0 * self.scale) + np.abs(t - p) / self.scale)

    def _constant_terms(self, t):
        return _per_sample(np.full(t.shape, math.log(2.0 * self.scale)))

    def make_loss(self, reduction="mean"):
        """:class:`~lossopt.AbsoluteError` with this `reduction`.

        Examples
        --------
        >>> from lossopt.likelihood import Laplace
        >>> Laplace().make_loss("sum")
        AbsoluteError(reduction='sum')
        """
        from .losses import AbsoluteError
        return AbsoluteError(reduction=reduction)


class Bernoulli(Distribution):
    r"""Bernoulli :math:`p(y \mid p) = p^y (1-p)^{1-y}` with
    :math:`p = \sigma(z)`: binary cross-entropy on logits.

    Per sample with :math:`K` independent outputs (multi-label),
    :math:`-\ln p = \sum_k \ln(1 + e^{z_k}) - y_k z_k`, which is
    :class:`~lossopt.BinaryCrossEntropy` exactly (scale 1, constant 0).  Soft
    targets :math:`y \in [0, 1]` give the cross-entropy between Bernoulli
    distributions, the same formula.

    `prediction` holds the logits :math:`z`; `target` is in [0, 1].

    Examples
    --------
    >>> from lossopt.likelihood import Bernoulli
    >>> round(Bernoulli().nll([1.0], [0.0]), 6)   # ln 2
    0.693147
    """

    def _check(self, target, prediction):
        t, p = _pair(target, prediction)
        return check_unit_interval(t), p

    def _check_target(self, target):
        return check_unit_interval(super()._check_target(target))

    def _nll_terms(self, t, z):
        return _per_sample(np.logaddexp(0.0, z) - t * z)

    def _constant_terms(self, t):
        return np.zeros(t.shape[0])

    def make_loss(self, reduction="mean"):
        """:class:`~lossopt.BinaryCrossEntropy` with this `reduction`.

        Examples
        --------
        >>> from lossopt.likelihood import Bernoulli
        >>> Bernoulli().make_loss("sum").reduction
        'sum'
        """
        from .losses import BinaryCrossEntropy
        return BinaryCrossEntropy(reduction=reduction)

    def __repr__(self):
        return "Bernoulli()"


class Categorical(Distribution):
    r"""Categorical (multinoulli) :math:`p(y \mid \hat y) = \prod_k \hat y_k^{y_k}`
    with :math:`\hat y = \mathrm{softmax}(z)`: softmax cross-entropy.

    :math:`-\ln p = -\sum_k y_k \ln \mathrm{softmax}(z)_k`, with one-hot labels
    only :math:`-\ln \hat y_{\text{true}}` remains: exactly
    :class:`~lossopt.SoftmaxCrossEntropy` (scale 1, constant 0).

    `prediction` holds logits of shape (M, C) (classes on the last axis);
    `target` holds integer labels of shape (M,) or probabilities of shape
    (M, C).

    Examples
    --------
    >>> from lossopt.likelihood import Categorical
    >>> round(Categorical().nll([1], [[0.0, 0.0]]), 6)   # ln 2
    0.693147
    """

    def _check(self, target, prediction):
        z = as_float_array(prediction, "prediction", dtype=np.float64)
        if z.ndim != 2:
            raise ValueError(f"prediction must have shape (M, C), got {z.shape}")
        t = self._check_target(target, z.shape)
        return t, z

    def _check_target(self, target, shape=None):
        t = np.asarray(target)
        if t.dtype.kind in "iub" and t.dtype != np.bool_:
            if t.ndim != 1 or (shape is not None and t.shape[0] != shape[0]):
                raise ValueError("integer target must hold one label per sample, shape (M,)")
            if shape is not None and t.size and (t.min() < 0 or t.max() >= shape[1]):
                raise ValueError(f"target labels must be in [0, {shape[1]})")
            return t
        t = as_float_array(t, "target", dtype=np.float64)
        if t.ndim != 2 or (shape is not None and t.shape != shape):
            raise ValueError(f"probability target must have shape {shape or '(M, C)'}, "
                             f"got {t.shape}")
        return check_unit_interval(t, what="probabilities")

    def _nll_terms(self, t, z):
        m = np.max(z, axis=1, keepdims=True) if z.shape[1] else np.zeros((z.shape[0], 1))
        log_p = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
        if t.ndim == 1:
            return -log_p[np.arange(z.shape[0]), t]
        return -np.sum(np.where(t > 0, t * log_p, 0.0), axis=1)

    def _constant_terms(self, t):
        return np.zeros(t.shape[0])

    def make_loss(self, reduction="mean"):
        """:class:`~lossopt.SoftmaxCrossEntropy` with this `reduction`.

        Examples
        --------
        >>> from lossopt.likelihood import Categorical
        >>> Categorical().make_loss("sum").reduction
        'sum'
        """
        from .losses import SoftmaxCrossEntropy
        return SoftmaxCrossEntropy(reduction=reduction)

    def __repr__(self):
        return "Categorical()"


class Poisson(Distribution):
    r"""Poisson :math:`p(y \mid \lambda) = \lambda^y e^{-\lambda} / y!` with
    :math:`\lambda = e^z`: the Poisson NLL on log-rates.

    Per sample with :math:`K` outputs,
    :math:`-\ln p = \sum_k e^{z_k} - y_k z_k + \ln \Gamma(y_k + 1)`, i.e.
    :class:`~lossopt.PoissonNLL` (``log_input=True, full=False``) plus the
    exact constant :math:`\sum_k \ln y_k!` (torch's ``full=True`` uses
    Stirling's approximation of it instead).

    `prediction` holds the log-rates :math:`z`; `target` holds counts
    :math:`y \ge 0` (non-integer values use :math:`\ln\Gamma(y+1)`).

    Examples
    --------
    >>> from lossopt.likelihood import Poisson
    >>> round(Poisson().nll([0.0], [0.0]), 6)   # rate 1, y = 0: e^0
    1.0
    """

    def _check(self, target, prediction):
        t, p = _pair(target, prediction)
        return self._check_target(t), p

    def _check_target(self, target):
        t = super()._check_target(target)
        if t.size and not np.all(t >= 0.0):
            raise ValueError("target must hold counts >= 0")
        return t

    def _constant_terms(self, t):
        lgamma = np.frompyfunc(math.lgamma, 1, 1)
        return _per_sample(lgamma(t + 1.0).astype(np.float64))

    def _nll_terms(self, t, z):
        return _per_sample(np.exp(z) - t * z) + self._constant_terms(t)

    def make_loss(self, reduction="mean"):
        """:class:`~lossopt.PoissonNLL` (log-rate input) with this `reduction`.

        Examples
        --------
        >>> from lossopt.likelihood import Poisson
        >>> Poisson().make_loss("sum").reduction
        'sum'
        """
        from .losses import PoissonNLL
        return PoissonNLL(log_input=True, full=False, reduction=reduction)

    def __repr__(self):
        return "Poisson()"
