"""The AVX-512 kernels of src/lossopt_probs.h on the x86-64-v4 path: for
short rows (fewer than 64 classes) the one-pass kernels of softmax
cross-entropy with probability targets, the KL divergence and logsumexp with
b (no `where`), 8 (float64) or 16 (float32) rows at a time transposed in
registers; for longer rows (up to 2048 classes) the row-by-row kernels
(also tested by test_probs_blocks.py, whose class counts include 64, 100).  Row counts that end
a group and a block part-way, the class counts around the vector widths,
special rows inside a group, large logits, float32 b, strided views and
out= the input, against NumPy float64, mpmath and scipy.
tests/test_isa_paths.py runs this file on every SIMD path (where the block
kernels run instead: the same results are expected there)."""

import mpmath
import numpy as np
import pytest

import lossopt
from lossopt._kernels import _runtime, _softmax
from helpers import reference_cross_entropy, same_bits_on_1_and_2_threads
from test_probs_blocks import ce_probs_gradient, kl_reference, lse_b_reference

CLASSES = [1, 2, 7, 8, 9, 11, 12, 15, 16, 17, 63]
LONG = [64, 65, 100, 1000]                # the row-by-row kernels
DTYPES = [np.float64, np.float32]
V4 = _runtime.simd_path().startswith("x86-64-v4")


def rows_for(c):
    """An odd row count past one block (2048 // c rows) that ends a group of
    8 / 16 rows part-way."""
    return 2048 // c + 21


def make(rng, n, c, dtype, scale=3.0, shift=0.0):
    z = (rng.normal(size=(n, c)) * scale + shift).astype(dtype)
    t = rng.dirichlet(np.ones(c), size=n)
    t[::3, c // 2] = 0.0                 # zero targets: 0 ln 0 = 0
    return z, t.astype(dtype)


def tolerances(dtype):
    # float32: inputs exact in float64, sums in float64, the gradient rounded once
    return (1e-12, 1e-15) if dtype == np.float64 else (2e-6, 2e-7)


def test_the_kernels_run_on_the_v4_path():
    for c, kind in ((1, "short"), (2, "short"), (9, "short"), (17, "short"), (63, "short"),
                    (64, "long"), (100, "long"), (2048, "long"), (2049, None)):
        expected = kind if V4 else None
        assert _softmax.probs_kernel(c) == expected
        assert _softmax.probs_kernel(c, lse_b=True) == expected
        # logsumexp with b and where=: the long-row kernel only
        assert _softmax.probs_kernel(c, lse_b=True, has_mask=True) == (
            expected if kind == "long" else None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASSES + LONG)
def test_kl_and_cross_entropy_against_numpy(rng, c, dtype):
    n = rows_for(c)
    z, t = make(rng, n, c, dtype)
    sw = rng.uniform(0.2, 2.0, size=n)
    sw[[1, 12]] = 0.0                     # weight 0 inside a group: nothing
    rtol, atol = tolerances(dtype)
    per, grad = lossopt.KLDivergence(reduction="none").loss_and_gradient(z, t, sw)
    ref, ref_grad = kl_reference(z, t, sw)
    assert grad.dtype == dtype
    np.testing.assert_allclose(per, ref, rtol=rtol, atol=atol * 10)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=atol)
    assert per[12] == 0.0 and not grad[12].any()
    per, grad = lossopt.SoftmaxCrossEntropy(reduction="none").loss_and_gradient(z, t, sw)
    ref = reference_cross_entropy(z, t, reduction="none", sample_weight=sw)
    np.testing.assert_allclose(per, ref, rtol=rtol, atol=atol * 10)
    np.testing.assert_allclose(grad, ce_probs_gradient(z, t) * sw[:, None], rtol=rtol,
                               atol=atol)
    # the mean and the loss alone (no gradient: the same sums)
    value, g_mean = lossopt.KLDivergence().loss_and_gradient(z, t)
    ref, ref_grad = kl_reference(z, t)
    assert value == pytest.approx(ref.mean(), rel=rtol * 10, abs=atol)
    np.testing.assert_allclose(g_mean, ref_grad / n, rtol=rtol, atol=atol / n)
    assert lossopt.KLDivergence()(z, t) == value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [2, 9, 17, 63])
