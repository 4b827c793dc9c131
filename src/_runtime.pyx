# cython: language_level=3
"""What the compiled core was built with, and OpenMP's view of threads."""

from _common cimport (floating, lossopt_openmp_enabled, lossopt_omp_max_threads,
                      lossopt_omp_num_procs, lossopt_openmp_version,
                      lossopt_compiler, lossopt_simd_path,
                      lossopt_simd_best_path, lossopt_isa_requested,
                      BLOCK_ELEMS,
                      PARALLEL_MIN_EXP_ELEMS, PARALLEL_MIN_STREAM_ELEMS)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(lossopt_openmp_enabled())


def openmp_version():
    """The _OPENMP date macro (e.g. 201511), or 0 without OpenMP."""
    return lossopt_openmp_version()


def omp_max_threads():
    """omp_get_max_threads() in the calling thread (OMP_NUM_THREADS,
    threadpoolctl limits and the CPU affinity mask all act on it); 1 without
    OpenMP."""
    return lossopt_omp_max_threads()


def omp_num_procs():
    """omp_get_num_procs(): the processors available to this process."""
    return lossopt_omp_num_procs()


def compiler():
    """The C compiler that built the kernels."""
    return lossopt_compiler().decode()


def simd_path():
    """The instruction-set path the kernels run: the best one this CPU and
    build support, or a lower one forced by the environment variable
    LOSSOPT_SIMD (read once, on the kernels' first use)."""
    return lossopt_simd_path().decode()


def simd_best_path():
    """The best instruction-set path this CPU and build support (what runs
    without LOSSOPT_SIMD)."""
    return lossopt_simd_best_path().decode()


def simd_request_valid():
    """False when LOSSOPT_SIMD is set to a value the kernels do not know
    (they then ignore it); True when it is unset, empty or known."""
    return lossopt_isa_requested() != -2


def constants():
    """Block size and thread thresholds (elements) compiled into the kernels."""
    return {
        "block_elems": BLOCK_ELEMS,
        "parallel_min_exp_elems": PARALLEL_MIN_EXP_ELEMS,
        "parallel_min_stream_elems": PARALLEL_MIN_STREAM_ELEMS,
    }


cdef extern from "lossopt_math.h" nogil:
    enum:
        FN_EXP "LOSSOPT_FN_EXP"
        FN_LOG "LOSSOPT_FN_LOG"
        FN_LOG1P "LOSSOPT_FN_LOG1P"
        FN_XLOGX "LOSSOPT_FN_XLOGX"
    void lossopt_math_check_f64(int which, const double *x, double *out, Py_ssize_t n)
    void lossopt_math_check_f32(int which, const float *x, float *out, Py_ssize_t n)


_MATH_FUNCTIONS = {"exp": FN_EXP, "log": FN_LOG, "log1p": FN_LOG1P, "xlogx": FN_XLOGX}


def math_check(str name, const floating[::1] x, floating[::1] out):
    """Test hook: out[i] = name(x[i]) ("exp", "log", "log1p", "xlogx") by the
    vectorised function the kernels use, in the dtype of x (float32:
    lossopt_expf, lossopt_logf, lossopt_log1pf, lossopt_xlogxf), on the ISA
    path the dispatcher picks."""
    cdef int which = _MATH_FUNCTIONS[name]
    if x.shape[0] != out.shape[0]:
        raise ValueError("x and out must have the same length")
    if x.shape[0] == 0:
        return out.base
    with nogil:
        if floating is float:
            lossopt_math_check_f32(which, &x[0], &out[0], x.shape[0])
        else:
            lossopt_math_check_f64(which, &x[0], &out[0], x.shape[0])
    return out.base
