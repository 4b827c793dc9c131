/*
 * lossopt_elementwise.h -- the element-wise losses: one value + gradient
 * function per loss, and one set of loops shared by all of them.
 *
 * Every element-wise loss is a function of one prediction p, one target t
 * (and, for the Gaussian NLL, one variance v):
 *
 *     l = f(p, t, v),   g = d l / d p,   gv = d l / d v
 *
 * The per-element functions below are tiny, branch-free (selects only) and
 * use the vectorisable lossopt_exp / lossopt_log / lossopt_log1p (always
 * inlined), so a loop over them vectorises.  The loops (lossopt_elem_flat_*,
 * lossopt_elem_rows_body_*) are written once; the loss is a compile-time
 * constant `kind` inside them: the entry point (lossopt_elem_block_*)
 * switches on the kind once per block, outside the loop, and each case
 * inlines the loops with that constant, so the switch in lossopt_elem()
 * folds away and each loss gets its own vectorised loop (in the style of
 * scikit-learn's _loss.pyx.tp, where a template writes one loop per loss).
 * The entry point is compiled once per ISA level (LOSSOPT_KERNEL).
 *
 * All arithmetic is in double, for float data too (float32 losses must match
 * their float64 evaluation on the same data to 1e-12, see the tests), but
 * for the float32 Gaussian NLL, computed in float (its tolerance allows it);
 * loss sums are double.
 * A block returns the sum of its (weighted) losses; the Cython driver
 * (src/_elementwise.pxd) cuts the rows into blocks and adds the block sums
 * in block order, so results do not depend on the thread count.
 *
 * The driver counts the targets (the variances, for the Gaussian NLL)
 * outside the loss's domain block by block before it calls the block's
 * kernel (lossopt_elem_domain, lossopt_count_outside_*), skips a block that
 * holds one, and Python raises after the pass.  NaN is never "outside": it
 * propagates to the loss.
 *
 * The losses with a transcendental part (the binary cross-entropy, the
 * Poisson NLL on log rates, the float Gaussian NLL) compute it in a
 * pre-sweep over chunks of LOSSOPT_ELEM_CHUNK elements before the fused loop
 * ("the pre-sweeps" below; on x86-64-v4 with AVX-512 table exp/log), and
 * their commonest call (flat, unweighted, with a gradient) has a whole
 * AVX-512 loop on x86-64-v4 (lossopt_elem_plain_*), as have the float64
 * Gaussian NLL's and the float hinge, squared hinge and perceptron's
 * (lossopt_margin_plain_f32_v4: GCC's double loop with conversions was
 * compute-bound there).
 */
#ifndef LOSSOPT_ELEMENTWISE_H
#define LOSSOPT_ELEMENTWISE_H

#include "lossopt_math.h"

enum {
    LOSSOPT_SQUARED_ERROR = 0,
    LOSSOPT_ABSOLUTE_ERROR = 1,
    LOSSOPT_HUBER = 2,
    LOSSOPT_GAUSSIAN_NLL = 3,
    LOSSOPT_POISSON_NLL_LOG = 4,        /* log_input=True,  full=False */
    LOSSOPT_POISSON_NLL_LOG_FULL = 5,   /* log_input=True,  full=True  */
    LOSSOPT_POISSON_NLL_RATE = 6,       /* log_input=False, full=False */
    LOSSOPT_POISSON_NLL_RATE_FULL = 7,  /* log_input=False, full=True  */
    LOSSOPT_BINARY_CROSS_ENTROPY = 8,
    LOSSOPT_PERCEPTRON = 9,
    LOSSOPT_HINGE = 10,
    LOSSOPT_SQUARED_HINGE = 11
};

/* Hyper-parameters; what a, b and c mean depends on the kind:
 *   Huber: a = delta
 *   Gaussian NLL: a = eps, b = constant per element (0.5 ln 2pi if full, else 0)
 *   Poisson NLL: a = eps (log_input=False only)
 *   binary cross-entropy: a = 1 - label_smoothing, b = label_smoothing / 2,
 *       c = pos_weight (scalar), col = pos_weight per output (length K) or NULL
 *   hinge, squared hinge: a = margin */
typedef struct {
    int kind;
    double a, b, c;
    const double *col;
} lossopt_elem_params;


#define LOSSOPT_HALF_LN_2PI 0.91893853320467274178

/* the margin losses of a sign label: perceptron, hinge, squared hinge */
static inline int lossopt_elem_is_margin(int kind)
{
    return kind == LOSSOPT_PERCEPTRON || kind == LOSSOPT_HINGE || kind == LOSSOPT_SQUARED_HINGE;
}

/* ------------------------------------------------------ per-element math -- */

/* sign(d) with sign(+-0) = 0 (the subgradient of |d| lossopt returns at 0)
 * and NaN kept. */
LOSSOPT_ALWAYS_INLINE double lossopt_sign0(double d)
{
    return d > 0.0 ? 1.0 : (d < 0.0 ? -1.0 : d * 0.0);
}

/* A binary label as -1 or +1: t == 1 is the positive class, t == 0 and
 * t == -1 the negative one; NaN stays NaN.  One comparison: t - t is 0 for
 * a finite label and NaN for a NaN (or an infinite one, which is not a
 * label: the kernels count it as outside the domain and Python raises). */
LOSSOPT_ALWAYS_INLINE double lossopt_pm1(double t)
{
    return (t == 1.0 ? 1.0 : -1.0) + (t - t);
}

/* Domains of the checked operand.  A sign label is a in {0, 1}, a = |t|:
 * a (a - 1) is exactly 0 there and non-zero for every other finite a (for
 * 0 < a < 1 it is within a factor 2 of min(a, 1 - a), which does not
 * underflow to 0), +inf for an infinite label, and NaN, which no ordered
 * comparison accepts, for a NaN one: one comparison instead of four.
 * The same holds in float (0 < a < 1 gives at least the smallest subnormal),
 * so the checks run in the data's own type: 16 lanes on AVX-512 for float. */
