# cython: language_level=3
"""Shared declarations of the lossopt kernels: fused types, the C math header,
and the rule that decides when a kernel uses more than one thread."""

ctypedef fused floating:
    float
    double

cdef extern from "lossopt_math.h" nogil:
    enum: BLOCK_ELEMS "LOSSOPT_BLOCK_ELEMS"
    double lossopt_exp(double x)
    void lossopt_exp_block(double *x, Py_ssize_t n)
    void lossopt_exp_array(const double *x, double *out, Py_ssize_t n)
    int lossopt_openmp_enabled()
    int lossopt_omp_max_threads()
    int lossopt_omp_num_procs()
    int lossopt_openmp_version()
    const char *lossopt_compiler()
    const char *lossopt_simd_path()


# Thread thresholds, in elements.  Below them a kernel runs on the calling
# thread only: starting and joining an OpenMP team costs a few microseconds,
# more than the work.  Measured with bench/thread_threshold.py (2-core AMD EPYC
# Zen 4, see the table in that file): the exp-bound row kernels break even
# between 8k and 16k elements, the bandwidth-bound element-wise kernels
# between 32k and 64k; the thresholds sit above both break-even points, so
# small inputs are never slower with more threads.
cdef enum:
    PARALLEL_MIN_EXP_ELEMS = 32768
    PARALLEL_MIN_STREAM_ELEMS = 131072


cdef inline int threads_for(Py_ssize_t work, Py_ssize_t n_blocks, int n_threads,
                            Py_ssize_t threshold) noexcept nogil:
    """How many threads a kernel with `work` elements in `n_blocks` blocks uses."""
    if n_threads <= 1 or n_blocks <= 1 or work < threshold:
        return 1
    if n_threads > n_blocks:
        return <int>n_blocks
    return n_threads


cdef inline Py_ssize_t n_blocks_of(Py_ssize_t n, Py_ssize_t block) noexcept nogil:
    return (n + block - 1) // block if n > 0 else 0


cdef inline double sum_in_order(const double *partial, Py_ssize_t n) noexcept nogil:
    """Combine per-block partial sums in block order, so the total does not
    depend on which thread computed which block (bit-identical results)."""
    cdef double total = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        total += partial[i]
    return total
