"""The kernels for plain rows (src/lossopt_rows.h): logsumexp, softmax,
log_softmax and the label cross-entropy (with or without label smoothing)
without `where` or b, on the x86-64-v4 path: rows of fewer than 64 classes in one pass,
8 (float64) or 16 (float32) rows at a time, longer rows that fit the
engine's block buffer (2048 values) row by row;
by the engine elsewhere (tests/test_isa_paths.py runs this file on every
path).

References: SciPy / NumPy in float64, mpmath for wide ranges; for rows whose
maximum is not finite, ignored labels and weight-0 samples (the rows the
kernel leaves to the engine's per-row formulas), the same rows padded with
-inf columns to more than 2048 classes, which the engine computes in
chunks, without these kernels (a -inf class has probability 0 and changes
nothing else).
"""

import mpmath
import numpy as np
import pytest
import scipy.special as sc

import lossopt
from lossopt._kernels import _softmax
from helpers import reference_cross_entropy

COLS = [1, 2, 7, 8, 9, 10, 11, 12, 15, 16, 17, 33, 63, 64, 65, 100, 256, 257, 1000, 2048]
ROWS = [1, 7, 17, 203]
DTYPES = [np.float64, np.float32]
PAD = 2049                   # pads a row past the kernels' 2048 classes


def tol(dtype):
    return dict(rtol=1e-14, atol=4e-15) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-6)


def lse_tol(dtype):
    """logsumexp returns the data's type: float32 results are rounded once"""
    return dict(rtol=1e-15, atol=4e-15) if dtype == np.float64 else dict(rtol=1.2e-7, atol=1e-7)


def ce_reference_grad(z, y, w, sw, ignore):
    """d/dz of the mean cross-entropy (torch's weighted mean), float64."""
    z = np.asarray(z, np.float64)
    n, c = z.shape
    p = sc.softmax(z, axis=1)
    active = y != ignore
    yy = np.where(active, y, 0)
    wy = w[yy] * sw * active
    g = p * wy[:, None]
    g[np.arange(n), yy] -= wy
    den = wy.sum()
    return g / den if den != 0 else g * 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", COLS)
@pytest.mark.parametrize("n_rows", ROWS)
def test_regular_rows_match_scipy(rng, dtype, n_cols, n_rows):
    x = (rng.normal(size=(n_rows, n_cols)) * 6).astype(dtype)
    xd = x.astype(np.float64)
    t = tol(dtype)
    np.testing.assert_allclose(lossopt.softmax(x, axis=1), sc.softmax(xd, axis=1),
                               rtol=t["rtol"], atol=1e-15 if dtype == np.float64 else 1e-44)
    np.testing.assert_allclose(lossopt.log_softmax(x, axis=1), sc.log_softmax(xd, axis=1), **t)
    np.testing.assert_allclose(lossopt.logsumexp(x, axis=1), sc.logsumexp(xd, axis=1),
                               **lse_tol(dtype))
    y = rng.integers(0, n_cols, n_rows)
    w = rng.uniform(0.5, 2.0, n_cols)
    sw = rng.uniform(0.1, 1.0, n_rows)
    loss = lossopt.SoftmaxCrossEntropy(class_weight=w)
    value, grad = loss.loss_and_gradient(x, y, sw)
    assert grad.dtype == dtype
    np.testing.assert_allclose(value, reference_cross_entropy(xd, y, class_weight=w,
                                                              sample_weight=sw),
                               rtol=1e-13 if dtype == np.float64 else 1e-6,
                               atol=1e-15)   # the reference's log(sum): ~1 ulp of 1
    np.testing.assert_allclose(grad, ce_reference_grad(xd, y, w, sw, -100), **t)
    per = lossopt.SoftmaxCrossEntropy(reduction="none")(x, y)
    np.testing.assert_allclose(per, reference_cross_entropy(xd, y, reduction="none"),
                               rtol=1e-13 if dtype == np.float64 else 1.2e-7, atol=1e-15)


