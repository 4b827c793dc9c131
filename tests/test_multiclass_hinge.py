"""MulticlassHinge: Weston-Watkins (torch's multi_margin_loss) and
Crammer-Singer (optax's multiclass_hinge_loss) against independent NumPy
float64 references; gradients against central differences away from the
kinks and the documented subgradient at them."""

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import lossopt
from lossopt._kernels import _margin
from helpers import (LAYOUTS, check_error_writes_nothing, check_out_layouts, layout,
                     numerical_gradient, same_bits_on_1_and_2_threads)

N, C = 10, 5
REDUCTIONS = ["mean", "sum", "none"]
KINDS = ["weston_watkins", "crammer_singer"]


def _inputs(scores, labels, class_weight, sample_weight):
    x = np.asarray(scores, np.float64)
    n, c = x.shape
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return x, n, c, np.asarray(labels), np.arange(n), w, sw


def reference(scores, labels, margin=1.0, kind="weston_watkins", p=1, class_weight=None,
              reduction="mean", sample_weight=None):
    """Per-sample losses straight from the formulas, in float64."""
    x, n, c, y, rows, w, sw = _inputs(scores, labels, class_weight, sample_weight)
    if kind == "weston_watkins":
        z = margin - x[rows, y][:, None] + x
        z[rows, y] = 0.0
        per = (np.maximum(z, 0.0) ** p).sum(axis=1) / c
    else:
        # optax: max_j (x_j + margin [j != y]) - x_y
        onehot = np.eye(c)[y] if n else np.zeros((0, c))
        h = (x + margin * (1 - onehot)).max(axis=1, initial=-np.inf) - x[rows, y]
        per = h ** p
    per = per * w[y] * sw
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / sw.sum() if sw.sum() != 0 else 0.0


def reference_gradient(scores, labels, margin=1.0, kind="weston_watkins", p=1,
                       class_weight=None, sample_weight=None, scale=1.0):
    """The documented (sub)gradient of the summed loss, times `scale`."""
    x, n, c, y, rows, w, sw = _inputs(scores, labels, class_weight, sample_weight)
    g = np.zeros((n, c))
    if kind == "weston_watkins":
        lw = sw * w[y] / c
        z = margin - x[rows, y][:, None] + x
        on = z > 0
        on[rows, y] = False
        d = np.where(on, p * np.where(on, z, 1.0) ** (p - 1), 0.0) * lw[:, None]
        g += d
        g[rows, y] = -d.sum(axis=1)
    else:
        lw = sw * w[y]
        others = x.copy()
        others[rows, y] = -np.inf
        k = others.argmax(axis=1) if n else np.zeros(0, int)
        h = margin + others[rows, k] - x[rows, y]
        d = np.where(h > 0, p * np.where(h > 0, h, 1.0) ** (p - 1), 0.0) * lw
        g[rows, k] += d
        g[rows, y] -= d
    return g * scale


def away_from_kinks(rng, n, c, margin, dtype=np.float64):
    """Scores and labels with every hinge term and every gap between the
    largest competitors at least 0.01 away from 0 (central differences with
    h = 1e-3 do not cross a kink)."""
    while True:
        x = (rng.normal(size=(n, c)) * 1.5).astype(dtype)
        y = rng.integers(0, c, size=n)
        rows = np.arange(n)
        z = margin - x[rows, y][:, None] + x
        z[rows, y] = 1.0
        others = np.where(np.eye(c, dtype=bool)[y], -np.inf, x)
        top2 = np.sort(others, axis=1)[:, -2:]
        if np.all(np.abs(z) > 0.01) and np.all(top2[:, 1] - top2[:, 0] > 0.01):
            return x, y


OPTIONS = list(itertools.product(KINDS, [1, 2], [1.0, 0.5], [False, True], REDUCTIONS,
                                 [False, True]))


