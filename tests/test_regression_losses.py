"""AbsoluteError, Huber, GaussianNLL and PoissonNLL: values and gradients
against NumPy float64 references and central differences, kinks, edges
against mpmath, dtypes, layouts, threads, hypothesis, and bad input.
(SquaredError has its own file; torch parity is in test_torch_parity.py.)"""

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

import lossopt
from lossopt._kernels import _regression
from helpers import (check_api_thread_counts, check_empty_zero_weights_and_nan,
                     check_kernel_thread_counts, check_out_and_layouts, gradient_reference,
                     numerical_gradient, reduce_reference)
from helpers import restore_mpmath_precision  # noqa: F401 (autouse fixture)

SHAPES = [(11,), (11, 3), (5, 2, 2)]


# ------------------------------------------------------------ references --

def ref_absolute(p, t):
    d = p - t
    return np.abs(d), np.sign(d)


def ref_huber(p, t, delta=1.0):
    d = p - t
    z = np.abs(d)
    return np.where(z < delta, 0.5 * d * d, delta * (z - 0.5 * delta)), np.clip(d, -delta, delta)


def ref_poisson(p, t, log_input=True, full=False, eps=1e-8):
    if log_input:
        loss, grad = np.exp(p) - t * p, np.exp(p) - t
    else:
        loss, grad = p - t * np.log(p + eps), 1 - t / (p + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            st_ = t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)
        loss = loss + np.where(t > 1, st_, 0.0)
    return loss, grad


def ref_gaussian(p, t, v, full=False, eps=1e-6):
    vc = np.maximum(v, eps)
    d = p - t
    loss = 0.5 * (np.log(vc) + d * d / vc) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return loss, d / vc, 0.5 * (1 / vc - d * d / vc ** 2)


def data_regression(rng, shape):
    """Predictions and targets with |d| in [0.1, 3], away from 0 and from the
    Huber thresholds used below (0.7 +- 0.05, 1 +- 0.05, 2 +- 0.05)."""
    t = rng.normal(size=shape)
    d = rng.choice([0.1, 0.4, 0.9, 1.3, 1.6, 2.5, 3.0], size=shape) * rng.choice([-1, 1],
                                                                                  size=shape)
    d = d + rng.uniform(-0.02, 0.02, size=shape)
    return t + d, t


def data_poisson(rng, shape, log_input):
    t = rng.poisson(3.0, size=shape).astype(np.float64)
    t.reshape(-1)[:3] = [0.0, 1.0, 0.5]
    p = rng.normal(size=shape) if log_input else rng.uniform(0.2, 4.0, size=shape)
    return p, t


CASES = {
    "absolute": (lambda **o: lossopt.AbsoluteError(**o), ref_absolute, {}),
    "huber-0.7": (lambda **o: lossopt.Huber(delta=0.7, **o),
                  lambda p, t: ref_huber(p, t, 0.7), {}),
    "huber-1": (lambda **o: lossopt.Huber(**o), ref_huber, {}),
    "huber-2": (lambda **o: lossopt.Huber(delta=2.0, **o),
                lambda p, t: ref_huber(p, t, 2.0), {}),
}
for _log, _full in itertools.product([True, False], [False, True]):
    CASES[f"poisson-log{_log}-full{_full}"] = (
        (lambda lg, fl: lambda **o: lossopt.PoissonNLL(log_input=lg, full=fl, **o))(_log, _full),
        (lambda lg, fl: lambda p, t: ref_poisson(p, t, lg, fl))(_log, _full),
        {"log_input": _log})


def case_data(name, rng, shape):
    if name.startswith("poisson"):
        return data_poisson(rng, shape, CASES[name][2]["log_input"])
    return data_regression(rng, shape)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("shape, reduction, weighted", list(itertools.product(
    SHAPES, ["mean", "sum", "none"], [False, True])))