#define LOSSOPT_DEFINE_DOMAIN_CHECKS(T, SFX)                                         \
    LOSSOPT_ALWAYS_INLINE int lossopt_bad_sign_label##SFX(T t)                       \
    {                                                                                \
        T a = t < (T)0 ? -t : t;                                                     \
        T q = a * (a - (T)1);                                                        \
        return (q > (T)0) | (q < (T)0);                                              \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE int lossopt_bad_unit##SFX(T t)                             \
    {                                                                                \
        return (t < (T)0) | (t > (T)1);                                              \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE int lossopt_bad_negative##SFX(T t)                         \
    {                                                                                \
        return t < (T)0;                                                             \
    }

LOSSOPT_DEFINE_DOMAIN_CHECKS(double, )
LOSSOPT_DEFINE_DOMAIN_CHECKS(float, f)

/* The count of values outside a domain, in one vectorised pass: the check
 * the element-wise driver runs on each block before the block's kernel call
 * (and Python on a caller's wider-typed targets before the cast). */
enum {
    LOSSOPT_DOMAIN_SIGN_LABEL = 1,   /* -1, 0 or +1 */
    LOSSOPT_DOMAIN_UNIT = 2,         /* [0, 1] */
    LOSSOPT_DOMAIN_NONNEGATIVE = 3   /* >= 0 */
};

/* FN(domain, x, n) with the domain a constant in each call (it selects the
 * checks inside FN's loop at compile time) */
#define LOSSOPT_WITH_DOMAIN(FN, domain, x, n)                                          \
    ((domain) == LOSSOPT_DOMAIN_SIGN_LABEL ? FN(LOSSOPT_DOMAIN_SIGN_LABEL, x, n)       \
     : (domain) == LOSSOPT_DOMAIN_UNIT ? FN(LOSSOPT_DOMAIN_UNIT, x, n)                 \
     : FN(LOSSOPT_DOMAIN_NONNEGATIVE, x, n))

/* Counted per chunk of 2^16 in an int (as many lanes as the data's type);
 * the chunk counts are added in a ptrdiff_t. */
#define LOSSOPT_DEFINE_COUNT_OUTSIDE(T, SUFFIX, SFX)                                   \
    LOSSOPT_ALWAYS_INLINE ptrdiff_t lossopt_count_body_##SUFFIX(const int domain,      \
                                                                const T *x,            \
                                                        ptrdiff_t n)                   \
    {                                                                                  \
        ptrdiff_t bad = 0, c0 = 0;                                                     \
        while (c0 < n) {                                                               \
            ptrdiff_t c1 = n - c0 > 65536 ? c0 + 65536 : n;                            \
            int b = 0;                                                                 \
            LOSSOPT_OMP_SIMD(reduction(+:b))                                           \
            for (ptrdiff_t j = c0; j < c1; j++)                                        \
                b += domain == LOSSOPT_DOMAIN_SIGN_LABEL ? lossopt_bad_sign_label##SFX(x[j]) \
                   : domain == LOSSOPT_DOMAIN_UNIT ? lossopt_bad_unit##SFX(x[j])       \
                   : lossopt_bad_negative##SFX(x[j]);                                  \
            bad += b;                                                                  \
            c0 = c1;                                                                   \
        }                                                                              \
        return bad;                                                                    \
    }                                                                                  \
    /* Whether any value is outside the domain: the least and the greatest of \
     * the values (of a (a - 1), a = |t|, for sign labels; NaN, which neither  \
     * comparison takes, is left out), two to three vector operations per     \
     * vector where the count takes twice that and mask conversions; the     \
     * count runs only when this finds one (the error path). */                  \
    LOSSOPT_ALWAYS_INLINE int lossopt_any_outside_##SUFFIX(const int domain,           \
                                                           const T *x, ptrdiff_t n)    \
    {                                                                                  \
        T lo = (T)0, hi = (T)0;                                                        \
        LOSSOPT_OMP_SIMD(reduction(min:lo) reduction(max:hi))                          \
        for (ptrdiff_t j = 0; j < n; j++) {                                            \
            T v = x[j];                                                                \
            if (domain == LOSSOPT_DOMAIN_SIGN_LABEL) {                                 \
                T a = fabs##SFX(v);                                                    \
                v = a * (a - (T)1);                                                    \
            }                                                                          \
            lo = v < lo ? v : lo;                                                      \
            if (domain != LOSSOPT_DOMAIN_NONNEGATIVE)                                  \
                hi = v > hi ? v : hi;                                                  \
        }                                                                              \
        return lo < (T)0 || hi > (domain == LOSSOPT_DOMAIN_UNIT ? (T)1 : (T)0);        \
    }                                                                                  \
    LOSSOPT_ALWAYS_INLINE int lossopt_any_outside_in_##SUFFIX(int domain, const T *x,   \
                                                              ptrdiff_t n)             \
    {                                                                                  \
        return LOSSOPT_WITH_DOMAIN(lossopt_any_outside_##SUFFIX, domain, x, n);        \
    }                                                                                  \
    LOSSOPT_KERNEL(ptrdiff_t, lossopt_count_outside_##SUFFIX, (int domain, const T *x, ptrdiff_t n), (domain, x, n)) \
    {                                                                                  \
        if (!lossopt_any_outside_in_##SUFFIX(domain, x, n))                            \
            return 0;                                                                  \
        return LOSSOPT_WITH_DOMAIN(lossopt_count_body_##SUFFIX, domain, x, n);         \
    }

LOSSOPT_DEFINE_COUNT_OUTSIDE(double, f64, )
LOSSOPT_DEFINE_COUNT_OUTSIDE(float, f32, f)

/* squared error: l = d^2 / 2, g = d */
LOSSOPT_ALWAYS_INLINE double lossopt_el_squared(double p, double t, double *g)
{
    double d = p - t;
    *g = d;
    return 0.5 * d * d;
}

/* absolute error: l = |d|, g = sign(d), 0 at d = 0 */
LOSSOPT_ALWAYS_INLINE double lossopt_el_absolute(double p, double t, double *g)
{
    double d = p - t;
    *g = lossopt_sign0(d);
    return fabs(d);
}

/* Huber (torch's huber_loss): z = |d|;  l = z^2/2 for z < delta, else
 * delta (z - delta/2);  g = clip(d, -delta, delta).  C^1: at z = delta both
 * branches give delta^2/2 and gradient +-delta. */
LOSSOPT_ALWAYS_INLINE double lossopt_el_huber(double p, double t, double delta, double *g)
{
    double d = p - t;
    double z = fabs(d);
    *g = d < -delta ? -delta : (d > delta ? delta : d);
    return z < delta ? 0.5 * d * d : delta * (z - 0.5 * delta);
}

/* Gaussian NLL (torch's gaussian_nll_loss): vc = max(v, eps);
 * l = (ln vc + d^2 / vc) / 2 + cst;  g = d / vc;
 * gv = (1 / vc - d^2 / vc^2) / 2.  Like torch, the clamp is not
 * differentiated: gv is the derivative at vc also where v < eps. */
LOSSOPT_ALWAYS_INLINE double lossopt_el_gaussian_nll(double p, double t, double v, double eps,
                                             double cst, double *g, double *gv)
{
    double d = p - t;
    double vc = v < eps ? eps : v;
    double r = 1.0 / vc;
    double q = d / vc;              /* not d * r: 1 / vc overflows for subnormal vc */
    *g = q;
    *gv = 0.5 * (r - q * q);
    return 0.5 * (lossopt_log(vc) + q * d) + cst;
}

/* The same for float data, in single precision (16 lanes on AVX-512: the
 * float log and divisions instead of double ones): the loss is summed in
 * float64 as everywhere, from float terms within about 1 ulp of float each.
 * eps is the float32 eps (as torch's clamp of a float32 variance).  Where
 * 1/vc and q^2 nearly cancel, gv's error is a few float ulps of 1/(2 vc).
 * Only the Gaussian NLL takes this path: the other float32 losses are
 * checked to match their float64 evaluation on the same data to 1e-12, so
 * their transcendental parts stay in double. */
LOSSOPT_ALWAYS_INLINE float lossopt_clamp_f32(float v, float eps)
{
    return v < eps ? eps : v;
}

/* ... given lg = log(max(v, eps)) (the pre-sweep lossopt_logclamp_parts_f32) */
LOSSOPT_ALWAYS_INLINE double lossopt_el_gaussian_nll_f32_parts(float p, float t, float v,
                                                               float eps, double cst,
                                                               double lg, double *g,
                                                               double *gv)
{
    float d = p - t;
    float vc = lossopt_clamp_f32(v, eps);
    float r = 1.0f / vc;
    float q = d / vc;
    *g = q;
    *gv = 0.5f * (r - q * q);
    return 0.5 * (lg + (double)(q * d)) + cst;
}

LOSSOPT_ALWAYS_INLINE double lossopt_el_gaussian_nll_f32(float p, float t, float v, float eps,
                                                 double cst, double *g, double *gv)
{
    return lossopt_el_gaussian_nll_f32_parts(p, t, v, eps, cst,
                                             (double)lossopt_logf(lossopt_clamp_f32(v, eps)),
                                             g, gv);
}

/* Stirling's term of ln(t!) that torch's poisson_nll_loss adds with
 * full=True: t ln t - t + ln(2 pi t) / 2 for t > 1, else 0. */
LOSSOPT_ALWAYS_INLINE double lossopt_stirling(double t)
{
    double lt = lossopt_log(t);
    double s = t * lt - t + (LOSSOPT_HALF_LN_2PI + 0.5 * lt);
    return t > 1.0 ? s : 0.0;
}

/* Poisson NLL, log_input=True: p = log rate;  l = e^p - t p, g = e^p - t */
LOSSOPT_ALWAYS_INLINE double lossopt_el_poisson_log_e(double p, double t, double e, int full,
                                                      double *g)
{
    *g = e - t;
    return e - t * p + (full ? lossopt_stirling(t) : 0.0);
}

LOSSOPT_ALWAYS_INLINE double lossopt_el_poisson_log(double p, double t, int full, double *g)
{
    return lossopt_el_poisson_log_e(p, t, lossopt_exp(p), full, g);
}

/* Poisson NLL, log_input=False: p = rate;  l = p - t ln(p + eps),
 * g = 1 - t / (p + eps) */
LOSSOPT_ALWAYS_INLINE double lossopt_el_poisson_rate(double p, double t, double eps, int full,
                                             double *g)
{
    double q = p + eps;
    *g = 1.0 - t / q;
    return p - t * lossopt_log(q) + (full ? lossopt_stirling(t) : 0.0);
}

/*
 * Binary cross-entropy on a logit x with (soft) target t in [0, 1], the
 * Bernoulli NLL with a sigmoid last activation, torch's
 * binary_cross_entropy_with_logits with pos_weight pw:
 *
 *   tt = t (1 - eps) + eps / 2                 (label smoothing toward 1/2;
 *                                              1 - tt as (1 - t)(1 - eps) + eps / 2)
 *   lw = 1 + (pw - 1) tt  (computed as pw tt + (1 - tt): no cancellation)
 *   l  = -pw tt ln sigma(x) - (1 - tt) ln(1 - sigma(x))
 *      = (1 - tt) x + lw softplus(-x),          softplus(z) = ln(1 + e^z)
 *   g  = lw sigma(x) - pw tt
 *
 * Stability.  softplus is split at the one cut-off that matters, z = 0:
 * softplus(z) = max(z, 0) + log1p(e),  e = exp(-|x|) in (0, 1], which never
 * overflows.  For x >= 0 that gives l = (1 - tt) x + lw L, for x < 0
 * l = -pw tt x + lw L with L = log1p(e): the x terms are written per side so
 * that nothing cancels (no "x - x").  Likewise sigma(-|x|) = s = e / (1 + e),
 * and g = (1 - tt) - lw s for x >= 0, lw s - pw tt for x < 0, which is exact
 * even where sigma(x) rounds to 1 (e.g. x = 40, t = 1: g = -4.2e-18, not 0).
 * The further cut-offs of scalar code (scikit-learn's -37, 18, 33.3) only
 * skip work: a vector lane computes exp and log1p anyway, and the single
 * formula is already exact to rounding there: for |x| > 37, e < 2^-53 and
 * log1p(e) returns e itself (the e^2/2 term is below half an ulp of e), and
 * for x > 33.3, x + e rounds to x.  For |x| > 745, e underflows to 0 and the
 * loss is exactly the linear term.  Tests check x = +-18, +-37, +-1e3 against
 * mpmath.  An infinite logit whose linear coefficient is 0 (x = +inf with
 * tt = 1, x = -inf with tt = 0) gives the limit 0, not 0 * inf = NaN.
 */
/* The two transcendental parts of the binary cross-entropy of a logit x:
 * s = sigma(-|x|) = e / (1 + e) and L = log1p(e) = softplus(-|x|), with
 * e = exp(-|x|) in (0, 1] (the pre-sweep lossopt_softplus_parts_* computes
 * them over a chunk; this is the one-element form, the fused loops inline it). */
LOSSOPT_ALWAYS_INLINE void lossopt_softplus_part(double x, double *s, double *L)
{
    double e = lossopt_exp(-fabs(x));
    /* L = log1p(e) for e in [0, 1] (no edge selects needed: e is in [0, 1]
     * or NaN, and a NaN logit already makes the linear term NaN) */
    double ru = 1.0 / (1.0 + e);              /* one division for both quotients */
    *L = lossopt_log1p_unit(e, ru);
    *s = e * ru;
}

/* The loss and gradient from the parts s and L of x (above) */
LOSSOPT_ALWAYS_INLINE double lossopt_el_bce_parts(double x, double t, double keep,
                                                  double half_eps, double pw, double s,
                                                  double L, double *g)
{
    double tt = t * keep + half_eps;
    double ct = (1.0 - t) * keep + half_eps;  /* 1 - tt without the cancellation */
    /* lw = 1 + (pw - 1) tt, as pw tt + (1 - tt): two non-negative terms,
     * nothing cancels (pw near 0 with a smoothed target: 1 + (pw - 1) tt
     * lost the digits of a tiny lw to the rounding of tt) */
    double lw = pw * tt + ct;
    int pos = x >= 0.0;
    double cx = pos ? ct : -pw * tt;          /* coefficient of x */
    double lin = cx == 0.0 ? 0.0 : cx * x;
    *g = pos ? ct - lw * s : lw * s - pw * tt;
    return lin + lw * L;
}

LOSSOPT_ALWAYS_INLINE double lossopt_el_bce(double x, double t, double keep, double half_eps,
                                    double pw, double *g)
{
    double s, L;
    lossopt_softplus_part(x, &s, &L);
    return lossopt_el_bce_parts(x, t, keep, half_eps, pw, s, L, g);
}

/* ------------------------------------------------------ the pre-sweeps -- */

/*
 * The transcendental part of a loss, swept over a chunk of the flat loop
 * (LOSSOPT_ELEM_CHUNK elements) into double scratch arrays before the fused
 * loop reads it: the binary cross-entropy's s = sigma(-|x|) and L =
 * softplus(-|x|) (lossopt_softplus_parts_*), the Poisson NLL's e^p
 * (lossopt_exp_parts_*).  A short loop over one function vectorises better
 * than the whole loss in one body (fewer live registers), and on the
 * x86-64-v4 path the sweeps are written with AVX-512 intrinsics:
 * lossopt_exp_v8 (the table exp of lossopt_math.h) and lossopt_log1p_unit_v8
 * below, which needs no division.  The other paths inline the portable
 * lossopt_exp / lossopt_log1p_unit.  Each sweep is its own dispatched entry
 * point, called once per chunk.
 */
enum { LOSSOPT_ELEM_CHUNK = 512 };

/* The elements of a span of the entry point (lossopt_elem_block_*): the unit
 * of the fused domain check, whose sums are added in order */
enum { LOSSOPT_ELEM_SPAN = 512 };

#if LOSSOPT_HAVE_DISPATCH
/* e = exp(-|x|), 8 lanes */
LOSSOPT_TARGET_V4 static inline __m512d lossopt_exp_neg_abs_v8(__m512d x)
{
    return lossopt_exp_v8(_mm512_sub_pd(_mm512_setzero_pd(), _mm512_abs_pd(x)));
}

/* the lanes of the next 8 elements of which `rest` are left (all when rest >= 8) */
LOSSOPT_TARGET_V4 static inline __mmask8 lossopt_mask8(ptrdiff_t rest)
{
    return rest >= 8 ? (__mmask8)0xff : (__mmask8)((1u << rest) - 1u);
}

/* The loop of the v4 chunk kernels below: the statements (...) once per
 * vector of 8 of the n elements, with k (the first element) and mk (the
 * lanes that exist) in scope: the full vectors with mk the constant 0xff
 * (no mask computed, loads and stores unmasked), then the rest under a mask.
 * (The per-vector masks cost 6-20 % in the row kernels' long rows.) */
#define LOSSOPT_FOR_VECTORS8(k, mk, n, ...)                                          \
    do {                                                                             \
        ptrdiff_t k = 0;                                                             \
        for (; k + 8 <= (n); k += 8) {                                               \
            const __mmask8 mk = (__mmask8)0xff;                                      \
            __VA_ARGS__                                                              \
        }                                                                            \
        if (k < (n)) {                                                               \
            const __mmask8 mk = lossopt_mask8((n) - k);                              \
            __VA_ARGS__                                                              \
        }                                                                            \
    } while (0)

/* A v4 sweep over n elements of x (double or float, read as double): full
 * vectors, then the rest under a mask (nothing read or written past n).
 * LOAD(m, ptr) reads 8 elements under the mask m; STEP(xv, k) stores the
 * results of lanes k..k+7 (MSTORE under the mask m). */
#define LOSSOPT_LOAD8_F64(m, ptr) _mm512_maskz_loadu_pd(m, ptr)
#define LOSSOPT_LOAD8_F32(m, ptr) _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, ptr))
#define LOSSOPT_DEFINE_V4_SWEEPS(T, SUFFIX, LOAD)                                    \
    /* two sweeps (e and s, then L from e): one loop over both would chain  \
     * the exp and the log (~100 cycles of latency per vector), more than the  \
     * out-of-order window hides */                                            \
    LOSSOPT_TARGET_V4 static void lossopt_softplus_parts_##SUFFIX##_avx512(          \
        const T *x, double *s, double *L, ptrdiff_t n)                               \
    {                                                                                \
        const __m512d one = _mm512_set1_pd(1.0);                                     \
        for (ptrdiff_t k = 0; k < n; k += 8) {                                       \
            __mmask8 m = lossopt_mask8(n - k);                                       \
            __m512d e = lossopt_exp_neg_abs_v8(LOAD(m, x + k));                      \
            _mm512_mask_storeu_pd(L + k, m, e);                                      \
            _mm512_mask_storeu_pd(s + k, m, _mm512_div_pd(e, _mm512_add_pd(one, e))); \
        }                                                                            \
        for (ptrdiff_t k = 0; k < n; k += 8) {                                       \
            __mmask8 m = lossopt_mask8(n - k);                                       \
            __m512d e = _mm512_maskz_loadu_pd(m, L + k);                             \
            _mm512_mask_storeu_pd(L + k, m, lossopt_log1p_unit_v8(e));               \
        }                                                                            \
    }                                                                                \
    LOSSOPT_TARGET_V4 static void lossopt_exp_parts_##SUFFIX##_avx512(               \
        const T *x, double *e, ptrdiff_t n)                                          \
    {                                                                                \
        for (ptrdiff_t k = 0; k < n; k += 8) {                                       \
            __mmask8 m = lossopt_mask8(n - k);                                       \
            _mm512_mask_storeu_pd(e + k, m, lossopt_exp_v8(LOAD(m, x + k)));          \
        }                                                                            \
    }
LOSSOPT_DEFINE_V4_SWEEPS(double, f64, LOSSOPT_LOAD8_F64)
LOSSOPT_DEFINE_V4_SWEEPS(float, f32, LOSSOPT_LOAD8_F32)

/* the float Gaussian NLL's log(max(v, eps)), 16 lanes, widened to double */
LOSSOPT_TARGET_V4 static void lossopt_logclamp_parts_f32_avx512(const float *v, float eps,
                                                                double *out, ptrdiff_t n)
{
    for (ptrdiff_t k = 0; k < n; k += 16) {
        ptrdiff_t rest = n - k;
        __mmask16 m = rest >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rest) - 1u);
        /* max returns its second operand when one is NaN: a NaN v stays */
        __m512 lg = lossopt_logf_v16(_mm512_max_ps(_mm512_set1_ps(eps),
                                                   _mm512_maskz_loadu_ps(m, v + k)));
        _mm512_mask_storeu_pd(out + k, (__mmask8)m,
                              _mm512_cvtps_pd(_mm512_castps512_ps256(lg)));
        _mm512_mask_storeu_pd(out + k + 8, (__mmask8)(m >> 8),
                              _mm512_cvtps_pd(_mm512_extractf32x8_ps(lg, 1)));
    }
}

