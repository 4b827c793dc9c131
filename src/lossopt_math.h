/*
 * lossopt_math.h -- the innermost loops of the lossopt kernels.
 *
 * Everything the Cython kernels need from C lives here:
 *   - a vectorisable exp(x) for doubles and floats (range reduction +
 *     polynomial), inlined into fused loops, and a block sweep
 *     (lossopt_exp_flat_*, lossopt_exp_block) that runs a table-driven
 *     AVX-512 exp on the x86-64-v4 path;
 *   - OpenMP shims, so the kernels build and run serially without OpenMP;
 *   - a description of the build (compiler, SIMD path) for `lossopt info`.
 *
 * Why our own exp: GCC only vectorises calls to libm's exp() under -ffast-math,
 * and -ffast-math breaks the inf/NaN semantics the library promises.  The
 * function below is written so that `#pragma omp simd` turns a loop over it
 * into packed SSE2/AVX2/AVX-512 code; every entry point is compiled once per
 * ISA level where the toolchain supports it, and a dispatcher picks one for
 * the CPU at run time (see "ISA dispatch" below).
 */
#ifndef LOSSOPT_MATH_H
#define LOSSOPT_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* `omp simd` loops are written LOSSOPT_OMP_SIMD(clauses), never as a bare
 * pragma: MSVC's OpenMP (2.0) has no simd directive.  With /openmp it is a
 * compile error, and /openmp:experimental, which knows it, has no max
 * reductions and turns /fp:fast on inside such loops.  So MSVC never sees one
 * (it vectorises the plain loops by itself); every other compiler gets
 * `#pragma omp simd clauses` (-fopenmp-simd, or -fopenmp). */
#if defined(_MSC_VER) && !defined(__clang__)
#define LOSSOPT_OMP_SIMD(...)
#else
#define LOSSOPT_PRAGMA_(...) _Pragma(#__VA_ARGS__)
#define LOSSOPT_OMP_SIMD(...) LOSSOPT_PRAGMA_(omp simd __VA_ARGS__)
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

/* Functions called inside vectorised loops: always inlined, since a call
 * left in a loop body stops GCC from vectorising it. */
#if defined(__GNUC__)
#define LOSSOPT_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define LOSSOPT_ALWAYS_INLINE static inline
#endif

/* ------------------------------------------------------ ISA dispatch -- */
/*
 * Every kernel entry point is compiled three times on x86-64 with GCC >= 12 or
 * clang >= 14 (where the target("arch=...") attribute and
 * __builtin_cpu_supports("x86-64-vN") exist): for x86-64-v4 (AVX-512), for
 * x86-64-v3 (AVX2 + FMA) and for the baseline the wheel is built for (SSE2).
 * The entry point itself is a small dispatcher that calls the variant chosen
 * once per extension module, on first use:
 *
 *   - the best level the CPU supports, or
 *   - a lower one forced by the environment variable LOSSOPT_SIMD:
 *     "baseline" (alias "sse2"), "x86-64-v3" (alias "avx2"),
 *     "x86-64-v4" (alias "avx512").  A level above what the CPU supports
 *     is capped at the CPU's best; an unknown value is ignored here, and
 *     lossopt warns about it at import (lossopt/_info.py).
 *
 * Elsewhere (aarch64, macOS, MSVC, older compilers) each entry point is
 * compiled once, for the build's target, and LOSSOPT_SIMD has no effect.
 *
 * Writing an entry point: put LOSSOPT_KERNEL(RET, NAME, (params), (args))
 * where the signature would be, then the body; `args` names the parameters
 * in order:
 *
 *   LOSSOPT_KERNEL_VOID(lossopt_foo, (double *x, ptrdiff_t n), (x, n))
 *   {
 *       LOSSOPT_OMP_SIMD()
 *       for (ptrdiff_t i = 0; i < n; i++) ...
 *   }
 *
 * (LOSSOPT_KERNEL_VOID for void functions.)  The body becomes the
 * always-inlined function NAME_body; it is inlined into each variant before
 * vectorisation, so its `omp simd` loops are vectorised for that variant's
 * ISA.
 */
#if defined(__x86_64__) && !defined(LOSSOPT_NO_DISPATCH) &&                  \
    ((defined(__clang__) && __clang_major__ >= 14) ||                         \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 12))
#define LOSSOPT_HAVE_DISPATCH 1
#else
#define LOSSOPT_HAVE_DISPATCH 0
#endif

enum { LOSSOPT_ISA_BASELINE = 0, LOSSOPT_ISA_V3 = 1, LOSSOPT_ISA_V4 = 2 };

/* The level LOSSOPT_SIMD asks for: 0..2, or -1 when unset/empty, -2 when
 * the value is not one of the names above. */
static inline int lossopt_isa_requested(void)
{
    const char *v = getenv("LOSSOPT_SIMD");
    if (v == NULL || v[0] == '\0')
        return -1;
    if (!strcmp(v, "baseline") || !strcmp(v, "sse2"))
        return LOSSOPT_ISA_BASELINE;
    if (!strcmp(v, "x86-64-v3") || !strcmp(v, "avx2"))
        return LOSSOPT_ISA_V3;
    if (!strcmp(v, "x86-64-v4") || !strcmp(v, "avx512"))
        return LOSSOPT_ISA_V4;
    return -2;
}

/* The best level this CPU supports (0 where there is no dispatch). */
static inline int lossopt_isa_supported(void)
{
#if LOSSOPT_HAVE_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return LOSSOPT_ISA_V4;
    if (__builtin_cpu_supports("x86-64-v3"))
        return LOSSOPT_ISA_V3;
#endif
    return LOSSOPT_ISA_BASELINE;
}

/* The level the dispatchers of this module use, decided once. */
static int lossopt_isa_cached = -1;

static inline int lossopt_isa_level(void)
{
#if LOSSOPT_HAVE_DISPATCH
    int level = __atomic_load_n(&lossopt_isa_cached, __ATOMIC_RELAXED);
    if (level < 0) {
        int req = lossopt_isa_requested();
        level = lossopt_isa_supported();
        if (req >= 0 && req < level)
            level = req;
        __atomic_store_n(&lossopt_isa_cached, level, __ATOMIC_RELAXED);
    }
    return level;
#else
    return LOSSOPT_ISA_BASELINE;
#endif
}

#if LOSSOPT_HAVE_DISPATCH
#define LOSSOPT_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define LOSSOPT_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define LOSSOPT_DISPATCH(RET, NAME, PARAMS, ARGS)                                   \
    LOSSOPT_TARGET_V4 static RET NAME##_isa_v4 PARAMS { return NAME##_body ARGS; }  \
    LOSSOPT_TARGET_V3 static RET NAME##_isa_v3 PARAMS { return NAME##_body ARGS; }  \
    static RET NAME##_isa_v0 PARAMS { return NAME##_body ARGS; }                    \
    static RET NAME PARAMS                                                          \
    {                                                                               \
        switch (lossopt_isa_level()) {                                              \
        case LOSSOPT_ISA_V4: return NAME##_isa_v4 ARGS;                             \
        case LOSSOPT_ISA_V3: return NAME##_isa_v3 ARGS;                             \
        default: return NAME##_isa_v0 ARGS;                                         \
        }                                                                           \
    }
/* void entry points; the x86-64-v4 level calls V4 (NAME_isa_v4, or a variant
 * written by hand with AVX-512 intrinsics: LOSSOPT_DISPATCH_VOID_OWN_V4 calls
 * NAME_avx512, declared before it, and runs NAME_body on the other levels). */
#define LOSSOPT_DISPATCH_VOID_TO(NAME, V4, PARAMS, ARGS)                            \
    LOSSOPT_TARGET_V3 static void NAME##_isa_v3 PARAMS { NAME##_body ARGS; }        \
    static void NAME##_isa_v0 PARAMS { NAME##_body ARGS; }                          \
    static void NAME PARAMS                                                         \
    {                                                                               \
        switch (lossopt_isa_level()) {                                              \
        case LOSSOPT_ISA_V4: V4 ARGS; break;                                        \
        case LOSSOPT_ISA_V3: NAME##_isa_v3 ARGS; break;                             \
        default: NAME##_isa_v0 ARGS; break;                                         \
        }                                                                           \
    }