def test_values_and_gradients(rng, name, shape, reduction, weighted):
    make, ref, _ = CASES[name]
    pred, target = case_data(name, rng, shape)
    sw = rng.uniform(0, 2, size=shape[0]) if weighted else None
    if weighted:
        sw[1] = 0.0
    loss = make(reduction=reduction)
    elem_loss, elem_grad = ref(pred, target)
    expected = reduce_reference(elem_loss, reduction, sw)
    value, grad = loss.loss_and_gradient(pred, target, sw)
    np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(loss(pred, target, sw), expected, rtol=1e-13, atol=1e-15)
    assert grad.shape == shape
    np.testing.assert_allclose(grad, gradient_reference(elem_grad, reduction, sw),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(grad, loss.gradient(pred, target, sw))
    red = "sum" if reduction == "none" else reduction
    num = numerical_gradient(lambda p: reduce_reference(ref(p, target)[0], red, sw), pred,
                             h=1e-4)
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)


def test_absolute_error_subgradient_at_the_kink():
    pred = np.array([1.0, 2.0, -3.0, 0.5])
    target = np.array([1.0, 2.0, -3.0, 0.0])
    value, grad = lossopt.AbsoluteError(reduction="sum").loss_and_gradient(pred, target)
    assert value == 0.5
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("delta", [0.5, 1.0, 1.7])
def test_huber_at_plus_minus_delta_against_mpmath(delta):
    mpmath.mp.dps = 50
    target = np.array([0.3, 0.3])
    pred = target + np.array([delta, -delta])
    d = [mpmath.mpf(float(p)) - mpmath.mpf(float(t)) for p, t in zip(pred, target)]
    value, grad = lossopt.Huber(delta=delta, reduction="none").loss_and_gradient(pred, target)
    for i in range(2):
        z = abs(d[i])
        ref = z * z / 2 if z < delta else delta * (z - mpmath.mpf(delta) / 2)
        assert value[i] == pytest.approx(float(ref), rel=1e-15)
        # continuously differentiable: the slope at +-delta is +-delta from either side
        assert grad[i] == pytest.approx(float(max(min(d[i], delta), -delta)), rel=1e-15)
    # both pieces meet: just inside and just outside the threshold
    for side in (np.nextafter(delta, 0), np.nextafter(delta, 2 * delta)):
        v = lossopt.huber([side], [0.0], delta=delta, reduction="sum")
        assert v == pytest.approx(0.5 * delta * delta, rel=1e-14)


# ------------------------------------------------------------ GaussianNLL --

@pytest.mark.parametrize("var_kind", ["full", "per_sample", "scalar", "size1_axis", "float"])
@pytest.mark.parametrize("full, eps", [(False, 1e-6), (True, 1e-6), (False, 0.3)])
@pytest.mark.parametrize("reduction, weighted", [("mean", False), ("mean", True),
                                                 ("sum", False), ("none", True)])
def test_gaussian_nll(rng, var_kind, full, eps, reduction, weighted):
    shape = (7, 3)
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    var = {"full": rng.uniform(0.1, 2.0, size=shape),
           "per_sample": rng.uniform(0.1, 2.0, size=7),
           "scalar": np.array(0.8),
           "size1_axis": rng.uniform(0.1, 2.0, size=(7, 1)),
           "float": 0.8}[var_kind]
    if var_kind == "full":
        var[0, 0] = 0.1 * eps          # below the clamp
    sw = rng.uniform(0.5, 2.0, size=7) if weighted else None
    var_b = np.asarray(var)[..., None] if var_kind == "per_sample" else np.asarray(var)
    var_full = np.broadcast_to(var_b, shape)
    loss = lossopt.GaussianNLL(full=full, eps=eps, reduction=reduction)
    value, (d_pred, d_var) = loss.loss_and_gradient(pred, target, var, sw)
    el, gp, gv = ref_gaussian(pred, target, var_full, full, eps)
    np.testing.assert_allclose(value, reduce_reference(el, reduction, sw), rtol=1e-13)
    np.testing.assert_allclose(loss(pred, target, var, sw), value, rtol=0, atol=0)
    np.testing.assert_allclose(d_pred, gradient_reference(gp, reduction, sw), rtol=1e-13)
    gv_full = gradient_reference(gv, reduction, sw)
    assert d_var.shape == np.shape(var)
    expected_gv = {"full": gv_full, "per_sample": gv_full.sum(axis=1),
                   "scalar": gv_full.sum(), "size1_axis": gv_full.sum(axis=1, keepdims=True),
                   "float": gv_full.sum()}[var_kind]
    np.testing.assert_allclose(d_var, expected_gv, rtol=1e-12, atol=1e-15)
    # central differences, away from the clamp (which torch does not differentiate)
    # (the clamped element's huge loss would swamp the differences of the
    # others: they are taken with its variance at 1, and it is left out)
    red = "sum" if reduction == "none" else reduction
    var_num = var_full.copy()
    if var_kind == "full":
        var_num[0, 0] = 1.0
    num = numerical_gradient(lambda p: reduce_reference(
        ref_gaussian(p, target, var_num, full, eps)[0], red, sw), pred, h=1e-4)
    keep = np.ones(shape, bool)
    keep[0, 0] = var_kind != "full"
    np.testing.assert_allclose(d_pred[keep], num[keep], rtol=1e-7, atol=1e-9)
    if var_kind != "full":
        num_v = numerical_gradient(lambda v: reduce_reference(ref_gaussian(
            pred, target, np.broadcast_to(
                np.asarray(v)[..., None] if var_kind == "per_sample" else v, shape),
            full, eps)[0], red, sw), np.asarray(var, dtype=np.float64), h=1e-5)
        np.testing.assert_allclose(d_var, num_v, rtol=1e-6)