@pytest.mark.parametrize("kind, p, margin, weighted, reduction, sample_weighted", OPTIONS)
def test_values_and_gradients(rng, kind, p, margin, weighted, reduction, sample_weighted):
    x, y = away_from_kinks(rng, N, C, margin)
    cw = rng.uniform(0.2, 2.0, size=C) if weighted else None
    sw = rng.uniform(0.0, 2.0, size=N) if sample_weighted else None
    loss = lossopt.MulticlassHinge(margin=margin, kind=kind, p=p, class_weight=cw,
                                   reduction=reduction)
    ref = reference(x, y, margin, kind, p, cw, reduction, sw)
    value, grad = loss.loss_and_gradient(x, y, sw)
    np.testing.assert_allclose(value, ref, rtol=1e-14)
    np.testing.assert_allclose(loss(x, y, sw), ref, rtol=1e-14)
    np.testing.assert_array_equal(grad, loss.gradient(x, y, sw))
    red = "sum" if reduction == "none" else reduction
    num = numerical_gradient(lambda s: reference(s, y, margin, kind, p, cw, red, sw), x)
    np.testing.assert_allclose(grad, num, rtol=1e-8, atol=1e-10)
    assert lossopt.multiclass_hinge(x, y, sample_weight=sw, margin=margin, kind=kind, p=p,
                                    class_weight=cw, reduction=reduction) == \
        pytest.approx(ref, rel=1e-14)


@pytest.mark.parametrize("kind, p, c", itertools.product(KINDS, [1, 2], [64, 130]))
def test_long_rows(rng, kind, p, c):
    """Rows of 64 classes and more take the row-by-row path of the kernel."""
    n = 40
    x = rng.normal(size=(n, c)) * 0.3
    y = rng.integers(0, c, size=n)
    cw = rng.uniform(0.5, 2, size=c)
    sw = rng.uniform(0, 2, size=n)
    sw[3] = 0.0
    x[3, 5] = np.nan                              # weighted 0: contributes nothing
    x[7, (y[7] + 1) % c] = np.nan                 # propagates to row 7
    loss = lossopt.MulticlassHinge(kind=kind, p=p, class_weight=cw, reduction="none")
    value, grad = loss.loss_and_gradient(x, y, sw)
    ok = np.arange(n) != 7
    np.testing.assert_allclose(value[ok], reference(np.nan_to_num(x[ok]), y[ok], 1.0, kind, p,
                                                    cw, "none", sw[ok]), rtol=1e-14)
    np.testing.assert_allclose(grad[ok], reference_gradient(np.nan_to_num(x[ok]), y[ok], 1.0,
                                                            kind, p, cw, sw[ok]),
                               rtol=1e-14, atol=1e-300)
    assert np.isnan(value[7]) and np.isnan(grad[7, y[7]])
    assert value[3] == 0.0 and not grad[3].any()
    # the same rows through the short-row path (the first 63 classes of each)
    short = x[:, :63].copy()
    ys = np.minimum(y, 62)
    v_short = lossopt.MulticlassHinge(kind=kind, p=p, reduction="none")(short, ys)
    v_wide = lossopt.MulticlassHinge(kind=kind, p=p, reduction="none")(
        np.concatenate([short, np.full((n, 1), -1e300)], axis=1), ys)
    scale = 64 / 63 if kind == "weston_watkins" else 1.0
    np.testing.assert_allclose(v_wide[ok] * scale, v_short[ok], rtol=1e-14)


def test_the_two_kinds_on_a_worked_example():
    x = np.array([[3.0, 2.5, 0.0, 2.8]])
    y = [0]
    # WW: terms 0.5, 0 (-2), 0.8 -> 1.3 / 4; CS: 1 + 2.8 - 3 = 0.8
    assert lossopt.multiclass_hinge(x, y) == pytest.approx(1.3 / 4, rel=1e-15)
    assert lossopt.multiclass_hinge(x, y, kind="crammer_singer") == pytest.approx(0.8,
                                                                                   rel=1e-15)
    assert lossopt.multiclass_hinge(x, y, kind="crammer_singer", p=2) == \
        pytest.approx(0.64, rel=1e-15)
    g = lossopt.MulticlassHinge(p=2).gradient(x, y)
    np.testing.assert_allclose(g, [[-2 * 1.3 / 4, 1.0 / 4, 0.0, 1.6 / 4]], rtol=1e-15)