#define LOSSOPT_DISPATCH_VOID(NAME, PARAMS, ARGS)                                   \
    LOSSOPT_TARGET_V4 static void NAME##_isa_v4 PARAMS { NAME##_body ARGS; }        \
    LOSSOPT_DISPATCH_VOID_TO(NAME, NAME##_isa_v4, PARAMS, ARGS)
#define LOSSOPT_DISPATCH_VOID_OWN_V4(NAME, PARAMS, ARGS)                            \
    LOSSOPT_DISPATCH_VOID_TO(NAME, NAME##_avx512, PARAMS, ARGS)
#else
#define LOSSOPT_DISPATCH(RET, NAME, PARAMS, ARGS)                                   \
    static RET NAME PARAMS { return NAME##_body ARGS; }
#define LOSSOPT_DISPATCH_VOID(NAME, PARAMS, ARGS)                                   \
    static void NAME PARAMS { NAME##_body ARGS; }
#define LOSSOPT_DISPATCH_VOID_OWN_V4 LOSSOPT_DISPATCH_VOID
#endif

/* Declares NAME_body, defines the dispatcher NAME, and opens NAME_body's
 * definition (the body follows the macro). */
#define LOSSOPT_KERNEL(RET, NAME, PARAMS, ARGS)                                     \
    LOSSOPT_ALWAYS_INLINE RET NAME##_body PARAMS;                                   \
    LOSSOPT_DISPATCH(RET, NAME, PARAMS, ARGS)                                       \
    LOSSOPT_ALWAYS_INLINE RET NAME##_body PARAMS
#define LOSSOPT_KERNEL_VOID(NAME, PARAMS, ARGS)                                     \
    LOSSOPT_ALWAYS_INLINE void NAME##_body PARAMS;                                  \
    LOSSOPT_DISPATCH_VOID(NAME, PARAMS, ARGS)                                       \
    LOSSOPT_ALWAYS_INLINE void NAME##_body PARAMS

static const char *const lossopt_isa_names[] = {
#if defined(__x86_64__) || defined(_M_X64)
    "x86-64 baseline (SSE2)", "x86-64-v3 (AVX2+FMA)", "x86-64-v4 (AVX-512)",
#elif defined(__aarch64__) || defined(_M_ARM64)
    "aarch64 (NEON)", "aarch64 (NEON)", "aarch64 (NEON)",
#else
    "generic (compiler auto-vectorisation)", "generic", "generic",
#endif
};

/* The SIMD path the kernels of this module run (after LOSSOPT_SIMD). */
static inline const char *lossopt_simd_path(void)
{
    return lossopt_isa_names[lossopt_isa_level()];
}

/* The best path this CPU and build could run (ignoring LOSSOPT_SIMD). */
static inline const char *lossopt_simd_best_path(void)
{
#if LOSSOPT_HAVE_DISPATCH
    return lossopt_isa_names[lossopt_isa_supported()];
#else
    return lossopt_isa_names[LOSSOPT_ISA_BASELINE];
#endif
}


/* ------------------------------------------------------------------- exp -- */

/* Bit casts (memcpy: no aliasing questions, compiled to register moves). */
#define LOSSOPT_DEFINE_BITCAST(NAME, FROM, TO)                                       \
    static inline TO NAME(FROM x)                                                    \
    {                                                                                \
        TO u;                                                                        \
        memcpy(&u, &x, sizeof u);                                                    \
        return u;                                                                    \
    }

LOSSOPT_DEFINE_BITCAST(lossopt_as_u64, double, uint64_t)
LOSSOPT_DEFINE_BITCAST(lossopt_as_f64, uint64_t, double)
LOSSOPT_DEFINE_BITCAST(lossopt_as_u32, float, uint32_t)
LOSSOPT_DEFINE_BITCAST(lossopt_as_f32, uint32_t, float)

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
 * - exp(r) is a degree-11 polynomial, 1 + r + r^2 P(r) with P the minimax
 *   polynomial below: its error is below 1.3e-17 relative (0.11 ulp) on
 *   |r| <= 0.3466, so the result is within 1 ulp of the correctly rounded
 *   value (see the Fast2Sum note below: also on the baseline path);
 * - 2^n is applied as 2^n1 * 2^n2 with n1 = floor(n/2), n2 = n - n1.  Both
 *   factors are normal doubles for every n we produce, the first product is
 *   exact, and the second rounds once, so results in the subnormal range are
 *   right and overflow gives +inf, underflow +0.
 *
 * Edges: x is clamped to [-746, 710] by comparisons that leave NaN alone.
 * exp(+inf) = +inf, exp(-inf) = +0, exp(NaN) = NaN, exp(0) = 1 exactly.
 */
LOSSOPT_ALWAYS_INLINE double lossopt_exp(double x)
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
    /* r = r_hi + r_lo: x - n LN2_HI is exact (Sterbenz), and keeping
     * -n LN2_LO apart keeps its rounding out of the leading terms. */
    double r_hi = x - nd * ln2_hi;
    double r_lo = -(nd * ln2_lo);
    double r = r_hi + r_lo;

    /* P(r) = (e^r - 1 - r) / r^2 by its degree-9 minimax polynomial on
     * |r| <= ln2/2 (Remez, weighted by e^-r): the error of 1 + r + r^2 P is
     * below 1.3e-17 relative to e^r (0.11 ulp), with 2 multiply-adds fewer
     * than the degree-13 Taylor polynomial.  The coefficients are within 1%
     * of the Taylor ones, 1/(k+2)!. */
    double p = 0x1.ad3bc8845fd81p-26;
    p = p * r + 0x1.289088e4db927p-22;
    p = p * r + 0x1.71df2024f9d35p-19;
    p = p * r + 0x1.a019b9fe749cap-16;
    p = p * r + 0x1.a01a0145262cep-13;
    p = p * r + 0x1.6c16c17843d2fp-10;
    p = p * r + 0x1.111111111db70p-7;
    p = p * r + 0x1.5555555553e3fp-5;
    p = p * r + 0x1.5555555555538p-3;
    p = p * r + 0x1.0000000000001p-1;
    /* exp(r) = 1 + r + r^2 p.  1 + r_hi is summed exactly as hi + lo
     * (Fast2Sum, |1| >= |r_hi|), so that the only roundings of the leading
     * terms are the final addition's half ulp: without FMA (the baseline
     * path) a Horner step p r + 1 would add another one and reach 1.13 ulp. */
    double t = (r * r) * p;
    double hi = 1.0 + r_hi;
    double lo = (1.0 - hi) + r_hi;
    p = hi + ((lo + r_lo) + t);

    /* n lives in the low mantissa bits of kd: u = n + 2048 >= 0 for |n| < 2048.
     * 2^n1 has exponent field n1 + 1023 = (u >> 1) - 1, and 2^n2 has
     * n2 + 1023 = u - (u >> 1) - 1; unsigned shifts vectorise everywhere. */
    uint64_t u = lossopt_as_u64(kd) - lossopt_as_u64(shift) + 2048u;
    uint64_t u1 = u >> 1;
    double s1 = lossopt_as_f64((u1 - 1u) << 52);
    double s2 = lossopt_as_f64((u - u1 - 1u) << 52);
    return (p * s1) * s2;
}


/*
 * exp(x) for one float, the same scheme in single precision (16 lanes on
 * AVX-512): n from the 1.5 * 2^23 shift, LN2F_HI has 8 trailing zero bits so
 * n * LN2F_HI is exact for |n| < 2^8, and exp(r) = 1 + r + r^2 P(r) with P
 * the degree-4 near-minimax (Chebyshev) fit of (e^r - 1 - r)/r^2 on
 * |r| <= ln2/2, coefficients rounded to float: its error is below 7.8e-9
 * relative (0.07 ulp), one multiply-add fewer than the degree-7 Taylor
 * polynomial used before (same 1-ulp bound: max 0.74 ulp measured on every
 * 7th float of [-104, 89], x86-64-v4 and baseline paths).
 * x is clamped to [-104, 89]: exp(89) overflows and exp(-104) underflows.
 * `lo` is a small correction added to the reduced argument: exp(x + lo).
 */
static inline float lossopt_expf_lo(float x, float lo)
{
    const float log2e = 0x1.715476p0f;
    const float shift = 0x1.8p23f;
    const float ln2_hi = 0x1.62e4p-1f;
    const float ln2_lo = 0x1.7f7d1cp-20f;

    x = x > 89.0f ? 89.0f : x;
    lo = x < -104.0f ? 0.0f : lo;
    x = x < -104.0f ? -104.0f : x;

    float kd = x * log2e + shift;
    float nd = kd - shift;
    float r_hi = x - nd * ln2_hi;             /* exact */
    float r_lo = lo - nd * ln2_lo;
    float r = r_hi + r_lo;

    /* within 1% of the Taylor coefficients 1/(k+2)! */
    float p = 0x1.6d10fcp-10f;
    p = p * r + 0x1.120b62p-7f;
    p = p * r + 0x1.55551ap-5f;
    p = p * r + 0x1.5554dep-3f;
    p = p * r + 0.5f;
    /* 1 + r + r^2 p with 1 + r_hi summed exactly, as in lossopt_exp */
    float t = (r * r) * p;
    float hi = 1.0f + r_hi;
    float lo2 = (1.0f - hi) + r_hi;
    p = hi + ((lo2 + r_lo) + t);

    uint32_t kb, sb;
    memcpy(&kb, &kd, sizeof kb);
    memcpy(&sb, &shift, sizeof sb);
    /* u = n + 256 >= 0; 2^n1 has exponent field (u >> 1) - 1, 2^n2 u - (u >> 1) - 1 */
    uint32_t u = kb - sb + 256u;
    uint32_t u1 = u >> 1;
    uint32_t b1 = (u1 - 1u) << 23, b2 = (u - u1 - 1u) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return (p * s1) * s2;
}

static inline float lossopt_expf(float x)
{
    return lossopt_expf_lo(x, 0.0f);
}

/* exp(x + lo) for doubles (lo is 0 where the kernels call it) */
static inline double lossopt_exp_lo(double x, double lo)
{
    return lossopt_exp(x + lo);
}

/*
 * exp over a flat array, in place: v[k] <- exp(v[k] + lo[k]) (lo NULL: 0),
 * lossopt_exp_flat_f64 and _f32.  The block-wide exp sweeps of the kernels
 * go through these; elsewhere (inside fused loops) lossopt_exp and
 * lossopt_expf_lo are inlined as they are.
 *
 * On the x86-64-v4 path they run a table-driven exp written with AVX-512
 * intrinsics (x86-64-v3 and the baseline run the functions above, which need
 * no table: GCC turns a table lookup into a gather, slower than the longer
 * polynomial there):
 *
 *   x = (16 n + j) ln2/16 + r,  |r| <= ln2/32,  0 <= j < 16
 *   exp(x) = 2^n 2^(j/16) e^r = 2^n (T_j + (T_j q + t_j)),  q = e^r - 1
 *
 * - 16 n + j from the 1.5 * 2^52 (2^23) shift; j is the low 4 bits of the
 *   shifted value, which vpermi2pd / vpermps read directly as the index
 *   into a table held in registers (2^(j/16) = T_j + t_j, T_j the rounded
 *   value and t_j the rest), so no gather;
 * - r = x - (16 n + j) ln2/16 by the Cody-Waite split of ln2/16 (the high
 *   part has 17 (double) or 12 (float) trailing zero bits: the product with
 *   16 n + j is exact over the clamped range);
 * - q = r + r^2 P(r), P the degree-4 (double) or degree-1 (float) Chebyshev
 *   fit of (e^r - 1 - r)/r^2 on |r| <= ln2/32: relative error below
 *   2.8e-17 (double) and 4.6e-9 (float); T_j + (T_j q + t_j) rounds once
 *   at the end: max error measured 0.76 ulp (double; 12M random doubles vs
 *   long double) and 0.61 ulp (float; every 7th float of [-104, 89] vs
 *   double);
 * - 2^n by vscalefpd / vscalefps, which rounds once into the subnormal
 *   range and gives +inf on overflow and +0 on underflow.
 *
 * Edges as lossopt_exp: x clamped to [-746, 710] ([-104, 89]) by min/max
 * that keep a NaN; exp(+-0) = 1 exactly (r = 0, j = 0, T_0 = 1), +inf, +0
 * and NaN as IEEE.
 */
#if LOSSOPT_HAVE_DISPATCH
#include <immintrin.h>

/* 2^(j/16) = hi + lo, j = 0..15, for doubles and floats */
static const double lossopt_exp2_16_hi[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0,
    0x1.2387a6e756238p+0, 0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0,
    0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0, 0x1.6a09e667f3bcdp+0,
    0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0,
    0x1.ea4afa2a490dap+0,
};
static const double lossopt_exp2_16_lo[16] = {
    0x0.0p+0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55,
    0x1.9b07eb6c70573p-54, 0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55,
    0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54, -0x1.bdd3413b26456p-54,
    -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56,
    0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55,
    -0x1.e9c23179c2893p-54,
};
static const float lossopt_exp2f_16_hi[16] = {
    0x1.0000000000000p+0f, 0x1.0b55860000000p+0f, 0x1.172b840000000p+0f, 0x1.2387a60000000p+0f,
    0x1.306fe00000000p+0f, 0x1.3dea640000000p+0f, 0x1.4bfdae0000000p+0f, 0x1.5ab07e0000000p+0f,
    0x1.6a09e60000000p+0f, 0x1.7a11480000000p+0f, 0x1.8ace540000000p+0f, 0x1.9c49180000000p+0f,
    0x1.ae89fa0000000p+0f, 0x1.c199be0000000p+0f, 0x1.d5818e0000000p+0f, 0x1.ea4afa0000000p+0f,
};
static const float lossopt_exp2f_16_lo[16] = {
    0x0.0p+0f, 0x1.9f31220000000p-25f, -0x1.c157420000000p-27f, 0x1.ceac480000000p-25f,
    0x1.4636e20000000p-25f, 0x1.8246840000000p-25f, -0x1.593abc0000000p-25f, -0x1.5bd5ec0000000p-27f,
    0x1.9fcef40000000p-26f, -0x1.829fd00000000p-25f, 0x1.15506e0000000p-27f, 0x1.51f8480000000p-27f,
    -0x1.a94b140000000p-26f, -0x1.3d56b20000000p-27f, -0x1.822dbc0000000p-27f, 0x1.52486c0000000p-27f,
};

/* lossopt_exp_v8_nonpos / lossopt_expf_v16_nonpos: the same exponentials
 * for arguments known to be <= 0 or NaN (x - the maximum of a row), without
 * the upper clamp, which changes no such argument (the same bits);
 * lossopt_exp_v8 / lossopt_expf_v16 clamp and call them. */
LOSSOPT_TARGET_V4 static inline __m512d lossopt_exp_v8_nonpos(__m512d x)
{
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    const __m512d lhi = _mm512_set1_pd(0x1.62e42fefa0000p-5);     /* ln2/16 */
    const __m512d llo = _mm512_set1_pd(0x1.cf79abc9e3b3ap-44);
    /* min/max return their second operand when one is NaN: a NaN x stays */
    x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
    __m512d kd = _mm512_fmadd_pd(x, _mm512_set1_pd(0x1.71547652b82fep+4), shift);
    __m512d nd = _mm512_sub_pd(kd, shift);               /* 16 n + j */
    __m512d r = _mm512_fnmadd_pd(nd, lhi, x);            /* exact */
    r = _mm512_fnmadd_pd(nd, llo, r);
    __m512i j = _mm512_castpd_si512(kd);                 /* low 4 bits: j */
    __m512d t = _mm512_permutex2var_pd(_mm512_loadu_pd(lossopt_exp2_16_hi), j,
                                       _mm512_loadu_pd(lossopt_exp2_16_hi + 8));
    __m512d tl = _mm512_permutex2var_pd(_mm512_loadu_pd(lossopt_exp2_16_lo), j,
                                        _mm512_loadu_pd(lossopt_exp2_16_lo + 8));
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(0x1.6c17bb51f236dp-10), r,
                                _mm512_set1_pd(0x1.11120af701debp-7));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0x1.55555555194d2p-5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0x1.55555554dd44dp-3));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    __m512d q = _mm512_fmadd_pd(_mm512_mul_pd(r, r), p, r);
    __m512d e = _mm512_add_pd(t, _mm512_fmadd_pd(t, q, tl));
    /* scalef multiplies by 2^floor(nd / 16) = 2^n */
    return _mm512_scalef_pd(e, _mm512_mul_pd(nd, _mm512_set1_pd(0.0625)));
}