def test_class_weights_and_label_smoothing(rng, c, dtype):
    n = rows_for(c)
    z, t = make(rng, n, c, dtype, scale=5.0)
    cw = rng.uniform(0.5, 2.0, size=c)
    sw = rng.uniform(0.0, 2.0, size=n)
    loss = lossopt.SoftmaxCrossEntropy(reduction="sum", class_weight=cw, label_smoothing=0.2)
    value, grad = loss.loss_and_gradient(z, t, sw)
    ref = reference_cross_entropy(z, t, class_weight=cw, label_smoothing=0.2,
                                  reduction="none", sample_weight=sw)
    rtol, atol = tolerances(dtype)
    assert value == pytest.approx(ref.sum(), rel=rtol * 10)
    np.testing.assert_allclose(grad, ce_probs_gradient(z, t, cw, 0.2) * sw[:, None],
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 7, 8, 9, 16, 17, 100, 1000])
def test_special_rows_inside_a_group(rng, c, dtype):
    """Rows the kernel leaves to the engine, between ordinary rows of the
    same group of 8 / 16 (long rows: of the same block, whose maxima are
    taken before any exponential): +inf, NaN, all -inf, weight 0 with NaN."""
    n = 37
    z, t = make(rng, n, c, dtype)
    z[3, 0] = np.inf
    z[5, c - 1] = np.nan
    z[9, :] = -np.inf
    z[10, 0] = np.nan
    sw = np.ones(n)
    sw[10] = 0.0
    ordinary = np.setdiff1d(np.arange(n), [3, 5, 9, 10])
    rtol, atol = tolerances(dtype)
    for loss in (lossopt.KLDivergence(reduction="none"),
                 lossopt.SoftmaxCrossEntropy(reduction="none")):
        per, grad = loss.loss_and_gradient(z, t, sw)
        if isinstance(loss, lossopt.KLDivergence):
            ref, ref_grad = kl_reference(z[ordinary], t[ordinary])
        else:
            ref = reference_cross_entropy(z[ordinary], t[ordinary], reduction="none")
            ref_grad = ce_probs_gradient(z[ordinary], t[ordinary])
        np.testing.assert_allclose(per[ordinary], ref, rtol=rtol, atol=atol * 10)
        np.testing.assert_allclose(grad[ordinary], ref_grad, rtol=rtol, atol=atol)
        assert np.isnan(per[3]) and np.isnan(grad[3]).all()
        assert np.isnan(per[5]) and np.isnan(grad[5]).all()
        assert per[9] == 0.0 and not grad[9].any()
        assert per[10] == 0.0 and not grad[10].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [2, 9, 17])
def test_large_logits_against_mpmath(rng, c, dtype):
    """Logits near 1e4 / 80 (float32), one class far above the others: the
    maximum's gradient from 1 - p, exact where p rounds to 1."""
    n = 19
    big = 1e4 if dtype == np.float64 else 80.0
    z = rng.normal(size=(n, c)) * 2 + big
    z[:, 1 % c] += 40.0
    z = z.astype(dtype)
    t = np.full((n, c), 1e-6)
    t[:, 1 % c] = 1.0 - 1e-6 * (c - 1)
    t = t.astype(dtype)
    value, grad = lossopt.KLDivergence(reduction="none").loss_and_gradient(z, t)
    for i in (0, 7, 8, 18):
        zi = [mpmath.mpf(float(v)) for v in z[i]]
        ti = [mpmath.mpf(float(v)) for v in t[i]]
        top = max(zi)
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in zi)) + top
        kl = mpmath.fsum(tk * (mpmath.log(tk) - (zk - lse)) for zk, tk in zip(zi, ti))
        g = [float(mpmath.exp(zk - lse) * mpmath.fsum(ti) - tk) for zk, tk in zip(zi, ti)]
        assert value[i] == pytest.approx(float(kl), rel=1e-9, abs=1e-13)
        np.testing.assert_allclose(grad[i], g, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=4e-16 * c if dtype == np.float64 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 9, 17, 100, 1000])