def special_rows(n_cols, rng):
    """Rows the kernel leaves to the engine, and rows at its edges."""
    c = n_cols
    base = rng.normal(size=c)
    rows = []
    for j in sorted({0, c // 2, c - 1}):
        r = base.copy(); r[j] = np.nan; rows.append(r)
        r = base.copy(); r[j] = np.inf; rows.append(r)
        r = np.full(c, -np.inf); r[j] = 1.5; rows.append(r)
        r = base.copy(); r[j] = 1e300; rows.append(r)
        r = base.copy(); r[j] = -1e300; rows.append(r)
        r = base.copy(); r[j] = -np.inf; rows.append(r)
    rows.append(np.full(c, -np.inf))
    rows.append(np.full(c, 3.0))                         # c maxima
    rows.append(np.full(c, 1e300))
    rows.append(np.full(c, -1e300))
    r = np.full(c, np.nan); rows.append(r)
    r = base.copy(); r[0] = np.inf; r[-1] = np.nan; rows.append(r)
    return np.array(rows)


def mixed(n_cols, dtype, rng, n_rows=53):
    """Random rows with the special rows scattered inside groups of 8 / 16."""
    x = rng.normal(size=(n_rows, n_cols)) * 4
    sp = special_rows(n_cols, rng)
    at = rng.choice(n_rows, size=min(len(sp), n_rows), replace=False)
    if n_rows > 1025:
        # and at the edges of the short rows' blocks of 512 rows (and of the
        # slices of test_rows_do_not_depend_on_their_block)
        edges = np.array([0, 52, 53, 511, 512, 699, 700, 1023, 1024, n_rows - 1])
        at = np.concatenate([edges, np.setdiff1d(at, edges)])[:len(at)]
    x[at] = sp[:len(at)]
    with np.errstate(over="ignore"):        # float32: 1e300 -> inf on purpose
        return x.astype(dtype)


def padded(x):
    return np.concatenate([x, np.full((x.shape[0], PAD), -np.inf, x.dtype)], axis=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 100, 700])
def test_special_rows_inside_a_group(rng, dtype, n_cols):
    x = mixed(n_cols, dtype, rng)
    xp = padded(x)
    kw = dict(equal_nan=True, **tol(dtype))
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(lossopt.softmax(x, axis=1),
                                   lossopt.softmax(xp, axis=1)[:, :n_cols], **kw)
        np.testing.assert_allclose(lossopt.log_softmax(x, axis=1),
                                   lossopt.log_softmax(xp, axis=1)[:, :n_cols], **kw)
        lse = lossopt.logsumexp(x, axis=1)
        np.testing.assert_allclose(lse, lossopt.logsumexp(xp, axis=1), equal_nan=True,
                                   **lse_tol(dtype))
        # and scipy's logsumexp itself, the engine's model for these rows
        np.testing.assert_allclose(lse, sc.logsumexp(x.astype(np.float64), axis=1),
                                   equal_nan=True, **lse_tol(dtype))
    # the regular rows among them: probabilities against float64 scipy
    fin = np.isfinite(x).all(axis=1) & (np.abs(x.astype(np.float64)) < 1e200).all(axis=1)
    np.testing.assert_allclose(lossopt.softmax(x, axis=1)[fin],
                               sc.softmax(x[fin].astype(np.float64), axis=1),
                               rtol=tol(dtype)["rtol"], atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 100, 700])
def test_return_sign_without_b(rng, dtype, n_cols):
    # the kernels write lse only: the sign of every plain row is +1 (scipy's
    # sign of a sum of exponentials), of a row of -inf 0, of a NaN row NaN
    x = mixed(n_cols, dtype, rng)
    with np.errstate(all="ignore"):
        lse, sign = lossopt.logsumexp(x, axis=1, return_sign=True)
        ref_lse, ref_sign = sc.logsumexp(x.astype(np.float64), axis=1, return_sign=True)
    np.testing.assert_allclose(lse, ref_lse, equal_nan=True, **lse_tol(dtype))
    np.testing.assert_array_equal(sign, ref_sign)
    y = (rng.normal(size=(37, n_cols)) * 4).astype(dtype)
    lse, sign = lossopt.logsumexp(y, axis=1, return_sign=True)
    np.testing.assert_array_equal(sign, np.ones(37))
    assert lossopt.logsumexp(y[0], return_sign=True)[1] == 1.0


