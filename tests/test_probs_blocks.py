"""The block kernels of src/lossopt_probs.h: softmax cross-entropy with
probability targets, the KL divergence and logsumexp with b, for the row
lengths that take their different layouts (short rows column by column
below 64 classes, longer rows one by one, rows longer than the block buffer
through the engine), for row counts that end blocks part-way, with special
rows (masked, +inf, NaN, weight 0) among ordinary ones, against NumPy
float64 references, mpmath and scipy.  tests/test_isa_paths.py runs this
file on every SIMD path."""

import mpmath
import numpy as np
import pytest

import lossopt
from lossopt._kernels import _softmax
from helpers import reference_cross_entropy, same_bits_on_1_and_2_threads

mpmath.mp.dps = 40
# class counts around the layouts (short < 64 <= long <= 2048 < engine's chunks)
CLASSES = [1, 2, 7, 9, 17, 63, 64, 100, 2049]
DTYPES = [np.float64, np.float32]


def rows_for(c):
    """An odd row count that ends a block part-way (a block holds 2048 // c rows)."""
    per_block = max(1, 2048 // c)
    return min(2 * per_block + 3, 401) | 1


def kl_reference(z, t, sample_weight=None):
    """Per-row sum_k t_k (ln t_k - log_softmax(z)_k) (0 ln 0 = 0) and its
    gradient softmax(z) sum_k t_k - t, in float64 NumPy."""
    z = np.asarray(z, np.float64)
    t = np.asarray(t, np.float64)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    logp = z - m - np.log(e.sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(t > 0, t * (np.log(t) - logp), 0.0).sum(axis=1)
    p = e / e.sum(axis=1, keepdims=True)
    grad = p * t.sum(axis=1, keepdims=True) - t
    sw = np.ones(len(z)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return per * sw, grad * sw[:, None]


def ce_probs_gradient(z, t, class_weight=None, eps=0.0):
    """d/dz of sum_k c_k (-log softmax(z)_k), c_k = ((1 - eps) t_k + eps/C) w_k."""
    z = np.asarray(z, np.float64)
    n, c = z.shape
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, np.float64)
    q = (np.asarray(t, np.float64) * (1 - eps) + eps / c) * w
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p * q.sum(axis=1, keepdims=True) - q


def make(rng, n, c, dtype, scale=3.0, shift=0.0):
    z = (rng.normal(size=(n, c)) * scale + shift).astype(dtype)
    t = rng.dirichlet(np.ones(c), size=n)
    t[::5, 0] = 0.0                      # zero targets: 0 ln 0 = 0
    return z, t.astype(dtype)


def tolerances(dtype):
    # float32: the inputs are exact in float64, sums run in float64; the
    # gradient is rounded to float32 once
    return (1e-12, 1e-15) if dtype == np.float64 else (2e-6, 2e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASSES)
def test_kl_rows_against_numpy(rng, c, dtype):
    n = rows_for(c)
    z, t = make(rng, n, c, dtype)
    sw = rng.uniform(0.2, 2.0, size=n)
    sw[1] = 0.0                           # weight 0: contributes nothing
    per, grad = lossopt.KLDivergence(reduction="none").loss_and_gradient(z, t, sw)
    ref, ref_grad = kl_reference(z, t, sw)
    rtol, atol = tolerances(dtype)
    np.testing.assert_allclose(per, ref, rtol=rtol, atol=atol * 10)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=atol)
    assert per[1] == 0.0 and not grad[1].any()
    value, grad_sum = lossopt.KLDivergence(reduction="sum").loss_and_gradient(z, t)
    ref, ref_grad = kl_reference(z, t)
    assert value == pytest.approx(ref.sum(), rel=rtol * 10, abs=atol * n)
    np.testing.assert_allclose(grad_sum, ref_grad, rtol=rtol, atol=atol)
    # the loss alone takes the same path without the gradient
    assert lossopt.KLDivergence(reduction="sum")(z, t) == value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASSES)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probs_rows_against_numpy(rng, c, dtype, weighted):
    n = rows_for(c)
    z, t = make(rng, n, c, dtype, scale=5.0)
    kw = {}
    cw = sw = None
    if weighted:
        cw = rng.uniform(0.5, 2.0, size=c)
        sw = rng.uniform(0.0, 2.0, size=n)
        kw = {"class_weight": cw, "label_smoothing": 0.1}
    loss = lossopt.SoftmaxCrossEntropy(reduction="none", **kw)
    per, grad = loss.loss_and_gradient(z, t, sw)
    eps = kw.get("label_smoothing", 0.0)
    ref = reference_cross_entropy(z, t, class_weight=cw, label_smoothing=eps,
                                  reduction="none", sample_weight=sw)
    ref_grad = ce_probs_gradient(z, t, cw, eps) * (1.0 if sw is None else sw[:, None])
    rtol, atol = tolerances(dtype)
    np.testing.assert_allclose(per, ref, rtol=rtol, atol=atol * 10)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=atol)
    mean = lossopt.SoftmaxCrossEntropy(**kw)
    value, grad_mean = mean.loss_and_gradient(z, t, sw)
    denominator = n if sw is None else sw.sum()
    assert value == pytest.approx(ref.sum() / denominator, rel=rtol * 10)
    np.testing.assert_allclose(grad_mean, ref_grad / denominator, rtol=rtol, atol=atol / n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [7, 100])
