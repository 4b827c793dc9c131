# cython: language_level=3, cdivision=True, initializedcheck=False
"""Optimizer updates: one fused, in-place pass over param, grad and state per
algorithm (the element-wise code is in lossopt_optim.h), and the blocked sum of
squares of gradient clipping.

The arrays are cut into fixed blocks of OPTIM_BLOCK elements; above the thread
threshold the blocks are shared out with OpenMP, dynamically (on a shared
machine a thread that loses its core leaves its blocks to the others; which
thread runs a block never changes its result).  Updates are element-wise and
the sum of squares is combined per block in block order, so results are
bit-identical for any thread count.
"""

from cython.parallel cimport prange

import numpy as np

from _common cimport floating, threads_for, n_blocks_of, sum_in_order

cdef extern from "lossopt_optim.h" nogil:
    enum: OPTIM_BLOCK "LOSSOPT_OPTIM_BLOCK"
    enum: N_ALGORITHMS "LOSSOPT_N_ALGORITHMS"
    ctypedef struct lossopt_optim_args:
        double sign
        double wd
        double decay
        double lr
        double momentum
        double dampening
        double w1
        double beta2
        double eps
        double c1
        double c2
        double c3
        int wd_on
        int decay_on
        int first
        int nesterov
        int amsgrad
        int centered
        int with_momentum
        int rectify
    void lossopt_update_block_f64(int algo, double *p, const double *g, double *s0,
                                  double *s1, double *s2, Py_ssize_t lo, Py_ssize_t n,
                                  const lossopt_optim_args *a)
    void lossopt_update_block_f32(int algo, float *p, const float *g, float *s0,
                                  float *s1, float *s2, Py_ssize_t lo, Py_ssize_t n,
                                  const lossopt_optim_args *a)
    double lossopt_sum_squares_f64(const double *x, Py_ssize_t lo, Py_ssize_t n)
    double lossopt_sum_squares_f32(const float *x, Py_ssize_t lo, Py_ssize_t n)


# Thread threshold of the optimizer updates and of sum_squares, in elements:
# below it they run on the calling thread.  Measured with
# bench/optim_thread_threshold.py (its docstring has the table): at 32768
# elements (two blocks, the least that can be shared) a second thread halves
# Adam's time but does not speed up SGD-momentum; from 65536 on it wins in
# every kernel.
cdef enum:
    PARALLEL_MIN_OPTIM_ELEMS = 65536

# The algorithm ids of lossopt_optim.h, by name.
ALGORITHMS = {"sgd": 0, "adagrad": 1, "rmsprop": 2, "adadelta": 3, "adam": 4,
              "nadam": 5, "radam": 6, "adamax": 7}
BLOCK = OPTIM_BLOCK
PARALLEL_MIN_ELEMS = PARALLEL_MIN_OPTIM_ELEMS


cdef inline void update_block(int algo, floating *p, const floating *g, floating *s0,
                              floating *s1, floating *s2, Py_ssize_t lo, Py_ssize_t n,
                              const lossopt_optim_args *a) noexcept nogil:
    if floating is float:
        lossopt_update_block_f32(algo, p, g, s0, s1, s2, lo, n, a)
    else:
        lossopt_update_block_f64(algo, p, g, s0, s1, s2, lo, n, a)


cdef inline double sum_squares_block(const floating *x, Py_ssize_t lo,
                                     Py_ssize_t n) noexcept nogil:
    if floating is float:
        return lossopt_sum_squares_f32(x, lo, n)
    else:
        return lossopt_sum_squares_f64(x, lo, n)


cdef inline floating *state_ptr(floating[::1] s, Py_ssize_t n) except? NULL:
    """Pointer to a state array of n elements, NULL when absent."""
    if s is None:
        return NULL
    if s.shape[0] != n:
        raise ValueError("state array of the wrong size")
    return &s[0]


def update(int algo, floating[::1] param, const floating[::1] grad, floating[::1] s0,
           floating[::1] s1, floating[::1] s2, lossopt_optim_args args, int n_threads=1,
           *, Py_ssize_t min_parallel=-1):
    """One step of algorithm `algo` over `param` in place, with its state arrays
    s0, s1, s2 (None where the algorithm or its options use fewer) and the
    step's scalars `args` (a dict with every field of lossopt_optim_args).
    min_parallel overrides the thread threshold (bench/optim_thread_threshold.py)."""
    cdef Py_ssize_t n = param.shape[0], nb, blk, lo
    cdef int nt
    if not 0 <= algo < N_ALGORITHMS:
        raise ValueError(f"unknown algorithm id {algo}")
    if grad.shape[0] != n:
        raise ValueError("grad and param differ in size")
    if n == 0:
        return
    cdef floating *p = &param[0]
    cdef const floating *g = &grad[0]
    cdef floating *a0 = state_ptr(s0, n)
    cdef floating *a1 = state_ptr(s1, n)
    cdef floating *a2 = state_ptr(s2, n)
    nb = n_blocks_of(n, OPTIM_BLOCK)
    nt = threads_for(n, nb, n_threads, PARALLEL_MIN_OPTIM_ELEMS if min_parallel < 0
                     else min_parallel)
    with nogil:
        if nt == 1:
            update_block(algo, p, g, a0, a1, a2, 0, n, &args)
        else:
            for blk in prange(nb, num_threads=nt, schedule='dynamic'):
                lo = blk * OPTIM_BLOCK
                update_block(algo, p, g, a0, a1, a2, lo, min(<Py_ssize_t>OPTIM_BLOCK, n - lo),
                             &args)


def sum_squares(const floating[::1] x, int n_threads=1, *, Py_ssize_t min_parallel=-1):
    """sum(x**2) in float64, per fixed block of OPTIM_BLOCK elements, the block
    sums added in block order (the same bits for any thread count)."""
    cdef Py_ssize_t n = x.shape[0], nb = n_blocks_of(n, OPTIM_BLOCK), blk, lo
    cdef int nt = threads_for(n, nb, n_threads, PARALLEL_MIN_OPTIM_ELEMS if min_parallel < 0
                              else min_parallel)
    if n == 0:
        return 0.0
    cdef double[::1] partial = np.empty(nb, dtype=np.float64)
    cdef const floating *xp = &x[0]
    cdef double total
    with nogil:
        if nt == 1:
            for blk in range(nb):
                lo = blk * OPTIM_BLOCK
                partial[blk] = sum_squares_block(xp, lo, min(<Py_ssize_t>OPTIM_BLOCK, n - lo))
        else:
            for blk in prange(nb, num_threads=nt, schedule='dynamic'):
                lo = blk * OPTIM_BLOCK
                partial[blk] = sum_squares_block(xp, lo, min(<Py_ssize_t>OPTIM_BLOCK, n - lo))
        total = sum_in_order(&partial[0], nb)
    return total
