"""SoftmaxCrossEntropy: values against an independent NumPy reference, torch
and mpmath; gradients against central differences for every option."""

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

import lossopt
from helpers import numerical_gradient, reference_cross_entropy, ulp_distance

mpmath.mp.dps = 60
N, C = 9, 5
REDUCTIONS = ["mean", "sum", "none"]


def make_case(rng, kind, n=N, c=C, dtype=np.float64):
    logits = (rng.normal(size=(n, c)) * 3).astype(dtype)
    if kind == "labels":
        target = rng.integers(0, c, size=n)
        target[1] = -100
    else:
        target = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    return logits, target


OPTIONS = list(itertools.product(
    ["labels", "probs"], [None, "w"], [0.0, 0.2], REDUCTIONS, [None, "sw"]))


@pytest.mark.parametrize("kind, cw, eps, reduction, sw", OPTIONS)
def test_values_and_gradients(rng, kind, cw, eps, reduction, sw):
    logits, target = make_case(rng, kind)
    class_weight = rng.uniform(0.2, 2.0, size=C) if cw else None
    sample_weight = rng.uniform(0.0, 2.0, size=N) if sw else None
    loss = lossopt.SoftmaxCrossEntropy(class_weight=class_weight, label_smoothing=eps,
                                       reduction=reduction)
    ref = reference_cross_entropy(logits, target, class_weight, eps, -100, reduction,
                                  sample_weight)
    value = loss(logits, target, sample_weight)
    np.testing.assert_allclose(value, ref, rtol=1e-13)
    if reduction != "none":
        assert isinstance(value, float)
    v2, grad = loss.loss_and_gradient(logits, target, sample_weight)
    np.testing.assert_allclose(v2, ref, rtol=1e-13)
    np.testing.assert_array_equal(grad, loss.gradient(logits, target, sample_weight))
    # gradient of the reduced loss ("none": of the sum of the per-sample losses)
    red = "sum" if reduction == "none" else reduction

    def f(z):
        return reference_cross_entropy(z, target, class_weight, eps, -100, red, sample_weight)

    np.testing.assert_allclose(grad, numerical_gradient(f, logits), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_accumulates_in_float64(rng, dtype):
    logits, target = make_case(rng, "labels", n=2000, c=30, dtype=dtype)
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1)
    value, grad = loss.loss_and_gradient(logits, target)
    assert grad.dtype == dtype
    ref = reference_cross_entropy(logits.astype(np.float64), target, label_smoothing=0.1)
    np.testing.assert_allclose(value, ref, rtol=1e-13 if dtype == np.float64 else 1e-7)


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64,
                                         np.uint64, np.intp])
def test_any_integer_label_dtype(rng, label_dtype):
    logits = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 3, 3, 0], dtype=label_dtype)
    ref = reference_cross_entropy(logits, labels.astype(np.int64))
    assert lossopt.softmax_cross_entropy(logits, labels) == pytest.approx(ref, rel=1e-14)


def test_class_axis_and_leading_dims(rng):
    z = rng.normal(size=(3, 4, 5, 2))            # classes on axis 1, like torch (N, C, d1, d2)
    y = rng.integers(0, 4, size=(3, 5, 2))
    moved = np.moveaxis(z, 1, -1).reshape(-1, 4)
    loss = lossopt.SoftmaxCrossEntropy(axis=1, reduction="none")
    per = loss(z, y)
    assert per.shape == (3, 5, 2)
    np.testing.assert_allclose(per.reshape(-1),
                               reference_cross_entropy(moved, y.reshape(-1), reduction="none"),
                               rtol=1e-14)
    g = lossopt.SoftmaxCrossEntropy(axis=1).gradient(z, y)
    assert g.shape == z.shape
    num = numerical_gradient(lambda t: reference_cross_entropy(
        np.moveaxis(t, 1, -1).reshape(-1, 4), y.reshape(-1)), z)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    # one sample: logits (C,), label a scalar
    assert lossopt.softmax_cross_entropy(z[0, :, 0, 0], y[0, 0, 0]) == pytest.approx(
        reference_cross_entropy(z[None, 0, :, 0, 0], y[0, :1, 0]), rel=1e-14)


