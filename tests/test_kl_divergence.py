"""KLDivergence: KL(t || softmax(z)) per sample, against an independent NumPy
float64 reference and mpmath; gradients against central differences; the
identity cross-entropy - KL = entropy of the targets."""

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

import lossopt
from lossopt._kernels import _softmax
from helpers import (LAYOUTS, check_error_writes_nothing, check_out_layouts, layout,
                     numerical_gradient, same_bits_on_1_and_2_threads)

mpmath.mp.dps = 50
N, C = 8, 5
REDUCTIONS = ["mean", "sum", "none"]


def reference(logits, target, reduction="mean", sample_weight=None, log_target=False):
    """sum_k t_k (ln t_k - log_softmax(z)_k) per row in float64, 0 ln 0 = 0."""
    z = np.asarray(logits, np.float64)
    t = np.asarray(target, np.float64)
    if log_target:
        lt, t = t, np.exp(t)
    else:
        with np.errstate(divide="ignore"):
            lt = np.log(t)
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore"):
        per = np.where(t > 0, t * (lt - logp), 0.0).sum(axis=1)
    sw = np.ones(len(z)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    per = per * sw
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / sw.sum() if sw.sum() != 0 else 0.0


def make_case(rng, n=N, c=C, dtype=np.float64, zeros=True):
    logits = (rng.normal(size=(n, c)) * 3).astype(dtype)
    target = rng.dirichlet(np.ones(c), size=n)
    if zeros:
        target[0, 1] = 0.0                       # 0 ln 0 = 0
        target[0] /= target[0].sum()
    return logits, target.astype(dtype)


@pytest.mark.parametrize("reduction, weighted, log_target", list(itertools.product(
    REDUCTIONS, [False, True], [False, True])))
def test_values_and_gradients(rng, reduction, weighted, log_target):
    logits, target = make_case(rng, zeros=not log_target)
    if log_target:
        target = np.log(target)
    sw = rng.uniform(0, 2, size=N) if weighted else None
    loss = lossopt.KLDivergence(log_target=log_target, reduction=reduction)
    ref = reference(logits, target, reduction, sw, log_target)
    value, grad = loss.loss_and_gradient(logits, target, sw)
    np.testing.assert_allclose(value, ref, rtol=1e-13)
    np.testing.assert_allclose(loss(logits, target, sw), ref, rtol=1e-13)
    np.testing.assert_array_equal(grad, loss.gradient(logits, target, sw))
    red = "sum" if reduction == "none" else reduction
    num = numerical_gradient(lambda z: reference(z, target, red, sw, log_target), logits)
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-10)
    assert lossopt.kl_divergence(logits, target, sample_weight=sw, log_target=log_target,
                                 reduction=reduction) == pytest.approx(ref, rel=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_minus_kl_is_the_entropy(rng, reduction):
    """Cross-entropy = KL + H(t): their difference does not depend on the
    logits, and their gradients are the same."""
    logits, target = make_case(rng, n=20, c=7)
    sw = rng.uniform(0, 2, size=20)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(target > 0, target * np.log(target), 0.0).sum(axis=1) * sw
    h = {"none": h, "sum": h.sum(), "mean": h.sum() / sw.sum()}[reduction]
    ce, g_ce = lossopt.SoftmaxCrossEntropy(reduction=reduction).loss_and_gradient(
        logits, target, sw)
    for z in (logits, logits * 5 + 1):
        kl, g_kl = lossopt.KLDivergence(reduction=reduction).loss_and_gradient(z, target, sw)
        ce = lossopt.SoftmaxCrossEntropy(reduction=reduction)(z, target, sw)
        np.testing.assert_allclose(np.asarray(ce) - kl, h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(lossopt.KLDivergence().gradient(logits, target, sw),
                               lossopt.SoftmaxCrossEntropy().gradient(logits, target, sw),
                               rtol=1e-15, atol=1e-17)
    assert np.all(lossopt.KLDivergence(reduction="none")(logits, target) >= 0)


def test_zero_at_the_optimum_and_one_hot_is_cross_entropy(rng):
    logits = rng.normal(size=(6, 4))
    p = lossopt.softmax(logits, axis=1)
    assert np.all(np.abs(lossopt.KLDivergence(reduction="none")(logits, p)) < 1e-15)
    labels = rng.integers(0, 4, size=6)
    onehot = np.eye(4)[labels]
    assert lossopt.kl_divergence(logits, onehot) == pytest.approx(
        lossopt.softmax_cross_entropy(logits, labels), rel=1e-14)


def mp_kl(row, t):
    z = [mpmath.mpf(float(v)) for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
    kl = mpmath.fsum(mpmath.mpf(float(tk)) * (mpmath.log(mpmath.mpf(float(tk))) - (v - lse))
                     for v, tk in zip(z, t) if tk > 0)
    grad = [mpmath.exp(v - lse) * mpmath.fsum(mpmath.mpf(float(x)) for x in t) - float(tk)
            for v, tk in zip(z, t)]
    return float(kl), [float(g) for g in grad]


@pytest.mark.parametrize("row, t", [
    ([1e3, -1e3, 0.0], [0.2, 0.3, 0.5]),
    ([-1e3, 1e3, 999.0], [0.0, 0.5, 0.5]),
    ([1e3, 1e3 - 1e-9, -1e3], [0.5, 0.5, 0.0]),
    ([0.0, 1e-300, -745.0, 709.0], [1e-300, 0.25, 0.75 - 1e-300, 0.0]),
    ([2.0, -3.0, 0.5], [5e-324, 0.5, 0.5]),                 # a subnormal target
    ([0.1, 0.2, 0.3], [0.3, 0.3, 0.4]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hard_cases_against_mpmath(row, t, dtype):
    z = np.array([row], dtype)
    target = np.array([t], dtype)
    ref, ref_grad = mp_kl(z[0], target[0])
    value, grad = lossopt.KLDivergence(reduction="sum").loss_and_gradient(z, target)
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    # near 0 the error is absolute, eps times the cross-entropy (~ln 2 here):
    # the divergence is the small difference of O(1) terms t ln t and t ln p
    assert value == pytest.approx(ref, rel=rtol, abs=1e-15 if dtype == np.float64 else 1e-7)
    np.testing.assert_allclose(grad[0], ref_grad, rtol=rtol, atol=1e-15 if dtype == np.float64
                               else 1e-7)


def test_masked_classes():
    """-inf logits are masked classes: no target mass there -> finite; mass
    there -> +inf (KL of a distribution not absolutely continuous w.r.t. the
    model), finite gradient; every class masked -> 0, gradient 0."""
    z = np.array([[0.0, -np.inf, 0.0], [0.0, -np.inf, 0.0], [-np.inf] * 3])
    t = np.array([[0.5, 0.0, 0.5], [0.25, 0.5, 0.25], [0.2, 0.3, 0.5]])
    loss = lossopt.KLDivergence(reduction="none")
    with np.errstate(all="raise"):
        value, grad = loss.loss_and_gradient(z, t)
    assert value[0] == 0.0 and value[1] == np.inf and value[2] == 0.0
    np.testing.assert_allclose(grad, [[0, 0, 0], [0.25, -0.5, 0.25], [0, 0, 0]], atol=1e-16)


def test_nan_propagates_and_zero_weight_contributes_nothing():
    z = np.array([[np.nan, 0.0], [0.0, 1.0]])
    t = np.array([[0.5, 0.5], [0.5, 0.5]])
    v, g = lossopt.KLDivergence(reduction="none").loss_and_gradient(z, t)
    assert np.isnan(v[0]) and np.all(np.isnan(g[0])) and np.isfinite(v[1])
    v, g = lossopt.KLDivergence().loss_and_gradient(z, t, sample_weight=[0.0, 1.0])
    assert v == pytest.approx(reference(z[1:], t[1:]), rel=1e-15)
    np.testing.assert_array_equal(g[0], 0.0)
    t2 = np.array([[np.nan, 0.5], [0.5, 0.5]])
    assert np.isnan(lossopt.kl_divergence(z[::-1], t2))


def test_class_axis_out_and_layouts(rng):
    z = rng.normal(size=(3, 4, 5))                  # classes on axis 1
    t = rng.dirichlet(np.ones(4), size=(3, 5)).transpose(0, 2, 1)
    loss = lossopt.KLDivergence(axis=1, reduction="none")
    value, grad = loss.loss_and_gradient(z, t)
    zm, tm = np.moveaxis(z, 1, -1).reshape(-1, 4), np.moveaxis(t, 1, -1).reshape(-1, 4)
    np.testing.assert_allclose(value, reference(zm, tm, "none").reshape(3, 5), rtol=1e-13)
    ref_grad = lossopt.KLDivergence(reduction="none").gradient(zm, tm)
    np.testing.assert_allclose(np.moveaxis(grad, 1, -1).reshape(-1, 4), ref_grad, rtol=1e-15)
    # in place, strided and read-only inputs
    logits, target = make_case(rng, n=30, c=6)
    v0, g0 = check_out_layouts(lossopt.KLDivergence().loss_and_gradient, logits, target)
    v = lossopt.kl_divergence(logits, np.asfortranarray(target))
    assert v == pytest.approx(v0, rel=1e-15)
    t = target.copy()
    lossopt.KLDivergence().gradient(logits, t, out=t)          # out is the target
    np.testing.assert_allclose(t, g0, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_accumulates_in_float64(rng, dtype):
    logits, target = make_case(rng, n=3000, c=20, dtype=dtype)
    value, grad = lossopt.KLDivergence().loss_and_gradient(logits, target)
    assert grad.dtype == dtype
    ref = reference(logits.astype(np.float64), target.astype(np.float64))
    assert value == pytest.approx(ref, rel=1e-12 if dtype == np.float64 else 2e-7)


def test_threads_bit_identical(rng):
    logits, target = make_case(rng, n=40_000, c=10)
    sw = rng.uniform(0, 1, size=40_000)
    results = []
    for n in (1, 2, 3):
        with lossopt.threads(n):
            results.append(lossopt.KLDivergence().loss_and_gradient(logits, target, sw))
    for v, g in results[1:]:
        assert v == results[0][0]
        assert g.tobytes() == results[0][1].tobytes()


def test_empty():
    assert lossopt.kl_divergence(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    assert lossopt.KLDivergence(reduction="none")(np.zeros((0, 3)), np.zeros((0, 3))).shape \
        == (0,)
    assert lossopt.KLDivergence().gradient(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)
    assert lossopt.kl_divergence(np.zeros((2, 0)), np.zeros((2, 0))) == 0.0


@pytest.mark.parametrize("kwargs, call, exc, msg", [
    ({}, dict(target=-np.ones((2, 3))), ValueError, "target probabilities must be non-neg"),
    # a NaN does not hide a negative target beside it (np.min would return NaN)
    ({}, dict(target=np.array([[np.nan, -0.25, 1.0], [0.5, 0.5, 0.0]])), ValueError,
     r"target probabilities must be non-negative, got a minimum of -0\.25"),
    ({}, dict(target=[0, 1]), TypeError, "target must hold float class probabilities"),
    ({}, dict(target=np.zeros((2, 4))), ValueError, "target holds class probabilities"),
    ({"log_target": "yes"}, {}, TypeError, "log_target must be a bool"),
    ({"reduction": "batchmean"}, {}, ValueError, "reduction must be one of"),
    ({"axis": 3}, {}, ValueError, "axis 3 is out of bounds"),
    ({}, dict(sample_weight=[1.0]), ValueError, r"sample_weight must have shape \(2,\)"),
    ({}, dict(sample_weight=[1.0, -1.0]), ValueError, "sample_weight must be non-negative"),
    ({}, dict(sample_weight=[np.nan, -1.0]), ValueError,
     r"sample_weight must be non-negative, got a minimum of -1\.0"),
    ({}, dict(pred=np.float64(0.0), target=np.float64(1.0)), ValueError,
     "logits must have at least one dimension"),
    ({}, dict(out=np.empty((2, 3), np.float32)), TypeError, "out must have dtype float64"),
])
def test_errors(kwargs, call, exc, msg):
    args = dict(pred=np.zeros((2, 3)), target=np.full((2, 3), 1 / 3))
    args.update(call)
    check_error_writes_nothing(lossopt.KLDivergence(**kwargs), exc, msg, **args)


def test_log_matches_numpy():
    """The branch-free log behind the entropy term, across the double range."""
    rng = np.random.default_rng(7)
    x = np.concatenate([10.0 ** rng.uniform(-323, 308, 5000), rng.uniform(0.5, 2, 5000),
                        [5e-324, 2.2250738585072014e-308, 1.0, np.nextafter(1, 2),
                         np.nextafter(1, 0), 1.7976931348623157e308]])
    out = np.empty_like(x)
    _softmax.log_array(x, out)
    ref = np.log(x)
    assert np.max(np.abs(out - ref) / np.spacing(np.abs(ref) + 1e-300)) <= 1.0
    edge = np.array([0.0, -1.0, np.inf, np.nan, -np.inf])
    _softmax.log_array(edge, out[:5])
    np.testing.assert_array_equal(out[:5], [-np.inf, np.nan, np.inf, np.nan, np.nan])


@given(st.integers(0, 12), st.integers(1, 7), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(REDUCTIONS), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1),
       st.sampled_from(LAYOUTS))
def test_property_against_reference(n, c, dtype, reduction, weighted, log_target, seed,
                                    order):
    rng = np.random.default_rng(seed)
    logits = layout((rng.normal(size=(2 * n, 2 * c)) * 5).astype(dtype), n, c, order)
    target = rng.dirichlet(np.ones(c), size=n)
    target[rng.uniform(size=target.shape) < 0.2] = 0.0
    target = target.astype(dtype)
    if log_target:
        with np.errstate(divide="ignore"):
            target = np.log(target)
    sw = rng.uniform(0, 2, size=n) if weighted else None
    loss = lossopt.KLDivergence(log_target=log_target, reduction=reduction)
    value, grad = loss.loss_and_gradient(logits, target, sw)
    ref = reference(logits.astype(np.float64), target, reduction, sw, log_target)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=1e-12 if dtype == np.float64
                               else 1e-5)
    assert grad.shape == logits.shape and grad.dtype == dtype


@given(st.integers(0, 6000), st.integers(1, 5), st.sampled_from([np.float32, np.float64]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_property_threads_bit_identical(n, c, dtype, weighted, seed):
    """Several blocks on 1 and on 2 threads (the size threshold switched off)."""
    rng = np.random.default_rng(seed)
    z = (rng.normal(size=(n, c)) * 4).astype(dtype)
    t = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    sw = rng.uniform(0, 2, size=n) if weighted else None
    total = same_bits_on_1_and_2_threads(
        lambda grad, row, threads: _softmax.softmax_cross_entropy_rows(
            z, grad, None, t, None, float(c), sw, -100, 0.0, 1.0, row, threads,
            logits_arr=z, grad_arr=grad, probs_arr=t, kl=True, min_parallel=0), z.shape, dtype)
    np.testing.assert_allclose(total, reference(z, t, "sum", sw) if n else 0.0,
                               rtol=1e-10 if dtype == np.float64 else 1e-4, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_longer_than_the_block_buffer(rng, dtype):
    """Rows of more classes than the engine's block buffer go through it in chunks."""
    logits = (rng.normal(size=(3, 5000)) * 3).astype(dtype)
    target = rng.dirichlet(np.ones(5000), size=3).astype(dtype)
    target[1, ::3] = 0.0
    value, grad = lossopt.KLDivergence(reduction="none").loss_and_gradient(logits, target)
    z = logits.astype(np.float64)
    np.testing.assert_allclose(value, reference(z, target, "none"),
                               rtol=1e-12 if dtype == np.float64 else 1e-5)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    t = target.astype(np.float64)
    np.testing.assert_allclose(grad, p * t.sum(axis=1, keepdims=True) - t,
                               rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=1e-18 if dtype == np.float64 else 1e-9)