def test_the_kernels_run_on_the_v4_path():
    """The tests of this file test the kernels where they exist (and the
    engine elsewhere): the dispatcher picks them on the x86-64-v4 path."""
    from lossopt._kernels import _runtime
    v4 = _runtime.simd_path().startswith("x86-64-v4")
    expect = {(10, False): "short", (63, True): "short", (64, False): "long",
              (256, False): "long", (257, False): "long", (1000, False): "long",
              (2048, True): "long", (2048, False): "long", (2049, True): None,
              (2049, False): None}
    for (c, is_float), kernel in expect.items():
        assert _softmax.rows_kernel(c, is_float) == (kernel if v4 else None), (c, is_float)
    # a long row only while the block fits the 2048-value buffer
    assert _softmax.rows_kernel(100, True, n_rows=21) is None
    assert _softmax.rows_kernel(100, True, n_rows=20) == ("long" if v4 else None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 100, 700])
def test_special_rows_cross_entropy(rng, dtype, n_cols):
    x = mixed(n_cols, dtype, rng)
    n = x.shape[0]
    y = rng.integers(0, n_cols, n)
    y[rng.choice(n, 6, replace=False)] = -100            # ignored labels
    sw = rng.uniform(0.1, 1.0, n)
    sw[rng.choice(n, 5, replace=False)] = 0.0            # weight-0 samples
    w = rng.uniform(0.5, 2.0, n_cols)
    wp = np.concatenate([w, np.ones(PAD)])
    for cw, weights in [(None, None), (w, sw)]:
        for reduction in ["none", "sum"]:
            loss = lossopt.SoftmaxCrossEntropy(reduction=reduction, class_weight=cw)
            loss_p = lossopt.SoftmaxCrossEntropy(reduction=reduction,
                                                 class_weight=None if cw is None else wp)
            with np.errstate(all="ignore"):
                v, g = loss.loss_and_gradient(x, y, weights)
                vp, gp = loss_p.loss_and_gradient(padded(x), y, weights)
            # (float32 row losses: rounded once, each way)
            np.testing.assert_allclose(v, vp, rtol=1e-13 if dtype == np.float64 else 1.2e-7,
                                       equal_nan=True)
            np.testing.assert_allclose(g, gp[:, :n_cols], equal_nan=True, **tol(dtype))
            assert not np.isnan(gp[:, n_cols:][np.isfinite(x).all(axis=1)]).any()
    # ignored and weight-0 rows contribute nothing, whatever their logits
    v, g = lossopt.SoftmaxCrossEntropy(reduction="none").loss_and_gradient(x, y, sw)
    dead = (y == -100) | (sw == 0)
    assert (v[dead] == 0).all() and (g[dead] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_range_rows_against_mpmath(dtype):
    mpmath.mp.dps = 50
    rows = [[0.0, -40.0, -745.0, -1e300, 30.0, 29.999999],
            [1e300, 1e300, -1e300, 0.0, 5e299, 1e300],
            [-1e300, -1e300 * (1 - 2**-50), -1e300, -1e300, -1e300, -1e300],
            [700.0, 709.0, 709.5, -700.0, 0.0, 1.0],
            [-100.0, -100.0 + 1e-14, -100.0, -101.0, -150.0, -99.0]]
    rows += [list(np.random.default_rng(k).normal(size=6) * 30) for k in range(11)]
    with np.errstate(over="ignore"):
        x = np.array(rows, dtype=dtype)
    got = lossopt.log_softmax(x, axis=1)
    lse = lossopt.logsumexp(x, axis=1)
    for i, row in enumerate(x):
        if not np.isfinite(row).all():
            continue         # (float32: 1e300 overflows; such rows are tested above)
        v = [mpmath.mpf(float(t)) for t in row]
        ref = mpmath.log(mpmath.fsum(mpmath.exp(t - max(v)) for t in v)) + max(v)
        eps = 2e-16 if dtype == np.float64 else 1.2e-7
        assert abs(lse[i] - float(ref)) <= eps * abs(float(ref)) + 1e-300
        for j, t in enumerate(v):
            r = float(t - ref)
            if dtype == np.float64:
                assert abs(got[i, j] - r) <= 2e-16 * abs(r) + 2e-16 * abs(float(t)) + 1e-300
            else:
                assert abs(got[i, j] - np.float32(r)) <= 2e-7 * abs(r) + 1e-7 * abs(float(t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 7, 9, 17, 100])
def test_views_in_place_and_untouched_gaps(rng, dtype, n_cols):
    n = 45
    big = (rng.normal(size=(n, n_cols + 5)) * 3).astype(dtype)
    x = big[:, 2:2 + n_cols]                       # row stride > n_cols
    ref = sc.softmax(x.astype(np.float64), axis=1)
    canvas = np.full((n, n_cols + 7), 7.0, dtype)
    out = canvas[:, 3:3 + n_cols]
    lossopt.softmax(x, axis=1, out=out)
    np.testing.assert_allclose(out, ref, rtol=tol(dtype)["rtol"], atol=1e-44)
    assert (canvas[:, :3] == 7).all() and (canvas[:, 3 + n_cols:] == 7).all()
    lsm = sc.log_softmax(x.astype(np.float64), axis=1)
    lossopt.log_softmax(x, axis=1, out=out)
    np.testing.assert_allclose(out, lsm, **tol(dtype))
    assert (canvas[:, :3] == 7).all() and (canvas[:, 3 + n_cols:] == 7).all()
    # out= the input itself
    z = x.copy()
    lossopt.softmax(z, axis=1, out=z)
    np.testing.assert_allclose(z, ref, rtol=tol(dtype)["rtol"], atol=1e-44)
    z = x.copy()
    lossopt.log_softmax(z, axis=1, out=z)
    np.testing.assert_allclose(z, lsm, **tol(dtype))
    y = rng.integers(0, n_cols, n)
    loss = lossopt.SoftmaxCrossEntropy()
    v_ref, g_ref = loss.loss_and_gradient(x.copy(), y)
    z = big.copy()[:, 2:2 + n_cols]
    before = z.base.copy()
    v, g = loss.loss_and_gradient(z, y, out=z)
    assert g is z and v == v_ref
    np.testing.assert_array_equal(z, g_ref)
    np.testing.assert_array_equal(z.base[:, :2], before[:, :2])
    np.testing.assert_array_equal(z.base[:, 2 + n_cols:], before[:, 2 + n_cols:])
    np.testing.assert_allclose(g_ref, ce_reference_grad(x, y, np.ones(n_cols), np.ones(n),
                                                        -100), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", COLS)
def test_where_masks_on_the_kernels(rng, dtype, n_cols):
    # the kernels take a where= mask as rows with the absent entries -inf:
    # absent NaN / +inf are ignored, a row with nothing present gives 0 /
    # -inf / -inf; masks of the full shape, broadcast along rows / columns,
    # x strided; special rows (NaN, +inf, -inf, huge) among regular ones
    n = 53
    xs = [mixed(n_cols, dtype, rng, n_rows=n),
          (rng.normal(size=(n, 2 * n_cols)) * 5).astype(dtype)[:, ::2]]
    full = rng.random((n, n_cols)) < 0.7
    full[4] = False
    full[5, :] = True
    masks = [full, full[:1], np.broadcast_to(rng.random((n, 1)) < 0.8, (n, n_cols))]
    for x in xs:
        x = x.copy() if x is xs[0] else x
        for where in masks:
            m = np.broadcast_to(where, (n, n_cols))
            xa = np.where(m, x, x.dtype.type(np.nan))        # absent: anything
            if n_cols > 1:
                xa[:, 0] = np.where(m[:, 0], xa[:, 0], np.inf)
            with np.errstate(all="ignore"):
                p = lossopt.softmax(xa, axis=1, where=where)
                lp = lossopt.log_softmax(xa, axis=1, where=where)
                lse = lossopt.logsumexp(xa, axis=1, where=where)
                # the reference: the present entries alone, float64
                x64 = np.where(m, x.astype(np.float64), -np.inf)
            for i in range(n):
                if not m[i].any():
                    assert (p[i] == 0).all() and (lp[i] == -np.inf).all()
                    assert lse[i] == -np.inf
                    continue
                z = x64[i][m[i]]
                if np.isnan(z).any():
                    # NaN present: NaN results, the absent entries still 0 / -inf
                    assert np.isnan(lse[i]) and np.isnan(p[i][m[i]]).all()
                    assert (p[i][~m[i]] == 0).all() and (lp[i][~m[i]] == -np.inf).all()
                    continue
                if not np.isfinite(z.max()):
                    continue           # (+inf present: tests/test_softmax.py)
                if (np.abs(z) > 1e200).any():
                    continue
                assert (p[i][~m[i]] == 0).all() and (lp[i][~m[i]] == -np.inf).all()
                np.testing.assert_allclose(p[i][m[i]], sc.softmax(z), rtol=tol(dtype)["rtol"],
                                           atol=1e-300)
                np.testing.assert_allclose(lp[i][m[i]], sc.log_softmax(z), **tol(dtype))
                np.testing.assert_allclose(lse[i], sc.logsumexp(z), **lse_tol(dtype))


def smoothed_reference(x, y, w, sw, eps, ignore=-100):
    """Label-smoothed cross-entropy, float64, row by row from its definition
    (torch's): per-row weighted losses and the gradient of their sum.
    loss = (1-eps) w_y (-log p_y) + (eps/C) sum_{w_j != 0} w_j (-log p_j) (the
    first term 0 where (1-eps) w_y is 0);
    d/dx_j = sw (p_j A - (eps/C) w_j - (1-eps) w_y [j == y]),
    A = (1-eps) w_y + (eps/C) sum_k w_k.  Rows with NaN or +inf: NaN; rows
    of -inf only, ignored labels and weight-0 samples: 0."""
    x = np.asarray(x, np.float64)
    n, c = x.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        z = x[i]
        if y[i] == ignore or sw[i] == 0 or (z == -np.inf).all():
            continue
        if np.isnan(z).any() or (z == np.inf).any():
            loss[i] = np.nan
            grad[i] = np.nan
            continue
        m, top = z.max(), z.argmax()
        with np.errstate(divide="ignore"):      # log1p: exact where p_y is near 1
            lse = np.log1p(np.exp(np.delete(z, top) - m).sum())
        logp = (z - m) - lse
        p = np.exp(logp)
        on = w != 0
        smooth = -(w[on] * logp[on]).sum()
        label = (1 - eps) * w[y[i]] * -logp[y[i]] if (1 - eps) * w[y[i]] != 0 else 0.0
        loss[i] = sw[i] * (label + eps / c * smooth)
        a = (1 - eps) * w[y[i]] + eps / c * w.sum()
        grad[i] = sw[i] * (p * a - eps / c * w)
        grad[i, y[i]] -= sw[i] * (1 - eps) * w[y[i]]
    return loss, grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", COLS)
@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_label_smoothing_matches_its_definition(rng, dtype, n_cols, eps):
    # regular rows, then the same rows with the special ones scattered among
    # them (in groups of 8 / 16 and across the long rows' blocks), with class
    # weights (one of them 0) and sample weights (some 0), ignored labels
    for x in [(rng.normal(size=(203, n_cols)) * 6).astype(dtype),
              mixed(n_cols, dtype, rng)]:
        n = x.shape[0]
        y = rng.integers(0, n_cols, n)
        y[rng.choice(n, 6, replace=False)] = -100
        sw = rng.uniform(0.1, 1.0, n)
        sw[rng.choice(n, 5, replace=False)] = 0.0
        w = rng.uniform(0.5, 2.0, n_cols)
        w[n_cols // 2] = 0.0
        for cw, weights in [(None, np.ones(n)), (w, sw)]:
            loss = lossopt.SoftmaxCrossEntropy(label_smoothing=eps, class_weight=cw,
                                               reduction="none")
            with np.errstate(all="ignore"):
                v, g = loss.loss_and_gradient(x, y, weights)
                _, gs = lossopt.SoftmaxCrossEntropy(
                    label_smoothing=eps, class_weight=cw,
                    reduction="sum").loss_and_gradient(x, y, weights)
                ref_v, ref_g = smoothed_reference(x, y, cw, weights, eps)
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, gs)      # "none": the sum's gradient
            np.testing.assert_allclose(v, ref_v, rtol=1e-13 if dtype == np.float64 else 1.2e-7,
                                       atol=1e-300, equal_nan=True)
            np.testing.assert_allclose(g, ref_g, equal_nan=True, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 3, 10, 63, 64, 100, 2048])
def test_label_smoothing_mean_and_minus_inf_classes(rng, dtype, n_cols):
    # torch's mean (divided by the active rows' w_y sw); a -inf logit (p = 0)
    # with eps > 0 makes the row's loss +inf (the smoothing puts mass on
    # it), its gradient stays finite: -sc eps/C w_j there
    n = 37
    x = (rng.normal(size=(n, n_cols)) * 3).astype(dtype)
    y = rng.integers(0, n_cols, n)
    sw = rng.uniform(0.5, 2.0, n)
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.2)
    value, grad = loss.loss_and_gradient(x, y, sw)
    np.testing.assert_allclose(value, reference_cross_entropy(
        x.astype(np.float64), y, label_smoothing=0.2, sample_weight=sw),
        rtol=1e-13 if dtype == np.float64 else 1e-6)
    _, ref_g = smoothed_reference(x, y, None, sw, 0.2)
    np.testing.assert_allclose(grad, ref_g / sw.sum(), **tol(dtype))
    if n_cols == 1:
        return
    x[5, (y[5] + 1) % n_cols] = -np.inf
    per, g = lossopt.SoftmaxCrossEntropy(label_smoothing=0.2,
                                         reduction="none").loss_and_gradient(x, y)
    assert per[5] == np.inf and np.isfinite(per[np.arange(n) != 5]).all()
    assert np.isfinite(g).all()
    assert g[5, (y[5] + 1) % n_cols] == np.asarray(-0.2 / n_cols, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 10, 17, 63, 64, 100])