LOSSOPT_TARGET_V4 static inline __m512d lossopt_exp_v8(__m512d x)
{
    return lossopt_exp_v8_nonpos(_mm512_min_pd(_mm512_set1_pd(710.0), x));
}

/* lossopt_expf_v16_core: x already in [-104, 89] or NaN (no clamps) */
LOSSOPT_TARGET_V4 static inline __m512 lossopt_expf_v16_core(__m512 x, __m512 lo)
{
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    const __m512 lhi = _mm512_set1_ps(0x1.62ep-5f), llo = _mm512_set1_ps(0x1.0bfbe8p-19f);
    __m512 kd = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+4f), shift);
    __m512 nd = _mm512_sub_ps(kd, shift);
    __m512 r = _mm512_fnmadd_ps(nd, lhi, x);                 /* exact */
    r = _mm512_add_ps(r, _mm512_fnmadd_ps(nd, llo, lo));
    __m512i j = _mm512_castps_si512(kd);
    __m512 t = _mm512_permutexvar_ps(j, _mm512_loadu_ps(lossopt_exp2f_16_hi));
    __m512 tl = _mm512_permutexvar_ps(j, _mm512_loadu_ps(lossopt_exp2f_16_lo));
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0x1.55565cp-3f), r, _mm512_set1_ps(0x1.000148p-1f));
    __m512 q = _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r);
    __m512 e = _mm512_add_ps(t, _mm512_fmadd_ps(t, q, tl));
    return _mm512_scalef_ps(e, _mm512_mul_ps(nd, _mm512_set1_ps(0.0625f)));
}

LOSSOPT_TARGET_V4 static inline __m512 lossopt_expf_v16_nonpos(__m512 x, __m512 lo)
{
    return lossopt_expf_v16_core(_mm512_max_ps(_mm512_set1_ps(-104.0f), x), lo);
}

LOSSOPT_TARGET_V4 static inline __m512 lossopt_expf_v16(__m512 x, __m512 lo)
{
    return lossopt_expf_v16_nonpos(_mm512_min_ps(_mm512_set1_ps(89.0f), x), lo);
}

/* full vectors, then the rest under a mask (nothing read or written past n) */
LOSSOPT_TARGET_V4 static void lossopt_exp_flat_f64_avx512(double *v, const double *lo,
                                                          ptrdiff_t n)
{
    (void)lo;   /* the double kernels pass none */
    ptrdiff_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm512_storeu_pd(v + k, lossopt_exp_v8(_mm512_loadu_pd(v + k)));
    if (k < n) {
        __mmask8 m = (__mmask8)((1u << (n - k)) - 1u);
        _mm512_mask_storeu_pd(v + k, m, lossopt_exp_v8(_mm512_maskz_loadu_pd(m, v + k)));
    }
}

LOSSOPT_TARGET_V4 static void lossopt_exp_flat_f32_avx512(float *v, const float *lo,
                                                          ptrdiff_t n)
{
    ptrdiff_t k = 0;
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(v + k, lossopt_expf_v16(_mm512_loadu_ps(v + k),
                         lo ? _mm512_loadu_ps(lo + k) : _mm512_setzero_ps()));
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1u);
        __m512 l = lo ? _mm512_maskz_loadu_ps(m, lo + k) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(v + k, m, lossopt_expf_v16(_mm512_maskz_loadu_ps(m, v + k), l));
    }
}
#endif

/* The other paths: the branch-free scalar exp, vectorised by the compiler. */
#define LOSSOPT_DEFINE_EXP_FLAT(T, SUFFIX, EXPLO)                                    \
    LOSSOPT_ALWAYS_INLINE void lossopt_exp_flat_##SUFFIX##_body(T *v, const T *lo,   \
                                                                ptrdiff_t n)         \
    {                                                                                \
        if (lo == NULL) {                                                            \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t k = 0; k < n; k++)                                        \
                v[k] = EXPLO(v[k], (T)0);                                            \
        } else {                                                                     \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t k = 0; k < n; k++)                                        \
                v[k] = EXPLO(v[k], lo[k]);                                           \
        }                                                                            \
    }                                                                                \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_exp_flat_##SUFFIX,                          \
                                 (T *v, const T *lo, ptrdiff_t n), (v, lo, n))

LOSSOPT_DEFINE_EXP_FLAT(double, f64, lossopt_exp_lo)
LOSSOPT_DEFINE_EXP_FLAT(float, f32, lossopt_expf_lo)

/* x[i] <- exp(x[i]) for i < n, in the data's precision. */
static inline void lossopt_exp_block(double *x, ptrdiff_t n)
{
    lossopt_exp_flat_f64(x, NULL, n);
}

static inline void lossopt_exp_block_f32(float *x, ptrdiff_t n)
{
    lossopt_exp_flat_f32(x, NULL, n);
}

/* ----------------------------------------------------------------- log1p -- */

/*
 * log1p(x) for one double, branch-free so that loops over it vectorise.
 *
 *   u = fl(1 + x) = 2^k (1 + f),  1 + f in [sqrt(2)/2, sqrt(2))
 *   log1p(x) = k ln2 + log(1 + f) + c,   c = (x - (u - 1)) / u
 *
 * c corrects for the rounding of u to first order.  With s = f / (2 + f),
 * |s| <= 0.1716,
 *
 *   log(1 + f) = 2 atanh(s) = 2s + s R,   R = sum_{k>=1} 2 s^{2k} / (2k + 1),
 *
 * and since 2s = f - s f and s f = hfsq (1 - s) with hfsq = f^2/2, it is
 * evaluated as f - (hfsq - s (hfsq + R)): the large terms f and hfsq
 * are nearly exact and the rounding of the series only touches the small
 * term s (hfsq + R).  The series is cut after s^18: the first omitted term
 * is below 2e-17 relative.  k is recovered from the exponent bits with
 * integer operations only (no int -> double conversion, which AVX2 lacks).
 *
 * Edges: log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf,
 * log1p(NaN) = NaN.
 */
/* The shared core: log(u) + c for a positive normal u, where u's exponent
 * field is read as if it were k_shift larger (log() uses k_shift = 54 to
 * bring subnormals into range). */
/* log(1 + f) + k ln2 + c for the reduced f in [sqrt(2)/2 - 1, sqrt(2) - 1)
 * and k as a T (the polynomial part of the core), for double and float:
 * R = SERIES(z) is the series in z = s^2 (Horner), cut as explained above
 * (double) and at lossopt_logf_core (float). */
#define LOSSOPT_DEFINE_LOG_POLY(T, SFX, LN2_HI, LN2_LO, SERIES)                     \
    LOSSOPT_ALWAYS_INLINE T lossopt_log_poly##SFX(T f, T kd, T c)                    \
    {                                                                                \
        T hfsq = (T)0.5 * f * f;                                                     \
        T s = f / ((T)2 + f);                                                        \
        T z = s * s;                                                                 \
        T R = SERIES(z);                                                             \
        return kd * LN2_HI - ((hfsq - (s * (hfsq + R) + (kd * LN2_LO + c))) - f);    \
    }

#define LOSSOPT_LOG_SERIES_F64(z)                                                    \
    ((((((((((2.0 / 19.0) * (z) + 2.0 / 17.0) * (z) + 2.0 / 15.0) * (z) + 2.0 / 13.0) \
       * (z) + 2.0 / 11.0) * (z) + 2.0 / 9.0) * (z) + 2.0 / 7.0) * (z) + 2.0 / 5.0)    \
       * (z) + 2.0 / 3.0) * (z))
#define LOSSOPT_LOG_SERIES_F32(z)                                                    \
    (((((2.0f / 9.0f) * (z) + 2.0f / 7.0f) * (z) + 2.0f / 5.0f) * (z) + 2.0f / 3.0f) * (z))

LOSSOPT_DEFINE_LOG_POLY(double, , 0x1.62e42fee00000p-1, 0x1.a39ef35793c76p-33,
                        LOSSOPT_LOG_SERIES_F64)
LOSSOPT_DEFINE_LOG_POLY(float, f, 0x1.62e4p-1f, 0x1.7f7d1cp-20f, LOSSOPT_LOG_SERIES_F32)

/* The core: log(u) + c for a positive normal u, its exponent field read as
 * k_shift larger (log() uses that to bring subnormals into range), for
 * double and float (U: the unsigned type of T's width, E: mantissa bits,
 * ONE, SQRTH: the bits of 1 and sqrt(2)/2, MAGIC: the bits of 2^E). */
#define LOSSOPT_DEFINE_LOG_CORE(T, SFX, U, AS_U, AS_T, E, BIAS, ONE, SQRTH, MAGIC)  \
    LOSSOPT_ALWAYS_INLINE T lossopt_log##SFX##_core(T u, T c, T k_shift)             \
    {                                                                                \
        /* move the mantissa range [1, 2) to [sqrt(2)/2, sqrt(2)) */                \
        U iu = AS_U(u) + ((U)ONE - (U)SQRTH);                                        \
        /* k = biased exponent - BIAS, as a T: 2^E + e - 2^E - BIAS */               \
        T kd = AS_T((U)MAGIC | (iu >> E)) - AS_T((U)MAGIC) - (T)BIAS;               \
        kd -= k_shift;                                                               \
        T f = AS_T((iu & (((U)1 << E) - 1)) + (U)SQRTH) - (T)1;                      \
        return lossopt_log_poly##SFX(f, kd, c);                                      \
    }

LOSSOPT_DEFINE_LOG_CORE(double, , uint64_t, lossopt_as_u64, lossopt_as_f64, 52, 1023,
                        0x3ff0000000000000ULL, 0x3fe6a09e667f3bcdULL, 0x4330000000000000ULL)

/* log1p(e) for e in [0, 1] (or NaN), given ru = 1 / fl(1 + e): the softplus
 * of the binary cross-entropy, log1p(exp(-|x|)).  u = fl(1 + e) is in
 * [1, 2], so the core's reduction is one comparison: k = 1 and f = u/2 - 1
 * from sqrt(2) on, else k = 0 and f = u - 1 (both exact, by Sterbenz's
 * lemma), and c = (e - (u - 1)) / u corrects u's rounding as in log1p. */
LOSSOPT_ALWAYS_INLINE double lossopt_log1p_unit(double e, double ru)
{
    double u = 1.0 + e;
    int big = u >= 0x1.6a09e667f3bcdp0;
    double f = (big ? 0.5 * u : u) - 1.0;
    return lossopt_log_poly(f, big ? 1.0 : 0.0, (e - (u - 1.0)) * ru);
}

/* ------------------------------------------------------- float log, log1p -- */

/*
 * The float core, the double one's scheme in single precision (16 lanes on
 * AVX-512): log(u) + c for a positive normal float u whose exponent field is
 * read as k_shift larger.
 *
 *   u = 2^k (1 + f),  1 + f in [sqrt(2)/2, sqrt(2)),  s = f / (2 + f), |s| <= 0.1716
 *   log(1 + f) = f - (hfsq - s (hfsq + R)),  R = 2 sum_{k=1..4} s^{2k} / (2k + 1)
 *
 * Cut-off: the first omitted term, 2 s^11 / 11, is below s^10 / 11 < 2e-9
 * relative to log(1 + f) ~ 2s, i.e. under 0.04 ulp of a float.  LN2F_HI has
 * 15 significant bits, so k * LN2F_HI is exact for |k| < 2^9 (|k| <= 150 here).
 * The result is within about 1 ulp (tested to <= 2 ulp against float64).
 */