@pytest.mark.parametrize("row, label", [
    ([1e4, 0.0, 7e-7], 0), ([1e4, 0.0, 7e-7], 2), ([-1e300, 0.0], 1), ([-1e300, 0.0], 0),
    ([40.0, 0.0], 0), ([0.0, -800.0, -745.0], 0), ([709.0, 709.5, -709.0], 1),
    ([1e-300, -1e-300, 0.0], 1),
])
def test_hard_cases_against_mpmath(row, label):
    z = [mpmath.mpf(v) for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
    ref_loss = float(lse - z[label])
    ref_grad = [float(mpmath.exp(v - lse) - (j == label)) for j, v in enumerate(z)]
    value, grad = lossopt.SoftmaxCrossEntropy().loss_and_gradient(np.array([row]), [label])
    assert ulp_distance(value, ref_loss) <= 4
    np.testing.assert_allclose(grad[0], ref_grad, rtol=4e-16, atol=1e-300)
    # the same as a one-hot probability target
    onehot = np.eye(len(row))[label][None]
    value, grad = lossopt.SoftmaxCrossEntropy().loss_and_gradient(np.array([row]), onehot)
    assert ulp_distance(value, ref_loss) <= 4
    np.testing.assert_allclose(grad[0], ref_grad, rtol=4e-16, atol=1e-300)


def test_float32_near_overflow():
    z = np.array([[3.0e38, -3.0e38, 3.0e38]], dtype=np.float32)
    value, grad = lossopt.SoftmaxCrossEntropy().loss_and_gradient(z, [0])
    assert value == pytest.approx(np.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(grad, np.array([[-0.5, 0.0, 0.5]], np.float32))


def test_minus_inf_logits_are_masked_classes():
    z = np.array([[2.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf], [1.0, -np.inf, 1.0]])
    y = np.array([0, 1, 1])
    loss = lossopt.SoftmaxCrossEntropy(reduction="none")
    per, grad = loss.loss_and_gradient(z, y)
    assert per[0] == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-15)
    assert per[1] == 0.0                                  # every class masked: 0
    np.testing.assert_array_equal(grad[1], 0.0)
    assert per[2] == np.inf                               # label on a masked class
    np.testing.assert_array_equal(grad[2], [0.5, -1.0, 0.5])
    assert not np.isnan(grad).any()
    assert grad[0, 1] == 0.0
    # probability targets: 0 log 0 = 0 on masked classes
    p = np.array([[0.6, 0.0, 0.4], [0.5, 0.2, 0.3], [0.5, 0.0, 0.5]])
    per, grad = loss.loss_and_gradient(z, p)
    assert np.isfinite(per[[0, 2]]).all() and per[1] == 0.0
    assert per[2] == pytest.approx(np.log(2.0), rel=1e-15)
    assert not np.isnan(grad).any()
    # label smoothing puts mass on the masked class: +inf, finite gradient
    per, grad = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1,
                                            reduction="none").loss_and_gradient(z, y)
    assert per[0] == np.inf and np.isfinite(grad).all()


def test_nan_and_inf_propagate():
    z = np.array([[np.nan, 0.0], [np.inf, 0.0], [0.0, 0.0]])
    per, grad = lossopt.SoftmaxCrossEntropy(reduction="none").loss_and_gradient(z, [0, 0, 1])
    assert np.isnan(per[:2]).all() and np.isnan(grad[:2]).all()
    assert per[2] == pytest.approx(np.log(2.0)) and np.isfinite(grad[2]).all()
    assert np.isnan(lossopt.softmax_cross_entropy(z, [0, 0, 1]))