def test_large_logits_and_a_dominant_class(rng, c, dtype):
    """Logits far from 0 (the shift by the row maximum) and targets that put
    almost everything on the maximum (the gradient there from 1 - p, exact
    where p rounds to 1), against mpmath."""
    n = 5
    z = rng.normal(size=(n, c)) * 2 + 1e4
    z[:, 0] += 40.0                       # p_0 within 1e-16 of 1
    z = z.astype(dtype)
    t = np.full((n, c), 1e-9)
    t[:, 0] = 1.0 - 1e-9 * (c - 1)
    t = t.astype(dtype)
    value, grad = lossopt.KLDivergence(reduction="none").loss_and_gradient(z, t)
    for i in range(n):
        zi = [mpmath.mpf(float(v)) for v in z[i]]
        ti = [mpmath.mpf(float(v)) for v in t[i]]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v - zi[0]) for v in zi)) + zi[0]
        kl = mpmath.fsum(tk * (mpmath.log(tk) - (zk - lse)) for zk, tk in zip(zi, ti))
        g = [mpmath.exp(zk - lse) * mpmath.fsum(ti) - tk for zk, tk in zip(zi, ti)]
        assert value[i] == pytest.approx(float(kl), rel=1e-9, abs=1e-14)
        # the maximum's entry, (sum t - t_0) - sum t (1 - p_0): no cancellation
        # in 1 - p_0, so its error is a few ulps of sum t = 1, not of p_0 - 1
        assert grad[i, 0] == pytest.approx(float(g[0]), abs=4e-16 * c if dtype == np.float64
                                           else 1e-9)
        np.testing.assert_allclose(grad[i, 1:], [float(v) for v in g[1:]],
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [9, 100])
def test_special_rows_among_ordinary_ones(rng, c, dtype):
    """Rows the block kernel leaves to the engine, in the middle of a block:
    a masked class, every class masked, +inf, NaN, weight 0 with NaN."""
    n = 11
    z, t = make(rng, n, c, dtype)
    z[2, 3] = -np.inf                     # masked class with zero target mass
    t[2, 3] = 0.0
    z[4, :] = -np.inf                     # every class masked: 0 and 0
    z[6, 1] = np.inf                      # +inf: NaN
    z[7, 2] = np.nan                      # NaN propagates
    z[8, 0] = np.nan                      # ... except with weight 0
    sw = np.ones(n)
    sw[8] = 0.0
    for loss in (lossopt.KLDivergence(reduction="none"),
                 lossopt.SoftmaxCrossEntropy(reduction="none")):
        per, grad = loss.loss_and_gradient(z, t, sw)
        ordinary = [0, 1, 3, 5, 9, 10]
        if isinstance(loss, lossopt.KLDivergence):
            ref, ref_grad = kl_reference(z[ordinary], t[ordinary])
        else:
            ref = reference_cross_entropy(z[ordinary], t[ordinary], reduction="none")
            ref_grad = ce_probs_gradient(z[ordinary], t[ordinary])
        rtol, atol = tolerances(dtype)
        np.testing.assert_allclose(per[ordinary], ref, rtol=rtol, atol=atol * 10)
        np.testing.assert_allclose(grad[ordinary], ref_grad, rtol=rtol, atol=atol)
        # the masked class: probability 0, no target mass: finite, gradient 0 there
        assert np.isfinite(per[2]) and grad[2, 3] == 0.0 and np.isfinite(grad[2]).all()
        assert per[4] == 0.0 and not grad[4].any()
        assert np.isnan(per[6]) and np.isnan(grad[6]).all()
        assert np.isnan(per[7]) and np.isnan(grad[7]).all()
        assert per[8] == 0.0 and not grad[8].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kl", [False, True])
