"""BinaryCrossEntropy, Perceptron, Hinge and SquaredHinge: values and
gradients against NumPy float64 references and central differences, edges
against mpmath, kinks, label codings, dtypes, layouts, threads, hypothesis
and bad input.  (torch parity is in test_torch_parity.py.)"""

import itertools

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, strategies as st

import lossopt
from lossopt._kernels import _binary
from helpers import (check_api_thread_counts, check_empty_zero_weights_and_nan,
                     check_kernel_thread_counts, check_out_and_layouts, gradient_reference,
                     numerical_gradient, reduce_reference)
from helpers import restore_mpmath_precision  # noqa: F401 (autouse fixture)

SHAPES = [(11,), (11, 3), (5, 2, 2)]


def ref_bce(x, t, pos_weight=1.0, label_smoothing=0.0):
    t = t * (1 - label_smoothing) + label_smoothing / 2
    pw = np.asarray(pos_weight, dtype=np.float64)
    loss = -(pw * t * sc.log_expit(x) + (1 - t) * sc.log_expit(-x))
    grad = (1 + (pw - 1) * t) * sc.expit(x) - pw * t
    return loss, grad


def pm1(t):
    return np.where(t == 1, 1.0, -1.0)


def ref_hinge(p, t, margin=1.0):
    u = margin - pm1(t) * p
    return np.maximum(u, 0), np.where(u > 0, -pm1(t), 0.0)


def ref_squared_hinge(p, t, margin=1.0):
    u = np.maximum(margin - pm1(t) * p, 0)
    return u * u, -2 * pm1(t) * u


def ref_perceptron(p, t):
    z = pm1(t) * p
    return np.maximum(-z, 0), np.where(z <= 0, -pm1(t), 0.0)


CASES = {
    "bce": (dict(), lambda **o: lossopt.BinaryCrossEntropy(**o), ref_bce),
    "bce-pw2": (dict(), lambda **o: lossopt.BinaryCrossEntropy(pos_weight=2.0, **o),
                lambda p, t: ref_bce(p, t, 2.0)),
    "bce-smooth": (dict(), lambda **o: lossopt.BinaryCrossEntropy(
        pos_weight=0.5, label_smoothing=0.2, **o), lambda p, t: ref_bce(p, t, 0.5, 0.2)),
    "hinge": (dict(), lambda **o: lossopt.Hinge(**o), ref_hinge),
    "hinge-m0.5": (dict(), lambda **o: lossopt.Hinge(margin=0.5, **o),
                   lambda p, t: ref_hinge(p, t, 0.5)),
    "squared_hinge": (dict(), lambda **o: lossopt.SquaredHinge(**o), ref_squared_hinge),
    "squared_hinge-m2": (dict(), lambda **o: lossopt.SquaredHinge(margin=2.0, **o),
                         lambda p, t: ref_squared_hinge(p, t, 2.0)),
    "perceptron": (dict(), lambda **o: lossopt.Perceptron(**o), ref_perceptron),
}


def case_data(name, rng, shape, coding):
    """Scores away from the kinks (|y p - m| >= 0.05 for m in {0, 0.5, 1, 2});
    BCE gets soft targets."""
    p = rng.choice([0.2, 0.7, 1.3, 1.6, 2.5, 4.0], size=shape) * rng.choice([-1, 1], size=shape)
    p = p + rng.uniform(-0.04, 0.04, size=shape)
    if name.startswith("bce"):
        return 3 * p, rng.uniform(0, 1, size=shape)
    y = rng.choice([-1.0, 1.0], size=shape)
    return p, (y if coding == "pm1" else (y + 1) / 2)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("shape, reduction, weighted, coding", [
    c for c in itertools.product(SHAPES, ["mean", "sum", "none"], [False, True],
                                 ["pm1", "01"])])
