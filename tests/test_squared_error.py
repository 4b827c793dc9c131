"""SquaredError: the L2 loss 1/2 sum_k (yhat - y)^2 per sample."""

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import lossopt
from helpers import numerical_gradient


def reference(pred, target, reduction="mean", sample_weight=None):
    p = np.asarray(pred, np.float64)
    p2 = p.reshape(len(p), int(np.prod(p.shape[1:])))
    t2 = np.asarray(target, np.float64).reshape(p2.shape)
    sw = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight)
    per = 0.5 * ((p2 - t2) ** 2).sum(axis=1) * sw
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / sw.sum() if sw.sum() != 0 else 0.0


@pytest.mark.parametrize("shape, reduction, weighted", list(itertools.product(
    [(11,), (11, 3), (11, 2, 2)], ["mean", "sum", "none"], [False, True])))
def test_values_and_gradients(rng, shape, reduction, weighted):
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    sw = rng.uniform(0, 2, size=shape[0]) if weighted else None
    loss = lossopt.SquaredError(reduction=reduction)
    ref = reference(pred, target, reduction, sw)
    value, grad = loss.loss_and_gradient(pred, target, sw)
    np.testing.assert_allclose(value, ref, rtol=1e-14)
    np.testing.assert_allclose(loss(pred, target, sw), ref, rtol=1e-14)
    assert grad.shape == shape
    np.testing.assert_array_equal(grad, loss.gradient(pred, target, sw))
    red = "sum" if reduction == "none" else reduction
    num = numerical_gradient(lambda p: reference(p, target, red, sw), pred)
    np.testing.assert_allclose(grad, num, rtol=1e-8, atol=1e-11)


def test_gaussian_likelihood_view(rng):
    """With precision 1 the Gaussian NLL is the summed L2 loss plus (M/2) ln 2 pi."""
    pred, target = rng.normal(size=40), rng.normal(size=40)
    nll = -np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * (target - pred) ** 2)
    value = lossopt.SquaredError(reduction="sum")(pred, target)
    assert nll == pytest.approx(value + 20 * np.log(2 * np.pi), rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_float64_sums(rng, dtype):
    pred = rng.normal(size=(100_000,)).astype(dtype)
    target = (pred + rng.normal(size=100_000) * 1e-3).astype(dtype)
    value, grad = lossopt.SquaredError().loss_and_gradient(pred, target)
    assert grad.dtype == dtype
    ref = reference(pred.astype(np.float64), target.astype(np.float64))
    assert value == pytest.approx(ref, rel=1e-12)


def test_out_in_place_and_layouts(rng):
    pred, target = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    loss = lossopt.SquaredError()
    value, ref_grad = loss.loss_and_gradient(pred, target)
    p = pred.copy()
    v, g = loss.loss_and_gradient(p, target, out=p)
    assert g is p and v == value
    np.testing.assert_array_equal(p, ref_grad)
    out = np.empty((4, 50)).T
    loss.gradient(pred, target, out=out)
    np.testing.assert_array_equal(out, ref_grad)
    t = target.copy()
    loss.gradient(pred, t, out=t)                         # overwrite the target
    np.testing.assert_array_equal(t, ref_grad)
    ro = pred.copy()
    ro.flags.writeable = False
    v, g = loss.loss_and_gradient(np.asfortranarray(ro), target)
    assert v == value


def test_threads_bit_identical(rng):
    pred, target = rng.normal(size=(300_000, 2)), rng.normal(size=(300_000, 2))
    sw = rng.uniform(size=300_000)
    results = []
    for n in (1, 2):
        with lossopt.threads(n):
            results.append(lossopt.SquaredError().loss_and_gradient(pred, target, sw))
    assert results[0][0] == results[1][0]
    assert results[0][1].tobytes() == results[1][1].tobytes()


def test_empty_and_zero_weights():
    assert lossopt.squared_error(np.zeros(0), np.zeros(0)) == 0.0
    assert lossopt.SquaredError(reduction="none")(np.zeros((0, 2)), np.zeros((0, 2))).shape == (0,)
    assert lossopt.squared_error([1.0], [0.0], sample_weight=[0.0]) == 0.0


def test_nan_propagates():
    assert np.isnan(lossopt.squared_error([np.nan, 1.0], [0.0, 0.0]))


@pytest.mark.parametrize("call, exc, msg", [
    (dict(target=np.zeros(4)), ValueError, r"target must have the shape of pred, \(3,\)"),
    (dict(pred=np.float64(1.0), target=np.float64(1.0)), ValueError, "at least one dimension"),
    (dict(sample_weight=[1.0, 1.0]), ValueError, r"sample_weight must have shape \(3,\)"),
    (dict(sample_weight=[1.0, -1.0, 1.0]), ValueError, "sample_weight must be non-negative"),
    (dict(pred=np.array(["a", "b", "c"])), TypeError, "pred must be a real numeric"),
    (dict(out=np.empty(3, np.float32)), TypeError, "out must have dtype float64"),
    (dict(out=np.empty(4)), ValueError, r"out must have shape \(3,\)"),
])
def test_errors(call, exc, msg):
    args = dict(pred=np.zeros(3), target=np.ones(3), sample_weight=None, out=None)
    args.update(call)
    with pytest.raises(exc, match=msg):
        lossopt.SquaredError().gradient(**args)
    with pytest.raises(ValueError, match="reduction must be one of"):
        lossopt.SquaredError(reduction="avg")(np.zeros(3), np.zeros(3))


@given(st.integers(0, 30), st.integers(1, 4), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["mean", "sum", "none"]), st.integers(0, 2**32 - 1))
def test_property_against_reference(n, k, dtype, reduction, seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(n, k)).astype(dtype)
    value, grad = lossopt.SquaredError(reduction=reduction).loss_and_gradient(pred, target)
    ref = reference(pred, target, reduction)
    np.testing.assert_allclose(value, ref, rtol=1e-12 if dtype == np.float64 else 1e-6)
    ref_grad = (pred.astype(np.float64) - target) / (n if reduction == "mean" else 1)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-15 if dtype == np.float64 else 1e-6)