@pytest.mark.parametrize("c", [1, 7, 9, 17, 100])
def test_probs_threads_bit_identical(rng, c, dtype, kl):
    n = 3 * max(1, 2048 // c) + 5
    z, t = make(rng, n, c, dtype)
    sw = rng.uniform(0, 1, size=n)

    def run(grad, row, threads):
        return _softmax.softmax_cross_entropy_rows(
            z, grad, None, t, None, 0.0, sw, -100, 0.0, 1.0 / n, row, threads,
            logits_arr=z, grad_arr=grad, probs_arr=t, kl=kl, min_parallel=0)

    total = same_bits_on_1_and_2_threads(run, z.shape, dtype)
    ref = kl_reference(z, t, sw)[0].sum() if kl else reference_cross_entropy(
        z, t, reduction="sum", sample_weight=sw)
    assert total == pytest.approx(ref, rel=1e-10 if dtype == np.float64 else 1e-6)


def test_gradient_in_place_of_the_logits(rng):
    """out may be the logits: every block reads them before it writes."""
    for c in (7, 100):
        z, t = make(rng, rows_for(c), c, np.float64)
        expected = lossopt.KLDivergence().gradient(z, t)
        work = z.copy()
        lossopt.KLDivergence().loss_and_gradient(work, t, out=work)
        np.testing.assert_array_equal(work, expected)


# ------------------------------------------------------------ logsumexp b= --

def lse_b_reference(a, b):
    """log|sum_j b_j exp(a_j)| and its sign per row, in mpmath (entries with
    b == 0 absent)."""
    out, sign = [], []
    for ar, br in zip(np.asarray(a, np.float64), np.asarray(b, np.float64)):
        total = mpmath.fsum(mpmath.mpf(float(bv)) * mpmath.exp(mpmath.mpf(float(av)))
                            for av, bv in zip(ar, br) if bv != 0)
        out.append(float(mpmath.log(abs(total))) if total != 0 else -np.inf)
        sign.append(float(mpmath.sign(total)))
    return np.array(out), np.array(sign)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", sorted(set(CLASSES) | {8, 15, 16, 65, 1000}))
def test_logsumexp_b_against_mpmath(rng, c, dtype):
    n = min(rows_for(c), 61)
    a = (rng.normal(size=(n, c)) * 4 + 300).astype(dtype)
    b = rng.uniform(0.1, 3.0, size=(n, c)).astype(dtype)
    b[::3, 0] = 0.0                       # absent entries
    b[1::4, -1] *= -0.01                  # a small negative weight: sum stays positive
    got, sign = lossopt.logsumexp(a, axis=1, b=b, return_sign=True)
    assert got.dtype == dtype
    ref, ref_sign = lse_b_reference(a, b)
    np.testing.assert_allclose(got, ref.astype(dtype), rtol=4e-16 if dtype == np.float64
                               else 1.2e-7)
    np.testing.assert_array_equal(sign, ref_sign)
    # without return_sign, a negative sum (a row of one negative weight) is NaN
    plain = lossopt.logsumexp(a, axis=1, b=b)
    np.testing.assert_array_equal(plain, np.where(ref_sign < 0, np.nan, got))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [2, 9, 17, 100, 1000])