/*
 * The commonest call of the binary cross-entropy, of the Poisson NLL on
 * log rates (full=False) and of the float64 Gaussian NLL on the x86-64-v4
 * path -- flat, without sample weights and per-sample losses, with or
 * without a gradient (the loss the same bits either way) -- written whole
 * with intrinsics (lossopt_elem_plain_*).
 * Gaussian (lossopt_gauss_chunk_*_v4): one loop with lossopt_log_v8.  BCE (lossopt_bce_chunk_*_v4): per chunk, one sweep for e
 * and s (the exp and the division), then one for L (the table log1p) fused
 * with the loss and gradient of lossopt_el_bce_parts (the same formulas;
 * GCC's selects for them cost twice these mask operations).  Lanes past n
 * are masked (loaded as 0, left out of the sum, not stored).  Poisson
 * (lossopt_poisson_chunk_*_v4): one loop, e^p by the table exp, whose short
 * dependency chain needs no separate sweep.
 */
/*
 * The hinge, the squared hinge and the perceptron criterion of float data on
 * the x86-64-v4 path (flat, without sample weights and per-sample losses,
 * with or without a gradient), 16 lanes: GCC's loop over the double
 * formulas (lossopt_el_hinge, lossopt_el_perceptron) was compute-bound
 * (1.2-1.4 x np.add streaming 1e7 floats, where the float64 loop runs at
 * np.add's speed).  The label y = +-1 and z = y p are exact in float; what
 * rounds is computed in double as there: u = margin - z, the squared
 * hinge's h^2 and its gradient scale (-2 y h), the loss sums.  The
 * perceptron's max(0, -z) and every gradient of +-1 times scale are exact in
 * float (scale * -y rounded to float is -y times scale rounded).  NaN
 * propagates as in the generic loop (a NaN u or z: NaN loss and gradient).
 * Vectors start where p is 64-byte aligned (the first one takes the
 * elements before: no load of p splits a cache line), the same with and
 * without a gradient, so the loss's lanes, hence its bits, are too; and the
 * lanes' sums are rotated to the elements' index classes before they are
 * added, so the bits do not depend on p's address either.
 * (Non-temporal stores of g, tried for the 1e7-value case, were no faster
 * with g aligned and 40 % slower with g at NumPy's usual 16-byte offset.)
 * Returns the loss sum.
 */
