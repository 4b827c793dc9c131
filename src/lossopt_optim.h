/*
 * lossopt_optim.h -- the optimizer updates of lossopt.optim, one function per
 * algorithm and dtype, each a single pass over param, grad and state, in place.
 *
 * Every function updates the elements [lo, lo + n) of its arrays, so the Cython
 * driver (src/_optim.pyx) can hand fixed blocks to threads.  The update of an
 * element depends on that element alone, and the module is compiled with
 * -ffp-contract=off (no fused multiply-add), so every element gets the same
 * IEEE-rounded result whatever the thread count, the block it falls in, the
 * vector path that computes it or the CPU's ISA level.
 *
 * Arithmetic is in the data's precision, as in torch.optim (whose CPU kernels
 * compute float32 updates in float32): an update has no sum over elements to
 * accumulate, the state is stored in the data's dtype anyway, and float32
 * sqrt/div run twice as wide, which keeps the float32 step memory-bound.
 * The scalars of a step are computed in double (Python) and rounded once.
 *
 * The order of the operations follows torch.optim's single-tensor code, so
 * float64 trajectories agree with it to a few units in the last place.
 */
#ifndef LOSSOPT_OPTIM_H
#define LOSSOPT_OPTIM_H

#include <math.h>
#include <stddef.h>

#include "lossopt_math.h"   /* LOSSOPT_KERNEL (ISA dispatch) */

#if defined(__GNUC__) || defined(__clang__)
#define LOSSOPT_RESTRICT __restrict__
#else
#define LOSSOPT_RESTRICT
#endif

/* Elements per block handed to a thread (fixed, so the partition of the work
 * never depends on the thread count). */
#define LOSSOPT_OPTIM_BLOCK 16384

/* The scalars of one step, computed in Python from the hyper-parameters and
 * the step count.  Fields an algorithm does not use are ignored. */
typedef struct {
    double sign;        /* -1 with maximize=True, else 1: g <- sign * grad      */
    double wd;          /* coupled weight decay: g <- g + wd * w (if wd_on)      */
    double decay;       /* decoupled weight decay: w <- decay * w (if decay_on)  */
    double lr;
    double momentum;
    double dampening;
    double w1;          /* lerp weight of the first moment, 1 - beta1            */
    double beta2;       /* decay of the second moment (alpha, rho of others)     */
    double eps;
    double c1;          /* algorithm-specific step factors (see each function)   */
    double c2;
    double c3;
    int wd_on;
    int decay_on;
    int first;          /* SGD: the momentum buffer starts as the gradient       */
    int nesterov;
    int amsgrad;        /* Adam: keep the running maximum of the second moment   */
    int centered;       /* RMSprop                                                */
    int with_momentum;  /* SGD, RMSprop                                           */
    int rectify;        /* RAdam: rho_t > 5                                       */
} lossopt_optim_args;

/* Every kernel starts with these loop invariants, copied out of the args
 * (in the data's precision, as torch casts its scalars). */
#define LOSSOPT_GRAD_LOCALS(a, T)                                                        \
    const T g_sign = (T)(a)->sign, g_wd = (T)(a)->wd; const int g_wd_on = (a)->wd_on;    \
    const T om2 = (T)(1.0 - (a)->beta2); (void)om2

/* The loop of every update over its elements [lo, lo + n), vectorised */
#define LOSSOPT_EACH_ELEMENT LOSSOPT_OMP_SIMD() for (ptrdiff_t i = lo; i < lo + n; i++)

/* w and the effective gradient d of element i (gradient array G) */
#define LOSSOPT_LOAD(T, SFX, G)                                                          \
    T w = p[i], d = lossopt_effective_grad_##SFX(G[i], w, g_sign, g_wd, g_wd_on)

/* ... and the Adam family these (moments, decoupled decay). */
#define LOSSOPT_MOMENT_LOCALS(a, T)                                                      \
    const T w1 = (T)(a)->w1, b2 = (T)(a)->beta2, eps = (T)(a)->eps;                      \
    const T decay = (T)(a)->decay; const int decay_on = (a)->decay_on;                   \
    LOSSOPT_GRAD_LOCALS(a, T)

/* One element's moments (see lossopt_adam_moments_*), with the locals above. */
#define LOSSOPT_MOMENTS(SFX, P, G, MP, VP, W, D, M, V)                                   \
    lossopt_adam_moments_##SFX(P, G, MP, VP, w1, b2, om2, decay, decay_on, g_sign, g_wd, \
                               g_wd_on, W, D, M, V)