def test_samples_weighted_zero_contribute_nothing():
    """An ignored sample, or one with sample_weight 0, has gradient 0 even when
    its logits are NaN or +inf (torch's autograd gives NaN there)."""
    z = np.array([[np.nan, 1.0], [np.inf, 1.0], [0.0, 1.0], [np.nan, 0.0]])
    loss = lossopt.SoftmaxCrossEntropy(reduction="sum")
    value, grad = loss.loss_and_gradient(z, np.array([-100, -100, 1, 0]),
                                         sample_weight=[1.0, 1.0, 1.0, 0.0])
    assert value == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-15)
    np.testing.assert_array_equal(grad[[0, 1, 3]], 0.0)
    assert np.isfinite(grad[2]).all()


def test_all_ignored_gives_zero_loss_and_gradient(rng):
    z = rng.normal(size=(4, 3))
    value, grad = lossopt.SoftmaxCrossEntropy().loss_and_gradient(z, np.full(4, -100))
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0.0)
    value, grad = lossopt.SoftmaxCrossEntropy().loss_and_gradient(
        z, [0, 1, 2, 0], sample_weight=np.zeros(4))
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0.0)
    assert lossopt.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, int)) == 0.0
    # no classes at all: every label must be ignore_index, and the loss is 0
    loss = lossopt.SoftmaxCrossEntropy(class_weight=np.zeros(0), ignore_index=0)
    value, grad = loss.loss_and_gradient(np.zeros((5, 0)), np.zeros(5, np.int64))
    assert value == 0.0 and grad.shape == (5, 0)
    with pytest.raises(ValueError, match=r"class label 0, outside \[0, 0\)"):
        lossopt.softmax_cross_entropy(np.zeros((5, 0)), np.zeros(5, np.int64))


def test_ignore_index_custom_and_in_range(rng):
    z = rng.normal(size=(6, 4))
    y = np.array([0, 3, 2, 3, 1, 0])
    got = lossopt.softmax_cross_entropy(z, y, ignore_index=3)
    assert got == pytest.approx(reference_cross_entropy(z, y, ignore_index=3), rel=1e-14)


@pytest.mark.parametrize("n_cols", [1, 2, 2047, 2048, 2049, 5000])
@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_block_boundaries_and_long_rows(rng, n_cols, kind):
    logits, target = make_case(rng, kind, n=5, c=n_cols)
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.05, class_weight=np.linspace(
        0.5, 1.5, n_cols))
    value, grad = loss.loss_and_gradient(logits, target)
    ref = reference_cross_entropy(logits, target, np.linspace(0.5, 1.5, n_cols), 0.05)
    assert value == pytest.approx(ref, rel=1e-13)
    # the analytic gradient, written independently
    z = logits
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w = np.linspace(0.5, 1.5, n_cols)
    if kind == "labels":
        q = np.full((5, n_cols), 0.05 / n_cols)
        active = target != -100
        q[np.arange(5)[active], target[active]] += 0.95
        q[~active] = 0
        denom = w[np.where(active, target, 0)][active].sum()
    else:
        q = target * 0.95 + 0.05 / n_cols
        denom = 5
    ref_grad = (p * (w * q).sum(1, keepdims=True) - w * q) / denom
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-16)


def test_out_in_place_and_layouts(rng):
    logits, target = make_case(rng, "labels", n=300, c=7)
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1)
    value, ref_grad = loss.loss_and_gradient(logits, target)
    out = np.empty_like(logits)
    v, g = loss.loss_and_gradient(logits, target, out=out)
    assert g is out and v == value
    np.testing.assert_array_equal(out, ref_grad)
    z = logits.copy()
    v, g = loss.loss_and_gradient(z, target, out=z)     # gradient overwrites the logits
    assert g is z and v == value
    np.testing.assert_array_equal(z, ref_grad)
    z = logits.copy()
    assert loss.gradient(z, target, out=z) is z
    np.testing.assert_array_equal(z, ref_grad)
    out_f = np.asfortranarray(np.empty_like(logits))
    loss.gradient(logits, target, out=out_f)
    np.testing.assert_array_equal(out_f, ref_grad)
    # partial overlap with the logits: right answer through a temporary
    buf = np.concatenate([logits.ravel(), np.zeros(7)])
    zin, gout = buf[:logits.size].reshape(logits.shape), buf[7:].reshape(logits.shape)
    v, _ = loss.loss_and_gradient(zin, target, out=gout)
    assert v == value
    np.testing.assert_array_equal(gout, ref_grad)
    # probability targets: out may not be written over the targets while read
    logits, p = make_case(rng, "probs", n=50, c=7)
    _, ref_grad = loss.loss_and_gradient(logits, p)
    p2 = p.copy()
    loss.gradient(logits, p2, out=p2)
    np.testing.assert_array_equal(p2, ref_grad)