/* the constants of the loop below */
typedef struct {
    __m512 one, mone, zero, ngsc, thr;
    __m512d margin, zd, sc2;
} lossopt_margin_consts_v4;

/* one vector of 16 elements (the lanes m) of the loss `kind` (a constant),
 * its loss added to acc0 (lanes 0-7) and acc1 (8-15), its gradient stored
 * when has_g */
LOSSOPT_TARGET_V4 static inline __attribute__((always_inline)) void lossopt_margin_vec_f32_v4(
    const int kind, const int has_g, const lossopt_margin_consts_v4 *c, const float *p,
    const float *t, float *g, __mmask16 m, __m512d *acc0, __m512d *acc1)
{
    const __m512 pv = _mm512_maskz_loadu_ps(m, p), tv = _mm512_maskz_loadu_ps(m, t);
    /* y = +-1 (NaN for a NaN label, as lossopt_pm1), z = y p: exact */
    const __m512 y = _mm512_add_ps(
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask(tv, c->one, _CMP_EQ_OQ), c->mone, c->one),
        _mm512_sub_ps(tv, tv));
    const __m512 z = _mm512_mul_ps(y, pv);
    /* hinge: on = u > 0 or NaN; perceptron: on = !(z >= 0), the lanes of -z */
    const __mmask16 on = _mm512_mask_cmp_ps_mask(m, z, c->thr, _CMP_NGE_UQ);
    __m512 gf = c->zero;
    if (kind == LOSSOPT_PERCEPTRON) {
        /* l = max(0, -z) (NaN kept), exact in float; g = -y where z <= 0,
         * 0 where z > 0, z if NaN */
        const __m512 lf = _mm512_sub_ps(c->zero, z);
        *acc0 = _mm512_mask_add_pd(*acc0, (__mmask8)on, *acc0,
                                   _mm512_cvtps_pd(_mm512_castps512_ps256(lf)));
        *acc1 = _mm512_mask_add_pd(*acc1, (__mmask8)(on >> 8), *acc1,
                                   _mm512_cvtps_pd(_mm512_extractf32x8_ps(lf, 1)));
        if (has_g)
            gf = _mm512_mask_mov_ps(
                _mm512_maskz_mul_ps((__mmask16)~_mm512_cmp_ps_mask(z, c->zero, _CMP_GT_OQ),
                                    y, c->ngsc),
                _mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q), z);
    } else {
        /* u = margin - z in double; the loss on the lanes `on` (h = u there, 0 else) */
        const __m512d u0 = _mm512_sub_pd(c->margin, _mm512_cvtps_pd(_mm512_castps512_ps256(z)));
        const __m512d u1 = _mm512_sub_pd(c->margin, _mm512_cvtps_pd(_mm512_extractf32x8_ps(z, 1)));
        if (kind == LOSSOPT_SQUARED_HINGE) {
            *acc0 = _mm512_mask_add_pd(*acc0, (__mmask8)on, *acc0, _mm512_mul_pd(u0, u0));
            *acc1 = _mm512_mask_add_pd(*acc1, (__mmask8)(on >> 8), *acc1, _mm512_mul_pd(u1, u1));
            if (has_g) {
                /* scale (-2 y h) = y (h (-2 scale)), y = +-1: h (-2 scale) rounded
                 * once, to float, its sign set by y (NaN for a NaN label) */
                const __m512d d0 = _mm512_mul_pd(u0, c->sc2), d1 = _mm512_mul_pd(u1, c->sc2);
                gf = _mm512_maskz_mul_ps(on, y, _mm512_insertf32x8(
                    _mm512_castps256_ps512(_mm512_cvtpd_ps(d0)), _mm512_cvtpd_ps(d1), 1));
            }
        } else {
            *acc0 = _mm512_mask_add_pd(*acc0, (__mmask8)on, *acc0, u0);
            *acc1 = _mm512_mask_add_pd(*acc1, (__mmask8)(on >> 8), *acc1, u1);
            if (has_g)  /* -y where u > 0, 0 where u <= 0, NaN where u is */
                gf = _mm512_mask_mov_ps(_mm512_maskz_mul_ps(on, y, c->ngsc),
                                        _mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q), z);
        }
    }
    if (has_g)
        _mm512_mask_storeu_ps(g, m, gf);
}

/* p - n elements (n <= 16), for a masked access whose lanes before p are
 * off (masked-off lanes never fault): integer arithmetic, no pointer before
 * the array */
#define LOSSOPT_MARGIN_BACK(T, p, n) ((T *)(void *)((uintptr_t)(p) - (uintptr_t)(n) * sizeof *(p)))

/* the loop: a first vector up to p's next 64-byte boundary, full vectors,
 * the rest.  The first vector sits where it would in an aligned array (its
 * elements in the lanes 16 - k0 .. 15, k0 the elements before the boundary,
 * read and written under a mask), so lane l always holds the elements of
 * index = l + k0 (mod 16); the sums are rotated by k0 before the lanes are
 * added, so each index class is summed in index order in the same lane
 * whatever p's address: the loss's bits do not depend on where the arrays
 * lie (a copy or a slice of the same values gives the same loss). */
LOSSOPT_TARGET_V4 static inline __attribute__((always_inline)) double lossopt_margin_loop_f32_v4(
    const int kind, const int has_g, const lossopt_margin_consts_v4 *c, const float *p,
    const float *t, float *g, ptrdiff_t n)
{
    const uintptr_t pa = (uintptr_t)p;
    const ptrdiff_t k0 = pa % sizeof(float) ? 0
                       : (ptrdiff_t)(((64u - (pa & 63u)) & 63u) / sizeof(float));
    __m512d acc0 = c->zd, acc1 = c->zd;
    ptrdiff_t k = k0 < n ? k0 : n;
    if (k) {
        const ptrdiff_t back = 16 - k0;
        lossopt_margin_vec_f32_v4(kind, has_g, c, LOSSOPT_MARGIN_BACK(const float, p, back),
                                  LOSSOPT_MARGIN_BACK(const float, t, back),
                                  has_g ? LOSSOPT_MARGIN_BACK(float, g, back) : g,
                                  (__mmask16)(((1u << k) - 1u) << back), &acc0, &acc1);
    }
    for (; k + 16 <= n; k += 16)
        lossopt_margin_vec_f32_v4(kind, has_g, c, p + k, t + k, has_g ? g + k : g,
                                  (__mmask16)0xffff, &acc0, &acc1);
    if (k < n)
        lossopt_margin_vec_f32_v4(kind, has_g, c, p + k, t + k, has_g ? g + k : g,
                                  (__mmask16)((1u << (n - k)) - 1u), &acc0, &acc1);
    /* lane j of (r0, r1) = lane (j - k0) mod 16 of (acc0, acc1): index class j */
    const __m512i rot = _mm512_and_si512(
        _mm512_sub_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(k0)),
        _mm512_set1_epi64(15));
    const __m512d r0 = _mm512_permutex2var_pd(acc0, rot, acc1);
    const __m512d r1 = _mm512_permutex2var_pd(
        acc0, _mm512_and_si512(_mm512_add_epi64(rot, _mm512_set1_epi64(8)), _mm512_set1_epi64(15)),
        acc1);
    return _mm512_reduce_add_pd(_mm512_add_pd(r0, r1));
}