/* The signature every update has (the dispatch tables below hold them). */
#define LOSSOPT_UPDATE(NAME, T, SFX)                                                     \
    LOSSOPT_KERNEL_VOID(lossopt_##NAME##_##SFX, (T *LOSSOPT_RESTRICT p,             \
        const T *LOSSOPT_RESTRICT g, T *LOSSOPT_RESTRICT s0, T *LOSSOPT_RESTRICT s1,     \
        T *LOSSOPT_RESTRICT s2, ptrdiff_t lo, ptrdiff_t n, const lossopt_optim_args *a),  \
        (p, g, s0, s1, s2, lo, n, a))

#define LOSSOPT_OPTIM_KERNELS(T, SFX, SQRT, FABS)                                        \
                                                                                         \
/* The gradient an update uses: sign * grad, plus the coupled L2 term                    \
 * (torch: grad.add(param, alpha=weight_decay), only when weight_decay != 0). */         \
LOSSOPT_ALWAYS_INLINE T lossopt_effective_grad_##SFX(T g, T w, T sign, T wd, int wd_on)         \
{                                                                                        \
    g = sign * g;                                                                        \
    return wd_on ? g + wd * w : g;                                                       \
}                                                                                        \
                                                                                         \
/* torch.lerp(m, g, weight): m + weight (g - m), or g - (g - m)(1 - weight)              \
 * when weight >= 0.5 (its two forms are exact at both ends). */                         \
LOSSOPT_ALWAYS_INLINE T lossopt_lerp_##SFX(T m, T g, T weight)                                  \
{                                                                                        \
    T d = g - m;                                                                         \
    return weight < (T)0.5 ? m + weight * d : g - d * ((T)1 - weight);                   \
}                                                                                        \
                                                                                         \
/* decay v + (1 - decay) g^2 with torch's addcmul order (om = 1 - decay, rounded         \
 * from double as torch rounds its Python scalar) */                                     \
LOSSOPT_ALWAYS_INLINE T lossopt_sq_avg_##SFX(T v, T g, T decay, T om)                           \
{                                                                                        \
    return v * decay + om * g * g;                                                       \
}                                                                                        \
                                                                                         \
/* SGD.  d = g (+ wd w); with momentum: b <- mu b + (1 - dampening) d                    \
 * (b <- d on the first step), d <- d + mu b (Nesterov) or d <- b; w <- w - lr d. */     \
LOSSOPT_ALWAYS_INLINE void lossopt_sgd_body_##SFX(T *LOSSOPT_RESTRICT p,                        \
        const T *LOSSOPT_RESTRICT gr, T *LOSSOPT_RESTRICT buf, ptrdiff_t lo,             \
        ptrdiff_t n, const lossopt_optim_args *a, const int mom)                         \
{                                                                                        \
    const T lr = a->lr, mu = a->momentum, damp1 = 1.0 - a->dampening;                    \
    const int first = a->first, nest = a->nesterov;                                      \
    LOSSOPT_GRAD_LOCALS(a, T);                                                           \
    LOSSOPT_EACH_ELEMENT {                                                               \
        LOSSOPT_LOAD(T, SFX, gr);                                                        \
        if (mom) {                                                                       \
            T b = (T)(first ? d : (T)buf[i] * mu + damp1 * d);                           \
            buf[i] = b;                                                                  \
            d = nest ? d + mu * (T)b : (T)b;                                             \
        }                                                                                \
        p[i] = (T)(w + (-lr) * d);                                                       \
    }                                                                                    \
}                                                                                        \
LOSSOPT_UPDATE(sgd, T, SFX)                                                              \
{                                                                                        \
    (void)s1; (void)s2;                                                                  \
    if (a->with_momentum) lossopt_sgd_body_##SFX(p, g, s0, lo, n, a, 1);                 \
    else lossopt_sgd_body_##SFX(p, g, s0, lo, n, a, 0);                                  \
}                                                                                        \
                                                                                         \
