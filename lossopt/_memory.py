"""The output cache: memory of the arrays lossopt returns, kept for reuse.

A new array of 1 MiB or more that lossopt returns (a gradient, a softmax,
per-sample losses) is made over a block of memory that goes back to a small
cache when the last array using it is gone, and is handed to the next
output of about the same size.  Fresh memory costs the operating system's
zeroing of every page on first touch (about 6 ms for the 80 MB gradient of
(1e6, 10) float64 logits, a third of the 20 ms it takes to compute); in a
loop whose previous result has been dropped, the next call reuses its block
instead.  The cache holds at most 8 blocks and 256 MiB by default
(``LOSSOPT_OUTPUT_CACHE_MB`` in the environment sets the MiB at import; 0
turns it off).  The details: ``src/_outputs.pyx``.
"""

from ._kernels import _outputs
from ._validation import check_int

empty = _outputs.empty

MAX_LIMIT = _outputs.MAX_LIMIT     # (2**62 where size_t has 64 bits)


def set_output_cache(max_bytes):
    """Set how many bytes of freed output memory lossopt keeps for reuse.

    Parameters
    ----------
    max_bytes : int
        The most bytes the cache holds (at most 8 blocks); 0 turns it off
        and frees what it holds.  Blocks beyond a lowered limit are freed
        now.  The default is 256 MiB, or ``LOSSOPT_OUTPUT_CACHE_MB`` MiB
        when that is set in the environment at import.

    Returns
    -------
    int
        The previous limit.

    Notes
    -----
    Only arrays of 1 MiB or more go through the cache, and a block comes
    back to it only when no array or view uses it any more.  The arrays are
    ordinary C-contiguous, writable NumPy arrays made over the block (their
    ``base`` chain leads to it; ``flags.owndata`` is False, so
    ``ndarray.resize`` refuses them: use ``np.resize`` or a copy).

    Examples
    --------
    >>> import lossopt
    >>> previous = lossopt.set_output_cache(0)        # off
    >>> lossopt.output_cache_info()["held"]
    0
    >>> lossopt.set_output_cache(previous)
    0
    """
    max_bytes = check_int(max_bytes, "max_bytes", 0, MAX_LIMIT)
    return _outputs.set_limit(max_bytes)


def output_cache_info():
    """The output cache's state.

    Returns
    -------
    dict
        ``limit`` (bytes), ``held`` (bytes kept now), ``blocks`` (blocks kept
        now), ``reused`` and ``new`` (outputs made over a cached block and
        over a new one, since import).

    Examples
    --------
    >>> import lossopt
    >>> sorted(lossopt.output_cache_info())
    ['blocks', 'held', 'limit', 'new', 'reused']
    """
    return _outputs.info()