LOSSOPT_TARGET_V4 static double lossopt_margin_plain_f32_v4(const lossopt_elem_params *Pp,
                                                            const float *p, const float *t,
                                                            float *g, ptrdiff_t n,
                                                            double scale)
{
    lossopt_margin_consts_v4 c;
    /* u > 0 or NaN <=> !(z >= thr), thr the least float >= margin (z is a
     * float; the margin is finite: lossopt_elem_flat_* sends an infinite or
     * NaN one to the generic loop) */
    float thr = (float)Pp->a;
    thr = (double)thr < Pp->a ? nextafterf(thr, INFINITY) : thr;
    c.one = _mm512_set1_ps(1.0f);
    c.mone = _mm512_set1_ps(-1.0f);
    c.zero = _mm512_setzero_ps();
    c.ngsc = _mm512_set1_ps(-(float)scale);
    c.thr = _mm512_set1_ps(Pp->kind == LOSSOPT_PERCEPTRON ? 0.0f : thr);
    c.margin = _mm512_set1_pd(Pp->a);
    c.zd = _mm512_setzero_pd();
    c.sc2 = _mm512_set1_pd(-2.0 * scale);
    switch (Pp->kind * 2 + (g != NULL)) {
    case LOSSOPT_PERCEPTRON * 2:
        return lossopt_margin_loop_f32_v4(LOSSOPT_PERCEPTRON, 0, &c, p, t, g, n);
    case LOSSOPT_PERCEPTRON * 2 + 1:
        return lossopt_margin_loop_f32_v4(LOSSOPT_PERCEPTRON, 1, &c, p, t, g, n);
    case LOSSOPT_HINGE * 2:
        return lossopt_margin_loop_f32_v4(LOSSOPT_HINGE, 0, &c, p, t, g, n);
    case LOSSOPT_HINGE * 2 + 1:
        return lossopt_margin_loop_f32_v4(LOSSOPT_HINGE, 1, &c, p, t, g, n);
    case LOSSOPT_SQUARED_HINGE * 2:
        return lossopt_margin_loop_f32_v4(LOSSOPT_SQUARED_HINGE, 0, &c, p, t, g, n);
    default:
        return lossopt_margin_loop_f32_v4(LOSSOPT_SQUARED_HINGE, 1, &c, p, t, g, n);
    }
}

#define LOSSOPT_STORE8_F64(ptr, m, v) _mm512_mask_storeu_pd(ptr, m, v)
#define LOSSOPT_STORE8_F32(ptr, m, v) _mm256_mask_storeu_ps(ptr, m, _mm512_cvtpd_ps(v))
#define LOSSOPT_DEFINE_V4_BCE(T, SUFFIX, LOAD, STORE)                                \
    /* one chunk of m <= LOSSOPT_ELEM_CHUNK elements; returns its loss sum */   \
    LOSSOPT_TARGET_V4 static inline double lossopt_bce_chunk_##SUFFIX##_v4(          \
        const lossopt_elem_params *Pp, const T *p, const T *t, T *g, ptrdiff_t m,    \
        double scale)                                                                \
    {                                                                                \
        const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();         \
        const __m512d keep = _mm512_set1_pd(Pp->a), heps = _mm512_set1_pd(Pp->b);    \
        const __m512d pw = _mm512_set1_pd(Pp->c);                                    \
        const __m512d sc = _mm512_set1_pd(scale);                                    \
        double eb[LOSSOPT_ELEM_CHUNK], sb[LOSSOPT_ELEM_CHUNK];                       \
        LOSSOPT_FOR_VECTORS8(k, mk, m,                                               \
            __m512d e = lossopt_exp_neg_abs_v8(LOAD(mk, p + k));                     \
            _mm512_storeu_pd(eb + k, e);                                             \
            _mm512_storeu_pd(sb + k, _mm512_div_pd(e, _mm512_add_pd(one, e)));       \
        );                                                                           \
        __m512d acc = zero;                                                          \
        LOSSOPT_FOR_VECTORS8(k, mk, m,                                               \
            __m512d x = LOAD(mk, p + k), tv = LOAD(mk, t + k);                       \
            __m512d L = lossopt_log1p_unit_v8(_mm512_loadu_pd(eb + k));              \
            __m512d s = _mm512_loadu_pd(sb + k);                                     \
            __m512d tt = _mm512_fmadd_pd(tv, keep, heps);                            \
            __m512d ct = _mm512_fmadd_pd(_mm512_sub_pd(one, tv), keep, heps);        \
            __m512d ptt = _mm512_mul_pd(pw, tt);                                     \
            __m512d lw = _mm512_add_pd(ptt, ct);     /* pw tt + (1 - tt) */           \
            __mmask8 pos = _mm512_cmp_pd_mask(x, zero, _CMP_GE_OQ);                  \
            __m512d cx = _mm512_mask_blend_pd(pos, _mm512_sub_pd(zero, ptt), ct);    \
            __m512d lin = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(cx, zero, _CMP_NEQ_UQ), \
                                              cx, x);                                \
            __m512d ls = _mm512_mul_pd(lw, s);                                       \
            __m512d gv = _mm512_mask_blend_pd(pos, _mm512_sub_pd(ls, ptt),           \
                                              _mm512_sub_pd(ct, ls));                \
            if (g)                                                                   \
                STORE(g + k, mk, _mm512_mul_pd(sc, gv));                             \
            acc = _mm512_mask_add_pd(acc, mk, acc, _mm512_fmadd_pd(lw, L, lin));      \
        );                                                                           \
        return _mm512_reduce_add_pd(acc);                                            \
    }                                                                                \
    /* Poisson NLL on log rates (full=False): one loop, the table exp inline */  \
    LOSSOPT_TARGET_V4 static inline double lossopt_poisson_chunk_##SUFFIX##_v4(      \
        const T *p, const T *t, T *g, ptrdiff_t m, double scale)                     \
    {                                                                                \
        const __m512d sc = _mm512_set1_pd(scale);                                    \
        __m512d acc = _mm512_setzero_pd();                                           \
        LOSSOPT_FOR_VECTORS8(k, mk, m,                                               \
            __m512d x = LOAD(mk, p + k), tv = LOAD(mk, t + k);                       \
            __m512d e = lossopt_exp_v8(x);                                           \
            if (g)                                                                   \
                STORE(g + k, mk, _mm512_mul_pd(sc, _mm512_sub_pd(e, tv)));           \
            acc = _mm512_mask_add_pd(acc, mk, acc, _mm512_fnmadd_pd(tv, x, e));       \
        );                                                                           \
        return _mm512_reduce_add_pd(acc);                                            \
    }                                                                                \
    /* Gaussian NLL of double data: one loop, the table log inline; the       \
     * formulas of lossopt_el_gaussian_nll (two divisions: see there) */        \
    LOSSOPT_TARGET_V4 static inline double lossopt_gauss_chunk_##SUFFIX##_v4(        \
        const lossopt_elem_params *Pp, const T *p, const T *t, const T *v, T *g,     \
        T *gv, ptrdiff_t m, double scale)                                            \
    {                                                                                \
        const __m512d sc = _mm512_set1_pd(scale), eps = _mm512_set1_pd(Pp->a);       \
        const __m512d half = _mm512_set1_pd(0.5), cst = _mm512_set1_pd(Pp->b);       \
        __m512d acc = _mm512_setzero_pd();                                           \
        LOSSOPT_FOR_VECTORS8(k, mk, m,                                               \
            __m512d d = _mm512_sub_pd(LOAD(mk, p + k), LOAD(mk, t + k));             \
            /* max returns its second operand when one is NaN: a NaN v stays */     \
            __m512d vc = _mm512_max_pd(eps, LOAD(mk, v + k));                        \
            __m512d r = _mm512_div_pd(_mm512_set1_pd(1.0), vc);                      \
            __m512d q = _mm512_div_pd(d, vc);                                        \
            if (g) {                                                                 \
                STORE(g + k, mk, _mm512_mul_pd(sc, q));                              \
                STORE(gv + k, mk, _mm512_mul_pd(sc, _mm512_mul_pd(half,              \
                                               _mm512_fnmadd_pd(q, q, r))));         \
            }                                                                        \
            __m512d l = _mm512_fmadd_pd(half, _mm512_fmadd_pd(q, d, lossopt_log_v8(vc)), cst); \
            acc = _mm512_mask_add_pd(acc, mk, acc, l);                               \
        );                                                                           \
        return _mm512_reduce_add_pd(acc);                                            \
    }                                                                                \
    /* the chunks in order, their sums added in order */                         \
    LOSSOPT_TARGET_V4 static void lossopt_elem_plain_##SUFFIX##_avx512(              \
        const lossopt_elem_params *Pp, const T *p, const T *t, const T *v, T *g,     \
        T *gv, ptrdiff_t n, double scale, double *sum)                               \
    {                                                                                \
        double total = 0.0;                                                          \
        ptrdiff_t c0 = 0;                                                            \
        while (c0 < n) {                                                             \
            const ptrdiff_t m = n - c0 > LOSSOPT_ELEM_CHUNK ? LOSSOPT_ELEM_CHUNK : n - c0; \
            T *gc = g ? g + c0 : NULL;           /* NULL: no gradient */             \
            /* float data (the float64 margin losses never come here), finite margin */ \
            if (sizeof(T) == sizeof(float) && lossopt_elem_is_margin(Pp->kind))     \
                total += lossopt_margin_plain_f32_v4(Pp, (const float *)(const void *)(p + c0), \
                                                     (const float *)(const void *)(t + c0), \
                                                     (float *)(void *)gc, m, scale); \
            else if (Pp->kind == LOSSOPT_BINARY_CROSS_ENTROPY)                       \
                total += lossopt_bce_chunk_##SUFFIX##_v4(Pp, p + c0, t + c0, gc, m, scale); \
            else if (Pp->kind == LOSSOPT_GAUSSIAN_NLL)                               \
                total += lossopt_gauss_chunk_##SUFFIX##_v4(Pp, p + c0, t + c0, v + c0, \
                                                           gc, g ? gv + c0 : NULL, m, scale); \
            else                                                                     \
                total += lossopt_poisson_chunk_##SUFFIX##_v4(p + c0, t + c0, gc, m, scale); \
            c0 += m;                                                                 \
        }                                                                            \
        *sum = total;                                                                \
    }