def test_subgradient_at_the_kinks():
    """A term exactly 0 contributes 0; Crammer-Singer ties in the max give the
    whole gradient to the first maximiser (as np.argmax)."""
    x = np.array([[1.0, 0.0, -3.0],             # WW term for class 1 exactly 0
                  [0.0, 2.0, 2.0],              # CS tie between classes 1 and 2
                  [2.0, 1.0, 1.0]])             # CS: h exactly 0, a tie as well
    y = np.array([0, 0, 0])
    ww = lossopt.MulticlassHinge(reduction="sum")
    value, g = ww.loss_and_gradient(x[:1], y[:1])
    assert value == 0.0
    np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0]])
    assert not np.signbit(g).any()
    cs = lossopt.MulticlassHinge(kind="crammer_singer", reduction="sum")
    value, g = cs.loss_and_gradient(x[1:], y[1:])
    assert value == 3.0
    np.testing.assert_array_equal(g, [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(np.argmax(np.where([[0, 1, 1]], x[1:2], -np.inf)), 1)
    value, g = lossopt.MulticlassHinge(kind="crammer_singer", p=2, reduction="sum") \
        .loss_and_gradient(x[1:2], y[:1])
    assert value == 9.0
    np.testing.assert_array_equal(g, [[-6.0, 6.0, 0.0]])


def test_weston_watkins_is_the_sum_form_and_crammer_singer_the_max_form(rng):
    """With two classes both are the binary hinge of the score difference,
    up to WW's division by C = 2."""
    x = rng.normal(size=(50, 2))
    y = rng.integers(0, 2, size=50)
    d = x[np.arange(50), y] - x[np.arange(50), 1 - y]
    hinge = np.maximum(0.0, 1.0 - d)
    np.testing.assert_allclose(lossopt.MulticlassHinge(reduction="none")(x, y), hinge / 2,
                               rtol=1e-15)
    np.testing.assert_allclose(
        lossopt.MulticlassHinge(kind="crammer_singer", reduction="none")(x, y), hinge,
        rtol=1e-15)


def test_one_class_and_empty():
    for kind in KINDS:
        loss = lossopt.MulticlassHinge(kind=kind, reduction="sum")
        v, g = loss.loss_and_gradient(np.array([[3.0], [-1.0]]), [0, 0])
        assert v == 0.0
        np.testing.assert_array_equal(g, 0.0)
        assert not np.signbit(g).any()
        assert loss(np.zeros((0, 3)), np.zeros(0, np.int64)) == 0.0
        assert lossopt.MulticlassHinge(kind=kind, reduction="none")(
            np.zeros((0, 3)), np.zeros(0, np.int64)).shape == (0,)
        assert loss.gradient(np.zeros((0, 3)), np.zeros(0, np.int64)).shape == (0, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_nan_propagates_and_zero_weight_contributes_nothing(kind):
    x = np.array([[np.nan, 0.0, 0.0], [0.0, 1.0, 0.5]])
    y = np.array([1, 1])
    loss = lossopt.MulticlassHinge(kind=kind, reduction="none")
    v, g = loss.loss_and_gradient(x, y)
    assert np.isnan(v[0]) and np.isfinite(v[1])
    assert np.isnan(g[0, 0]) and np.isnan(g[0, 1])          # the NaN and the label entry
    v, g = lossopt.MulticlassHinge(kind=kind).loss_and_gradient(x, y, sample_weight=[0, 1])
    assert v == pytest.approx(reference(x[1:], y[1:], kind=kind), rel=1e-15)
    np.testing.assert_array_equal(g[0], 0.0)
    v = lossopt.MulticlassHinge(kind=kind, class_weight=[1, 0, 1])(x, np.array([1, 2]))
    assert np.isfinite(v)                                     # class weight 0 on row 0


@pytest.mark.parametrize("kind", KINDS)
def test_class_axis_out_and_layouts(rng, kind):
    x = rng.normal(size=(3, 4, 5))                            # classes on axis 1
    y = rng.integers(0, 4, size=(3, 5))
    loss = lossopt.MulticlassHinge(kind=kind, axis=1, reduction="none", p=2)
    value, grad = loss.loss_and_gradient(x, y)
    xm = np.moveaxis(x, 1, -1).reshape(-1, 4)
    np.testing.assert_allclose(value, reference(xm, y.reshape(-1), kind=kind, p=2,
                                                reduction="none").reshape(3, 5), rtol=1e-15)
    ref_grad = lossopt.MulticlassHinge(kind=kind, reduction="none", p=2).gradient(
        xm, y.reshape(-1))
    np.testing.assert_array_equal(np.moveaxis(grad, 1, -1).reshape(-1, 4), ref_grad)
    s, labels = rng.normal(size=(30, 6)), rng.integers(0, 6, size=30)
    loss = lossopt.MulticlassHinge(kind=kind)
    v0, g0 = check_out_layouts(loss.loss_and_gradient, s, labels)
    assert loss(s, labels.astype(np.uint8)) == v0
    v, g = loss.loss_and_gradient(np.asfortranarray(s)[::-1], labels[::-1])
    assert v == pytest.approx(v0, rel=1e-15)
    np.testing.assert_array_equal(g[::-1], g0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_accumulates_in_float64(rng, kind, dtype):
    x = rng.normal(size=(5000, 10)).astype(dtype)
    y = rng.integers(0, 10, size=5000)
    value, grad = lossopt.MulticlassHinge(kind=kind, p=2).loss_and_gradient(x, y)
    assert grad.dtype == dtype
    ref = reference(x.astype(np.float64), y, kind=kind, p=2)
    assert value == pytest.approx(ref, rel=1e-13 if dtype == np.float64 else 1e-6)


def test_threads_bit_identical(rng):
    x = rng.normal(size=(40_000, 10))
    y = rng.integers(0, 10, size=40_000)
    sw = rng.uniform(size=40_000)
    for kind in KINDS:
        results = []
        for n in (1, 2, 3):
            with lossopt.threads(n):
                results.append(lossopt.MulticlassHinge(kind=kind).loss_and_gradient(x, y, sw))
        for v, g in results[1:]:
            assert v == results[0][0]
            assert g.tobytes() == results[0][1].tobytes()


@pytest.mark.parametrize("kwargs, call, exc, msg", [
    ({}, dict(target=[0, 3]), ValueError, r"target holds class label 3, outside \[0, 3\)"),
    ({}, dict(target=[-1, 0]), ValueError, "target holds class label -1"),
    ({}, dict(target=np.array([2**64 - 1, 0], np.uint64)), ValueError, "outside"),
    ({}, dict(target=[0.0, 1.0]), TypeError, "target must hold integer class labels"),
    ({}, dict(target=[0, 1, 2]), ValueError, "target holds class labels, so its shape"),
    ({"kind": "ovr"}, {}, ValueError, "kind must be one of"),
    ({"p": 3}, {}, ValueError, "p must be 1 or 2"),
    ({"p": True}, {}, ValueError, "p must be 1 or 2"),
    ({"margin": np.inf}, {}, ValueError, "margin must be finite"),
    ({"margin": "1"}, {}, TypeError, "margin must be a float"),
    ({"class_weight": [1, 1]}, {}, ValueError, r"class_weight must have shape \(3,\)"),
    ({"class_weight": [1, -1, 1]}, {}, ValueError, "class_weight must be non-negative"),
    ({"reduction": "avg"}, {}, ValueError, "reduction must be one of"),
    ({}, dict(sample_weight=[1.0]), ValueError, r"sample_weight must have shape \(2,\)"),
    ({}, dict(pred=np.array([["a", "b", "c"]] * 2)), TypeError, "scores must be a real"),
    ({}, dict(pred=np.float64(1.0), target=np.int64(0)), ValueError,
     "scores must have at least one dimension"),
    ({}, dict(out=np.empty((2, 3), np.float32)), TypeError, "out must have dtype float64"),
])
def test_errors(kwargs, call, exc, msg):
    args = dict(pred=np.zeros((2, 3)), target=[0, 1])
    args.update(call)
    check_error_writes_nothing(lossopt.MulticlassHinge(**kwargs), exc, msg, **args)


@given(st.integers(0, 12), st.integers(1, 7), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(REDUCTIONS), st.sampled_from(KINDS), st.sampled_from([1, 2]),
       st.booleans(), st.integers(0, 2**32 - 1),
       st.sampled_from(LAYOUTS))
def test_property_against_reference(n, c, dtype, reduction, kind, p, weighted, seed, order):
    rng = np.random.default_rng(seed)
    x = layout((rng.normal(size=(2 * n, 2 * c)) * 2).astype(dtype), n, c, order)
    y = rng.integers(0, c, size=n)
    cw = rng.uniform(0, 2, size=c) if weighted else None
    loss = lossopt.MulticlassHinge(kind=kind, p=p, class_weight=cw, reduction=reduction)
    value, grad = loss.loss_and_gradient(x, y)
    ref = reference(x.astype(np.float64), y, 1.0, kind, p, cw, reduction)
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=1e-13)
    assert grad.shape == x.shape and grad.dtype == dtype
    scale = 1.0 / n if reduction == "mean" and n else 1.0
    np.testing.assert_allclose(grad, reference_gradient(x.astype(np.float64), y, 1.0, kind, p,
                                                        cw, None, scale),
                               rtol=1e-14 if dtype == np.float64 else 1e-6, atol=1e-300)
    # the gradient of every row sums to 0 (a hinge sees only score differences)
    np.testing.assert_allclose(grad.astype(np.float64).sum(axis=1), 0.0,
                               atol=1e-12 if dtype == np.float64 else 1e-5)


@given(st.integers(0, 6000), st.integers(1, 5), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(KINDS), st.sampled_from([1, 2]), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_property_threads_bit_identical(n, c, dtype, kind, p, weighted, seed):
    """Several blocks on 1 and on 2 threads (the size threshold switched off)."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, c)) * 2).astype(dtype)
    y = rng.integers(0, c, size=n).astype(np.intp)
    sw = rng.uniform(0, 2, size=n) if weighted else None
    total = same_bits_on_1_and_2_threads(
        lambda grad, row, threads: _margin.multiclass_hinge_rows(
            x, grad, y, None, sw, 1.0, p, kind == "crammer_singer", 1.0, row, threads,
            scores_arr=x, grad_arr=grad, min_parallel=0), x.shape, dtype)
    np.testing.assert_allclose(total, reference(x, y, 1.0, kind, p, None, "sum", sw),
                               rtol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_rows_longer_than_a_block(rng, kind):
    """Rows of more than the kernel's block of elements: one row per block."""
    x = rng.normal(size=(3, 9000)) * 0.05
    y = np.array([0, 4500, 8999])
    value, grad = lossopt.MulticlassHinge(kind=kind, p=2, reduction="none").loss_and_gradient(
        x, y)
    np.testing.assert_allclose(value, reference(x, y, 1.0, kind, 2, reduction="none"),
                               rtol=1e-13)
    np.testing.assert_allclose(grad, reference_gradient(x, y, 1.0, kind, 2), rtol=1e-13,
                               atol=1e-300)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("where", ["out", "in place", "none", "loss only"])
def test_bad_label_in_a_late_block(rng, threads, where):
    """A bad label in the last of many blocks: the kernel's label check (all
    labels first when the gradient goes into the caller's out, block by block
    in the one pass otherwise) raises, naming the first bad label, and the
    caller's arrays are left as they were."""
    x = rng.normal(size=(50_000, 10))
    y = rng.integers(0, 10, size=50_000)
    y[49_990], y[49_995] = 10, -3
    x0 = x.copy()
    loss = lossopt.MulticlassHinge()
    out = np.full_like(x, 7.0)
    with lossopt.threads(threads), pytest.raises(ValueError,
                                                 match=r"class label 10, outside \[0, 10\)"):
        if where == "out":
            loss.loss_and_gradient(x, y, out=out)
        elif where == "in place":
            loss.loss_and_gradient(x, y, out=x)
        elif where == "none":
            lossopt.MulticlassHinge(reduction="none").loss_and_gradient(x, y)
        else:
            loss(x, y)
    np.testing.assert_array_equal(out, 7.0)
    np.testing.assert_array_equal(x, x0)


def scalar_reference(x, y, margin=1.0, kind="weston_watkins", p=1, lw=None, scale=1.0):
    """Row losses and the gradient (times `scale`) row by row in Python floats
    (float64), with NaN and infinities as documented: a NaN term is on and
    propagates; Crammer-Singer: NaN anywhere in a row makes its loss and
    gradient NaN; weighted 0 contributes nothing."""
    x = np.asarray(x, np.float64)
    n, c = x.shape
    lw = np.ones(n) if lw is None else lw
    loss, g = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        row, yi = [float(v) for v in x[i]], int(y[i])
        if lw[i] == 0:
            continue
        sc = scale * lw[i]
        if kind == "weston_watkins":
            base, acc, gsum = margin - row[yi], 0.0, 0.0
            for j in range(c):
                z = base + row[j]
                if j != yi and (z > 0 or np.isnan(z)):
                    acc += z ** p
                    d = z if np.isnan(z) else (2 * sc * z if p == 2 else sc)
                    g[i, j] = d
                    gsum += d
            g[i, yi] = -gsum
            loss[i] = lw[i] * acc
            continue
        if any(np.isnan(v) for v in row):
            loss[i], g[i] = np.nan, np.nan
            continue
        others = [row[j] for j in range(c) if j != yi]
        mx = max(others) if others else -np.inf
        h = margin + mx - row[yi]
        if np.isnan(h):
            loss[i], g[i] = np.nan, np.nan
        elif h > 0:
            loss[i] = lw[i] * h ** p
            d = 2 * sc * h if p == 2 else sc
            k = next(j for j in range(c) if j != yi and row[j] == mx)
            g[i, k], g[i, yi] = d, -d
    return loss, g


# rows of every length around the AVX-512 chunks (8 doubles / 16 floats), the
# unrolled short-row cases (<= 8, <= 16 classes) and the long-row threshold (64)
CLASS_COUNTS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100]


@pytest.mark.parametrize("c", CLASS_COUNTS)
@pytest.mark.parametrize("kind, p", itertools.product(KINDS, [1, 2]))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_lengths_ties_kinks_and_weights(rng, c, kind, p, dtype):
    """Integer scores (ties in the Crammer-Singer maximum, Weston-Watkins terms
    exactly at their kink), an odd number of rows, class and sample weights
    with zeros, against the NumPy references; loss-only calls give the same
    bits as loss_and_gradient, and so does the gradient written in place."""
    n = 37
    x = rng.integers(-2, 3, size=(n, c)).astype(dtype)
    y = rng.integers(0, c, size=n)
    cw = rng.uniform(0.5, 2, size=c)
    cw[0] = 0.0
    sw = rng.uniform(0, 2, size=n)
    sw[[1, 20]] = 0.0
    x[1] = np.nan                                     # weighted 0: contributes nothing
    loss = lossopt.MulticlassHinge(kind=kind, p=p, class_weight=cw, reduction="none")
    value, grad = loss.loss_and_gradient(x, y, sw)
    x64 = np.nan_to_num(x.astype(np.float64))
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(value, reference(x64, y, 1.0, kind, p, cw, "none", sw),
                               rtol=rtol, atol=1e-300)     # float32 losses for float32
    np.testing.assert_allclose(grad, reference_gradient(x64, y, 1.0, kind, p, cw, sw),
                               rtol=rtol, atol=1e-300)
    assert value[1] == 0.0 and not grad[1].any()
    np.testing.assert_array_equal(loss(x, y, sw), value)
    for reduction in ("mean", "sum"):
        red = lossopt.MulticlassHinge(kind=kind, p=p, class_weight=cw, reduction=reduction)
        v, g = red.loss_and_gradient(x, y, sw)
        assert red(x, y, sw) == v
        z = x.copy()
        v2, g2 = red.loss_and_gradient(z, y, sw, out=z)
        assert g2 is z and v2 == v
        np.testing.assert_array_equal(z, g)


@pytest.mark.parametrize("c", CLASS_COUNTS)
@pytest.mark.parametrize("kind, p", itertools.product(KINDS, [1, 2]))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_inf_scores_in_rows_of_every_length(rng, c, kind, p, dtype):
    n = 41
    x = (rng.normal(size=(n, c)) * 2).astype(dtype)
    y = rng.integers(0, c, size=n)
    specials = [np.nan, np.inf, -np.inf]
    for i in range(0, n, 2):                          # every other row: 1-2 specials
        for _ in range(1 + i % 2 if c > 1 else 1):
            x[i, rng.integers(0, c)] = specials[rng.integers(0, 3)]
    x[3, y[3]] = np.inf                               # at the label
    x[5, y[5]] = -np.inf
    x[7, :] = np.inf
    sw = rng.uniform(0.5, 2, size=n)
    sw[9] = 0.0
    x[9, 0] = np.nan                                  # weighted 0
    x[11, (y[11] + 1) % c] = np.nan                   # a competitor (c > 1)
    with np.errstate(invalid="ignore", over="ignore"):
        value, grad = lossopt.MulticlassHinge(kind=kind, p=p, reduction="none") \
            .loss_and_gradient(x, y, sw)
        ref, ref_grad = scalar_reference(x, y, 1.0, kind, p,
                                         sw / c if kind == "weston_watkins" else sw)
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=1e-300)
    # (with one class, NaN at the label: Weston-Watkins has no term, Crammer-Singer
    # propagates any NaN of the row)
    assert np.isnan(value[11]) == (c > 1 or kind == "crammer_singer")
    assert value[9] == 0.0 and not grad[9].any()


@pytest.mark.parametrize("c", [1, 2, 7, 8, 9, 10, 15, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unweighted_weston_watkins_short_rows(rng, c, dtype):
    """Weston-Watkins with p = 1 and no weights on rows of at most 16 classes
    (on the x86-64-v4 path: the terms summed lane-wise over each block, a
    row's NaN found from its lanes) against the scalar reference, NaN and
    infinities included; loss-only and in-place calls give the same bits,
    and so do 1 and 2 threads."""
    n = max(5003, 32768 // c + 17)    # several blocks; N C above the 2-thread threshold
    x = (rng.normal(size=(n, c)) * 2).astype(dtype)
    y = rng.integers(0, c, size=n)
    specials = [np.nan, np.inf, -np.inf]
    for i in rng.choice(n, 60, replace=False):
        x[i, rng.integers(0, c)] = specials[rng.integers(0, 3)]
    with np.errstate(invalid="ignore", over="ignore"):
        ref, ref_grad_sum = scalar_reference(x, y, 1.0, "weston_watkins", 1,
                                             np.full(n, 1.0 / c), 1.0)
    for reduction, scale in (("mean", 1.0 / n), ("sum", 1.0)):
        loss = lossopt.MulticlassHinge(reduction=reduction)
        ref_grad = ref_grad_sum * scale
        results = []
        for threads in (1, 2):
            with lossopt.threads(threads), np.errstate(invalid="ignore", over="ignore"):
                v, g = loss.loss_and_gradient(x, y)
                assert loss(x, y) == v or (np.isnan(v) and np.isnan(loss(x, y)))
                z = x.copy()
                v2, g2 = loss.loss_and_gradient(z, y, out=z)
                assert g2 is z
                np.testing.assert_array_equal(z, g)
                results.append((v, g, v2))
        rtol = 1e-14 if dtype == np.float64 else 1e-6
        expect = ref.sum() * (scale if reduction == "mean" else 1.0)
        np.testing.assert_allclose(results[0][0], expect, rtol=1e-12)
        np.testing.assert_allclose(results[0][1], ref_grad, rtol=rtol, atol=1e-300)
        for v, g, v2 in results:
            np.testing.assert_array_equal([v, v2], [results[0][0]] * 2)
            assert g.tobytes() == results[0][1].tobytes()
    # finite rows only: a finite value against the reference
    xf = np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-3.0)
    ref, _ = scalar_reference(xf, y, 1.0, "weston_watkins", 1, np.full(n, 1.0 / c))
    np.testing.assert_allclose(lossopt.MulticlassHinge(reduction="sum")(xf, y), ref.sum(),
                               rtol=1e-12)


@pytest.mark.parametrize("c", [1, 2, 7, 9, 10, 15, 16, 17])
@pytest.mark.parametrize("p, margin", [(1, 1.0), (2, 1.0), (1, 0.0), (2, -0.5), (1, 2.5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unweighted_crammer_singer_short_rows(rng, c, p, margin, dtype):
    """Crammer-Singer without weights on rows of at most 16 classes (on the
    x86-64-v4 path, float32: 16 rows at a time, transposed in registers, the
    gradient's zeros stored as whole vectors) against the scalar reference:
    ties for the first maximiser (integer scores), NaN and infinities, a
    partial last group of rows, scores that are a slice of a wider array;
    the gradient has the bits of the weighted path (sample weights of 1);
    loss-only and in-place calls and 1 or 2 threads give the same bits; on
    finite scores, the value of loss_and_gradient against the reference too."""
    n = max(5003, 32768 // c + 17)    # several blocks; N C above the 2-thread threshold
    wide = np.empty((n, c + 3), dtype)
    x = wide[:, :c]                   # rows c + 3 apart
    x[:] = (rng.normal(size=(n, c)) * 2).astype(dtype)
    x[: n // 3] = rng.integers(-2, 3, size=(n // 3, c))
    y = rng.integers(0, c, size=n)
    specials = [np.nan, np.inf, -np.inf]
    for i in rng.choice(n, 60, replace=False):
        x[i, rng.integers(0, c)] = specials[rng.integers(0, 3)]
    with np.errstate(invalid="ignore", over="ignore"):
        ref, ref_grad_sum = scalar_reference(x, y, margin, "crammer_singer", p)
    xf = np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-3.0)
    ref_finite, ref_finite_grad = scalar_reference(xf, y, margin, "crammer_singer", p)
    for reduction, scale in (("mean", 1.0 / n), ("sum", 1.0)):
        loss = lossopt.MulticlassHinge(kind="crammer_singer", p=p, margin=margin,
                                       reduction=reduction)
        ref_grad = ref_grad_sum * scale
        with np.errstate(invalid="ignore", over="ignore"):
            weighted = loss.gradient(x, y, np.ones(n))
        results = []
        for threads in (1, 2):
            with lossopt.threads(threads), np.errstate(invalid="ignore", over="ignore"):
                v, g = loss.loss_and_gradient(x, y)
                assert loss(x, y) == v or (np.isnan(v) and np.isnan(loss(x, y)))
                z = np.ascontiguousarray(x)
                v2, g2 = loss.loss_and_gradient(z, y, out=z)
                assert g2 is z
                results.append((v, g, v2, z))
        rtol = 1e-14 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(results[0][1], ref_grad, rtol=rtol, atol=1e-300)
        assert results[0][1].tobytes() == weighted.tobytes()
        assert np.isnan(results[0][0]) and np.isnan(ref.sum())
        for v, g, v2, z in results:
            assert np.isnan(v) and np.isnan(v2)
            assert g.tobytes() == results[0][1].tobytes() == z.tobytes()
        # finite rows: the values against the reference
        vf, gf = loss.loss_and_gradient(xf, y)
        assert loss(xf, y) == vf
        wide_out = np.full((n, c + 2), 7.0, dtype)     # a gradient with rows c + 2 apart
        assert loss.loss_and_gradient(xf, y, out=wide_out[:, :c])[0] == vf
        assert wide_out[:, :c].tobytes() == gf.tobytes() and (wide_out[:, c:] == 7).all()
        np.testing.assert_allclose(vf, ref_finite.sum() * scale, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(gf, ref_finite_grad * scale, rtol=rtol, atol=1e-300)
        vals = {loss(np.ascontiguousarray(xf), y)}
        with lossopt.threads(2):
            vals.add(loss(xf, y))
        assert len(vals) == 1