def test_values_and_gradients(rng, name, shape, reduction, weighted, coding):
    _, make, ref = CASES[name]
    if name.startswith("bce") and coding == "01":
        return                                 # soft targets: one coding only
    pred, target = case_data(name, rng, shape, coding)
    sw = rng.uniform(0, 2, size=shape[0]) if weighted else None
    if weighted:
        sw[1] = 0.0
    loss = make(reduction=reduction)
    elem_loss, elem_grad = ref(pred, target)
    expected = reduce_reference(elem_loss, reduction, sw)
    value, grad = loss.loss_and_gradient(pred, target, sw)
    np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(loss(pred, target, sw), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad, gradient_reference(elem_grad, reduction, sw),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(grad, loss.gradient(pred, target, sw))
    red = "sum" if reduction == "none" else reduction
    num = numerical_gradient(lambda p: reduce_reference(ref(p, target)[0], red, sw), pred,
                             h=1e-4)
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape", [(6, 3), (6, 2, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_pos_weight_per_output(rng, shape, weighted):
    x, t = rng.normal(size=shape) * 3, rng.uniform(size=shape)
    pw = rng.uniform(0.1, 3.0, size=shape[-1])
    sw = rng.uniform(size=shape[0]) if weighted else None
    loss = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=0.1, reduction="sum")
    value, grad = loss.loss_and_gradient(x, t, sw)
    el, eg = ref_bce(x, t, pw, 0.1)
    np.testing.assert_allclose(value, reduce_reference(el, "sum", sw), rtol=1e-13)
    np.testing.assert_allclose(grad, gradient_reference(eg, "sum", sw), rtol=1e-13,
                               atol=1e-16)
    rows = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=0.1,
                                      reduction="none")(x, t, sw)
    np.testing.assert_allclose(rows, reduce_reference(el, "none", sw), rtol=1e-13)


def mp_bce(x, t, pw=1, eps=0):
    x, t = mpmath.mpf(float(x)), mpmath.mpf(float(t))
    t = t * (1 - mpmath.mpf(eps)) + mpmath.mpf(eps) / 2
    sig = 1 / (1 + mpmath.exp(-x))
    log_sig = -mpmath.log1p(mpmath.exp(-x)) if x > -700 else x - mpmath.log1p(mpmath.exp(x))
    log_1m = -x + log_sig                    # ln(1 - sigma(x)) = ln sigma(x) - x
    loss = -(pw * t * log_sig + (1 - t) * log_1m)
    grad = (1 + (pw - 1) * t) * sig - pw * t
    return loss, grad


@pytest.mark.parametrize("x", [1e3, -1e3, 37.0, -37.0, 18.0, -18.0, 33.5, -745.5, 40.0,
                               0.0, 1e-20, -3.0])
@pytest.mark.parametrize("t, pw, eps", [(0.0, 1, 0), (1.0, 1, 0), (0.3, 1, 0),
                                        (1.0, 2.5, 0), (0.0, 0.4, 0.1), (1.0, 1, 0.1)])
def test_bce_edges_against_mpmath(x, t, pw, eps):
    mpmath.mp.dps = 60
    loss = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=eps, reduction="sum")
    value, grad = loss.loss_and_gradient(np.array([x]), np.array([t]))
    ref_l, ref_g = mp_bce(x, t, pw, eps)
    assert abs(value - float(ref_l)) <= 4 * np.spacing(abs(float(ref_l))) + 1e-320
    assert abs(grad[0] - float(ref_g)) <= 4 * np.spacing(abs(float(ref_g))) + 1e-320


def test_bce_confident_predictions_are_not_rounded_to_zero():
    value, grad = lossopt.BinaryCrossEntropy(reduction="none").loss_and_gradient(
        np.array([40.0, -40.0]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(value, np.exp(-40.0), rtol=1e-14)
    np.testing.assert_allclose(grad, [-np.exp(-40.0), np.exp(-40.0)], rtol=1e-14)


def test_bce_infinite_logits_give_the_limit():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    value, grad = lossopt.BinaryCrossEntropy(reduction="none").loss_and_gradient(x, t)
    np.testing.assert_array_equal(value, [0.0, 0.0, np.inf, np.inf])
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0])