LOSSOPT_DEFINE_V4_BCE(double, f64, LOSSOPT_LOAD8_F64, LOSSOPT_STORE8_F64)
LOSSOPT_DEFINE_V4_BCE(float, f32, LOSSOPT_LOAD8_F32, LOSSOPT_STORE8_F32)
#endif

/* The portable sweeps (x86-64-v3, baseline, other CPUs) and the dispatchers */
#define LOSSOPT_DEFINE_SWEEPS(T, SUFFIX)                                             \
    LOSSOPT_ALWAYS_INLINE void lossopt_softplus_parts_##SUFFIX##_body(               \
        const T *x, double *s, double *L, ptrdiff_t n)                               \
    {                                                                                \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t k = 0; k < n; k++) {                                          \
            double sk, lk;                                                           \
            lossopt_softplus_part((double)x[k], &sk, &lk);                           \
            s[k] = sk;                                                               \
            L[k] = lk;                                                               \
        }                                                                            \
    }                                                                                \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_softplus_parts_##SUFFIX,                    \
                                 (const T *x, double *s, double *L, ptrdiff_t n),    \
                                 (x, s, L, n))                                       \
    LOSSOPT_ALWAYS_INLINE void lossopt_exp_parts_##SUFFIX##_body(                    \
        const T *x, double *e, ptrdiff_t n)                                          \
    {                                                                                \
        LOSSOPT_OMP_SIMD()                                                           \
        for (ptrdiff_t k = 0; k < n; k++)                                            \
            e[k] = lossopt_exp((double)x[k]);                                        \
    }                                                                                \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_exp_parts_##SUFFIX,                         \
                                 (const T *x, double *e, ptrdiff_t n), (x, e, n))

LOSSOPT_DEFINE_SWEEPS(double, f64)
LOSSOPT_DEFINE_SWEEPS(float, f32)

/* The float Gaussian NLL's pre-sweep: out[k] = log(max(v[k], eps)) */
LOSSOPT_ALWAYS_INLINE void lossopt_logclamp_parts_f32_body(const float *v, float eps,
                                                           double *out, ptrdiff_t n)
{
    LOSSOPT_OMP_SIMD()
    for (ptrdiff_t k = 0; k < n; k++)
        out[k] = (double)lossopt_logf(lossopt_clamp_f32(v[k], eps));
}
LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_logclamp_parts_f32,
                             (const float *v, float eps, double *out, ptrdiff_t n),
                             (v, eps, out, n))

/* Perceptron criterion, z = y p with y in {-1, +1}: l = max(0, -z);
 * g = -y where z <= 0 (z = 0 counts as misclassified: the subgradient -y,
 * so learning starts from zero weights), 0 where z > 0. */
LOSSOPT_ALWAYS_INLINE double lossopt_el_perceptron(double p, double t, double *g)
{
    double y = lossopt_pm1(t);
    double z = y * p;
    double d = z > 0.0 ? 0.0 : -y;
    *g = z != z ? z : d;            /* NaN kept (two selects: fewer mask ops) */
    return z >= 0.0 ? 0.0 : -z;
}

/* Hinge and squared hinge, u = margin - y p:
 *   hinge:          l = max(0, u),    g = -y where u > 0, else 0 (0 at the kink u = 0)
 *   squared hinge:  l = max(0, u)^2,  g = -2 y max(0, u) */
LOSSOPT_ALWAYS_INLINE double lossopt_el_hinge(double p, double t, double margin, int squared,
                                      double *g)
{
    double y = lossopt_pm1(t);
    double u = margin - y * p;
    double h = u <= 0.0 ? 0.0 : u;              /* NaN stays NaN */
    if (squared) {
        *g = -2.0 * y * h;
        return h * h;
    }
    *g = u > 0.0 ? -y : (u <= 0.0 ? 0.0 : u);
    return h;
}

/* The loss of one element; with a constant `kind` the switch folds away. */
LOSSOPT_ALWAYS_INLINE double
lossopt_elem(const int kind, const lossopt_elem_params P, double p, double t, double v,
             double pw, double *g, double *gv)
{
    *gv = 0.0;
    switch (kind) {
    case LOSSOPT_SQUARED_ERROR:
        return lossopt_el_squared(p, t, g);
    case LOSSOPT_ABSOLUTE_ERROR:
        return lossopt_el_absolute(p, t, g);
    case LOSSOPT_HUBER:
        return lossopt_el_huber(p, t, P.a, g);
    case LOSSOPT_GAUSSIAN_NLL:
        return lossopt_el_gaussian_nll(p, t, v, P.a, P.b, g, gv);
    case LOSSOPT_POISSON_NLL_LOG:
        return lossopt_el_poisson_log(p, t, 0, g);
    case LOSSOPT_POISSON_NLL_LOG_FULL:
        return lossopt_el_poisson_log(p, t, 1, g);
    case LOSSOPT_POISSON_NLL_RATE:
        return lossopt_el_poisson_rate(p, t, P.a, 0, g);
    case LOSSOPT_POISSON_NLL_RATE_FULL:
        return lossopt_el_poisson_rate(p, t, P.a, 1, g);
    case LOSSOPT_BINARY_CROSS_ENTROPY:
        return lossopt_el_bce(p, t, P.a, P.b, pw, g);
    case LOSSOPT_PERCEPTRON:
        return lossopt_el_perceptron(p, t, g);
    case LOSSOPT_HINGE:
        return lossopt_el_hinge(p, t, P.a, 0, g);
    default: /* LOSSOPT_SQUARED_HINGE */
        return lossopt_el_hinge(p, t, P.a, 1, g);
    }
}

/* One element of the loss `kind` for data of type T: in double, but for the
 * float Gaussian NLL (lossopt_el_gaussian_nll_f32). */
#define LOSSOPT_DEFINE_ELEM_T(T, SUFFIX)                                             \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_##SUFFIX(                              \
        const int kind, const lossopt_elem_params P, T p, T t, const T *v,           \
        ptrdiff_t j, double pw, double *g, double *gv)                               \
    {                                                                                \
        if (sizeof(T) == sizeof(float) && kind == LOSSOPT_GAUSSIAN_NLL)              \
            return lossopt_el_gaussian_nll_f32((float)p, (float)t, (float)v[j],      \
                                               (float)P.a, P.b, g, gv);              \
        return lossopt_elem(kind, P, (double)p, (double)t,                           \
                            kind == LOSSOPT_GAUSSIAN_NLL ? (double)v[j] : 0.0, pw,   \
                            g, gv);                                             \
    }

/* The domain of the loss's checked operand (its targets; the variances for
 * the Gaussian NLL: lossopt_elem_checks_var), 0 for the losses without one.
 * The driver (src/_elementwise.pxd) counts the operand's values outside it
 * block by block (lossopt_count_outside_*), before the block's kernel call:
 * a block holding one is not computed (nothing written), and Python raises
 * after the pass.  The loss loops are then the same code whether the domain
 * is checked or not (the same vectorisation and summation order on every
 * ISA path, hence the same bits), and the count reads the block from memory
 * into L1/L2, where the loss loop finds it. */
static inline int lossopt_elem_domain(int kind)
{
    switch (kind) {
    case LOSSOPT_GAUSSIAN_NLL:
    case LOSSOPT_POISSON_NLL_LOG:
    case LOSSOPT_POISSON_NLL_LOG_FULL:
    case LOSSOPT_POISSON_NLL_RATE:
    case LOSSOPT_POISSON_NLL_RATE_FULL:
        return LOSSOPT_DOMAIN_NONNEGATIVE;
    case LOSSOPT_BINARY_CROSS_ENTROPY:
        return LOSSOPT_DOMAIN_UNIT;
    case LOSSOPT_PERCEPTRON:
    case LOSSOPT_HINGE:
    case LOSSOPT_SQUARED_HINGE:
        return LOSSOPT_DOMAIN_SIGN_LABEL;
    default:
        return 0;
    }
}

static inline int lossopt_elem_checks_var(int kind)
{
    return kind == LOSSOPT_GAUSSIAN_NLL;
}

LOSSOPT_DEFINE_ELEM_T(double, f64)
LOSSOPT_DEFINE_ELEM_T(float, f32)

/* ------------------------------------------------------------- the loops -- */

/*
 * lossopt_elem_flat_*: n consecutive elements, each with its own weight
 * w[j] (has_w) and its own row loss rl[j] (has_rl): (N,) predictions, or
 * (N, K) ones without weights and without per-sample losses.
 * lossopt_elem_rows_body_*: n_rows rows of K elements, the weight and the
 * row loss per row, pos_weight per column (has_col).
 * Both: loss += w l; g = scale w dl/dp (gv likewise), 0 where w == 0.
 * g may be p.
 */
/* Whether the loss has a pre-sweep (its parts computed chunk by chunk before
 * the fused loop): the binary cross-entropy, the Poisson NLL on log rates and
 * the Gaussian NLL of float data (its float log). */
LOSSOPT_ALWAYS_INLINE int lossopt_elem_has_pre(const int kind, const int is_float)
{
    return kind == LOSSOPT_BINARY_CROSS_ENTROPY || kind == LOSSOPT_POISSON_NLL_LOG ||
           kind == LOSSOPT_POISSON_NLL_LOG_FULL ||
           (is_float && kind == LOSSOPT_GAUSSIAN_NLL);
}

/* Whether a flat call without weights and per-sample losses of the loss
 * `kind` takes lossopt_elem_plain_* (an AVX-512 loop of its own on x86-64-v4):
 * the binary cross-entropy, the Poisson NLL on log rates (full=False), the
 * float64 Gaussian NLL and the float margin losses */
