"""Thread count of the compiled kernels.

By default a kernel may use as many threads as OpenMP allows in the calling
thread: ``omp_get_max_threads()``, which follows ``OMP_NUM_THREADS``, the CPU
affinity mask and threadpoolctl's limits.  ``set_num_threads(n)`` overrides
that for lossopt alone (it does not touch other OpenMP users in the process);
``set_num_threads(None)`` goes back to following OpenMP.

Small inputs run on one thread whatever the setting (see the thresholds in
``src/_common.pxd``), and results are bit-identical for every thread count.
"""

import contextlib
import operator
import threading

from ._kernels import _runtime

_lock = threading.Lock()
_requested = None


def get_num_threads():
    """Number of threads the kernels may use.

    Returns
    -------
    int
        The value given to :func:`set_num_threads`, or, when none was given,
        OpenMP's ``omp_get_max_threads()`` in the calling thread (1 when the
        package was built without OpenMP).

    Examples
    --------
    >>> import lossopt
    >>> lossopt.get_num_threads() >= 1
    True
    """
    requested = _requested
    if requested is not None:
        return requested
    return max(1, _runtime.omp_max_threads())


MAX_THREADS = 2**31 - 1   # OpenMP's num_threads is a C int


def _check_n(n):
    if n is None:
        return None
    if isinstance(n, bool):
        raise TypeError(f"n must be a positive integer or None, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be a positive integer or None, got {n!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"n must be a positive integer (at most {MAX_THREADS}) or None, "
                         f"got {n}")
    return n


def set_num_threads(n):
    """Set the number of threads the kernels may use (process-wide).

    Parameters
    ----------
    n : int or None
        A positive thread count, or None to follow OpenMP again
        (``OMP_NUM_THREADS``, threadpoolctl limits).

    Examples
    --------
    >>> import lossopt
    >>> lossopt.set_num_threads(1)
    >>> lossopt.get_num_threads()
    1
    >>> lossopt.set_num_threads(None)
    """
    global _requested
    n = _check_n(n)
    with _lock:
        _requested = n


@contextlib.contextmanager
def threads(n):
    """Context manager: use `n` threads inside the ``with`` block.

    The previous setting is restored on exit.  Like :func:`set_num_threads`
    the setting is process-wide.

    Examples
    --------
    >>> import numpy as np, lossopt
    >>> with lossopt.threads(1):
    ...     float(lossopt.logsumexp(np.zeros(4)))
    1.3862943611198906
    """
    global _requested
    n = _check_n(n)
    with _lock:
        previous = _requested
        _requested = n
    try:
        yield n
    finally:
        with _lock:
            _requested = previous