def test_logsumexp_b_signs_zeros_and_where_like_scipy(rng, c, dtype):
    sc = pytest.importorskip("scipy.special")
    n = 2 * max(1, 2048 // c) + 7
    a = (rng.normal(size=(n, c)) * 3).astype(dtype)
    b = rng.normal(size=(n, c)).astype(dtype)          # signed weights
    b[rng.uniform(size=(n, c)) < 0.2] = 0.0
    b[5] = 0.0                                         # nothing present: -inf, sign 0
    b[6, :] = 0.0
    b[6, 0], b[6, 1] = 1.0, -1.0
    a[6, 0] = a[6, 1] = 50.0                           # two maxima cancel: literal sum
    got, sign = lossopt.logsumexp(a, axis=1, b=b, return_sign=True)
    with np.errstate(all="ignore"):
        ref, ref_sign = sc.logsumexp(a.astype(np.float64), axis=1, b=b.astype(np.float64),
                                     return_sign=True)
    ordinary = np.ones(n, bool)
    ordinary[[5, 6]] = False
    # signed weights cancel: the error of the sum is relative to sum |b| e^a
    # (exps in the data's precision), plus the rounding of the result
    eps = np.finfo(dtype).eps
    scale = (np.abs(b.astype(np.float64)) * np.exp(a.astype(np.float64))).sum(axis=1)
    linear = sign * np.exp(got.astype(np.float64))
    finite = np.where(np.isfinite(ref), ref, 0.0)
    bound = eps * (8 * scale + 2 * np.abs(finite) * np.exp(finite))
    assert (np.abs(linear - ref_sign * np.exp(ref)) <= bound)[ordinary].all()
    big = ordinary & (np.exp(ref) > 1e-3 * scale)       # no deep cancellation: signs agree
    np.testing.assert_array_equal(sign[big], ref_sign[big])
    assert got[5] == -np.inf and sign[5] == 0.0
    assert got[6] == -np.inf and sign[6] == 0.0             # 1 - 1 = 0 exactly
    # without return_sign a negative sum is NaN, the others as above
    plain = lossopt.logsumexp(a, axis=1, b=b)
    neg = ordinary & (ref_sign < 0)
    assert neg.any() and np.isnan(plain[neg]).all()
    np.testing.assert_array_equal(plain[ordinary & ~neg], got[ordinary & ~neg])
    # where=: masked entries are absent, like b == 0
    where = rng.uniform(size=(n, c)) < 0.7
    got_w, sign_w = lossopt.logsumexp(a, axis=1, b=b, where=where, return_sign=True)
    got_0, sign_0 = lossopt.logsumexp(a, axis=1, b=np.where(where, b, 0), return_sign=True)
    np.testing.assert_array_equal(got_w, got_0)
    np.testing.assert_array_equal(sign_w, sign_0)


@pytest.mark.parametrize("c", [7, 100])
def test_logsumexp_b_non_finite_rows(c):
    n = 9
    a = np.zeros((n, c))
    b = np.ones((n, c))
    a[1, 2] = np.inf                       # +inf: +inf
    a[2, 3] = np.nan                       # NaN
    a[3, 4] = np.nan
    b[3, 4] = 0.0                          # ... absent where b == 0
    a[4, :] = -np.inf                      # every entry -inf: -inf
    a[5, 0] = 800.0                        # far above the others: exact shift
    b[6, 0] = np.inf                       # an infinite weight: +inf
    got = lossopt.logsumexp(a, axis=1, b=b)
    assert got[0] == pytest.approx(np.log(c), rel=1e-15)
    assert got[1] == np.inf and np.isnan(got[2])
    assert got[3] == pytest.approx(np.log(c - 1), rel=1e-15)
    assert got[4] == -np.inf
    assert got[5] == pytest.approx(800.0 + np.log1p((c - 1) * np.exp(-800.0)), rel=1e-15)
    assert got[6] == np.inf
    for dtype in DTYPES:
        got32 = lossopt.logsumexp(a.astype(dtype), axis=1, b=b.astype(dtype))
        np.testing.assert_allclose(got32[[0, 3, 7, 8]], got[[0, 3, 7, 8]], rtol=1e-7)


def test_logsumexp_b_float32_stays_float32_and_mixed_dtypes(rng):
    a = rng.normal(size=(50, 9))
    b = rng.uniform(0.5, 2.0, size=(50, 9))
    ref = lossopt.logsumexp(a, axis=1, b=b)
    got32 = lossopt.logsumexp(a.astype(np.float32), axis=1, b=b.astype(np.float32))
    assert got32.dtype == np.float32
    # float32 b is exact in float64: the float32 result is the float64 one
    # of the same (rounded) inputs, rounded once
    ref32 = lossopt.logsumexp(a.astype(np.float32).astype(np.float64), axis=1,
                              b=b.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(got32, ref32, rtol=1.2e-7)
    # float32 a with float64 b: computed in float64, as before
    mixed = lossopt.logsumexp(a.astype(np.float32), axis=1, b=b)
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, lossopt.logsumexp(
        a.astype(np.float32).astype(np.float64), axis=1, b=b), rtol=0)
    assert ref.dtype == np.float64
    # a read-only b (and a) is accepted, and not written
    b_ro = b.copy()
    b_ro.flags.writeable = False
    np.testing.assert_array_equal(lossopt.logsumexp(a, axis=1, b=b_ro), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 100])