LOSSOPT_DEFINE_LOG_CORE(float, f, uint32_t, lossopt_as_u32, lossopt_as_f32, 23, 127,
                        0x3f800000u, 0x3f3504f3u, 0x4b000000u)

/*
 * The log and log1p of one value of type T from its core (the same edge
 * handling for double and float):
 *
 *   log(x): the core with u = x exactly (c = 0), subnormals scaled by SCALE
 *   first.  Edges: log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
 *   log(NaN) = NaN.
 *   log1p(x): u = fl(1 + x), c = (x - (u - 1)) / u corrects the rounding of u
 *   to first order.  Edges: log1p(-1) = -inf, log1p(x < -1) = NaN,
 *   log1p(+inf) = +inf, log1p(+-0) = +-0 (the sign kept), log1p(NaN) = NaN.
 *
 * Both within about 1 ulp (tests/test_simd_math.py: <= 1 ulp).
 */
#define LOSSOPT_DEFINE_LOGS(T, SFX, CORE, TINY, SCALE, SHIFT)                        \
    LOSSOPT_ALWAYS_INLINE T lossopt_log##SFX(T x)                                    \
    {                                                                                \
        int sub = x < (T)TINY;                                                       \
        T u = sub ? x * (T)SCALE : x;                                                \
        T r = CORE(u, (T)0, sub ? (T)SHIFT : (T)0);                                  \
        r = (x == (T)INFINITY) ? x : r;                                              \
        r = (x > (T)0) ? r : ((x == (T)0) ? (T)-INFINITY : (T)NAN);                  \
        return (x != x) ? x : r;                                                     \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE T lossopt_log1p##SFX(T x)                                  \
    {                                                                                \
        T u = (T)1 + x;                                                              \
        T c = (x - (u - (T)1)) / u;                                                  \
        T r = CORE(u, c, (T)0);                                                      \
        r = (x == (T)INFINITY || x == (T)0) ? x : r;                                 \
        r = (x > (T)-1) ? r : ((x == (T)-1) ? (T)-INFINITY : (T)NAN);                \
        return (x != x) ? x : r;                                                     \
    }

LOSSOPT_DEFINE_LOGS(double, , lossopt_log_core, 0x1p-1022, 0x1p54, 54)
LOSSOPT_DEFINE_LOGS(float, f, lossopt_logf_core, 0x1p-126, 0x1p23, 23)

/* x log x for one float with 0 log 0 = 0 (within about 1.5 float ulps). */
LOSSOPT_ALWAYS_INLINE float lossopt_xlogxf(float x)
{
    float v = x * lossopt_logf(x);
    return (x == 0.0f) ? 0.0f : v;
}

/* x[i] <- log1p(x[i]) for i < n, vectorised. */
LOSSOPT_KERNEL_VOID(lossopt_log1p_block, (double *x, ptrdiff_t n), (x, n))
{
LOSSOPT_OMP_SIMD()
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] = lossopt_log1p(x[i]);
}

/* x log x with 0 log 0 = 0 (the entropy terms of the KL divergence). */
LOSSOPT_ALWAYS_INLINE double lossopt_xlogx(double x)
{
    double v = x * lossopt_log(x);
    return (x == 0.0) ? 0.0 : v;
}

/* ----------------------------------------------- row helpers (the engine) -- */

/*
 * lz[i] = log(c[i] + s[i]) for c[i] >= 1 maxima and the rest s[i] >= 0,
 * as log1p(s/c) + log1p(c - 1): precise when s << c.  When every row has a
 * single maximum (c = 1, the usual case) that is log1p(s) + log1p(0) =
 * log1p(s) exactly (s / 1 = s, log1p(0) = +0, s >= 0 or NaN), so one log1p
 * per row is enough.
 */
LOSSOPT_KERNEL_VOID(lossopt_log_sum_block, (const double *s, const double *c, double *lz, ptrdiff_t n), (s, c, lz, n))
{
    int single = 1;
LOSSOPT_OMP_SIMD(reduction(&:single))
    for (ptrdiff_t i = 0; i < n; i++)
        single &= (c[i] == 1.0);
    if (single) {
LOSSOPT_OMP_SIMD()
        for (ptrdiff_t i = 0; i < n; i++)
            lz[i] = lossopt_log1p(s[i]);
        return;
    }
LOSSOPT_OMP_SIMD()
    for (ptrdiff_t i = 0; i < n; i++)
        lz[i] = lossopt_log1p(s[i] / c[i]) + lossopt_log1p(c[i] - 1.0);
}

/* Rows at least this long are handled row by row, each in vectorised passes;
 * shorter rows (a 10-class row is shorter than one AVX-512 float vector)
 * would leave the vector loops in their scalar remainders, so a block of them
 * is transposed and processed column by column, vectorised across rows. */
#define LOSSOPT_FUSED_ROW_MIN 64

/*
 * softmax (log = 0) / log_softmax (log = 1) of a block of short rows: the
 * coefficient block_out / block_log_softmax apply to row k, 1 / (c + s) or
 * lz, vectorised across rows; special[k] = 1 for a row whose maximum is not
 * finite (left to the engine, which fills it).
 */
LOSSOPT_KERNEL_VOID(lossopt_softmax_rows_coefs, (const double *m, const double *s,
    const double *c, const double *lz, ptrdiff_t nr, int log, double *alpha,
    double *special),
    (m, s, c, lz, nr, log, alpha, special))
{
LOSSOPT_OMP_SIMD()
    for (ptrdiff_t k = 0; k < nr; k++) {
        special[k] = ((fabs(m[k]) == INFINITY) | (m[k] != m[k])) ? 1.0 : 0.0;
        alpha[k] = log ? lz[k] : 1.0 / (c[k] + s[k]);
    }
}

/*
 * The engine's hot loops, for a block of rows (row i at x + i * stride,
 * n_rows * n_cols <= LOSSOPT_BLOCK_ELEMS), with an optional mask:
 *
 *   m_i = max_j x_ij over the present entries          (block_exp_sum only)
 *   e[i * n_cols + j] = exp(x_ij - m_i), 0 where absent
 *   c_i += number of e == 1 (the maxima, exp(0)),   s_i += sum of the other e
 *
 * Sums are float64 for both data types and run over j in order.  For floats,
 * x - m is split into th + tl exactly (two-sum) and exp(th + tl) is
 * evaluated, so float data loses nothing to the subtraction.  The maximum
 * may or may not ignore NaN: the engine checks rows with a non-finite
 * maximum for NaN itself, and otherwise NaN propagates through the sums.
 */