static inline int lossopt_elem_takes_plain(int kind, int is_float)
{
    return kind == LOSSOPT_BINARY_CROSS_ENTROPY || kind == LOSSOPT_POISSON_NLL_LOG ||
           (kind == LOSSOPT_GAUSSIAN_NLL && !is_float) ||
           (lossopt_elem_is_margin(kind) && is_float);
}

/* Test hook: 1 when that call of the margin loss `kind` on float (is_float)
 * or double data runs lossopt_margin_plain_f32_v4 (on the x86-64-v4 path),
 * else 0 */
static inline int lossopt_elem_margin_v4_runs(int kind, int is_float)
{
#if LOSSOPT_HAVE_DISPATCH
    return lossopt_elem_is_margin(kind) && lossopt_elem_takes_plain(kind, is_float) &&
           lossopt_isa_level() == LOSSOPT_ISA_V4;
#else
    (void)kind;
    (void)is_float;
    return 0;
#endif
}

#define LOSSOPT_DEFINE_ELEMENTWISE(T, SUFFIX)                                          \
    /* elements [j0, j1) of the flat loop; with `pre`, pa and pb hold the parts   \
     * of the pre-sweep for j0.. */                                                \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_range_##SUFFIX(                        \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, const double *w, double *rl, ptrdiff_t j0,          \
        ptrdiff_t j1, double scale, const int has_g, const int has_w,                \
        const int has_rl, const int pre, const double *pa, const double *pb)         \
    {                                                                                \
        double acc = 0.0;                                                            \
        LOSSOPT_OMP_SIMD(reduction(+:acc))                                           \
        for (ptrdiff_t j = j0; j < j1; j++) {                                        \
            double dg, dgv = 0.0, l;                                                 \
            if (pre && kind == LOSSOPT_BINARY_CROSS_ENTROPY)                         \
                l = lossopt_el_bce_parts((double)p[j], (double)t[j], P.a, P.b, P.c,  \
                                         pa[j - j0], pb[j - j0], &dg);               \
            else if (pre && kind == LOSSOPT_GAUSSIAN_NLL)                            \
                l = lossopt_el_gaussian_nll_f32_parts((float)p[j], (float)t[j],      \
                                                      (float)v[j], (float)P.a, P.b,  \
                                                      pa[j - j0], &dg, &dgv);        \
            else if (pre)                                                            \
                l = lossopt_el_poisson_log_e((double)p[j], (double)t[j], pa[j - j0], \
                                             kind == LOSSOPT_POISSON_NLL_LOG_FULL, &dg); \
            else                                                                     \
                l = lossopt_elem_##SUFFIX(kind, P, p[j], t[j], v, j, P.c, &dg, &dgv); \
            double wj = has_w ? (has_rl && w == NULL ? 1.0 : w[j]) : 1.0;            \
            if (has_w)                                                               \
                l = wj != 0.0 ? wj * l : 0.0;                                        \
            if (has_g) {                                                             \
                double s = scale * wj;                                               \
                g[j] = (T)(has_w ? (wj != 0.0 ? s * dg : 0.0) : s * dg);             \
                if (kind == LOSSOPT_GAUSSIAN_NLL)                                    \
                    gv[j] = (T)(has_w ? (wj != 0.0 ? s * dgv : 0.0) : s * dgv);      \
            }                                                                        \
            if (has_rl)                                                              \
                rl[j] = l;                                                           \
            acc += l;                                                                \
        }                                                                            \
        return acc;                                                                  \
    }                                                                                \
    /* a loss with a pre-sweep: chunks in L1, their sums added in order */      \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_chunks_##SUFFIX(                       \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, const double *w, double *rl, ptrdiff_t n,           \
        double scale, const int has_g, const int has_w, const int has_rl)            \
    {                                                                                \
        double acc = 0.0;                                                            \
        double pa[LOSSOPT_ELEM_CHUNK], pb[LOSSOPT_ELEM_CHUNK];                       \
        ptrdiff_t c0 = 0;                                                            \
        while (c0 < n) {                                                             \
            ptrdiff_t c1 = n - c0 > LOSSOPT_ELEM_CHUNK ? c0 + LOSSOPT_ELEM_CHUNK : n; \
            if (kind == LOSSOPT_BINARY_CROSS_ENTROPY)                                \
                lossopt_softplus_parts_##SUFFIX(p + c0, pa, pb, c1 - c0);            \
            else if (kind == LOSSOPT_GAUSSIAN_NLL)  /* float data only */            \
                lossopt_logclamp_parts_f32((const float *)(const void *)(v + c0),    \
                                           (float)P.a, pa, c1 - c0);                 \
            else                                                                     \
                lossopt_exp_parts_##SUFFIX(p + c0, pa, c1 - c0);                     \
            acc += lossopt_elem_range_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, c0,   \
                                               c1, scale, has_g, has_w, has_rl, 1,   \
                                               pa, pb);                              \
            c0 = c1;                                                                 \
        }                                                                            \
        return acc;                                                                  \
    }                                                                                \
    /* the generic flat loop without weights and row losses, with g or not */ \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_plain_range_##SUFFIX(                  \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, ptrdiff_t n, double scale)                          \
    {                                                                                \
        return g ? lossopt_elem_range_##SUFFIX(kind, P, p, t, v, g, gv, NULL, NULL, 0, n, \
                                               scale, 1, 0, 0, 0, NULL, NULL)        \
                 : lossopt_elem_range_##SUFFIX(kind, P, p, t, v, g, gv, NULL, NULL, 0, n, \
                                               scale, 0, 0, 0, 0, NULL, NULL);       \
    }                                                                                \
    /* the margin losses' generic flat loop (a constant kind in each) */        \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_margin_##SUFFIX(                       \
        const lossopt_elem_params P, const T *p, const T *t, T *g, ptrdiff_t n,      \
        double scale)                                                                \
    {                                                                                \
        switch (P.kind) {                                                            \
        case LOSSOPT_PERCEPTRON:                                                     \
            return lossopt_elem_plain_range_##SUFFIX(LOSSOPT_PERCEPTRON, P, p, t, NULL, g, \
                                                     NULL, n, scale);                \
        case LOSSOPT_HINGE:                                                          \
            return lossopt_elem_plain_range_##SUFFIX(LOSSOPT_HINGE, P, p, t, NULL, g, \
                                                     NULL, n, scale);                \
        default:                                                                     \
            return lossopt_elem_plain_range_##SUFFIX(LOSSOPT_SQUARED_HINGE, P, p, t, NULL, \
                                                     g, NULL, n, scale);             \
        }                                                                            \
    }                                                                                \
    /* the flat BCE, Poisson NLL (log rates, full=False), float64 Gaussian    \
     * NLL and float margin losses without weights and row losses (g NULL: no \
     * gradient; lossopt_elem_takes_plain): an entry point                     \
     * of its own, whose x86-64-v4 variant is lossopt_elem_plain_*_avx512 */     \
    LOSSOPT_ALWAYS_INLINE void lossopt_elem_plain_##SUFFIX##_body(                   \
        const lossopt_elem_params *Pp, const T *p, const T *t, const T *v, T *g,     \
        T *gv, ptrdiff_t n, double scale, double *sum)                               \
    {                                                                                \
        if (lossopt_elem_is_margin(Pp->kind))      /* float data only */           \
            *sum = lossopt_elem_margin_##SUFFIX(*Pp, p, t, g, n, scale);            \
        else if (Pp->kind == LOSSOPT_BINARY_CROSS_ENTROPY)                           \
            *sum = g ? lossopt_elem_chunks_##SUFFIX(LOSSOPT_BINARY_CROSS_ENTROPY, *Pp, p, t, \
                                                    NULL, g, NULL, NULL, NULL, n, scale, 1, 0, 0) \
                     : lossopt_elem_chunks_##SUFFIX(LOSSOPT_BINARY_CROSS_ENTROPY, *Pp, p, t, \
                                                    NULL, g, NULL, NULL, NULL, n, scale, 0, 0, 0); \
        else if (Pp->kind == LOSSOPT_GAUSSIAN_NLL)  /* double data only */           \
            *sum = lossopt_elem_plain_range_##SUFFIX(LOSSOPT_GAUSSIAN_NLL, *Pp, p, t, v, g, \
                                                     gv, n, scale);                  \
        else                                                                         \
            *sum = g ? lossopt_elem_chunks_##SUFFIX(LOSSOPT_POISSON_NLL_LOG, *Pp, p, t, NULL, \
                                                    g, NULL, NULL, NULL, n, scale, 1, 0, 0) \
                     : lossopt_elem_chunks_##SUFFIX(LOSSOPT_POISSON_NLL_LOG, *Pp, p, t, NULL, \
                                                    g, NULL, NULL, NULL, n, scale, 0, 0, 0); \
    }                                                                                \
    LOSSOPT_DISPATCH_VOID_OWN_V4(lossopt_elem_plain_##SUFFIX,                        \
        (const lossopt_elem_params *Pp, const T *p, const T *t, const T *v, T *g,    \
         T *gv, ptrdiff_t n, double scale, double *sum),                             \
        (Pp, p, t, v, g, gv, n, scale, sum))                                         \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_flat_##SUFFIX(   \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, const double *w, double *rl, ptrdiff_t n,           \
        double scale, const int has_g, const int has_w, const int has_rl)            \
    {                                                                                \
        double acc = 0.0;                                                            \
        if (lossopt_elem_takes_plain(kind, sizeof(T) == sizeof(float))               \
            && !has_w && !has_rl     /* with or without g: the same loss bits */   \
            && (!lossopt_elem_is_margin(kind) || isfinite(P.a)))                    \
            lossopt_elem_plain_##SUFFIX(&P, p, t, v, has_g ? g : NULL, gv, n, scale, &acc); \
        else if (lossopt_elem_has_pre(kind, sizeof(T) == sizeof(float)))             \
            acc = lossopt_elem_chunks_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n,    \
                                               scale, has_g, has_w, has_rl);         \
        else                                                                         \
            acc = lossopt_elem_range_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, 0, n,  \
                                              scale, has_g, has_w, has_rl, 0, NULL,  \
                                              NULL);                                 \
        return acc;                                                                  \
    }                                                                                \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_rows_body_##SUFFIX( \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, const double *w, double *rl, ptrdiff_t n_rows,      \
        ptrdiff_t K, double scale, const int has_g, const int has_col)               \
    {                                                                                \
        double total = 0.0;                                                          \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                                     \
            const ptrdiff_t o = i * K;                                               \
            const double wi = w ? w[i] : 1.0;                                        \
            const double s = wi != 0.0 ? scale * wi : 0.0;                           \
            double acc = 0.0;                                                        \
            LOSSOPT_OMP_SIMD(reduction(+:acc))                                       \
            for (ptrdiff_t k = 0; k < K; k++) {                                      \
                double dg, dgv;                                                      \
                double pw = has_col ? P.col[k] : P.c;                                \
                double l = lossopt_elem_##SUFFIX(kind, P, p[o + k], t[o + k], v, o + k, \
                                                 pw, &dg, &dgv);                     \
                if (has_g) {                                                         \
                    g[o + k] = (T)(wi != 0.0 ? s * dg : 0.0);                        \
                    if (kind == LOSSOPT_GAUSSIAN_NLL)                                \
                        gv[o + k] = (T)(wi != 0.0 ? s * dgv : 0.0);                  \
                }                                                                    \
                acc += l;                                                            \
            }                                                                        \
            acc = wi != 0.0 ? wi * acc : 0.0;                                        \
            if (rl)                                                                  \
                rl[i] = acc;                                                         \
            total += acc;                                                            \
        }                                                                            \
        return total;                                                                \
    }                                                                                \
    /* one loss, one block: pick the loop variant (constant flags) */                \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_run_##SUFFIX(   \
        const int kind, const lossopt_elem_params P, const T *p, const T *t,         \
        const T *v, T *g, T *gv, const double *w, double *rl, ptrdiff_t n_rows,      \
        ptrdiff_t K, double scale, int flat)                                         \
    {                                                                                \
        if (!flat) {                                                                 \
            if (kind == LOSSOPT_BINARY_CROSS_ENTROPY && P.col != NULL)               \
                return g ? lossopt_elem_rows_body_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, \
                                                           n_rows, K, scale, 1, 1) \
                         : lossopt_elem_rows_body_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, \
                                                           n_rows, K, scale, 0, 1); \
            return g ? lossopt_elem_rows_body_##SUFFIX(kind, P, p, t, v, g, gv, w, rl,  \
                                                       n_rows, K, scale, 1, 0)  \
                     : lossopt_elem_rows_body_##SUFFIX(kind, P, p, t, v, g, gv, w, rl,  \
                                                       n_rows, K, scale, 0, 0); \
        }                                                                            \
        ptrdiff_t n = n_rows * K;                                                    \
        if (w == NULL && rl == NULL)                                                 \
            return g ? lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n,  \
                                                  scale, 1, 0, 0)               \
                     : lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n,  \
                                                  scale, 0, 0, 0);              \
        if (rl == NULL)                                                              \
            return g ? lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n,  \
                                                  scale, 1, 1, 0)               \
                     : lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n,  \
                                                  scale, 0, 1, 0);              \
        /* per-sample losses (reduction "none"): w may be NULL here */               \
        return g ? lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n, scale, \
                                              1, 1, 1)                               \
                 : lossopt_elem_flat_##SUFFIX(kind, P, p, t, v, g, gv, w, rl, n, scale, \
                                              0, 1, 1);                              \
    }                                                                                \
    /* rows [r0, r1) of K elements of the loss P.kind (pointers at row 0) */   \
    LOSSOPT_ALWAYS_INLINE double lossopt_elem_rows_##SUFFIX(                         \
        const lossopt_elem_params P, const T *p, const T *t, const T *v, T *g,       \
        T *gv, const double *w, double *rl, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t K, \
        double scale, int flat)                                                      \
    {                                                                                \
        const ptrdiff_t o = r0 * K, n_rows = r1 - r0;                                \
        p += o;                                                                      \
        t += o;                                                                      \
        v = v ? v + o : NULL;                                                        \
        g = g ? g + o : NULL;                                                        \
        gv = gv ? gv + o : NULL;                                                     \
        w = w ? w + r0 : NULL;                                                       \
        rl = rl ? rl + r0 : NULL;                                                    \
        switch (P.kind) {                                                            \
        LOSSOPT_ELEM_FAMILY_CASES(SUFFIX)                                            \
        default:                                                                     \
            return NAN;                                                              \
        }                                                                            \
    }                                                                                \
    /*                                                                               \
     * The entry point: rows [r0, r1) of K elements of the loss P->kind (pointers   \
     * at row 0); returns the sum of the weighted losses.  The rows are taken in \
     * spans of about LOSSOPT_ELEM_SPAN elements, whose sums are added in order   \
     * (the same with and without the check).  With a domain (not 0), each span's \
     * checked values (chk: the targets, or the variances of the Gaussian NLL)   \
     * are checked before the span is computed, in registers (lossopt_any_outside_*: \
     * the span is then in L1 for the loss loop, and the check's loads run beside \
     * the previous span's, not in a pass of their own); at the first span that \
     * holds a value outside the domain the block stops: *bad = the count of    \
     * such values from that span to the block's end, and nothing more of the   \
     * block is written.                                                         \
     * `flat` (chosen by the driver) treats the block as n_rows * K independent      \
     * elements: allowed when K == 1, or without w, rl and per-column pos_weight.    \
     */                                                                              \
    LOSSOPT_KERNEL(double, lossopt_elem_block_##SUFFIX, (                            \
        const lossopt_elem_params *Pp, const T *p, const T *t, const T *v, T *g,     \
        T *gv, const double *w, double *rl, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t K, \
        double scale, int flat, int domain, const T *chk, ptrdiff_t *bad),           \
        (Pp, p, t, v, g, gv, w, rl, r0, r1, K, scale, flat, domain, chk, bad))       \
    {                                                                                \
        const lossopt_elem_params P = *Pp;                                           \
        const ptrdiff_t span = K >= LOSSOPT_ELEM_SPAN ? 1 : LOSSOPT_ELEM_SPAN / K;   \
        double total = 0.0;                                                          \
        for (ptrdiff_t i0 = r0; i0 < r1; i0 += span) {                               \
            const ptrdiff_t i1 = r1 - i0 > span ? i0 + span : r1;                    \
            if (domain && lossopt_any_outside_in_##SUFFIX(domain, chk + i0 * K,       \
                                                          (i1 - i0) * K)) {          \
                *bad = lossopt_count_outside_##SUFFIX##_body(domain, chk + i0 * K,   \
                                                             (r1 - i0) * K);         \
                return total;                                                        \
            }                                                                        \
            total += lossopt_elem_rows_##SUFFIX(P, p, t, v, g, gv, w, rl, i0, i1, K,  \
                                                scale, flat);                        \
        }                                                                            \
        return total;                                                                \
    }

