"""Loss objects and their functional forms.

Each family lives in its own module, next to the name of its kernel:
cross-entropy in ``cross_entropy.py`` (kernel ``src/_softmax.pyx``),
regression losses in ``regression.py`` (kernel ``src/_regression.pyx``).
"""

from ._base import Loss
from .cross_entropy import SoftmaxCrossEntropy, softmax_cross_entropy
from .regression import SquaredError, squared_error

__all__ = ["Loss", "SoftmaxCrossEntropy", "softmax_cross_entropy", "SquaredError",
           "squared_error"]