def test_bce_is_the_bernoulli_nll(rng):
    x = rng.normal(size=50) * 2
    y = rng.integers(0, 2, size=50).astype(float)
    p = sc.expit(x)
    nll = -np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert lossopt.binary_cross_entropy(x, y, reduction="sum") == pytest.approx(nll, rel=1e-13)


def test_label_smoothing_moves_targets_toward_one_half(rng):
    x, t = rng.normal(size=20), rng.integers(0, 2, size=20).astype(float)
    a = lossopt.BinaryCrossEntropy(label_smoothing=0.3)(x, t)
    b = lossopt.BinaryCrossEntropy()(x, t * 0.7 + 0.15)
    assert a == pytest.approx(b, rel=1e-15)


@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_subgradient_at_the_kink(margin):
    pred = np.array([margin, -margin, margin])
    target = np.array([1.0, -1.0, 0.0])
    value, grad = lossopt.Hinge(margin=margin, reduction="none").loss_and_gradient(pred, target)
    mpmath.mp.dps = 30
    for v, p, t in zip(value, pred, [1, -1, -1]):
        assert v == float(max(mpmath.mpf(0), mpmath.mpf(margin) - t * mpmath.mpf(float(p))))
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0])    # 0 at the kink; -y inside
    value, grad = lossopt.SquaredHinge(margin=margin, reduction="sum").loss_and_gradient(
        pred[:2], target[:2])
    assert value == 0.0
    np.testing.assert_array_equal(grad, [0.0, 0.0])


def test_perceptron_subgradient_at_zero_and_learning_from_zero():
    value, grad = lossopt.Perceptron(reduction="sum").loss_and_gradient(
        np.zeros(4), np.array([1.0, -1.0, 0.0, 1.0]))
    assert value == 0.0
    np.testing.assert_array_equal(grad, [-1.0, 1.0, 1.0, -1.0])


def test_label_codings_agree(rng):
    p = rng.normal(size=30)
    y = rng.choice([-1.0, 1.0], size=30)
    for make in (lossopt.Hinge, lossopt.SquaredHinge, lossopt.Perceptron):
        a = make(reduction="none").loss_and_gradient(p, y)
        b = make(reduction="none").loss_and_gradient(p, (y + 1) / 2)
        c = make(reduction="none").loss_and_gradient(p, ((y + 1) / 2).astype(np.int64))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[1], c[1])


ALL = {
    "bce": lambda **o: lossopt.BinaryCrossEntropy(pos_weight=1.5, label_smoothing=0.1, **o),
    "hinge": lambda **o: lossopt.Hinge(**o),
    "squared_hinge": lambda **o: lossopt.SquaredHinge(**o),
    "perceptron": lambda **o: lossopt.Perceptron(**o),
}


def labels(rng, shape, name):
    return rng.uniform(size=shape) if name == "bce" else rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_float64_sums(rng, name, dtype):
    pred = (rng.normal(size=50_000) * 3).astype(dtype)
    target = labels(rng, 50_000, name).astype(dtype)
    value, grad = ALL[name]().loss_and_gradient(pred, target)
    assert grad.dtype == dtype
    ref_value, ref_grad = ALL[name]().loss_and_gradient(pred.astype(np.float64),
                                                        target.astype(np.float64))
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", list(ALL))
def test_out_in_place_and_layouts(rng, name):
    pred, target = rng.normal(size=(20, 4)), labels(rng, (20, 4), name)
    check_out_and_layouts(ALL[name](), pred, target)


KERNELS = [
    lambda p, t, g, sw, rl, nt: _binary.binary_cross_entropy(
        p, np.abs(t) / (1 + np.abs(t)), g, sw, 0.5, rl, nt, label_smoothing=0.1,
        pos_weight=2.0, min_parallel=0),
    lambda p, t, g, sw, rl, nt: _binary.binary_cross_entropy(
        p, np.abs(t) / (1 + np.abs(t)), g, sw, 0.5, rl, nt,
        pos_weight_cols=np.linspace(0.5, 2.0, p.shape[1]), min_parallel=0),
    lambda p, t, g, sw, rl, nt: _binary.hinge(p, np.sign(t), g, sw, 0.5, rl, nt,
                                              min_parallel=0),
    lambda p, t, g, sw, rl, nt: _binary.hinge(p, np.sign(t), g, sw, 0.5, rl, nt, squared=True,
                                              min_parallel=0),
    lambda p, t, g, sw, rl, nt: _binary.perceptron(p, np.sign(t), g, sw, 0.5, rl, nt,
                                                   min_parallel=0),
]