def test_gaussian_nll_clamp_is_not_differentiated():
    """Like torch, below eps the variance gradient is the one at eps."""
    value, (_, d_var) = lossopt.GaussianNLL(eps=0.5, reduction="sum").loss_and_gradient(
        [1.0], [0.0], [0.1])
    assert value == pytest.approx(0.5 * (np.log(0.5) + 2.0), rel=1e-15)
    assert d_var[0] == pytest.approx(0.5 * (1 / 0.5 - 1 / 0.25), rel=1e-15)


def test_gaussian_nll_with_fixed_precision_is_scaled_squared_error(rng):
    """NLL with var = 1/beta: beta * SquaredError + (MK/2)(ln 2 pi - ln beta)."""
    m, k, beta = 40, 3, 2.5
    pred, target = rng.normal(size=(m, k)), rng.normal(size=(m, k))
    nll = lossopt.GaussianNLL(full=True, eps=0.0, reduction="sum")
    value, (d_pred, _) = nll.loss_and_gradient(pred, target, 1.0 / beta)
    se, se_grad = lossopt.SquaredError(reduction="sum").loss_and_gradient(pred, target)
    const = m * k / 2 * (np.log(2 * np.pi) - np.log(beta))
    assert value == pytest.approx(beta * se + const, rel=1e-13)
    np.testing.assert_allclose(d_pred, beta * se_grad, rtol=1e-14)
    # and the same minimiser: at pred == target both gradients vanish
    _, (g0, _) = nll.loss_and_gradient(target, target, 1.0 / beta)
    np.testing.assert_array_equal(g0, 0.0)


def test_gaussian_nll_log_over_the_whole_range_against_mpmath():
    """0.5 ln v for v from subnormal to huge (exercises the vectorised log)."""
    mpmath.mp.dps = 40
    var = np.array([5e-324, 1e-310, 2.2e-308, 1e-300, 1e-20, 0.3, 1.0, 1 + 2**-52, 1.5,
                    2.0, 1e20, 1e300, 1.7e308])
    got = lossopt.GaussianNLL(eps=0.0, reduction="none")(np.zeros((13, 1)), np.zeros((13, 1)),
                                                         var[:, None])
    for g, v in zip(got, var):
        ref = float(mpmath.log(mpmath.mpf(float(v))) / 2)
        assert abs(g - ref) <= 2 * np.spacing(abs(ref)) + 1e-300, v


