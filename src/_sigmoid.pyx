# cython: language_level=3, cdivision=True, initializedcheck=False
"""Element-wise logistic sigmoid (expit) and its logarithm (log_expit).

With e = exp(-|x|) (never overflows, in (0, 1]):

    expit(x)     = 1 / (1 + e)          for x >= 0
                 = e / (1 + e)          for x <  0
    log_expit(x) = -log1p(e)            for x >= 0
                 = x - log1p(e)         for x <  0

so both are exact to rounding for every x: at x = +-1e3, e underflows to 0
and the results are 1 / 0 and -0 / x, as they must be.  NaN gives NaN.
"""

from cython.parallel cimport prange
from libc.math cimport fabs

from _common cimport (floating, BLOCK_ELEMS, exp_block, lossopt_log1p, threads_for,
                      n_blocks_of, PARALLEL_MIN_EXP_ELEMS)


cdef inline void sigmoid_block(const floating *x, floating *out, Py_ssize_t n,
                               bint log_) noexcept nogil:
    cdef floating buf[BLOCK_ELEMS]
    cdef Py_ssize_t j
    cdef double v, e
    for j in range(n):
        buf[j] = -fabs(x[j])
    exp_block(buf, n)          # in the data's precision
    if log_:
        for j in range(n):
            v = x[j]
            out[j] = <floating>((v if v < 0 else 0.0) - lossopt_log1p(buf[j]))
    else:
        for j in range(n):
            e = buf[j]
            out[j] = <floating>((e if x[j] < 0 else 1.0) / (1.0 + e))


def sigmoid(const floating[::1] x, floating[::1] out, bint log, int n_threads=1, *,
            Py_ssize_t min_parallel=-1):
    """out = expit(x) (log=False) or log_expit(x) (log=True); out may be x.
    min_parallel overrides the thread threshold (bench/thread_threshold.py)."""
    cdef Py_ssize_t n = x.shape[0], nb = n_blocks_of(n, BLOCK_ELEMS), blk, lo
    cdef int nt = threads_for(n, nb, n_threads, PARALLEL_MIN_EXP_ELEMS if min_parallel < 0
                              else min_parallel)
    if n == 0:
        return
    cdef const floating *xp = &x[0]
    cdef floating *op = &out[0]
    with nogil:
        if nt == 1:
            for blk in range(nb):
                lo = blk * BLOCK_ELEMS
                sigmoid_block(xp + lo, op + lo, min(BLOCK_ELEMS, n - lo), log)
        else:
            for blk in prange(nb, num_threads=nt, schedule='static'):
                lo = blk * BLOCK_ELEMS
                sigmoid_block(xp + lo, op + lo, min(BLOCK_ELEMS, n - lo), log)