/* Adagrad.  r <- r + d^2; w <- w - clr d / (SQRT(r) + eps), clr = c1. */                \
LOSSOPT_UPDATE(adagrad, T, SFX)                                                          \
{                                                                                        \
    const T clr = a->c1, eps = a->eps;                                                   \
    (void)s1; (void)s2;                                                                  \
    LOSSOPT_GRAD_LOCALS(a, T);                                                           \
    LOSSOPT_EACH_ELEMENT {                                                               \
        LOSSOPT_LOAD(T, SFX, g);                                                         \
        T r = (T)(s0[i] + (T)1 * d * d);                                                 \
        s0[i] = r;                                                                       \
        p[i] = (T)(w + (-clr) * d / (SQRT((T)r) + eps));                                 \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* RMSprop.  r <- alpha r + (1 - alpha) d^2; centered: m <- lerp(m, d, 1 - alpha),       \
 * s = SQRT(r - m^2) + eps, else s = SQRT(r) + eps; with momentum                        \
 * b <- mu b + d / s, w <- w - lr b; else w <- w - lr d / s. */                          \
LOSSOPT_ALWAYS_INLINE void lossopt_rmsprop_body_##SFX(T *LOSSOPT_RESTRICT p,                    \
        const T *LOSSOPT_RESTRICT g, T *LOSSOPT_RESTRICT sq, T *LOSSOPT_RESTRICT ga,     \
        T *LOSSOPT_RESTRICT buf, ptrdiff_t lo, ptrdiff_t n,                              \
        const lossopt_optim_args *a, const int centered, const int mom)                  \
{                                                                                        \
    const T lr = a->lr, alpha = a->beta2, eps = a->eps, mu = a->momentum;                \
    const T w1 = (T)(1.0 - a->beta2);                                                    \
    LOSSOPT_GRAD_LOCALS(a, T);                                                           \
    LOSSOPT_EACH_ELEMENT {                                                               \
        LOSSOPT_LOAD(T, SFX, g);                                                         \
        T r = (T)lossopt_sq_avg_##SFX(sq[i], d, alpha, om2);                             \
        sq[i] = r;                                                                       \
        T s;                                                                             \
        if (centered) {                                                                  \
            T m = (T)lossopt_lerp_##SFX(ga[i], d, w1);                                   \
            ga[i] = m;                                                                   \
            s = SQRT((T)r + ((T)-1 * m) * (T)m) + eps;                                   \
        } else {                                                                         \
            s = SQRT((T)r) + eps;                                                        \
        }                                                                                \
        if (mom) {                                                                       \
            T b = (T)((T)buf[i] * mu + d / s);                                           \
            buf[i] = b;                                                                  \
            p[i] = (T)(w + (-lr) * (T)b);                                                \
        } else {                                                                         \
            p[i] = (T)(w + (-lr) * d / s);                                               \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
LOSSOPT_UPDATE(rmsprop, T, SFX)                                                          \
{                                                                                        \
    if (a->centered) {                                                                   \
        if (a->with_momentum) lossopt_rmsprop_body_##SFX(p, g, s0, s1, s2, lo, n, a, 1, 1); \
        else lossopt_rmsprop_body_##SFX(p, g, s0, s1, s2, lo, n, a, 1, 0);               \
    } else {                                                                             \
        if (a->with_momentum) lossopt_rmsprop_body_##SFX(p, g, s0, s1, s2, lo, n, a, 0, 1); \
        else lossopt_rmsprop_body_##SFX(p, g, s0, s1, s2, lo, n, a, 0, 0);               \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* Adadelta.  r <- rho r + (1 - rho) d^2; u = SQRT(D + eps) / SQRT(r + eps) d;           \
 * D <- rho D + (1 - rho) u^2; w <- w - lr u. */                                         \
LOSSOPT_UPDATE(adadelta, T, SFX)                                                         \
{                                                                                        \
    const T lr = a->lr, rho = a->beta2, eps = a->eps;                                    \
    (void)s2;                                                                            \
    LOSSOPT_GRAD_LOCALS(a, T);                                                           \
    LOSSOPT_EACH_ELEMENT {                                                               \
        LOSSOPT_LOAD(T, SFX, g);                                                         \
        T r = (T)lossopt_sq_avg_##SFX(s0[i], d, rho, om2);                               \
        s0[i] = r;                                                                       \
        T std_ = SQRT((T)r + eps);                                                       \
        T u = (T)(SQRT((T)s1[i] + eps) / std_ * d);                                      \
        s1[i] = (T)lossopt_sq_avg_##SFX(s1[i], u, rho, om2);                             \
        p[i] = (T)(w + (-lr) * (T)u);                                                    \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* The moments shared by Adam, NAdam and RAdam, for one element: decoupled decay         \
 * of w (AdamW), the effective gradient d, m <- lerp(m, d, 1 - beta1) and                \
 * v <- beta2 v + (1 - beta2) d^2, stored; returns w, d, m, v through pointers. */       \
LOSSOPT_ALWAYS_INLINE void lossopt_adam_moments_##SFX(T p, T g, T *m_, T *v_,                   \
        T w1, T b2, T om2, T decay, int decay_on, T sign, T wd, int wd_on,               \
        T *w, T *d, T *m, T *v)                                                          \
{                                                                                        \
    *w = decay_on ? (T)(p * decay) : p;                                                  \
    *d = lossopt_effective_grad_##SFX(g, *w, sign, wd, wd_on);                           \
    *m = lossopt_lerp_##SFX(*m_, *d, w1);                                                \
    *v = lossopt_sq_avg_##SFX(*v_, *d, b2, om2);                                         \
    *m_ = *m;                                                                            \
    *v_ = *v;                                                                            \
}                                                                                        \
                                                                                         \
/* Adam / AdamW / AMSGrad.  Moments as above; amsgrad: vmax <- max(vmax, v), v' = vmax,  \
 * else v' = v; w <- w - step_size m / (SQRT(v') / SQRT(1 - beta2^t) + eps),             \
 * step_size = c1 = lr / (1 - beta1^t), c2 = SQRT(1 - beta2^t). */                       \
LOSSOPT_ALWAYS_INLINE void lossopt_adam_body_##SFX(T *LOSSOPT_RESTRICT p,                       \
        const T *LOSSOPT_RESTRICT g, T *LOSSOPT_RESTRICT m_, T *LOSSOPT_RESTRICT v_,     \
        T *LOSSOPT_RESTRICT vmax, ptrdiff_t lo, ptrdiff_t n,                             \
        const lossopt_optim_args *a, const int ams)                                      \
{                                                                                        \
    const T ss = a->c1, bc2 = a->c2;                                                     \
    LOSSOPT_MOMENT_LOCALS(a, T);                                                         \
    LOSSOPT_EACH_ELEMENT {                                                               \
        T w, d, m, v;                                                                    \
        LOSSOPT_MOMENTS(SFX, p[i], g[i], &m_[i], &v_[i], &w, &d, &m, &v);                \
        if (ams) {                                                                       \
            T vm = vmax[i];                                                              \
            vm = (vm < v || v != v) ? v : vm;   /* torch.maximum: NaN propagates */      \
            vmax[i] = vm;                                                                \
            v = vm;                                                                      \
        }                                                                                \
        p[i] = (T)(w + (-ss) * m / (SQRT(v) / bc2 + eps));                               \
    }                                                                                    \
}                                                                                        \
LOSSOPT_UPDATE(adam, T, SFX)                                                             \
{                                                                                        \
    if (a->amsgrad) lossopt_adam_body_##SFX(p, g, s0, s1, s2, lo, n, a, 1);              \
    else lossopt_adam_body_##SFX(p, g, s0, s1, s2, lo, n, a, 0);                         \
}                                                                                        \
                                                                                         \
/* NAdam.  Moments as Adam; s = SQRT(v / (1 - beta2^t)) + eps;                           \
 * w <- w + c1 d / s + c2 m / s with c1 = -lr (1 - mu_t) / (1 - prod mu),                \
 * c2 = -lr mu_{t+1} / (1 - mu_{t+1} prod mu), c3 = 1 - beta2^t. */                      \
LOSSOPT_UPDATE(nadam, T, SFX)                                                            \
{                                                                                        \
    const T c1 = a->c1, c2 = a->c2, bc2 = a->c3;                                         \
    LOSSOPT_MOMENT_LOCALS(a, T);                                                         \
    (void)s2;                                                                            \
    LOSSOPT_EACH_ELEMENT {                                                               \
        T w, d, m, v;                                                                    \
        LOSSOPT_MOMENTS(SFX, p[i], g[i], &s0[i], &s1[i], &w, &d, &m, &v);                \
        T s = SQRT(v / bc2) + eps;                                                       \
        T w2 = (T)(w + c1 * d / s);                                                      \
        p[i] = (T)(w2 + c2 * m / s);                                                     \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* RAdam.  Moments as Adam; mc = m / (1 - beta1^t) (c1);                                 \
 * rho_t > 5: w <- w - mc lr (SQRT(1 - beta2^t) / (SQRT(v) + eps)) r_t                   \
 * (c2 = SQRT(1 - beta2^t), c3 = r_t), else w <- w - mc lr. */                           \
LOSSOPT_UPDATE(radam, T, SFX)                                                            \
{                                                                                        \
    const T lr = a->lr, bc1 = a->c1, bc2s = a->c2, rect = a->c3;                         \
    const int rectify = a->rectify;                                                      \
    LOSSOPT_MOMENT_LOCALS(a, T);                                                         \
    (void)s2;                                                                            \
    LOSSOPT_EACH_ELEMENT {                                                               \
        T w, d, m, v;                                                                    \
        LOSSOPT_MOMENTS(SFX, p[i], g[i], &s0[i], &s1[i], &w, &d, &m, &v);                \
        T u = (T)(m / bc1) * lr;                                                         \
        if (rectify)                                                                     \
            u = u * (bc2s / (SQRT(v) + eps)) * rect;                                     \
        p[i] = (T)(w + (T)-1 * u);                                                       \
    }                                                                                    \
}                                                                                        \
                                                                                         \
/* Adamax.  m <- lerp(m, d, 1 - beta1); u <- max(beta2 u, |d| + eps);                    \
 * w <- w - clr m / u, clr = c1 = lr / (1 - beta1^t). */                                 \
LOSSOPT_UPDATE(adamax, T, SFX)                                                           \
{                                                                                        \
    const T w1 = a->w1, b2 = a->beta2, eps = a->eps, clr = a->c1;                        \
    (void)s2;                                                                            \
    LOSSOPT_GRAD_LOCALS(a, T);                                                           \
    LOSSOPT_EACH_ELEMENT {                                                               \
        LOSSOPT_LOAD(T, SFX, g);                                                         \
        T m = (T)lossopt_lerp_##SFX(s0[i], d, w1);                                       \
        s0[i] = m;                                                                       \
        T x = (T)((T)s1[i] * b2);                                                        \
        T y = (T)(FABS(d) + eps);                                                        \
        T u = (x < y || y != y) ? y : x;   /* torch.maximum: NaN propagates */           \
        s1[i] = u;                                                                       \
        p[i] = (T)(w + (-clr) * (T)m / (T)u);                                            \
    }                                                                                    \
}                                                                                        \
                                                                                         \

#define LOSSOPT_SUM_SQUARES(T, SFX)                                                      \
/* Sum of squares of x[lo, lo + n), accumulated in double. */                            \
LOSSOPT_KERNEL(double, lossopt_sum_squares_##SFX, (const T *x, ptrdiff_t lo, ptrdiff_t n), (x, lo, n))           \
{                                                                                        \
    double s = 0.0;                                                                      \
    LOSSOPT_OMP_SIMD(reduction(+:s))                                                     \
    for (ptrdiff_t i = lo; i < lo + n; i++) {                                            \
        double v = x[i];                                                                 \
        s += v * v;                                                                      \
    }                                                                                    \
    return s;                                                                            \
}

LOSSOPT_OPTIM_KERNELS(double, f64, sqrt, fabs)
LOSSOPT_OPTIM_KERNELS(float, f32, sqrtf, fabsf)
LOSSOPT_SUM_SQUARES(double, f64)
LOSSOPT_SUM_SQUARES(float, f32)

/* Algorithm ids (the order of OPTIM_KERNELS in src/_optim.pyx). */
enum {
    LOSSOPT_SGD = 0, LOSSOPT_ADAGRAD, LOSSOPT_RMSPROP, LOSSOPT_ADADELTA, LOSSOPT_ADAM,
    LOSSOPT_NADAM, LOSSOPT_RADAM, LOSSOPT_ADAMAX, LOSSOPT_N_ALGORITHMS
};

typedef void (*lossopt_update_f64)(double *, const double *, double *, double *, double *,
                                   ptrdiff_t, ptrdiff_t, const lossopt_optim_args *);
typedef void (*lossopt_update_f32)(float *, const float *, float *, float *, float *,
                                   ptrdiff_t, ptrdiff_t, const lossopt_optim_args *);

static const lossopt_update_f64 lossopt_updates_f64[LOSSOPT_N_ALGORITHMS] = {
    lossopt_sgd_f64, lossopt_adagrad_f64, lossopt_rmsprop_f64, lossopt_adadelta_f64,
    lossopt_adam_f64, lossopt_nadam_f64, lossopt_radam_f64, lossopt_adamax_f64};
static const lossopt_update_f32 lossopt_updates_f32[LOSSOPT_N_ALGORITHMS] = {
    lossopt_sgd_f32, lossopt_adagrad_f32, lossopt_rmsprop_f32, lossopt_adadelta_f32,
    lossopt_adam_f32, lossopt_nadam_f32, lossopt_radam_f32, lossopt_adamax_f32};

/* One block of one algorithm's update (algo is checked by the caller). */
static inline void lossopt_update_block_f64(int algo, double *p, const double *g, double *s0,
                                            double *s1, double *s2, ptrdiff_t lo,
                                            ptrdiff_t n, const lossopt_optim_args *a)
{
    lossopt_updates_f64[algo](p, g, s0, s1, s2, lo, n, a);
}

static inline void lossopt_update_block_f32(int algo, float *p, const float *g, float *s0,
                                            float *s1, float *s2, ptrdiff_t lo,
                                            ptrdiff_t n, const lossopt_optim_args *a)
{
    lossopt_updates_f32[algo](p, g, s0, s1, s2, lo, n, a);
}

#endif /* LOSSOPT_OPTIM_H */
