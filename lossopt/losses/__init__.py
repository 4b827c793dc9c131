"""Loss objects and their functional forms.

Each family lives in its own module, next to the name of its kernel:
cross-entropy in ``cross_entropy.py`` (kernel ``src/_softmax.pyx``),
regression losses in ``regression.py`` (kernel ``src/_regression.pyx``),
binary classification losses in ``binary.py`` (kernel ``src/_binary.pyx``),
both on the element-wise driver ``src/_elementwise.pxd``; the multiclass
margin losses in ``margin.py`` (kernel ``src/_margin.pyx``).
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