def test_logsumexp_b_threads_bit_identical(rng, c, dtype):
    n = 3 * max(1, 2048 // c) + 5
    a = rng.normal(size=(n, c)).astype(dtype)
    b = rng.normal(size=(n, c)).astype(dtype)
    results = []
    for threads in (1, 2):
        out = np.empty(n)
        sign = np.empty(n)
        _softmax.logsumexp_rows(a, out, sign, None, b, threads, x_arr=a, b_arr=b,
                                min_parallel=0)
        results.append((out.tobytes(), sign.tobytes()))
    assert results[0] == results[1]


# ------------------------------------------------- x log x of the targets --

@pytest.mark.parametrize("dtype", DTYPES)
def test_xlogx_sweep_against_mpmath(rng, dtype):
    """The KL divergence's t log t (a table-driven log on the x86-64-v4
    path): within 2 ulps of x log x away from x = 1, and near 1, where log x
    is small, within 1e-17 absolute of log x (times x); the edges."""
    x = np.concatenate([rng.uniform(0, 1, 3000), np.exp(rng.uniform(-700, 700, 3000)),
                        rng.uniform(0.5, 2.0, 2000), 1 + rng.uniform(-0.05, 0.05, 1000),
                        [0.75, 1.5, np.nextafter(0.75, 0), np.nextafter(1.5, 2), 2.0, 0.5,
                         np.nextafter(1, 0), np.nextafter(1, 2), 1.0, 1e-300, 2.2250738585072014e-308]])
    with np.errstate(over="ignore"):
        x = x.astype(dtype)                    # (float32: the largest become inf)
    x = x[(x > 0) & np.isfinite(x)]
    out = np.empty(len(x))
    _softmax.xlogx_array(x, out)
    for v, o in zip(x.astype(np.float64), out):
        ref = mpmath.mpf(float(v)) * mpmath.log(mpmath.mpf(float(v)))
        err = abs(mpmath.mpf(float(o)) - ref)
        # within 2 ulp everywhere, near 1 too (relative precision kept)
        assert err <= 2 * np.spacing(abs(float(ref))), v
    edges = np.array([0.0, -0.0, np.inf, np.nan, -1.0, 5e-324, 1e300, 1.0], dtype=np.float64)
    out = np.empty(len(edges))
    _softmax.xlogx_array(edges, out)
    assert out[7] == 0.0                       # a one-hot target adds exactly 0
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] == np.inf
    assert np.isnan(out[3]) and np.isnan(out[4])
    assert out[5] == pytest.approx(5e-324 * np.log(5e-324), rel=1e-3)   # subnormal result
    assert out[6] == pytest.approx(1e300 * np.log(1e300), rel=1e-15)