def test_read_only_strided_inputs_not_modified(rng):
    logits, target = make_case(rng, "labels", n=40, c=6)
    big = np.repeat(logits, 2, axis=1)
    keep = big.copy()
    big.flags.writeable = False
    loss = lossopt.SoftmaxCrossEntropy(class_weight=np.arange(1, 7.0))
    ref, ref_grad = loss.loss_and_gradient(logits, target)
    for view, t in ((big[:, ::2], target), (np.asfortranarray(big)[:, ::2], target),
                    (big[::-1, ::2], target[::-1])):
        v, g = loss.loss_and_gradient(view, t)
        if t is not target:
            g = g[::-1]
        assert v == pytest.approx(ref, rel=1e-15)
        np.testing.assert_allclose(g, ref_grad, rtol=1e-15)
    rows = np.zeros((80, 6))
    rows[::2] = logits                                   # row stride 2C, no copy
    rows.flags.writeable = False
    v, g = loss.loss_and_gradient(rows[::2], target)
    assert v == ref
    np.testing.assert_array_equal(g, ref_grad)
    np.testing.assert_array_equal(big, keep)


def test_threads_bit_identical(rng):
    logits, target = make_case(rng, "labels", n=40_000, c=10)
    sw = rng.uniform(0, 1, size=40_000)
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1, class_weight=np.linspace(1, 2, 10))
    results = []
    for n in (1, 2, 3):
        with lossopt.threads(n):
            results.append(loss.loss_and_gradient(logits, target, sw))
    for v, g in results[1:]:
        assert v == results[0][0]
        assert g.tobytes() == results[0][1].tobytes()


@pytest.mark.parametrize("kwargs, call, exc, msg", [
    ({}, dict(target=[0, 5]), ValueError, r"class label 5, outside \[0, 3\)"),
    ({}, dict(target=[-1, 0]), ValueError, "class label -1"),
    ({}, dict(target=[0, 1, 2]), ValueError, "target holds class labels, so its shape"),
    ({}, dict(target=np.zeros((2, 4))), ValueError, "target holds class probabilities"),
    ({}, dict(target=-np.ones((2, 3))), ValueError, "probabilities must be non-negative"),
    # a NaN does not hide a negative value beside it (np.min would return NaN)
    ({}, dict(target=np.array([[0.5, np.nan, -0.5], [0.0, 1.0, 0.0]])), ValueError,
     r"probabilities must be non-negative, got a minimum of -0\.5"),
    ({"class_weight": [np.nan, -1, 1]}, {}, ValueError,
     r"class_weight must be non-negative, got a minimum of -1\.0"),
    ({}, dict(sample_weight=[-2.0, np.nan]), ValueError,
     r"sample_weight must be non-negative, got a minimum of -2\.0"),
    ({}, dict(target=np.array([True, False])), TypeError, "target must hold integer"),
    ({"label_smoothing": 1.5}, {}, ValueError, r"label_smoothing must be in \[0, 1\]"),
    ({"label_smoothing": "a"}, {}, TypeError, "label_smoothing must be a float"),
    ({"class_weight": [1, -1, 1]}, {}, ValueError, "class_weight must be non-negative"),
    ({"class_weight": [1, 1]}, {}, ValueError, r"class_weight must have shape \(3,\)"),
    ({}, dict(sample_weight=[1.0]), ValueError, r"sample_weight must have shape \(2,\)"),
    ({}, dict(sample_weight=[1.0, -2.0]), ValueError, "sample_weight must be non-negative"),
    ({"reduction": "avg"}, {}, ValueError, "reduction must be one of"),
    ({"ignore_index": 1.5}, {}, TypeError, "ignore_index must be an integer"),
    ({"ignore_index": 2**63}, {}, ValueError, "ignore_index must be an integer in"),
    ({"axis": 2}, {}, ValueError, "axis 2 is out of bounds"),
    ({}, dict(logits=np.array([["a", "b", "c"]] * 2)), TypeError, "logits must be a real"),
    ({}, dict(logits=np.float64(1.0)), ValueError, "at least one dimension"),
])
def test_errors(kwargs, call, exc, msg):
    args = dict(logits=np.zeros((2, 3)), target=[0, 1], sample_weight=None)
    args.update(call)
    loss = lossopt.SoftmaxCrossEntropy(**kwargs)
    with pytest.raises(exc, match=msg):
        loss.loss_and_gradient(args["logits"], args["target"], args["sample_weight"])