def test_rows_do_not_depend_on_their_block(rng, dtype, n_cols):
    """A row's results are the same bits whatever block it falls in and
    wherever in the block: the short rows' blocks hold 512 rows (block_rows
    in _softmax.pyx), the long rows' 2048 // C; 1300 rows with the special
    rows at the blocks' edges, computed whole and in slices of 53 and 700."""
    n = 1300
    x = mixed(n_cols, dtype, rng, n_rows=n)
    y = rng.integers(0, n_cols, n)
    y[::97] = -100
    sw = rng.uniform(0.1, 1.0, n)
    sw[::89] = 0.0
    w = rng.uniform(0.5, 2.0, n_cols)
    calls = [
        lambda a, k: lossopt.softmax(a, axis=1),
        lambda a, k: lossopt.log_softmax(a, axis=1),
        lambda a, k: lossopt.logsumexp(a, axis=1, return_sign=True),
        lambda a, k: lossopt.SoftmaxCrossEntropy(reduction="none").loss_and_gradient(
            a, y[k]),
        lambda a, k: lossopt.SoftmaxCrossEntropy(
            reduction="none", class_weight=w, label_smoothing=0.1).loss_and_gradient(
                a, y[k], sw[k]),
    ]
    with np.errstate(all="ignore"):
        for call in calls:
            whole = call(x, slice(0, n))
            whole = whole if isinstance(whole, tuple) else (whole,)
            for size in (53, 700):
                parts = [call(x[i:i + size], slice(i, i + size)) for i in range(0, n, size)]
                parts = [p if isinstance(p, tuple) else (p,) for p in parts]
                for j, ref in enumerate(whole):
                    got = np.concatenate([p[j] for p in parts])
                    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [3, 10, 17, 100, 256])