@pytest.mark.parametrize("c", [7, 100])
def test_strided_rows_and_other_layouts(rng, c):
    """Logits, targets and b whose rows are not contiguous (row stride > C),
    and the class axis first: the same results as contiguous copies."""
    n = rows_for(c)
    z, t = make(rng, n, c, np.float64)
    wide_z = np.zeros((n, c + 5))
    wide_z[:, 2:c + 2] = z
    wide_t = np.zeros((n, c + 3))
    wide_t[:, 1:c + 1] = t
    zs, ts = wide_z[:, 2:c + 2], wide_t[:, 1:c + 1]
    assert not zs.flags.c_contiguous and not ts.flags.c_contiguous
    for loss in (lossopt.KLDivergence(reduction="none"),
                 lossopt.SoftmaxCrossEntropy(reduction="none")):
        per, grad = loss.loss_and_gradient(z, t)
        per_s, grad_s = loss.loss_and_gradient(zs, ts)
        np.testing.assert_array_equal(per_s, per)
        np.testing.assert_array_equal(grad_s, grad)
        for out in (np.zeros((c, n)).T, np.zeros((n, c + 4))[:, 1:c + 1]):
            loss.loss_and_gradient(zs, ts, out=out)      # Fortran order, row stride > C
            np.testing.assert_array_equal(out, grad)
    axis0 = lossopt.KLDivergence(reduction="none", axis=0)
    per0, grad0 = axis0.loss_and_gradient(z.T, t.T)
    np.testing.assert_allclose(per0, kl_reference(z, t)[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad0, kl_reference(z, t)[1].T, rtol=1e-12, atol=1e-15)
    b = rng.uniform(0.5, 2.0, size=(n, c))
    wide_b = np.ones((n, c + 2))
    wide_b[:, :c] = b
    ref = lossopt.logsumexp(z, axis=1, b=b)
    np.testing.assert_array_equal(lossopt.logsumexp(zs, axis=1, b=wide_b[:, :c]), ref)
    np.testing.assert_array_equal(lossopt.logsumexp(z.T, axis=0, b=b.T), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad", [0, 2049])      # the block kernel, the engine's chunks
def test_logsumexp_b_cancelling_maxima_of_large_logits(dtype, pad):
    # the weights of the maxima cancel: the sum is that of the other entries
    # (scipy 1.17 returns NaN here, from the literal inf - inf)
    big = 1000.0 if dtype == np.float64 else 80.0
    a = np.array([[big, big, big - 1], [big, big, big - 1], [big, big, 0.0]], dtype)
    b = np.array([[1, -1, 1], [1, -1, 0], [2, -1, -1]], dtype)
    a = np.concatenate([a, np.zeros((3, pad), dtype)], axis=1)
    b = np.concatenate([b, np.zeros((3, pad), dtype)], axis=1)      # absent entries
    got, sign = lossopt.logsumexp(a, axis=1, b=b, return_sign=True)
    assert got.dtype == dtype
    assert got[0] == pytest.approx(big - 1, rel=1e-7) and sign[0] == 1.0
    assert got[1] == -np.inf and sign[1] == 0.0
    # 2 e^big - e^big - 1: the maxima's weights do not cancel, the usual formula
    assert got[2] == pytest.approx(big, rel=1e-7) and sign[2] == 1.0
    plain = lossopt.logsumexp(a, axis=1, b=b)
    assert plain[0] == got[0] and plain[1] == -np.inf
