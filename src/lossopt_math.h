/*
 * lossopt_math.h -- the innermost loops of the lossopt kernels.
 *
 * Everything the Cython kernels need from C lives here:
 *   - a vectorisable exp(x) for doubles (range reduction + polynomial),
 *     applied to whole blocks by lossopt_exp_block();
 *   - OpenMP shims, so the kernels build and run serially without OpenMP;
 *   - a description of the build (compiler, SIMD path) for `lossopt info`.
 *
 * Why our own exp: GCC only vectorises calls to libm's exp() under -ffast-math,
 * and -ffast-math breaks the inf/NaN semantics the library promises.  The
 * function below is written so that `#pragma omp simd` turns a loop over it
 * into packed SSE2/AVX2/AVX-512 code; lossopt_exp_block() is compiled once per
 * ISA level (target_clones) where the toolchain supports it, and the loader
 * picks the best one for the CPU at run time.
 */
#ifndef LOSSOPT_MATH_H
#define LOSSOPT_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Elements per row block.  A block of rows is shifted into a buffer of this
 * many doubles (16 KiB) and exponentiated in one vectorised sweep; the block,
 * the logits it came from and the gradient it produces stay in L1/L2. */
#define LOSSOPT_BLOCK_ELEMS 2048

/* ---------------------------------------------------------------- OpenMP -- */

static inline int lossopt_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static inline int lossopt_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static inline int lossopt_omp_num_procs(void)
{
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

static inline int lossopt_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

/* -------------------------------------------------------------- build info */

static inline const char *lossopt_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
#define LOSSOPT_STR2(x) #x
#define LOSSOPT_STR(x) LOSSOPT_STR2(x)
    return "msvc " LOSSOPT_STR(_MSC_VER);
#else
    return "unknown";
#endif
}

/* target_clones needs ifunc support: GCC >= 12 or clang >= 14 on glibc x86-64. */
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(LOSSOPT_NO_CLONES) && \
    ((defined(__clang__) && __clang_major__ >= 14) ||                         \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 12))
#define LOSSOPT_HAVE_CLONES 1
#define LOSSOPT_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOSSOPT_HAVE_CLONES 0
#define LOSSOPT_CLONES
#endif

/* The SIMD path lossopt_exp_block() runs on this CPU (the loader picks the same). */
static inline const char *lossopt_simd_path(void)
{
#if LOSSOPT_HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3 (AVX2+FMA)";
    return "x86-64 baseline (SSE2)";
#elif defined(__x86_64__) || defined(_M_X64)
    return "x86-64 baseline (SSE2)";
#elif defined(__aarch64__) || defined(_M_ARM64)
    return "aarch64 (NEON)";
#else
    return "generic (compiler auto-vectorisation)";
#endif
}

/* ------------------------------------------------------------------- exp -- */

static inline uint64_t lossopt_as_u64(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double lossopt_as_f64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/*
 * exp(x) for one double, branch-free so that loops over it vectorise.
 *
 *   x = n ln2 + r,  n = round(x / ln2),  |r| <= ln2/2
 *   exp(x) = 2^n exp(r)
 *
 * - n is found with the 1.5 * 2^52 "shift" trick (no float->int conversion,
 *   which would be undefined for NaN and does not vectorise on SSE2/AVX2);
 * - r = x - n ln2 uses the Cody-Waite split of ln2: LN2_HI has 21 trailing
 *   zero bits, so n * LN2_HI is exact for |n| < 2^21;
 * - exp(r) is the degree-13 Taylor polynomial: on |r| <= 0.3466 its truncation
 *   error is below r^14/14! < 5e-18, far under half an ulp, so the result is
 *   within about 1 ulp (Horner rounding) of the correctly rounded value;
 * - 2^n is applied as 2^n1 * 2^n2 with n1 = floor(n/2), n2 = n - n1.  Both
 *   factors are normal doubles for every n we produce, the first product is
 *   exact, and the second rounds once, so results in the subnormal range are
 *   right and overflow gives +inf, underflow +0.
 *
 * Edges: x is clamped to [-746, 710] by comparisons that leave NaN alone.
 * exp(+inf) = +inf, exp(-inf) = +0, exp(NaN) = NaN, exp(0) = 1 exactly.
 */
static inline double lossopt_exp(double x)
{
    const double log2e = 0x1.71547652b82fep0;
    const double shift = 0x1.8p52;
    const double ln2_hi = 0x1.62e42fee00000p-1;
    const double ln2_lo = 0x1.a39ef35793c76p-33;

    /* exp(710) overflows and exp(-746) underflows to 0 in double. */
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;

    double kd = x * log2e + shift;
    double nd = kd - shift;
    double r = (x - nd * ln2_hi) - nd * ln2_lo;

    double p = 1.0 / 6227020800.0;            /* 1/13! */
    p = p * r + 1.0 / 479001600.0;            /* 1/12! */
    p = p * r + 1.0 / 39916800.0;             /* 1/11! */
    p = p * r + 1.0 / 3628800.0;              /* 1/10! */
    p = p * r + 1.0 / 362880.0;               /* 1/9!  */
    p = p * r + 1.0 / 40320.0;                /* 1/8!  */
    p = p * r + 1.0 / 5040.0;                 /* 1/7!  */
    p = p * r + 1.0 / 720.0;                  /* 1/6!  */
    p = p * r + 1.0 / 120.0;                  /* 1/5!  */
    p = p * r + 1.0 / 24.0;                   /* 1/4!  */
    p = p * r + 1.0 / 6.0;                    /* 1/3!  */
    p = p * r + 0.5;                          /* 1/2!  */
    p = p * r + 1.0;
    p = p * r + 1.0;

    /* n lives in the low mantissa bits of kd: u = n + 2048 >= 0 for |n| < 2048.
     * 2^n1 has exponent field n1 + 1023 = (u >> 1) - 1, and 2^n2 has
     * n2 + 1023 = u - (u >> 1) - 1; unsigned shifts vectorise everywhere. */
    uint64_t u = lossopt_as_u64(kd) - lossopt_as_u64(shift) + 2048u;
    uint64_t u1 = u >> 1;
    double s1 = lossopt_as_f64((u1 - 1u) << 52);
    double s2 = lossopt_as_f64((u - u1 - 1u) << 52);
    return (p * s1) * s2;
}

/* x[i] <- exp(x[i]) for i < n, vectorised; one clone per ISA level. */
LOSSOPT_CLONES
static void lossopt_exp_block(double *x, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] = lossopt_exp(x[i]);
}

/* out[i] <- exp(x[i]) for i < n (used by the tests to check exp itself). */
static void lossopt_exp_array(const double *x, double *out, ptrdiff_t n)
{
    if (out != x)
        memcpy(out, x, (size_t)n * sizeof *out);
    lossopt_exp_block(out, n);
}

#endif /* LOSSOPT_MATH_H */