def test_bit_identical_for_any_thread_count(rng, dtype, n_cols):
    n = 4099
    x = mixed(n_cols, dtype, rng, n_rows=n)
    y = rng.integers(0, n_cols, n).astype(np.intp)
    y[::97] = -100
    results = []
    for nt in (1, 2, 3):
        got = []
        for log in (False, True):
            o = np.empty_like(x)
            _softmax.softmax_rows(x, o, log, n_threads=nt, x_arr=x, out_arr=o, min_parallel=0)
            got.append(o)
        lse = np.empty(n)
        with np.errstate(all="ignore"):
            _softmax.logsumexp_rows(x, lse, n_threads=nt, x_arr=x, min_parallel=0)
        got.append(lse)
        g = np.empty_like(x)
        rl = np.empty(n)
        total = _softmax.softmax_cross_entropy_rows(
            x, g, y, None, None, 0.0, None, -100, 0.0, 1.0 / n, rl, nt, logits_arr=x,
            grad_arr=g, min_parallel=0)
        got += [g, rl.copy(), np.array([total])]
        g = np.empty_like(x)           # with label smoothing
        total = _softmax.softmax_cross_entropy_rows(
            x, g, y, None, None, float(n_cols), None, -100, 0.1, 1.0 / n, rl, nt,
            logits_arr=x, grad_arr=g, min_parallel=0)
        got += [g, rl.copy(), np.array([total])]
        # class and sample weights with the smoothing
        g = np.empty_like(x)
        w = np.linspace(0.5, 2.0, n_cols)
        sw = np.linspace(0.1, 1.0, n)
        total = _softmax.softmax_cross_entropy_rows(
            x, g, y, None, w, float(w.sum()), sw, -100, 0.1, 1.0 / n, rl, nt,
            logits_arr=x, grad_arr=g, min_parallel=0)
        got += [g, rl.copy(), np.array([total])]
        # a where= mask (each thread's own copy of its block), with present NaN
        mask = (np.arange(n * n_cols).reshape(n, n_cols) % 7 != 3).view(np.uint8)
        for log in (False, True):
            o = np.empty_like(x)
            _softmax.softmax_rows(x, o, log, mask, n_threads=nt, x_arr=x, out_arr=o,
                                  where_arr=mask, min_parallel=0)
            got.append(o)
        lse = np.empty(n)
        with np.errstate(all="ignore"):
            _softmax.logsumexp_rows(x, lse, None, mask, None, n_threads=nt, x_arr=x,
                                    where_arr=mask, min_parallel=0)
        got.append(lse)
        results.append(got)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_cols", [2, 10, 63, 100])