/* Each extension module compiles the losses of its family only (it defines
 * LOSSOPT_ELEM_REGRESSION or LOSSOPT_ELEM_BINARY before including this
 * header); the kernels are compiled once per ISA level, so this halves the
 * build time.  A kind outside the module's family returns NaN. */
#if defined(LOSSOPT_ELEM_REGRESSION)
#define LOSSOPT_ELEM_FAMILY_CASES(SUFFIX)                                            \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_SQUARED_ERROR)                             \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_ABSOLUTE_ERROR)                            \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_HUBER)                                     \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_GAUSSIAN_NLL)                               \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_POISSON_NLL_LOG)                           \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_POISSON_NLL_LOG_FULL)                      \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_POISSON_NLL_RATE)                          \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_POISSON_NLL_RATE_FULL)
#elif defined(LOSSOPT_ELEM_BINARY)
#define LOSSOPT_ELEM_FAMILY_CASES(SUFFIX)                                            \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_BINARY_CROSS_ENTROPY)                      \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_PERCEPTRON)                                \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_HINGE)                                     \
        LOSSOPT_ELEM_CASE(SUFFIX, LOSSOPT_SQUARED_HINGE)
#else
#error "define LOSSOPT_ELEM_REGRESSION or LOSSOPT_ELEM_BINARY before including this header"
#endif

#define LOSSOPT_ELEM_CASE(SUFFIX, KIND)                                              \
    case KIND:                                                                       \
        return lossopt_elem_run_##SUFFIX(KIND, P, p, t, v, g, gv, w, rl, n_rows, K,  \
                                         scale, flat);

LOSSOPT_DEFINE_ELEMENTWISE(double, f64)
LOSSOPT_DEFINE_ELEMENTWISE(float, f32)

#endif /* LOSSOPT_ELEMENTWISE_H */