def test_logsumexp_b_bit_identical_on_1_and_2_threads(rng, c, dtype):
    """(the cross-entropy and KL: tests/test_probs_blocks.py,
    test_probs_threads_bit_identical, which covers these C too)"""
    n = 3 * (2048 // c) + 5
    z, _ = make(rng, n, c, dtype)
    b = rng.normal(size=(n, c)).astype(dtype)
    results = []
    for threads in (1, 2):
        out, sign = np.empty(n), np.empty(n)
        _softmax.logsumexp_rows(z, out, sign, None, b, threads, x_arr=z, b_arr=b,
                                min_parallel=0)
        results.append((out.tobytes(), sign.tobytes()))
    assert results[0] == results[1]
    sc = pytest.importorskip("scipy.special")
    ref, ref_sign = sc.logsumexp(z.astype(np.float64), axis=1, b=b.astype(np.float64),
                                 return_sign=True)
    np.testing.assert_array_equal(np.frombuffer(results[0][1]), ref_sign)
    # the error of log|s| is the sums' relative error times cond = sum |b e^x| / |s|
    z64 = z.astype(np.float64)
    e = np.exp(z64 - z64.max(axis=1, keepdims=True))
    cond = (np.abs(b) * e).sum(axis=1) / np.abs((b * e).sum(axis=1))
    ok = np.isfinite(ref)
    eps = 1e-15 if dtype == np.float64 else 2e-7
    assert (np.abs(np.frombuffer(results[0][0])[ok] - ref[ok])
            <= eps * 4 * c * cond[ok] * np.maximum(1.0, np.abs(ref[ok]))).all()


@pytest.mark.parametrize("c", [2, 9, 17, 100])
def test_views_and_out_the_input(rng, c):
    """Logits and targets as strided views (row stride > C, a row step of 2),
    the gradient into the logits themselves and into the targets, and
    untouched gaps between the rows of a view."""
    n = rows_for(c)
    z, t = make(rng, n, c, np.float64)
    loss = lossopt.KLDivergence(reduction="none")
    per, grad = loss.loss_and_gradient(z, t)
    wide_z = rng.normal(size=(2 * n, c + 5))
    wide_z[::2, 2:c + 2] = z
    zs = wide_z[::2, 2:c + 2]
    wide_t = np.full((n, c + 3), 7.0)
    wide_t[:, 1:c + 1] = t
    ts = wide_t[:, 1:c + 1]
    per_s, grad_s = loss.loss_and_gradient(zs, ts)
    np.testing.assert_array_equal(per_s, per)
    np.testing.assert_array_equal(grad_s, grad)
    before = wide_z.copy()
    loss.loss_and_gradient(zs, ts, out=zs)          # out= the logits (a view)
    np.testing.assert_array_equal(zs, grad)
    before[::2, 2:c + 2] = grad
    np.testing.assert_array_equal(wide_z, before)   # nothing else written
    work_t = t.copy()
    loss.loss_and_gradient(z, work_t, out=work_t)   # out= the targets
    np.testing.assert_array_equal(work_t, grad)
    assert (wide_t[:, 0] == 7.0).all() and (wide_t[:, c + 1:] == 7.0).all()


# ------------------------------------------------------------ logsumexp b= --

# (logsumexp with b against mpmath: tests/test_probs_blocks.py, which takes
# these C too)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 2, 8, 9, 16, 17, 63] + LONG)
def test_logsumexp_b_signed_weights_like_scipy(rng, c, dtype):
    """Signed b with zeros, a row of nothing present, a row whose result is
    negative (NaN without return_sign), special rows inside a group, float32
    b, against scipy in float64."""
    sc = pytest.importorskip("scipy.special")
    n = 41
    a = (rng.normal(size=(n, c)) * 3).astype(dtype)
    b = rng.uniform(0.5, 2.0, size=(n, c)).astype(dtype)
    b[rng.uniform(size=(n, c)) < 0.2] = 0.0
    b[4] = 0.0                                   # nothing present: -inf, sign 0
    b[6] = -b[6]                                 # a negative sum
    b[8, :] = 0.5
    a[8, 0] = np.inf                             # +inf
    b[11, :] = 1.0
    a[11, c - 1] = np.nan                        # NaN
    b[13, :] = 1.0
    a[13, :] = -np.inf                           # every entry -inf
    got, sign = lossopt.logsumexp(a, axis=1, b=b, return_sign=True)
    with np.errstate(all="ignore"):
        ref, ref_sign = sc.logsumexp(a.astype(np.float64), axis=1, b=b.astype(np.float64),
                                     return_sign=True)
    ordinary = np.setdiff1d(np.arange(n), [4, 8, 11, 13])
    np.testing.assert_allclose(got[ordinary], ref[ordinary].astype(dtype),
                               rtol=4e-15 if dtype == np.float64 else 2.4e-7, atol=1e-12)
    np.testing.assert_array_equal(sign[ordinary], ref_sign[ordinary])
    assert sign[6] == -1.0
    assert got[4] == -np.inf and sign[4] == 0.0
    assert got[8] == np.inf and np.isnan(got[11]) and got[13] == -np.inf
    plain = lossopt.logsumexp(a, axis=1, b=b)
    assert np.isnan(plain[6])
    keep = np.setdiff1d(ordinary, [6])
    np.testing.assert_array_equal(plain[keep], got[keep])


@pytest.mark.parametrize("c", [3, 9, 17])
def test_logsumexp_b_views_and_large_logits(rng, c):
    n = rows_for(c)
    a = rng.normal(size=(n, c)) * 50 + 1e4
    b = rng.uniform(0.5, 2.0, size=(n, c))
    ref = lossopt.logsumexp(a, axis=1, b=b)
    top = a.max(axis=1)
    expect = np.log((b * np.exp(a - top[:, None])).sum(axis=1)) + top
    np.testing.assert_allclose(ref, expect, rtol=1e-15)
    wide_a = np.zeros((n, c + 4))
    wide_a[:, 3:c + 3] = a
    wide_b = np.ones((2 * n, c))
    wide_b[::2] = b
    np.testing.assert_array_equal(
        lossopt.logsumexp(wide_a[:, 3:c + 3], axis=1, b=wide_b[::2]), ref)