#define LOSSOPT_DEFINE_ROW_HELPERS(T, SUFFIX, EXPLO, IS_FLOAT)                       \
    /* th + tl = x - m exactly (tl = 0 for doubles: t is used as it is) */           \
    static inline T lossopt_diff_lo_##SUFFIX(T x, T m, T th)                         \
    {                                                                                \
        if (!IS_FLOAT)                                                               \
            return (T)0;                                                             \
        T bp = th - x, ap = th - bp;                                                 \
        T tl = (x - ap) + (-m - bp);                                                 \
        return (th > (T)-104 && th < (T)89) ? tl : (T)0; /* -inf - m: tl = 0 */      \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_rows_max_##SUFFIX, (const T *x, ptrdiff_t stride,              \
                                          ptrdiff_t n_rows, ptrdiff_t n_cols,        \
                                          double *m_out), (x, stride, n_rows, n_cols, m_out))                             \
    {                                                                                \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                                     \
            const T *xr = x + i * stride;                                            \
            T m = -INFINITY;                                                         \
            LOSSOPT_OMP_SIMD(reduction(max:m))                                       \
            for (ptrdiff_t j = 0; j < n_cols; j++)                                   \
                m = xr[j] > m ? xr[j] : m;                                           \
            m_out[i] = (double)m;                                                    \
        }                                                                            \
    }                                                                                \
    /* e, s, c for rows whose maxima m are known, row by row */                     \
    LOSSOPT_KERNEL_VOID(lossopt_rows_exp_sum_##SUFFIX, (                                       \
        const T *x, ptrdiff_t stride, const unsigned char *mask,                     \
        ptrdiff_t mask_stride, ptrdiff_t n_rows, ptrdiff_t n_cols,                   \
        const double *m, T *e, double *s_out, double *c_out), (x, stride, mask, mask_stride, n_rows, n_cols, m, e, s_out, c_out))                         \
    {                                                                                \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                                     \
            const T *xr = x + i * stride;                                            \
            const unsigned char *mr = mask ? mask + i * mask_stride : NULL;          \
            T *er = e + i * n_cols;                                                  \
            T mi = (T)m[i];                                                          \
            double s = 0.0, c = 0.0;                                                 \
            if (mr == NULL) {                                                        \
                LOSSOPT_OMP_SIMD(reduction(+:s, c))                                  \
                for (ptrdiff_t j = 0; j < n_cols; j++) {                             \
                    T th = xr[j] - mi;                                               \
                    T v = EXPLO(th, lossopt_diff_lo_##SUFFIX(xr[j], mi, th));        \
                    er[j] = v;                                                       \
                    c += (v == (T)1) ? 1.0 : 0.0;                                    \
                    s += (v == (T)1) ? 0.0 : (double)v;                              \
                }                                                                    \
            } else {                                                                 \
                LOSSOPT_OMP_SIMD(reduction(+:s, c))                                  \
                for (ptrdiff_t j = 0; j < n_cols; j++) {                             \
                    T th = xr[j] - mi;                                               \
                    T v = EXPLO(th, lossopt_diff_lo_##SUFFIX(xr[j], mi, th));        \
                    v = mr[j] ? v : (T)0;                                            \
                    er[j] = v;                                                       \
                    c += (v == (T)1) ? 1.0 : 0.0;                                    \
                    s += (v == (T)1) ? 0.0 : (double)v;                              \
                }                                                                    \
            }                                                                        \
            s_out[i] += s;                                                           \
            c_out[i] += c;                                                           \
        }                                                                            \
    }                                                                                \
    /* logsumexp with scale factors b (logsumexp's b=): an entry is present  */      \
    /* where the mask (when given) is set and b != 0.  The row's maximum     */      \
    /* over the present entries, in double.                                  */      \
    LOSSOPT_ALWAYS_INLINE double lossopt_row_max_b_body_##SUFFIX(                    \
        const T *x, const unsigned char *mask, const T *b, ptrdiff_t n)         \
    {                                                                                \
        double m = -INFINITY;                                                        \
        LOSSOPT_OMP_SIMD(reduction(max:m))                                           \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            int present = (mask ? mask[j] != 0 : 1) && b[j] != (T)0;                   \
            double v = present ? (double)x[j] : -INFINITY;                           \
            m = v > m ? v : m;                                                       \
        }                                                                            \
        return m;                                                                    \
    }                                                                                \
    LOSSOPT_KERNEL(double, lossopt_row_max_b_##SUFFIX, (const T *x,                  \
        const unsigned char *mask, const T *b, ptrdiff_t n),                    \
        (x, mask, b, n))                                                             \
    {                                                                                \
        if (mask == NULL)                                                            \
            return lossopt_row_max_b_body_##SUFFIX(x, NULL, b, n);                   \
        return lossopt_row_max_b_body_##SUFFIX(x, mask, b, n);                       \
    }                                                                                \
    /* e_j = exp(x_j - m) (0 where absent); c += the b_j of the entries with */     \
    /* e_j == 1, s += b_j e_j over the others.  Doubles: one fused loop.      */     \
    /* Floats: in float as in the rows without b (exp(th + tl), th + tl =    */      \
    /* x - m exactly): the differences go into e, then one flat exp sweep     */     \
    /* (16 float lanes, no scalar remainder of exps), then the sums,          */     \
    /* BLOCK_ELEMS at a time -- 20% faster than exps in double for floats,    */     \
    /* 19% slower than the fused loop for 10-class rows of doubles.           */     \
    LOSSOPT_ALWAYS_INLINE void lossopt_row_exp_sum_b_body_##SUFFIX(                  \
        const T *x, const unsigned char *mask, const T *b, ptrdiff_t n,         \
        double m, T *e, double *s_out, double *c_out)                                \
    {                                                                                \
        const T mt = (T)m;    /* a value of x (or -inf): exact */                    \
        T tlo[IS_FLOAT ? LOSSOPT_BLOCK_ELEMS : 1];                                   \
        double s = 0.0, c = 0.0;                                                     \
        if (!IS_FLOAT) {                                                             \
            LOSSOPT_OMP_SIMD(reduction(+:s, c))                                      \
            for (ptrdiff_t j = 0; j < n; j++) {                                      \
                int present = (mask ? mask[j] != 0 : 1) && b[j] != (T)0;               \
                double v = present ? lossopt_exp((double)x[j] - m) : 0.0;            \
                c += (present && v == 1.0) ? b[j] : 0.0;                             \
                s += (present && v != 1.0) ? b[j] * v : 0.0;                         \
                e[j] = (T)v;                                                         \
            }                                                                        \
        }                                                                            \
        for (ptrdiff_t j0 = 0; IS_FLOAT && j0 < n; j0 += LOSSOPT_BLOCK_ELEMS) {      \
            const ptrdiff_t nb = n - j0 < LOSSOPT_BLOCK_ELEMS ? n - j0                \
                                                              : LOSSOPT_BLOCK_ELEMS; \
            const T *xb = x + j0;                                                    \
            const unsigned char *mb = mask ? mask + j0 : NULL;                       \
            const T *bb = b + j0;                                               \
            T *eb = e + j0;                                                          \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t j = 0; j < nb; j++) {                                     \
                int present = (mb ? mb[j] != 0 : 1) && bb[j] != 0.0;                 \
                T th = xb[j] - mt;                                                   \
                if (IS_FLOAT)                                                        \
                    tlo[j * IS_FLOAT] = present ? lossopt_diff_lo_##SUFFIX(xb[j], mt, th) \
                                                : (T)0;                              \
                eb[j] = present ? th : (T)-INFINITY;                                 \
            }                                                                        \
            lossopt_exp_flat_##SUFFIX(eb, IS_FLOAT ? tlo : NULL, nb);                \
            LOSSOPT_OMP_SIMD(reduction(+:s, c))                                      \
            for (ptrdiff_t j = 0; j < nb; j++) {                                     \
                int present = (mb ? mb[j] != 0 : 1) && bb[j] != 0.0;                 \
                double v = (double)eb[j];                                            \
                c += (present && v == 1.0) ? bb[j] : 0.0;                            \
                s += (present && v != 1.0) ? bb[j] * v : 0.0;                        \
            }                                                                        \
        }                                                                            \
        *s_out += s;                                                                 \
        *c_out += c;                                                                 \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_row_exp_sum_b_##SUFFIX, (const T *x,                 \
        const unsigned char *mask, const T *b, ptrdiff_t n, double m, T *e,     \
        double *s_out, double *c_out),                                               \
        (x, mask, b, n, m, e, s_out, c_out))                                         \
    {                                                                                \
        if (mask == NULL)                                                            \
            lossopt_row_exp_sum_b_body_##SUFFIX(x, NULL, b, n, m, e, s_out, c_out);  \
        else                                                                         \
            lossopt_row_exp_sum_b_body_##SUFFIX(x, mask, b, n, m, e, s_out, c_out);  \
    }                                                                                \
    /* One flat exp sweep of a column-major block (e[j * nr + i]: the       */    \
    /* shifted values; lo: the float shifts' low parts, or NULL), then per    */    \
    /* row i: c[i] += the count of e == 1 (the maxima), s[i] += the other e.  */    \
    LOSSOPT_ALWAYS_INLINE void lossopt_column_exp_sums_##SUFFIX(                     \
        T *e, const T *lo, ptrdiff_t nr, ptrdiff_t C, double *s, double *c)          \
    {                                                                                \
        lossopt_exp_flat_##SUFFIX(e, lo, nr * C);                                    \
        for (ptrdiff_t j = 0; j < C; j++) {                                          \
            const T *col = e + j * nr;                                               \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                T ex = col[i];                                                       \
                c[i] += (ex == (T)1) ? 1.0 : 0.0;                                    \
                s[i] += (ex == (T)1) ? 0.0 : (double)ex;                             \
            }                                                                        \
        }                                                                            \
    }                                                                                \
    /* m, e, s, c for a block of rows (s and c are added to).  e holds the     */    \
    /* exponentials afterwards: row-major (e[i * C + j]) for rows of at least  */    \
    /* LOSSOPT_FUSED_ROW_MIN classes, column-major (e[j * n_rows + i]) for     */    \
    /* shorter ones                                                            */    \
    LOSSOPT_KERNEL_VOID(lossopt_block_exp_sum_##SUFFIX, (                            \
        const T *x, ptrdiff_t stride, const unsigned char *mask,                     \
        ptrdiff_t mask_stride, ptrdiff_t n_rows, ptrdiff_t n_cols,                   \
        double *m_out, T *e, double *s_out, double *c_out),                          \
        (x, stride, mask, mask_stride, n_rows, n_cols, m_out, e, s_out, c_out))      \
    {                                                                                \
        const ptrdiff_t nr = n_rows, C = n_cols;                                     \
        if (C >= LOSSOPT_FUSED_ROW_MIN) {                                            \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *xr = x + i * stride;                                        \
                const unsigned char *mr = mask ? mask + i * mask_stride : NULL;      \
                T m = -INFINITY;                                                     \
                if (mr == NULL) {                                                    \
                    LOSSOPT_OMP_SIMD(reduction(max:m))                               \
                    for (ptrdiff_t j = 0; j < C; j++)                                \
                        m = xr[j] > m ? xr[j] : m;                                   \
                } else {                                                             \
                    LOSSOPT_OMP_SIMD(reduction(max:m))                               \
                    for (ptrdiff_t j = 0; j < C; j++) {                              \
                        T v = mr[j] ? xr[j] : (T)-INFINITY;                          \
                        m = v > m ? v : m;                                           \
                    }                                                                \
                }                                                                    \
                m_out[i] = (double)m;                                                \
            }                                                                        \
            /* shift the rows into e, then one flat exp sweep (no vector   */        \
            /* loop ends in a scalar remainder of exps), then the sums     */        \
            T lo[IS_FLOAT ? LOSSOPT_BLOCK_ELEMS : 1];                                \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *xr = x + i * stride;                                        \
                const unsigned char *mr = mask ? mask + i * mask_stride : NULL;      \
                T *er = e + i * C, *lr = lo + (i * C) * IS_FLOAT;                    \
                T mi = (T)m_out[i];                                                  \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    T th = xr[j] - mi;                                               \
                    if (IS_FLOAT)                                                    \
                        lr[j * IS_FLOAT] = lossopt_diff_lo_##SUFFIX(xr[j], mi, th);  \
                    er[j] = th;                                                      \
                }                                                                    \
                if (mr != NULL) {                                                    \
                    LOSSOPT_OMP_SIMD()                                               \
                    for (ptrdiff_t j = 0; j < C; j++)                                \
                        er[j] = mr[j] ? er[j] : (T)-INFINITY;                        \
                }                                                                    \
            }                                                                        \
            lossopt_exp_flat_##SUFFIX(e, IS_FLOAT ? lo : NULL, nr * C);              \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                const T *er = e + i * C;                                             \
                double s = 0.0, c = 0.0;                                             \
                LOSSOPT_OMP_SIMD(reduction(+:s, c))                                  \
                for (ptrdiff_t j = 0; j < C; j++) {                                  \
                    c += (er[j] == (T)1) ? 1.0 : 0.0;                                \
                    s += (er[j] == (T)1) ? 0.0 : (double)er[j];                      \
                }                                                                    \
                s_out[i] += s;                                                       \
                c_out[i] += c;                                                       \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        /* short rows: column by column, vectorised across the rows (strided  */     \
        /* loads), into e column-major, e[j * nr + i]; then per column one     */    \
        /* fused sweep: shift, exp, and the row sums.  The exponentials stay   */    \
        /* column-major in e (lossopt_block_out_* writes the rows from there). */    \
        T mv[LOSSOPT_BLOCK_ELEMS];                                                   \
        for (ptrdiff_t i = 0; i < nr; i++)                                           \
            mv[i] = (T)-INFINITY;                                                    \
        for (ptrdiff_t j = 0; j < C; j++) {   /* gather column j, track maxima */    \
            T *col = e + j * nr;                                                     \
            if (mask == NULL) {                                                      \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T v = x[i * stride + j];                                         \
                    col[i] = v;                                                      \
                    mv[i] = v > mv[i] ? v : mv[i];                                   \
                }                                                                    \
            } else {                                                                 \
                LOSSOPT_OMP_SIMD()                                                   \
                for (ptrdiff_t i = 0; i < nr; i++) {                                 \
                    T v = mask[i * mask_stride + j] ? x[i * stride + j] : (T)-INFINITY;\
                    col[i] = v;                                                      \
                    mv[i] = v > mv[i] ? v : mv[i];                                   \
                }                                                                    \
            }                                                                        \
        }                                                                            \
        /* shift (th + tl = x - m), one flat exp sweep, then the row sums */      \
        T tlo[IS_FLOAT ? LOSSOPT_BLOCK_ELEMS : 1];                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                          \
            T *col = e + j * nr, *lr = tlo + (j * nr) * IS_FLOAT;                    \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < nr; i++) {                                     \
                T v = col[i];                                                        \
                T th = v - mv[i];                                                    \
                if (IS_FLOAT)                                                        \
                    lr[i * IS_FLOAT] = lossopt_diff_lo_##SUFFIX(v, mv[i], th);       \
                col[i] = th;                                                         \
            }                                                                        \
        }                                                                            \
        lossopt_column_exp_sums_##SUFFIX(e, IS_FLOAT ? tlo : NULL, nr, C, s_out, c_out); \
        for (ptrdiff_t i = 0; i < nr; i++)                                           \
            m_out[i] = (double)mv[i];                                                \
    }                                                                                \

LOSSOPT_DEFINE_ROW_HELPERS(double, f64, lossopt_exp_lo, 0)
LOSSOPT_DEFINE_ROW_HELPERS(float, f32, lossopt_expf_lo, 1)

/* ------------------------------------------- row outputs (the engine) -- */

/*
 * Per-row output and loss helpers, for float and double rows, in float64
 * arithmetic.  The target coefficient of class j is
 *
 *   c_j = (keep * p_j + eps_c) * w_j      (p_j = 1, w_j = 1 where p, w are NULL)
 *
 * i.e. the smoothed probability target times the class weight (probability
 * targets), or the smoothing mass eps/C times the class weight (labels).
 */
