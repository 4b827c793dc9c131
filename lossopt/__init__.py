"""lossopt: the losses of maximum-likelihood estimation, their gradients and
the optimizers that minimise them, on a compiled (Cython + C, OpenMP) core.

The public names live here; the compiled modules (``lossopt._kernels``) are
private.  ``lossopt.optim`` (optimizers) and ``lossopt.models`` (models) are
imported on first use; ``lossopt.likelihood`` holds the distributions whose
negative log-likelihoods are the losses.

Examples
--------
>>> import numpy as np
>>> import lossopt
>>> logits = np.array([[2.0, 0.0, -1.0]])
>>> lossopt.softmax(logits, axis=1)
array([[0.84379473, 0.1141952 , 0.04201007]])
>>> round(lossopt.softmax_cross_entropy(logits, [0]), 6)     # -ln 0.84379473
0.169846
"""

try:
    from ._version import __version__
    from ._kernels import _runtime as _check_build  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "lossopt is being imported from its source folder, which has no compiled "
        "kernels. Install it (pip install .) and run Python from another directory, "
        "or use the console scripts (lossopt, pytest), which do not put the "
        "current directory on sys.path.") from exc
if not _check_build.simd_request_valid():
    import os as _os
    import warnings as _warnings
    _warnings.warn(
        f"LOSSOPT_SIMD={_os.environ.get('LOSSOPT_SIMD')!r} is not one of 'baseline', "
        "'x86-64-v3', 'x86-64-v4' (aliases 'sse2', 'avx2', 'avx512'); it is ignored and "
        "the kernels run the best path this CPU supports", RuntimeWarning, stacklevel=2)
from ._threads import get_num_threads, set_num_threads, threads
from ._memory import output_cache_info, set_output_cache
from .functional import expit, log_expit, log_softmax, logsumexp, sigmoid, softmax
from .losses import (Loss, SoftmaxCrossEntropy, SquaredError, softmax_cross_entropy,
                     squared_error)
from .losses import (AbsoluteError, absolute_error, Huber, huber, GaussianNLL, gaussian_nll,
                     PoissonNLL, poisson_nll)
from .losses import (BinaryCrossEntropy, binary_cross_entropy, Perceptron, perceptron,
                     Hinge, hinge, SquaredHinge, squared_hinge)
from .losses import KLDivergence, MulticlassHinge, kl_divergence, multiclass_hinge

__all__ = [
    "__version__",
    "get_num_threads", "set_num_threads", "threads",
    "set_output_cache", "output_cache_info",
    "logsumexp", "softmax", "log_softmax", "expit", "sigmoid", "log_expit",
    "Loss", "SoftmaxCrossEntropy", "softmax_cross_entropy",
    "SquaredError", "squared_error",
    "AbsoluteError", "absolute_error", "Huber", "huber", "GaussianNLL", "gaussian_nll",
    "PoissonNLL", "poisson_nll",
    "BinaryCrossEntropy", "binary_cross_entropy", "Perceptron", "perceptron",
    "Hinge", "hinge", "SquaredHinge", "squared_hinge",
    "KLDivergence", "kl_divergence", "MulticlassHinge", "multiclass_hinge",
]


def __getattr__(name):
    # lossopt.optim, lossopt.models and lossopt.datasets are imported on first use, so
    # `import lossopt` stays light
    if name in ("optim", "models", "datasets"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'lossopt' has no attribute {name!r}")