def test_gaussian_nll_out_pairs(rng):
    pred, target, var = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)), rng.uniform(
        0.5, 1, size=(6, 2))
    loss = lossopt.GaussianNLL()
    value, (gp, gv) = loss.loss_and_gradient(pred, target, var)
    op, ov = np.empty_like(pred), np.empty_like(var)
    v2, (gp2, gv2) = loss.loss_and_gradient(pred, target, var, out=(op, ov))
    assert gp2 is op and gv2 is ov and v2 == value
    np.testing.assert_array_equal(op, gp)
    np.testing.assert_array_equal(ov, gv)
    p = pred.copy()
    _, (g3, _) = loss.loss_and_gradient(p, target, var, out=(p, None))
    assert g3 is p
    np.testing.assert_array_equal(p, gp)
    ov1 = np.empty(6)
    _, (_, g4) = loss.loss_and_gradient(pred, target, var[:, 0], out=(None, ov1))
    assert g4 is ov1


@pytest.mark.parametrize("call, exc, msg", [
    (dict(var=-np.ones((4, 2))), ValueError, "var must be non-negative"),
    (dict(var=-1.0), ValueError, "var must be non-negative"),
    (dict(var=np.ones(3)), ValueError, "var must have pred's shape"),
    (dict(var=np.ones((2, 4, 2))), ValueError, "var must have pred's shape"),
    (dict(var=np.array(["a"])), TypeError, "var must be a real numeric"),
    (dict(out=np.empty((4, 2))), TypeError, "out must be None or a pair"),
    (dict(out=(None, np.empty(3))), ValueError, r"out_var must have shape \(4, 2\)"),
])
def test_gaussian_nll_errors(call, exc, msg):
    args = dict(pred=np.zeros((4, 2)), target=np.ones((4, 2)), var=np.ones((4, 2)), out=None)
    args.update(call)
    with pytest.raises(exc, match=msg):
        lossopt.GaussianNLL().gradient(**args)
    with pytest.raises(ValueError, match="eps must be a finite float >= 0"):
        lossopt.GaussianNLL(eps=-1.0)(np.zeros(2), np.zeros(2), 1.0)


def test_negative_variance_raises_before_out_is_written():
    out = (np.full((3, 1), 7.0), np.full((3, 1), 7.0))
    var = np.array([[1.0], [-1.0], [1.0]])
    with pytest.raises(ValueError, match=r"var must be non-negative; got -1\.0"):
        lossopt.GaussianNLL().gradient(np.zeros((3, 1)), np.zeros((3, 1)), var, out=out)
    assert (out[0] == 7).all() and (out[1] == 7).all()


# ------------------------------------------------------------- PoissonNLL --

def test_poisson_stirling_term_is_masked_at_small_counts():
    t = np.array([0.0, 0.5, 1.0, 1.5, 10.0])
    p = np.zeros(5)
    plain = lossopt.PoissonNLL(reduction="none")(p, t)
    full = lossopt.PoissonNLL(full=True, reduction="none")(p, t)
    np.testing.assert_array_equal(full[:3], plain[:3])
    for i in (3, 4):
        st_ = t[i] * np.log(t[i]) - t[i] + 0.5 * np.log(2 * np.pi * t[i])
        assert full[i] - plain[i] == pytest.approx(st_, rel=1e-13)
    # Stirling approximates ln(10!) to within 1/(12 * 10)
    assert abs(full[4] - plain[4] - np.log(3628800.0)) < 1 / 120


def test_poisson_log_input_minimiser_is_the_log_count():
    t = np.array([3.0, 0.5, 7.0])
    _, g = lossopt.PoissonNLL().loss_and_gradient(np.log(t), t)
    np.testing.assert_allclose(g, 0.0, atol=1e-15)
    _, g = lossopt.PoissonNLL(log_input=False, eps=0.0).loss_and_gradient(t, t)
    np.testing.assert_allclose(g, 0.0, atol=1e-15)


# ------------------------------------------------------- common behaviour --

ALL = {
    "absolute": lambda **o: lossopt.AbsoluteError(**o),
    "huber": lambda **o: lossopt.Huber(delta=0.8, **o),
    "poisson": lambda **o: lossopt.PoissonNLL(**o),
    "poisson-rate-full": lambda **o: lossopt.PoissonNLL(log_input=False, full=True, **o),
}


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_float64_sums(rng, name, dtype):
    pred = rng.uniform(0.1, 2.0, size=(50_000,)).astype(dtype)
    target = rng.poisson(2.0, size=50_000).astype(dtype)
    loss = ALL[name]()
    value, grad = loss.loss_and_gradient(pred, target)
    assert grad.dtype == dtype
    ref_value, ref_grad = ALL[name]().loss_and_gradient(pred.astype(np.float64),
                                                        target.astype(np.float64))
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", list(ALL))
def test_out_in_place_and_layouts(rng, name):
    pred = rng.uniform(0.1, 2.0, size=(20, 4))
    target = rng.poisson(2.0, size=(20, 4)).astype(np.float64)
    check_out_and_layouts(ALL[name](), pred, target)