def test_logsumexp_log1p_of_the_sums_within_two_ulp(rng, n_cols):
    """lse = log1p(s) for rows [0, -t (k times), -inf ...]: s = k e^-t (k = 1
    or 2: the sum is exact, one rounding of the exponential) from 1e-20 to 2,
    across the kernels' switch between the table log1p (s <= 1) and log(1 + s)
    with its rounding error added back (s > 1); log_softmax subtracts the same
    value.  Reference: mpmath's log1p at 100 bits."""
    n = 400
    t = np.concatenate([rng.uniform(0, 45, n // 2), rng.uniform(0, 1.5, n // 2)])
    t[:8] = [0.0, 1e-300, 1e-17, 2 ** -30, np.log(1 + 2 ** -40), np.log(2), 30.0, 44.0]
    k = rng.integers(1, min(n_cols, 3), n)
    x = np.full((n, n_cols), -np.inf)
    x[:, 0] = 0.0
    for i in range(n):
        x[i, 1:1 + k[i]] = -t[i]
    lse = lossopt.logsumexp(x, axis=1)
    lsm = lossopt.log_softmax(x, axis=1)
    with mpmath.workprec(100):
        ref = np.array([float(mpmath.log1p(int(k[i]) * mpmath.exp(-mpmath.mpf(t[i]))))
                        for i in range(n)])
    np.testing.assert_allclose(lse, ref, rtol=2 * 2.0 ** -52, atol=0)
    np.testing.assert_allclose(lsm[:, 0], -ref, rtol=2 * 2.0 ** -52, atol=0)
