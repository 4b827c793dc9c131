"""Loss objects and their functional forms.

Each family lives in its own module, next to the name of its kernel:
cross-entropy in ``cross_entropy.py`` (kernel ``src/_softmax.pyx``),
regression losses in ``regression.py`` (kernel ``src/_regression.pyx``),
binary classification losses in ``binary.py`` (kernel ``src/_binary.pyx``),
both on the element-wise driver ``src/_elementwise.pxd``; the multiclass
margin losses in ``margin.py`` (kernel ``src/_margin.pyx``).

Every loss object is a :class:`Loss` with three calls: ``loss(pred, target)``,
``loss.gradient(pred, target)`` and ``loss.loss_and_gradient(pred, target)``;
each functional form (``squared_error``, ...) returns the class's value.

Examples
--------
>>> from lossopt.losses import Hinge, hinge
>>> Hinge()([2.0, 0.5, -1.0], [1, 1, 1])      # (0 + 0.5 + 2) / 3
0.8333333333333334
>>> hinge([2.0, 0.5, -1.0], [1, 1, 1])
0.8333333333333334
>>> Hinge().gradient([2.0, 0.5, -1.0], [1, 1, 1])
array([ 0.        , -0.33333333, -0.33333333])
"""

from ._base import Loss
from .cross_entropy import (KLDivergence, SoftmaxCrossEntropy, kl_divergence,
                            softmax_cross_entropy)
from .margin import MulticlassHinge, multiclass_hinge
from .regression import (SquaredError, squared_error, AbsoluteError, absolute_error, Huber,
                         huber, GaussianNLL, gaussian_nll, PoissonNLL, poisson_nll)
from .binary import (BinaryCrossEntropy, binary_cross_entropy, Perceptron, perceptron, Hinge,
                     hinge, SquaredHinge, squared_hinge)

__all__ = ["Loss", "SoftmaxCrossEntropy", "softmax_cross_entropy", "SquaredError",
           "squared_error",
           "AbsoluteError", "absolute_error", "Huber", "huber", "GaussianNLL", "gaussian_nll",
           "PoissonNLL", "poisson_nll",
           "BinaryCrossEntropy", "binary_cross_entropy", "Perceptron", "perceptron",
           "Hinge", "hinge", "SquaredHinge", "squared_hinge",
           "KLDivergence", "kl_divergence", "MulticlassHinge", "multiclass_hinge"]