#define LOSSOPT_DEFINE_OUTPUT_HELPERS(T, SUFFIX, IS_FLOAT)                           \
    /*  out_j = alpha e_j - sc c_j, and where e_j == 1 (a maximum, when           */ \
    /*  max_form): sc ((sum_c - c_j) - sum_c one_minus_p), exact near p = 1         */\
    static inline void lossopt_grad_row_body_##SUFFIX(                               \
        const T *e, const T *p, const double *w, T *out, ptrdiff_t n, double alpha,  \
        double sc, double keep, double eps_c, double sum_c, double omp, int max_form)\
    {                                                                                \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            double cj = (keep * (p ? (double)p[j] : 1.0) + eps_c) * (w ? w[j] : 1.0); \
            double g = alpha * (double)e[j] - sc * cj;                               \
            if (max_form)                                                            \
                g = (e[j] == (T)1) ? sc * ((sum_c - cj) - sum_c * omp) : g;          \
            out[j] = (T)g;                                                           \
        }                                                                            \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_grad_row_##SUFFIX, (                                           \
        const T *e, const T *p, const double *w, T *out, ptrdiff_t n, double alpha,  \
        double sc, double keep, double eps_c, double sum_c, double omp), (e, p, w, out, n, alpha, sc, keep, eps_c, sum_c, omp))              \
    {                                                                                \
        /* constant NULL-ness per call, so each variant vectorises */                \
        if (p == NULL && w == NULL)                                                  \
            lossopt_grad_row_body_##SUFFIX(e, NULL, NULL, out, n, alpha, sc, keep,   \
                                           eps_c, sum_c, omp, 0);                    \
        else if (p == NULL)                                                          \
            lossopt_grad_row_body_##SUFFIX(e, NULL, w, out, n, alpha, sc, keep,      \
                                           eps_c, sum_c, omp, 0);                    \
        else if (w == NULL)                                                          \
            lossopt_grad_row_body_##SUFFIX(e, p, NULL, out, n, alpha, sc, keep,      \
                                           eps_c, sum_c, omp, 1);                    \
        else                                                                         \
            lossopt_grad_row_body_##SUFFIX(e, p, w, out, n, alpha, sc, keep, eps_c,  \
                                           sum_c, omp, 1);                           \
    }                                                                                \
    /* The rows of a block of short rows from their exponentials e, column-   */     \
    /* major (e[j * nr + i], as lossopt_block_exp_sum_* leaves them): row i    */    \
    /* is grad_row's output without probability targets, with alpha[i] and    */     \
    /* sc = beta[i]: alpha_i e_ij - beta_i (keep + eps_c) w_j.  Computed      */     \
    /* column by column in e, vectorised across the rows, then transposed     */     \
    /* into out (row stride os), except the rows with skip[i] != 0 (written   */     \
    /* by the caller).                                                        */     \
    LOSSOPT_ALWAYS_INLINE void lossopt_block_out_body_##SUFFIX(                      \
        T *e, ptrdiff_t nr, ptrdiff_t C, const double *alpha, const double *beta,    \
        const double *w, double keep, double eps_c)                                  \
    {                                                                                \
        for (ptrdiff_t j = 0; j < C; j++) {                                          \
            T *col = e + j * nr;                                                     \
            const double cj = (keep + eps_c) * (w ? w[j] : 1.0);                     \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < nr; i++)                                       \
                col[i] = (T)(alpha[i] * (double)col[i] - beta[i] * cj);              \
        }                                                                            \
    }                                                                                \
    /* out row i <- column i of the column-major e (nr rows of C), except the  */    \
    /* rows with skip[i] != 0 (skip NULL: every row); four rows at a time (a   */    \
    /* 10-class row is too short for the loop overhead of one at a time)     */      \
    LOSSOPT_ALWAYS_INLINE void lossopt_transpose_rows_##SUFFIX(                      \
        const T *e, ptrdiff_t nr, ptrdiff_t C, const double *skip, T *out, ptrdiff_t os)\
    {                                                                                \
        ptrdiff_t i = 0;                                                             \
        for (; i + 4 <= nr; i += 4) {                                                \
            if (skip && skip[i] + skip[i + 1] + skip[i + 2] + skip[i + 3] != 0.0)    \
                break;                                                               \
            T *o0 = out + i * os, *o1 = o0 + os, *o2 = o1 + os, *o3 = o2 + os;       \
            for (ptrdiff_t j = 0; j < C; j++) {                                      \
                const T *ej = e + j * nr + i;                                        \
                o0[j] = ej[0];                                                       \
                o1[j] = ej[1];                                                       \
                o2[j] = ej[2];                                                       \
                o3[j] = ej[3];                                                       \
            }                                                                        \
        }                                                                            \
        for (; i < nr; i++) {                                                        \
            if (skip && skip[i] != 0.0)                                              \
                continue;                                                            \
            T *o = out + i * os;                                                     \
            for (ptrdiff_t j = 0; j < C; j++)                                        \
                o[j] = e[j * nr + i];                                                \
        }                                                                            \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_block_out_##SUFFIX, (T *e, ptrdiff_t nr,             \
        ptrdiff_t C, const double *alpha, const double *beta, const double *w,       \
        double keep, double eps_c, const double *skip, T *out, ptrdiff_t os),        \
        (e, nr, C, alpha, beta, w, keep, eps_c, skip, out, os))                      \
    {                                                                                \
        if (w == NULL)                                                               \
            lossopt_block_out_body_##SUFFIX(e, nr, C, alpha, beta, NULL, keep, eps_c);\
        else                                                                         \
            lossopt_block_out_body_##SUFFIX(e, nr, C, alpha, beta, w, keep, eps_c);  \
        lossopt_transpose_rows_##SUFFIX(e, nr, C, skip, out, os);                    \
    }                                                                                \
    /* dst <- the column-major e of a block of short rows, row-major          */     \
    LOSSOPT_KERNEL_VOID(lossopt_rows_from_columns_##SUFFIX, (const T *e,             \
        ptrdiff_t nr, ptrdiff_t C, T *dst),                                          \
        (e, nr, C, dst))                                                             \
    {                                                                                \
        lossopt_transpose_rows_##SUFFIX(e, nr, C, NULL, dst, C);                     \
    }                                                                                \
    /* out_j = (x_j - m) - lz */                                                     \
    LOSSOPT_KERNEL_VOID(lossopt_log_softmax_row_##SUFFIX, (const T *x, T *out, ptrdiff_t n,    \
                                                 double m, double lz), (x, out, n, m, lz))                \
    {                                                                                \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t j = 0; j < n; j++)                                            \
            out[j] = (T)(((double)x[j] - m) - lz);                                   \
    }                                                                                \
    /* Cross-entropy with class labels and no label smoothing, for a block of */     \
    /* short rows (exponentials column-major in e), vectorised across rows:   */     \
    /* row k's weighted loss into rl[k] and, for block_out, alpha[k],         */     \
    /* beta[k] and the label entry lab[k] -- the formulas of the engine's     */     \
    /* finalize_cross_entropy (_softmax.pyx) with eps = 0, keep = 1.  A row   */     \
    /* whose maximum is not finite, whose label is ignore_index or whose      */     \
    /* weight sw * grad_scale is 0 gets special[k] = 1 and is left to the    */      \
    /* engine (nothing of it is used).  wsum is the class weights' sum.       */     \
    LOSSOPT_ALWAYS_INLINE void lossopt_ce_label_rows_body_##SUFFIX(                  \
        const T *x, ptrdiff_t xs, const ptrdiff_t *y, ptrdiff_t ignore_index,        \
        const double *w, double wsum, const double *sw, double grad_scale,           \
        const T *e, ptrdiff_t nr, const double *m, const double *s, const double *c, \
        const double *lz, double *rl, double *alpha, double *beta, double *lab,      \
        double *special, int has_w, int has_sw)                                      \
    {                                                                                \
        /* the label entries of x and e (gathers, scalar), parked in rl and lab */   \
        for (ptrdiff_t k = 0; k < nr; k++) {                                         \
            ptrdiff_t yk = y[k];                                                     \
            ptrdiff_t yy = (yk == ignore_index) ? 0 : yk;   /* a safe index */       \
            rl[k] = (double)x[k * xs + yy];                                          \
            lab[k] = (double)e[yy * nr + k];                                         \
            special[k] = (yk == ignore_index) ? 1.0 : 0.0;                           \
        }                                                                            \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t k = 0; k < nr; k++) {                                         \
            double swk = has_sw ? sw[k] : 1.0, sc = grad_scale * swk;                \
            int sp = (special[k] != 0.0) | (fabs(m[k]) == INFINITY) | (m[k] != m[k]) |\
                     (sc == 0.0);                                                    \
            double wy = has_w ? w[special[k] != 0.0 ? 0 : y[k]] : 1.0;               \
            double acc1 = rl[k] - m[k];                                              \
            double loss = (1.0 * wy != 0.0) ? 1.0 * wy * (lz[k] - acc1) : 0.0;       \
            double A = 1.0 * wy + 0.0 * wsum;                                        \
            double inv = 1.0 / (c[k] + s[k]);                                        \
            double ey = lab[k];                                                      \
            double omp = (ey == 1.0) ? ((c[k] - 1.0) + s[k]) * inv : 1.0 - ey * inv; \
            rl[k] = (swk == 0.0) ? 0.0 : swk * loss;                                 \
            alpha[k] = sc * inv * A;                                                 \
            beta[k] = sc;                                                            \
            lab[k] = sc * (0.0 * (wsum - wy) - A * omp);                             \
            special[k] = sp ? 1.0 : 0.0;                                             \
        }                                                                            \
    }                                                                                \
    /* the variant for the NULL-ness of w and sw (each vectorises alone) */          \
    LOSSOPT_ALWAYS_INLINE void lossopt_ce_label_rows_t_##SUFFIX(const T *x,          \
        ptrdiff_t xs, const ptrdiff_t *y, ptrdiff_t ignore_index, const double *w,   \
        double wsum, const double *sw, double grad_scale, const T *e, ptrdiff_t nr,  \
        const double *m, const double *s, const double *c, const double *lz,         \
        double *rl, double *alpha, double *beta, double *lab, double *special)       \
    {                                                                                \
        if (w == NULL && sw == NULL)                                                 \
            lossopt_ce_label_rows_body_##SUFFIX(x, xs, y, ignore_index, NULL, wsum, NULL,\
                grad_scale, e, nr, m, s, c, lz, rl, alpha, beta, lab, special, 0, 0);\
        else if (w == NULL)                                                          \
            lossopt_ce_label_rows_body_##SUFFIX(x, xs, y, ignore_index, NULL, wsum, sw,\
                grad_scale, e, nr, m, s, c, lz, rl, alpha, beta, lab, special, 0, 1);\
        else if (sw == NULL)                                                         \
            lossopt_ce_label_rows_body_##SUFFIX(x, xs, y, ignore_index, w, wsum, NULL,\
                grad_scale, e, nr, m, s, c, lz, rl, alpha, beta, lab, special, 1, 0);\
        else                                                                         \
            lossopt_ce_label_rows_body_##SUFFIX(x, xs, y, ignore_index, w, wsum, sw, \
                grad_scale, e, nr, m, s, c, lz, rl, alpha, beta, lab, special, 1, 1);\
    }                                                                                \
    /* out_ij = (x_ij - m_i) - lz_i for the rows of a block of short rows      */    \
    /* (rows at x + i * xs, out + i * os), except those with skip[i] != 0      */    \
    LOSSOPT_KERNEL_VOID(lossopt_block_log_softmax_##SUFFIX, (const T *x,             \
        ptrdiff_t xs, ptrdiff_t nr, ptrdiff_t C, const double *m,                    \
        const double *lz, const double *skip, T *out, ptrdiff_t os),                 \
        (x, xs, nr, C, m, lz, skip, out, os))                                        \
    {                                                                                \
        for (ptrdiff_t i = 0; i < nr; i++) {                                         \
            if (skip[i] != 0.0)                                                      \
                continue;                                                            \
            const T *xr = x + i * xs;                                                \
            T *o = out + i * os;                                                     \
            const double mi = m[i], lzi = lz[i];                                     \
            for (ptrdiff_t j = 0; j < C; j++)                                        \
                o[j] = (T)(((double)xr[j] - mi) - lzi);                              \
        }                                                                            \
    }                                                                                \
    /* sum_j c_j (x_j - m) over c_j != 0 (0 log 0 = 0), and sum_j c_j */             \
    static inline void lossopt_coef_sums_body_##SUFFIX(                              \
        const T *x, const T *p, const double *w, ptrdiff_t n, double m, double keep, \
        double eps_c, double *acc1, double *acc2)                                    \
    {                                                                                \
        double a1 = 0.0, a2 = 0.0;                                                   \
        LOSSOPT_OMP_SIMD(reduction(+:a1, a2))                                        \
        for (ptrdiff_t j = 0; j < n; j++) {                                          \
            double cj = (keep * (p ? (double)p[j] : 1.0) + eps_c) * (w ? w[j] : 1.0); \
            a1 += (cj != 0.0) ? cj * ((double)x[j] - m) : 0.0;                       \
            a2 += cj;                                                                \
        }                                                                            \
        *acc1 += a1;                                                                 \
        *acc2 += a2;                                                                 \
    }                                                                                \
    LOSSOPT_KERNEL_VOID(lossopt_coef_sums_##SUFFIX, (const T *x, const T *p, const double *w,  \
                                           ptrdiff_t n, double m, double keep,       \
                                           double eps_c, double *acc1, double *acc2), (x, p, w, n, m, keep, eps_c, acc1, acc2)) \
    {                                                                                \
        if (p == NULL && w == NULL)                                                  \
            lossopt_coef_sums_body_##SUFFIX(x, NULL, NULL, n, m, keep, eps_c, acc1, acc2); \
        else if (p == NULL)                                                          \
            lossopt_coef_sums_body_##SUFFIX(x, NULL, w, n, m, keep, eps_c, acc1, acc2); \
        else if (w == NULL)                                                          \
            lossopt_coef_sums_body_##SUFFIX(x, p, NULL, n, m, keep, eps_c, acc1, acc2); \
        else                                                                         \
            lossopt_coef_sums_body_##SUFFIX(x, p, w, n, m, keep, eps_c, acc1, acc2); \
    }                                                                                \
    /* out[r] = sum_j p_rj log p_rj (0 log 0 = 0) for the rows of a block, in     */\
    /* float64; rows at p + r * stride.  Contiguous short rows are taken as one  */\
    /* flat vectorised sweep into tmp (n_rows * n_cols <= LOSSOPT_BLOCK_ELEMS)   */\
    /* and summed row by row; other rows one vectorised reduction each.          */\
    LOSSOPT_KERNEL_VOID(lossopt_rows_xlogx_##SUFFIX, (const T *p, ptrdiff_t stride,           \
                                            ptrdiff_t n_rows, ptrdiff_t n_cols,      \
                                            double *tmp, double *out), (p, stride, n_rows, n_cols, tmp, out))                \
    {                                                                                \
        if (stride == n_cols && n_cols < LOSSOPT_FUSED_ROW_MIN &&                    \
                n_rows * n_cols <= LOSSOPT_BLOCK_ELEMS) {                            \
            ptrdiff_t n = n_rows * n_cols;                                           \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < n; i++)                                        \
                tmp[i] = lossopt_xlogx((double)p[i]);                                \
            for (ptrdiff_t r = 0; r < n_rows; r++) {                                 \
                double acc = 0.0;                                                    \
                for (ptrdiff_t j = 0; j < n_cols; j++)                               \
                    acc += tmp[r * n_cols + j];                                      \
                out[r] = acc;                                                        \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        for (ptrdiff_t r = 0; r < n_rows; r++) {                                     \
            const T *pr = p + r * stride;                                            \
            double acc = 0.0;                                                        \
            LOSSOPT_OMP_SIMD(reduction(+:acc))                                       \
            for (ptrdiff_t j = 0; j < n_cols; j++)                                   \
                acc += lossopt_xlogx((double)pr[j]);                                 \
            out[r] = acc;                                                            \
        }                                                                            \
    }

LOSSOPT_DEFINE_OUTPUT_HELPERS(double, f64, 0)
LOSSOPT_DEFINE_OUTPUT_HELPERS(float, f32, 1)

/* lossopt_ce_label_rows_t_* for float (is_float) or double x and e: one
 * entry point for both types. */
LOSSOPT_KERNEL_VOID(lossopt_ce_label_rows, (int is_float, const void *x, ptrdiff_t xs,
    const ptrdiff_t *y, ptrdiff_t ignore_index, const double *w, double wsum,
    const double *sw, double grad_scale, const void *e, ptrdiff_t nr, const double *m,
    const double *s, const double *c, const double *lz, double *rl, double *alpha,
    double *beta, double *lab, double *special),
    (is_float, x, xs, y, ignore_index, w, wsum, sw, grad_scale, e, nr, m, s, c, lz, rl,
     alpha, beta, lab, special))
{
    if (is_float)
        lossopt_ce_label_rows_t_f32((const float *)x, xs, y, ignore_index, w, wsum, sw,
                                    grad_scale, (const float *)e, nr, m, s, c, lz, rl,
                                    alpha, beta, lab, special);
    else
        lossopt_ce_label_rows_t_f64((const double *)x, xs, y, ignore_index, w, wsum, sw,
                                    grad_scale, (const double *)e, nr, m, s, c, lz, rl,
                                    alpha, beta, lab, special);
}

/* out[i] <- exp(x[i]) for i < n (used by the tests to check exp itself). */
static void lossopt_exp_array(const double *x, double *out, ptrdiff_t n)
{
    if (out != x)
        memcpy(out, x, (size_t)n * sizeof *out);
    lossopt_exp_block(out, n);
}

/* out[i] <- exp(x[i]) for floats (used by the tests). */
static void lossopt_expf_array(const float *x, float *out, ptrdiff_t n)
{
    if (out != x)
        memcpy(out, x, (size_t)n * sizeof *out);
    lossopt_exp_block_f32(out, n);
}

/* out[i] <- log1p(x[i]) for i < n (used by the tests). */
static void lossopt_log1p_array(const double *x, double *out, ptrdiff_t n)
{
    if (out != x)
        memcpy(out, x, (size_t)n * sizeof *out);
    lossopt_log1p_block(out, n);
}

/* Test hooks (src/_runtime.pyx, tests/test_simd_math.py): out[i] = f(x[i])
 * for the function `which`, on the ISA path the loader picks, so that every
 * vectorised function is checked as the kernels run it. */
enum {
    LOSSOPT_FN_EXP = 0,
    LOSSOPT_FN_LOG = 1,
    LOSSOPT_FN_LOG1P = 2,
    LOSSOPT_FN_XLOGX = 3
};

#define LOSSOPT_DEFINE_MATH_CHECK(T, SUFFIX, EXP, LOG, LOG1P, XLOGX)                  \
    LOSSOPT_KERNEL_VOID(lossopt_math_check_##SUFFIX,                                 \
                        (int which, const T *x, T *out, ptrdiff_t n),                \
                        (which, x, out, n))                                          \
    {                                                                                \
        if (which == LOSSOPT_FN_EXP) {                                               \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < n; i++)                                        \
                out[i] = EXP(x[i]);                                                  \
        } else if (which == LOSSOPT_FN_LOG) {                                        \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < n; i++)                                        \
                out[i] = LOG(x[i]);                                                  \
        } else if (which == LOSSOPT_FN_LOG1P) {                                      \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < n; i++)                                        \
                out[i] = LOG1P(x[i]);                                                \
        } else {                                                                     \
            LOSSOPT_OMP_SIMD()                                                       \
            for (ptrdiff_t i = 0; i < n; i++)                                        \
                out[i] = XLOGX(x[i]);                                                \
        }                                                                            \
    }