KERNELS = [
    lambda p, t, g, sw, rl, nt: _regression.squared_error(p, t, g, sw, 0.5, rl, nt,
                                                           min_parallel=0),
    lambda p, t, g, sw, rl, nt: _regression.absolute_error(p, t, g, sw, 0.5, rl, nt,
                                                            min_parallel=0),
    lambda p, t, g, sw, rl, nt: _regression.huber(p, t, g, sw, 0.5, rl, nt, delta=0.5,
                                                   min_parallel=0),
    lambda p, t, g, sw, rl, nt: _regression.poisson_nll(p, np.abs(t), g, sw, 0.5, rl, nt,
                                                         full=True, min_parallel=0),
    lambda p, t, g, sw, rl, nt: _regression.poisson_nll(p, np.abs(t), g, sw, 0.5, rl, nt,
                                                         log_input=False, min_parallel=0),
    lambda p, t, g, sw, rl, nt: _regression.gaussian_nll(p, t, np.abs(t), g, np.empty_like(g),
                                                          sw, 0.5, rl, nt, full=True,
                                                          min_parallel=0),
]


@pytest.mark.parametrize("kernel", range(len(KERNELS)))
@pytest.mark.parametrize("k, weighted, per_row", [(1, False, False), (1, True, True),
                                                  (3, False, False), (3, True, True)])
def test_threads_bit_identical(rng, kernel, k, weighted, per_row):
    """1 vs 2 threads (threshold off): identical sums, gradients, row losses."""
    n = 40_000 // k
    p, t = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    sw = rng.uniform(size=n) if weighted else None
    check_kernel_thread_counts(KERNELS[kernel], p, t, sw, per_row)


def test_threads_through_the_api(rng):
    pred, target = rng.normal(size=(200_000, 2)), rng.normal(size=(200_000, 2))
    check_api_thread_counts(lossopt.Huber(), pred, target)