def test_out_errors_write_nothing():
    loss = lossopt.SoftmaxCrossEntropy()
    z = np.zeros((2, 3))
    out = np.full((2, 3), 7.0)
    with pytest.raises(ValueError, match="class label 3"):
        loss.gradient(z, [0, 3], out=out)
    np.testing.assert_array_equal(out, 7.0)
    with pytest.raises(TypeError, match="out must have dtype float64"):
        loss.gradient(z, [0, 1], out=np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"out must have shape \(2, 3\)"):
        loss.gradient(z, [0, 1], out=np.empty((3, 2)))
    ro = np.empty((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        loss.gradient(z, [0, 1], out=ro)


@given(st.integers(0, 12), st.integers(1, 9), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(REDUCTIONS), st.floats(0, 1), st.booleans(), st.booleans(),
       st.integers(0, 2**32 - 1), st.sampled_from(["C", "F", "rows", "cols", "reversed"]))
def test_property_against_reference(n, c, dtype, reduction, eps, weighted, probs, seed,
                                    layout):
    rng = np.random.default_rng(seed)
    base = (rng.normal(size=(2 * n, 2 * c)) * 5).astype(dtype)
    logits = {"C": np.ascontiguousarray(base[:n, :c]), "F": np.asfortranarray(base[:n, :c]),
              "rows": base[::2, :c], "cols": base[:n, ::2],
              "reversed": base[:n, :c][::-1, ::-1]}[layout]
    if probs:
        target = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    else:
        target = rng.integers(-1, c, size=n)
    cw = rng.uniform(0, 2, size=c) if weighted else None
    loss = lossopt.SoftmaxCrossEntropy(class_weight=cw, label_smoothing=eps,
                                       ignore_index=-1, reduction=reduction)
    value, grad = loss.loss_and_gradient(logits, target)
    ref = reference_cross_entropy(logits.astype(np.float64), target, cw, eps, -1, reduction)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=1e-12)
    assert grad.shape == logits.shape and grad.dtype == dtype


def test_denominator_is_exact_for_large_batches(rng):
    """The mean divides by the summed weights, accumulated with compensation."""
    n = 200_001
    logits = np.zeros((n, 2))
    labels = rng.integers(0, 2, size=n)
    labels[::7] = -100
    sw = rng.uniform(0, 1, size=n)
    cw = np.array([0.3, 1.7])
    value = lossopt.softmax_cross_entropy(logits, labels, sample_weight=sw, class_weight=cw)
    active = labels != -100
    weights = (cw[labels[active]] * sw[active])
    import math
    ref = math.fsum(weights * np.log(2.0)) / math.fsum(weights)
    assert value == pytest.approx(ref, rel=1e-14)


def test_huge_unsigned_labels_are_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        lossopt.softmax_cross_entropy(np.zeros((1, 3)), np.array([2**64 - 100], np.uint64))
