"""The element-wise kernels' fast paths: the one-comparison label checks,
the kernel variant that skips the domain check when Python has done it
(check_domain=False, the out= path), and the BCE softplus reduced by one
comparison (lossopt_log1p_unit) against mpmath, both dtypes."""

import mpmath
import numpy as np
import pytest

import lossopt
from lossopt._kernels import _binary, _regression

TINY = 5e-324
NOT_LABELS = [0.5, 2.0, -2.0, 1 + 2**-52, 1 - 2**-53, -1 - 2**-52, -1 + 2**-53, 2**-52,
              TINY, -TINY, 1e-300, 1e300, -1e300, np.inf, -np.inf, 3.0, -0.25]
LABELS = [1.0, 0.0, -0.0, -1.0, np.nan]


def kernel_call(kernel, pred, target, check_domain, **kw):
    p2 = np.ascontiguousarray(pred).reshape(-1, 1)
    t2 = np.ascontiguousarray(target, dtype=p2.dtype).reshape(-1, 1)
    g = np.empty_like(p2)
    total, bad = kernel(p2, t2, g, None, 1.0, None, 1, check_domain=check_domain, **kw)
    return total, bad, g.reshape(-1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sign_label_domain_counts_every_non_label(dtype):
    with np.errstate(over="ignore"):                      # 1e300 -> inf in float32
        bad = np.array(NOT_LABELS, dtype=dtype)
    bad = bad[(bad != 0) & (bad != 1) & (bad != -1)]     # float32 rounds some to labels
    good = np.array(LABELS * 3, dtype=dtype)
    for t, n_bad in [(bad, bad.size), (good, 0), (np.concatenate([good, bad, good]), bad.size)]:
        assert _regression.count_outside(_regression.SIGN_LABEL, t.reshape(1, -1)) == n_bad
        for kernel in (_binary.hinge, _binary.perceptron):
            assert kernel_call(kernel, np.ones(t.size, dtype), t, True)[1] == n_bad


@pytest.mark.parametrize("value", NOT_LABELS)
def test_every_non_label_raises_with_and_without_out(value):
    pred, target = np.zeros(5), np.array([1.0, 0.0, value, -1.0, 1.0])
    for loss in (lossopt.Hinge(), lossopt.SquaredHinge(), lossopt.Perceptron()):
        with pytest.raises(ValueError, match="binary labels"):
            loss.loss_and_gradient(pred, target)
        out = np.full(5, 7.0)
        with pytest.raises(ValueError, match="binary labels"):
            loss.loss_and_gradient(pred, target, out=out)
        assert (out == 7).all()


def test_nan_label_propagates_to_its_element_only():
    pred, target = np.array([0.5, -2.0, 0.3]), np.array([1.0, np.nan, -1.0])
    for loss in (lossopt.Hinge(reduction="none"), lossopt.SquaredHinge(reduction="none"),
                 lossopt.Perceptron(reduction="none")):
        value, grad = loss.loss_and_gradient(pred, target)
        assert np.isnan(value[1]) and np.isnan(grad[1])
        assert np.isfinite(value[[0, 2]]).all() and np.isfinite(grad[[0, 2]]).all()
    value, grad = lossopt.Hinge(reduction="none").loss_and_gradient(pred, target)
    np.testing.assert_array_equal(value[[0, 2]], [0.5, 1.3])
    np.testing.assert_array_equal(grad[[0, 2]], [-1.0, 1.0])


KERNELS = {
    "hinge": (_binary.hinge, lambda rng, n: rng.choice([-1.0, 0.0, 1.0], n), {}),
    "squared_hinge": (_binary.hinge, lambda rng, n: rng.choice([-1.0, 1.0], n),
                      {"squared": True, "margin": 0.7}),
    "perceptron": (_binary.perceptron, lambda rng, n: rng.choice([0.0, 1.0], n), {}),
    "bce": (_binary.binary_cross_entropy, lambda rng, n: rng.uniform(size=n),
            {"label_smoothing": 0.1, "pos_weight": 2.0}),
    "poisson": (_regression.poisson_nll, lambda rng, n: rng.poisson(2.0, n) * 1.0, {}),
    "poisson_full_rate": (_regression.poisson_nll, lambda rng, n: rng.poisson(2.0, n) * 1.0,
                          {"log_input": False, "full": True}),
}


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unchecked_variant_gives_the_same_bits(rng, name, dtype):
    """check_domain=False (the domain was checked in Python) computes exactly
    what the checking variant computes, and reports no bad targets."""
    kernel, make_target, kw = KERNELS[name]
    n = 20_011
    pred = (rng.normal(size=n) * 3).astype(dtype)
    if name == "poisson_full_rate":
        pred = np.abs(pred)
    target = make_target(rng, n).astype(dtype)
    t1, bad1, g1 = kernel_call(kernel, pred, target, True, **kw)
    t2, bad2, g2 = kernel_call(kernel, pred, target, False, **kw)
    assert bad1 == 0 and bad2 == 0
    assert t1 == t2
    np.testing.assert_array_equal(g1, g2)
    # the unchecked variant does not count: bad targets give 0 (Python has
    # refused them before it is ever called)
    target[::7] = 3.0 if name != "poisson" and name != "poisson_full_rate" else -1.0
    assert kernel_call(kernel, pred, target, False, **kw)[1] == 0
    assert kernel_call(kernel, pred, target, True, **kw)[1] == len(target[::7])


def test_out_path_equals_allocating_path(rng):
    """The out= path (domain checked in Python, kernel unchecked) and the
    allocating path (kernel checks) give the same bits."""
    pred = rng.normal(size=(1000, 3)) * 3
    for loss, target in [(lossopt.Hinge(), rng.choice([-1.0, 1.0], (1000, 3))),
                         (lossopt.BinaryCrossEntropy(), rng.uniform(size=(1000, 3))),
                         (lossopt.PoissonNLL(), rng.poisson(2.0, (1000, 3)) * 1.0)]:
        v1, g1 = loss.loss_and_gradient(pred, target)
        out = np.empty_like(pred)
        v2, g2 = loss.loss_and_gradient(pred, target, out=out)
        assert v1 == v2 and g2 is out
        np.testing.assert_array_equal(g1, g2)


def mp_bce(x, t):
    """Loss and gradient of BCE with logits in mpmath (t exact)."""
    x, t = mpmath.mpf(float(x)), mpmath.mpf(float(t))
    # -log sigma(x) = softplus(-x), -log(1 - sigma(x)) = softplus(x): no cancellation
    loss = t * mpmath.log1p(mpmath.exp(-x)) + (1 - t) * mpmath.log1p(mpmath.exp(x))
    return loss, 1 / (1 + mpmath.exp(-x)) - t


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_around_the_reduction_cut_and_at_huge_logits(rng, dtype):
    """e = exp(-|x|) crosses sqrt(2) - 1 (the cut of lossopt_log1p_unit) at
    |x| = 0.8814; huge logits leave only the linear term.  Loss within a few
    float64 ulps of mpmath for both dtypes (float32 data, float64 loss), the
    gradient within a few ulps of its dtype."""
    cut = float(-mpmath.log(mpmath.sqrt(2) - 1))
    x = np.concatenate([cut + rng.uniform(-1e-6, 1e-6, 200), -cut + rng.uniform(-1e-6, 1e-6, 200),
                        rng.uniform(-40, 40, 200), [0.0, 18.0, -18.0, 37.0, -37.0, 80.0, -80.0,
                                                     700.0, -700.0, 1e4, -1e4, 3e38, -3e38]])
    x = x.astype(dtype)
    t = rng.choice([0.0, 1.0, 0.25], x.size).astype(dtype)
    value, grad = lossopt.BinaryCrossEntropy(reduction="none").loss_and_gradient(x, t)
    eps = np.finfo(dtype).eps
    # reduction="none" returns the losses in pred's dtype: float32 rounds them
    eps_l = 4e-16 if dtype == np.float64 else eps
    with mpmath.workdps(50):
        for xi, ti, v, g in zip(x, t, value, grad):
            ref_l, ref_g = mp_bce(xi, ti)
            assert abs(mpmath.mpf(float(v)) - ref_l) <= eps_l * abs(ref_l) + 1e-300
            # sigma(x) - t cancels near sigma(x) = t: the bound is relative to t too
            assert abs(mpmath.mpf(float(g)) - ref_g) <= 2 * eps * (abs(ref_g) + float(ti)) \
                + 1e-300


def test_gaussian_nll_float32_against_mpmath(rng):
    """float32 data runs the Gaussian NLL in single precision: loss (summed
    in float64) within a few float32 ulps per element, gradients within a
    few ulps of their terms, over variances from the eps clamp to 1e30."""
    n = 400
    pred = (rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3, n)).astype(np.float32)
    target = rng.normal(size=n).astype(np.float32)
    var = (10.0 ** rng.uniform(-8, 30, n)).astype(np.float32)
    var[:5] = [0.0, 1e-7, 1e-6, 1.0, 3e38]
    value, (d_pred, d_var) = lossopt.GaussianNLL(reduction="none").loss_and_gradient(
        pred, target, var)
    total = lossopt.GaussianNLL(reduction="sum")(pred, target, var)
    eps32 = float(np.float32(1e-6))                  # the clamp, in float32 (as torch's)
    f = np.finfo(np.float32).eps
    ref_total = mpmath.mpf(0)
    with mpmath.workdps(40):
        for i in range(n):
            d = mpmath.mpf(float(pred[i])) - mpmath.mpf(float(target[i]))
            vc = max(mpmath.mpf(float(var[i])), mpmath.mpf(eps32))
            loss = (mpmath.log(vc) + d * d / vc) / 2
            gp, gv = d / vc, (1 / vc - d * d / vc ** 2) / 2
            ref_total += loss
            assert abs(mpmath.mpf(float(value[i])) - loss) <= 4 * f * (
                abs(mpmath.log(vc)) + d * d / vc) / 2
            sub = 2 * float(np.finfo(np.float32).smallest_subnormal)   # 1/3e38 is subnormal
            assert abs(mpmath.mpf(float(d_pred[i])) - gp) <= 2 * f * abs(gp) + sub
            assert abs(mpmath.mpf(float(d_var[i])) - gv) <= 4 * f * (1 / vc + d * d / vc ** 2) \
                + sub
    assert abs(total - ref_total) <= 4 * f * sum(abs(float(v)) for v in value)