@pytest.mark.parametrize("name", list(ALL))
def test_empty_zero_weights_and_nan(name):
    check_empty_zero_weights_and_nan(ALL[name], 2.0)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: lossopt.Huber(delta=0.0)([1.0], [0.0]), ValueError, "delta must be a finite"),
    (lambda: lossopt.Huber(delta="a")([1.0], [0.0]), TypeError, "delta must be a float"),
    (lambda: lossopt.PoissonNLL()([1.0, 2.0], [1.0, -1.0]), ValueError,
     r"target must be non-negative; got -1\.0"),
    (lambda: lossopt.PoissonNLL(eps=-1)([1.0], [1.0]), ValueError, "eps must be a finite"),
    (lambda: lossopt.AbsoluteError()([1.0, 2.0], [1.0]), ValueError,
     "target must have the shape of pred"),
    (lambda: lossopt.AbsoluteError().gradient([1.0], [1.0], out=np.empty(1, np.float32)),
     TypeError, "out must have dtype float64"),
    (lambda: lossopt.Huber(reduction="avg")([1.0], [1.0]), ValueError,
     "reduction must be one of"),
    (lambda: lossopt.Huber()([1.0], [1.0], sample_weight=[-1.0]), ValueError,
     "sample_weight must be non-negative"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_bad_target_raises_before_out_is_written():
    out = np.full(3, 7.0)
    with pytest.raises(ValueError, match="target must be non-negative"):
        lossopt.PoissonNLL().gradient(np.zeros(3), np.array([1.0, -2.0, 1.0]), out=out)
    assert (out == 7).all()
    pred = np.zeros(3)
    with pytest.raises(ValueError, match="target must be non-negative"):
        lossopt.PoissonNLL().gradient(pred, np.array([1.0, -2.0, 1.0]), out=pred)
    assert (pred == 0).all()


@given(st.sampled_from(list(ALL)), st.integers(0, 30), st.integers(1, 4),
       st.sampled_from([np.float32, np.float64]), st.sampled_from(["mean", "sum", "none"]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_property_against_reference(name, n, k, dtype, reduction, strided, seed):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.1, 3.0, size=(n, 2 * k)).astype(dtype)
    target = rng.poisson(2.0, size=(n, 2 * k)).astype(dtype)
    if strided:
        pred, target = pred[:, ::2], target[:, 1::2]
    else:
        pred, target = pred[:, :k], target[:, :k]
    loss = ALL[name](reduction=reduction)
    value, grad = loss.loss_and_gradient(pred, target)
    p64, t64 = pred.astype(np.float64), target.astype(np.float64)
    ref = {"absolute": lambda: ref_absolute(p64, t64),
           "huber": lambda: ref_huber(p64, t64, 0.8),
           "poisson": lambda: ref_poisson(p64, t64),
           "poisson-rate-full": lambda: ref_poisson(p64, t64, False, True)}[name]()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, reduce_reference(ref[0], reduction), rtol=rtol,
                               atol=1e-12)
    np.testing.assert_allclose(grad, gradient_reference(ref[1], reduction), rtol=rtol,
                               atol=1e-6 if dtype == np.float32 else 1e-15)
    assert grad.dtype == dtype and grad.shape == pred.shape


@given(st.integers(0, 20), st.integers(1, 3), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["mean", "sum", "none"]), st.sampled_from(["full", "per_sample",
                                                                  "scalar"]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_gaussian_nll_property(n, k, dtype, reduction, var_kind, strided, seed):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(n, 2 * k)).astype(dtype)
    target = rng.normal(size=(n, 2 * k)).astype(dtype)
    pred, target = (pred[:, ::2], target[:, 1::2]) if strided else (pred[:, :k], target[:, :k])
    var = {"full": rng.uniform(0.2, 3.0, size=(n, k)), "per_sample": rng.uniform(
        0.2, 3.0, size=n), "scalar": np.float64(1.3)}[var_kind].astype(dtype)
    var_full = np.broadcast_to(var[:, None] if var_kind == "per_sample" else var, (n, k))
    value, (d_pred, d_var) = lossopt.GaussianNLL(reduction=reduction).loss_and_gradient(
        pred, target, var)
    el, gp, gv = ref_gaussian(pred.astype(np.float64), target.astype(np.float64),
                              var_full.astype(np.float64))
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(value, reduce_reference(el, reduction), rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(d_pred, gradient_reference(gp, reduction), rtol=rtol,
                               atol=1e-6 if dtype == np.float32 else 1e-15)
    gv = gradient_reference(gv, reduction)
    ref_dv = {"full": gv, "per_sample": gv.sum(axis=1), "scalar": gv.sum()}[var_kind]
    np.testing.assert_allclose(d_var, ref_dv, rtol=rtol, atol=1e-5 if dtype == np.float32
                               else 1e-13)
    assert d_pred.dtype == dtype and d_var.shape == np.shape(var)


def test_gaussian_nll_refuses_one_array_for_both_outputs(rng):
    p, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    v = rng.uniform(0.5, 2.0, size=(5, 3))
    b = np.full((5, 3), 7.0)
    with pytest.raises(ValueError, match="out_pred and out_var overlap"):
        lossopt.GaussianNLL().gradient(p, y, v, out=(b, b))
    np.testing.assert_array_equal(b, 7.0)                  # nothing written
    b2 = np.empty((5, 6))
    with pytest.raises(ValueError, match="overlap"):
        lossopt.GaussianNLL().gradient(p, y, v, out=(b2[:, :3], b2[:, 2:5]))


def test_negative_variance_is_caught_before_the_float32_cast():
    """-1e-50 rounds to -0.0 in float32; the caller's variance is still negative."""
    p = np.zeros(3, dtype=np.float32)
    with pytest.raises(ValueError, match="var must be non-negative"):
        lossopt.GaussianNLL()(p, np.zeros(3), np.array([1.0, -1e-50, 1.0]))