LOSSOPT_DEFINE_MATH_CHECK(double, f64, lossopt_exp, lossopt_log, lossopt_log1p, lossopt_xlogx)
LOSSOPT_DEFINE_MATH_CHECK(float, f32, lossopt_expf, lossopt_logf, lossopt_log1pf, lossopt_xlogxf)

/* ------------------------------------- table-driven logs (x86-64-v4) -- */

/*
 * log1p on [0, 1] and log, 8 double / 16 float lanes, with AVX-512
 * intrinsics and no division: a 16-entry table of -log(1 / c_j) held in
 * registers (vpermi2pd / vpermps: no gather) and a short polynomial for
 * log1p(r) around the table point.  Used by the element-wise losses
 * (lossopt_elementwise.h: the binary cross-entropy's softplus, the Gaussian
 * NLL's log variance, the Poisson NLL) and the KL divergence's x log x
 * (lossopt_probs.h).  Only on the x86-64-v4 path; the other paths run the
 * portable lossopt_log / lossopt_log1p above.
 */
#if LOSSOPT_HAVE_DISPATCH
/* 1 / c_j rounded to double, c_j = 1 + j/16, and -log of that value
 * (hi + lo, exact to ~2^-110), j = 0..15 */
static const double lossopt_log1p_inv16[16] = {
    0x1.0000000000000p+0, 0x1.e1e1e1e1e1e1ep-1, 0x1.c71c71c71c71cp-1, 0x1.af286bca1af28p-1,
    0x1.999999999999ap-1, 0x1.8618618618618p-1, 0x1.745d1745d1746p-1, 0x1.642c8590b2164p-1,
    0x1.5555555555555p-1, 0x1.47ae147ae147bp-1, 0x1.3b13b13b13b14p-1, 0x1.2f684bda12f68p-1,
    0x1.2492492492492p-1, 0x1.1a7b9611a7b96p-1, 0x1.1111111111111p-1, 0x1.0842108421084p-1,
};
static const double lossopt_log1p_c16_hi[16] = {
    0x0.0p+0, 0x1.f0a30c01162a8p-5, 0x1.e27076e2af2eap-4, 0x1.5ff3070a793d6p-3,
    0x1.c8ff7c79a9a20p-3, 0x1.1675cababa60fp-2, 0x1.4618bc21c5ec2p-2, 0x1.739d7f6bbd007p-2,
    0x1.9f323ecbf984dp-2, 0x1.c8ff7c79a9a21p-2, 0x1.f128f5faf06ecp-2, 0x1.0be72e4252a83p-1,
    0x1.1e85f5e7040d1p-1, 0x1.307d7334f10bep-1, 0x1.41d8fe84672afp-1, 0x1.52a2d265bc5abp-1,
};
static const double lossopt_log1p_c16_lo[16] = {
    0x0.0p+0, 0x1.85f325c5bbacdp-59, -0x1.61578001e015ap-60, -0x1.bc60efafc6f6cp-58,
    -0x1.4f689f8434011p-57, 0x1.ce63eab883727p-61, -0x1.7a42642661c62p-61, 0x1.ce24c53fad3f0p-58,
    -0x1.a92e513217f58p-59, 0x1.3097607bcbfeep-56, -0x1.328df13bb38c2p-56, 0x1.b4c4bdd99efffp-56,
    -0x1.084e99683070ep-55, 0x1.fdac850fab36dp-56, -0x1.ee6d0cf42e7fap-55, 0x1.73be4578ad97bp-56,
};

#define LOSSOPT_PERM16_PD(TABLE, J)                                                  \
    _mm512_permutex2var_pd(_mm512_loadu_pd(TABLE), J, _mm512_loadu_pd((TABLE) + 8))

/* The shared end of the table logs below: -log(inv_j) + log1p(r) as
 * sum + *rest, sum = hi + r exactly split (Fast2Sum: |hi| > |r| or hi = 0),
 * *rest = (its error + lo) + r^2 Q(r), Q the degree-9 Chebyshev fit of
 * (log1p(r) - r) / r^2 on |r| <= 0.042 (mpmath.chebyfit; error below
 * 1.3e-19, relative to log1p(r)). */
LOSSOPT_TARGET_V4 static inline __m512d lossopt_log_parts_v8(__m512d r, __m512d hi, __m512d lo,
                                                             __m512d *rest)
{
    __m512d q = _mm512_fmadd_pd(_mm512_set1_pd(0x1.75c1af89c195ep-4), r, _mm512_set1_pd(-0x1.9b1be6848d957p-4));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.c71be4c34199ep-4));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0x1.ffff673d3ba20p-4));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.2492492ff2696p-3));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0x1.55555561a802ap-3));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.9999999998f53p-3));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0x1.ffffffffff4dep-3));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.5555555555555p-2));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0x1.0000000000000p-1));
    __m512d sum = _mm512_add_pd(hi, r);
    __m512d err = _mm512_add_pd(_mm512_sub_pd(hi, sum), r);
    *rest = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, _mm512_add_pd(err, lo));
    return sum;
}