@pytest.mark.parametrize("kernel", range(len(KERNELS)))
@pytest.mark.parametrize("k, weighted, per_row", [(1, False, False), (1, True, True),
                                                  (3, False, False), (3, True, True)])
def test_threads_bit_identical(rng, kernel, k, weighted, per_row):
    """1 vs 2 threads (threshold off): identical sums, gradients, row losses."""
    n = 40_000 // k
    p, t = rng.normal(size=(n, k)) * 3, rng.normal(size=(n, k))
    sw = rng.uniform(size=n) if weighted else None
    check_kernel_thread_counts(KERNELS[kernel], p, t, sw, per_row)


def test_threads_through_the_api(rng):
    x, t = rng.normal(size=(200_000, 2)), rng.uniform(size=(200_000, 2))
    check_api_thread_counts(lossopt.BinaryCrossEntropy(), x, t)


@pytest.mark.parametrize("name", list(ALL))
def test_empty_zero_weights_and_nan(name):
    check_empty_zero_weights_and_nan(ALL[name], 1.0)
    assert np.isnan(ALL[name]()([-2.0, 1.0], [np.nan, 0.0]))        # NaN targets propagate


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: lossopt.Hinge()([1.0, 2.0], [1, 2]), ValueError,
     r"target must hold binary labels, -1/\+1 or 0/1; got 2\.0"),
    (lambda: lossopt.SquaredHinge()([1.0], [0.5]), ValueError, "target must hold binary"),
    (lambda: lossopt.Perceptron()([1.0], [-2]), ValueError, "target must hold binary"),
    (lambda: lossopt.BinaryCrossEntropy()([1.0, 2.0], [0.5, 1.5]), ValueError,
     r"target must hold probabilities of the positive class, in \[0, 1\]; got 1\.5"),
    (lambda: lossopt.BinaryCrossEntropy()([1.0], [-0.1]), ValueError, r"in \[0, 1\]"),
    (lambda: lossopt.BinaryCrossEntropy(pos_weight=-1.0)([1.0], [1.0]), ValueError,
     "pos_weight must be non-negative"),
    (lambda: lossopt.BinaryCrossEntropy(pos_weight=np.nan)([1.0], [1.0]), ValueError,
     r"pos_weight must be non-negative \(and not NaN\), got nan"),
    (lambda: lossopt.BinaryCrossEntropy(pos_weight=[1.0, np.nan])(np.ones((2, 2)), np.ones((2, 2))),
     ValueError, "pos_weight must be non-negative"),
    (lambda: lossopt.BinaryCrossEntropy(pos_weight=[1.0, 2.0])(np.ones((2, 3)), np.ones((2, 3))),
     ValueError, "pos_weight with shape"),
    (lambda: lossopt.BinaryCrossEntropy(label_smoothing=1.5)([1.0], [1.0]), ValueError,
     r"label_smoothing must be in \[0, 1\]"),
    (lambda: lossopt.Hinge(margin=np.inf)([1.0], [1.0]), ValueError, "margin must be finite"),
    (lambda: lossopt.Hinge(margin="a")([1.0], [1.0]), TypeError, "margin must be a float"),
    (lambda: lossopt.Hinge()([1.0], [1.0], sample_weight=[1.0, 1.0]), ValueError,
     r"sample_weight must have shape \(1,\)"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_bad_labels_raise_before_out_is_written():
    for loss, t in [(lossopt.Hinge(), [1.0, 2.0, 1.0]),
                    (lossopt.BinaryCrossEntropy(), [1.0, 2.0, 1.0])]:
        out = np.full(3, 7.0)
        with pytest.raises(ValueError, match="target must"):
            loss.gradient(np.zeros(3), np.array(t), out=out)
        assert (out == 7).all()
        pred = np.ones(3)
        with pytest.raises(ValueError, match="target must"):
            loss.gradient(pred, np.array(t), out=pred)
        assert (pred == 1).all()


@given(st.sampled_from(list(ALL)), st.integers(0, 30), st.integers(1, 4),
       st.sampled_from([np.float32, np.float64]), st.sampled_from(["mean", "sum", "none"]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_property_against_reference(name, n, k, dtype, reduction, strided, seed):
    rng = np.random.default_rng(seed)
    pred = (rng.normal(size=(n, 2 * k)) * 4).astype(dtype)
    target = labels(rng, (n, 2 * k), name).astype(dtype)
    if strided:
        pred, target = pred[:, ::2], target[:, 1::2]
    else:
        pred, target = pred[:, :k], target[:, :k]
    value, grad = ALL[name](reduction=reduction).loss_and_gradient(pred, target)
    p64, t64 = pred.astype(np.float64), target.astype(np.float64)
    ref = {"bce": lambda: ref_bce(p64, t64, 1.5, 0.1),
           "hinge": lambda: ref_hinge(p64, t64),
           "squared_hinge": lambda: ref_squared_hinge(p64, t64),
           "perceptron": lambda: ref_perceptron(p64, t64)}[name]()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, reduce_reference(ref[0], reduction), rtol=rtol,
                               atol=1e-12)
    np.testing.assert_allclose(grad, gradient_reference(ref[1], reduction), rtol=rtol,
                               atol=1e-6 if dtype == np.float32 else 1e-15)
    assert grad.dtype == dtype and grad.shape == pred.shape


def test_pos_weight_with_leading_unit_axis_as_torch(rng):
    """torch accepts pos_weight of shape (1, K) for (N, K) logits: one weight
    per output, the same as shape (K,)."""
    x, t = rng.normal(size=(6, 3)) * 3, rng.uniform(size=(6, 3))
    pw = rng.uniform(0.5, 2.0, size=3)
    ref = lossopt.BinaryCrossEntropy(pos_weight=pw).loss_and_gradient(x, t)
    got = lossopt.BinaryCrossEntropy(pos_weight=pw[None, :]).loss_and_gradient(x, t)
    assert got[0] == ref[0]
    np.testing.assert_array_equal(got[1], ref[1])
    # the value itself, written out: t softplus(-x) pw + (1 - t) softplus(x), per sample summed
    per = pw * t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)
    assert got[0] == pytest.approx(per.sum(axis=1).mean(), rel=1e-13)
    with pytest.raises(ValueError, match="pos_weight.*vary along the samples"):
        lossopt.BinaryCrossEntropy(pos_weight=np.ones((6, 3)))(x, t)


def test_target_outside_unit_interval_is_caught_before_the_float32_cast():
    """1 + 1e-9 rounds to 1.0 in float32; the caller's target is still outside [0, 1]."""
    x = np.zeros(3, dtype=np.float32)
    with pytest.raises(ValueError, match="target must hold probabilities"):
        lossopt.BinaryCrossEntropy()(x, np.array([0.5, 1.0 + 1e-9, 0.0]))
    with pytest.raises(ValueError, match="target must hold binary labels"):
        lossopt.Hinge()(x, np.array([1.0, -1.0 - 1e-9, 0.0]))


@pytest.mark.parametrize("make, value", [
    (lambda v: lossopt.Hinge(margin=v), "2"), (lambda v: lossopt.Hinge(margin=v), True),
    (lambda v: lossopt.Huber(delta=v), "2"), (lambda v: lossopt.MulticlassHinge(margin=v), "2"),
    (lambda v: lossopt.BinaryCrossEntropy(label_smoothing=v), "0.1"),
])
def test_string_and_bool_hyper_parameters_are_refused(make, value):
    x = np.zeros((2, 3))
    target = np.array([0, 1]) if "Multiclass" in repr(make(1.0)) else np.ones((2, 3))
    with pytest.raises(TypeError, match="must be a"):
        make(value)(x, target)