/*
 * log1p(e) for e in [0, 1] (or NaN), 8 lanes, no division:
 *
 *   j = min(round(16 e), 15),  c_j = 1 + j/16,  inv_j = fl(1 / c_j)
 *   log1p(e) = -log(inv_j) + log1p(r),  r = (1 + e) inv_j - 1 = e inv_j + (inv_j - 1)
 *
 * r is one multiply-add of exact operands (inv_j - 1 is exact) rounded once,
 * |r| <= 0.0323, and r = e exactly for j = 0 (inv_0 = 1), so small e keep
 * their full relative precision (log1p(e) = e for e < 2^-53) without the
 * rounding of 1 + e ever entering.  log1p(r) = r + r^2 Q(r) as in
 * lossopt_log_parts_v8 (|r| <= 0.0323 here);
 * -log(inv_j) = hi + lo from a 16-entry table held in two registers
 * (vpermi2pd: no gather), and hi + r is summed exactly (Fast2Sum: |hi| >= 0.06
 * > |r| for j >= 1, hi = 0 for j = 0).  Error: at most 1.01 ulp measured (24M
 * points against long double: the rounding of r and the final addition;
 * tests/test_elementwise_fast_paths.py against mpmath).
 */
LOSSOPT_TARGET_V4 static inline __m512d lossopt_log1p_unit_v8(__m512d e)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d kd = _mm512_add_pd(_mm512_min_pd(_mm512_mul_pd(e, _mm512_set1_pd(16.0)),
                                             _mm512_set1_pd(15.0)),
                               _mm512_set1_pd(0x1.8p52));
    __m512i j = _mm512_castpd_si512(kd);                 /* low 4 bits: j */
    __m512d inv = LOSSOPT_PERM16_PD(lossopt_log1p_inv16, j);
    __m512d hi = LOSSOPT_PERM16_PD(lossopt_log1p_c16_hi, j);
    __m512d lo = LOSSOPT_PERM16_PD(lossopt_log1p_c16_lo, j);
    __m512d r = _mm512_fmadd_pd(e, inv, _mm512_sub_pd(inv, one));
    __m512d rest;
    __m512d sum = lossopt_log_parts_v8(r, hi, lo, &rest);
    return _mm512_add_pd(sum, rest);
}

/* The reduction of the table logs below, for ps (float) or pd (double):
 * x = 2^k m with m in [0.75, 1.5) (k = vgetexp(x), + 1 where m < 1: exact,
 * subnormals included), and j = round(16 m) - 12 in the low 4 bits of J
 * (SHIFT: 1.5 * 2^(mantissa bits)). */
#define LOSSOPT_TABLE_LOG_REDUCE(SFX, SHIFT, X, ONE, M, K, J)                         \
    do {                                                                             \
        M = _mm512_getmant_##SFX(X, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_zero);      \
        K = _mm512_getexp_##SFX(X);                                                  \
        K = _mm512_mask_add_##SFX(K, _mm512_cmp_##SFX##_mask(M, ONE, _CMP_LT_OQ), K, ONE); \
        J = _mm512_cast##SFX##_si512(_mm512_fmadd_##SFX(M, _mm512_set1_##SFX(16),    \
                                                        _mm512_set1_##SFX(SHIFT - 12))); \
    } while (0)

/* 1 / c_j rounded to float, c_j = 0.75 + j/16 (j = 0..12, then repeated),
 * and -log of that value (hi + lo) */
static const float lossopt_logf_inv16[16] = {
    0x1.555556p+0f, 0x1.3b13b2p+0f, 0x1.24924ap+0f, 0x1.111112p+0f, 0x1.000000p+0f,
    0x1.e1e1e2p-1f, 0x1.c71c72p-1f, 0x1.af286cp-1f, 0x1.99999ap-1f, 0x1.861862p-1f,
    0x1.745d18p-1f, 0x1.642c86p-1f, 0x1.555556p-1f, 0x1.555556p-1f, 0x1.555556p-1f,
    0x1.555556p-1f,
};
static const float lossopt_logf_c16_hi[16] = {
    -0x1.269624p-2f, -0x1.a93ed8p-3f, -0x1.1178eep-3f, -0x1.08599ap-4f, 0x0.0p+0f,
    0x1.f0a30ap-5f, 0x1.e27074p-4f, 0x1.5ff306p-3f, 0x1.c8ff7ap-3f, 0x1.1675cap-2f,
    0x1.4618bap-2f, 0x1.739d7ep-2f, 0x1.9f323cp-2f, 0x1.9f323cp-2f, 0x1.9f323cp-2f,
    0x1.9f323cp-2f,
};
static const float lossopt_logf_c16_lo[16] = {
    0x1.d9648ep-27f, -0x1.915b3ap-28f, -0x1.13f22cp-30f, 0x1.4c38ccp-29f, 0x0.0p+0f,
    0x1.162a76p-37f, 0x1.c55e5cp-29f, 0x1.4f27aap-32f, 0x1.e6a68ap-29f, -0x1.0a8b3ep-27f,
    0x1.0e2f66p-29f, 0x1.5de804p-29f, 0x1.97f30ap-27f, 0x1.97f30ap-27f, 0x1.97f30ap-27f,
    0x1.97f30ap-27f,
};

/*
 * log(x) for x >= 0 (or NaN), 16 float lanes, no division:
 *
 *   x = 2^k m,  m in [0.75, 1.5)   (vgetmantps; k = vgetexpps(x), + 1 where
 *                                   m < 1: exact, subnormals included)
 *   j = round(16 m) - 12,  c_j = 0.75 + j/16,  inv_j = fl(1 / c_j)
 *   log(x) = k ln2 - log(inv_j) + log1p(r),  r = m inv_j - 1 (one rounding;
 *   exact for j = 4, where c_j = 1: log(m) keeps its relative precision near 1)
 *
 * |r| <= 0.042, log1p(r) = r + r^2 Q(r), Q the Taylor polynomial to r^6
 * (first omitted term below 8e-10 relative); -log(inv_j) = hi + lo from one
 * vpermps each; k ln2 as k LN2_HI (exact) + k LN2_LO; hi + r summed exactly
 * (Fast2Sum: |hi| >= 0.06 > |r| for j != 4, hi = 0 for j = 4).  At most 1.47
 * float ulp measured (35M floats against double; about 1 in 10^5 above 1 ulp;
 * tests/test_elementwise_sweeps.py against mpmath).
 * Edges: log(0) = -inf, log(+inf) = +inf, log(NaN) = NaN.
 */
LOSSOPT_TARGET_V4 static inline __m512 lossopt_logf_v16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 m, k;
    __m512i j;
    LOSSOPT_TABLE_LOG_REDUCE(ps, 0x1.8p23f, x, one, m, k, j);
    __m512 inv = _mm512_permutexvar_ps(j, _mm512_loadu_ps(lossopt_logf_inv16));
    __m512 hi = _mm512_permutexvar_ps(j, _mm512_loadu_ps(lossopt_logf_c16_hi));
    __m512 lo = _mm512_permutexvar_ps(j, _mm512_loadu_ps(lossopt_logf_c16_lo));
    __m512 r = _mm512_fmsub_ps(m, inv, one);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(-1.0f / 6), r, _mm512_set1_ps(1.0f / 5));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(-1.0f / 4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(-1.0f / 2));
    __m512 sum = _mm512_add_ps(hi, r);
    __m512 err = _mm512_add_ps(_mm512_sub_ps(hi, sum), r);
    __m512 rest = _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, _mm512_add_ps(err, lo));
    rest = _mm512_fmadd_ps(k, _mm512_set1_ps(0x1.7f7d1cp-20f), rest);
    __m512 lead = _mm512_fmadd_ps(k, _mm512_set1_ps(0x1.62e4p-1f), sum);   /* k LN2_HI exact */
    __m512 res = _mm512_add_ps(lead, rest);
    res = _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ),
                             _mm512_set1_ps(-INFINITY));
    return _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ),
                              x);
}

/* The same table for doubles: 1 / c_j rounded to double, c_j = 0.75 + j/16
 * (j = 0..12, then repeated), and -log of that value (hi + lo) */
static const double lossopt_log_inv16[16] = {
    0x1.5555555555555p+0, 0x1.3b13b13b13b14p+0, 0x1.2492492492492p+0, 0x1.1111111111111p+0,
    0x1.0000000000000p+0, 0x1.e1e1e1e1e1e1ep-1, 0x1.c71c71c71c71cp-1, 0x1.af286bca1af28p-1,
    0x1.999999999999ap-1, 0x1.8618618618618p-1, 0x1.745d1745d1746p-1, 0x1.642c8590b2164p-1,
    0x1.5555555555555p-1, 0x1.5555555555555p-1, 0x1.5555555555555p-1, 0x1.5555555555555p-1,
};
static const double lossopt_log_c16_hi[16] = {
    -0x1.269621134db91p-2, -0x1.a93ed3c8ad9e5p-3, -0x1.1178e8227e47ap-3, -0x1.08598b59e3a06p-4,
    0x0.0p+0, 0x1.f0a30c01162a8p-5, 0x1.e27076e2af2eap-4, 0x1.5ff3070a793d6p-3,
    0x1.c8ff7c79a9a20p-3, 0x1.1675cababa60fp-2, 0x1.4618bc21c5ec2p-2, 0x1.739d7f6bbd007p-2,
    0x1.9f323ecbf984dp-2, 0x1.9f323ecbf984dp-2, 0x1.9f323ecbf984dp-2, 0x1.9f323ecbf984dp-2,
};
static const double lossopt_log_c16_lo[16] = {
    -0x1.e0efadd9db02ap-56, -0x1.bcafa9de97202p-57, 0x1.0e63a5f01c693p-58, 0x1.dd7009902bf32p-58,
    0x0.0p+0, 0x1.85f325c5bbacdp-59, -0x1.61578001e015ap-60, -0x1.bc60efafc6f6cp-58,
    -0x1.4f689f8434011p-57, 0x1.ce63eab883727p-61, -0x1.7a42642661c62p-61, 0x1.ce24c53fad3f0p-58,
    -0x1.a92e513217f58p-59, -0x1.a92e513217f58p-59, -0x1.a92e513217f58p-59, -0x1.a92e513217f58p-59,
};

/* log(x) for x >= 0 (or NaN), 8 double lanes, no division: lossopt_logf_v16's
 * scheme in double (the table from two registers, vpermi2pd), log1p(r) by
 * lossopt_log_parts_v8, k ln2 as k LN2_HI (exact) + k LN2_LO.  Error: at most
 * 1.51 ulp measured (against long double and mpmath; the rounding of
 * k LN2_HI + sum is not carried into the small terms), within the 2 ulp the
 * library's logs promise. */
LOSSOPT_TARGET_V4 static inline __m512d lossopt_log_v8(__m512d x)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d m, k;
    __m512i j;
    LOSSOPT_TABLE_LOG_REDUCE(pd, 0x1.8p52, x, one, m, k, j);
    __m512d inv = LOSSOPT_PERM16_PD(lossopt_log_inv16, j);
    __m512d hi = LOSSOPT_PERM16_PD(lossopt_log_c16_hi, j);
    __m512d lo = LOSSOPT_PERM16_PD(lossopt_log_c16_lo, j);
    __m512d r = _mm512_fmsub_pd(m, inv, one);
    __m512d rest;
    __m512d sum = lossopt_log_parts_v8(r, hi, lo, &rest);
    rest = _mm512_fmadd_pd(k, _mm512_set1_pd(0x1.a39ef35793c76p-33), rest);
    __m512d lead = _mm512_fmadd_pd(k, _mm512_set1_pd(0x1.62e42fee00000p-1), sum);
    __m512d res = _mm512_add_pd(lead, rest);
    res = _mm512_mask_mov_pd(res, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_EQ_OQ),
                             _mm512_set1_pd(-INFINITY));
    return _mm512_mask_mov_pd(res, _mm512_cmp_pd_mask(x, _mm512_set1_pd(INFINITY), _CMP_EQ_OQ),
                              x);
}

#endif /* LOSSOPT_HAVE_DISPATCH */

#endif /* LOSSOPT_MATH_H */
