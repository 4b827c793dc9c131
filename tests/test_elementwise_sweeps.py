"""The chunked pre-sweeps of the element-wise losses (src/lossopt_elementwise.h,
"the pre-sweeps"): the binary cross-entropy's softplus parts (on x86-64-v4 the
table exp and the division-free table log1p, lossopt_log1p_unit_v8) and the
Poisson NLL's e^p, swept LOSSOPT_ELEM_CHUNK = 512 elements at a time before
the fused loop; and the domain counts, kept per chunk of 2^16 in the data's
own type.  Lengths 1..40 (around the 8- and 16-lane vectors and their masked
tails) and around the chunk boundaries, against mpmath and NumPy float64.
tests/test_isa_paths.py runs this file on every lower SIMD path too."""

import mpmath
import numpy as np
import pytest

import lossopt
from lossopt._kernels import _regression, _runtime

CHUNK = 512
LENGTHS = list(range(1, 41)) + [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7, 8191, 8192, 8193]


def mp_softplus(x):
    """log(1 + e^-|x|) in mpmath (x exact)."""
    return mpmath.log1p(mpmath.exp(-abs(mpmath.mpf(float(x)))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_softplus_over_the_table_intervals_against_mpmath(rng, dtype):
    """With t = 1 and x >= 0 the loss is softplus(-x) alone: within 2 float64
    ulps of mpmath over |x| in [0, 40], across every interval of the table
    log1p (e = exp(-|x|) near j/16 and (j + 1/2)/16), and at the edges."""
    cuts = [float(-mpmath.log(mpmath.mpf(j) / 32)) for j in range(1, 33)]
    x = np.concatenate([rng.uniform(0, 40, 1500), rng.uniform(0, 1e-3, 100),
                        np.repeat(cuts, 8) + rng.uniform(-1e-9, 1e-9, 8 * len(cuts)),
                        [0.0, 18.0, 37.0, 80.0, 700.0, 745.0, 746.0, 1e4, 5e-324]])
    x = x.astype(dtype)
    x = x * np.where(rng.uniform(size=x.size) < 0.5, -1, 1).astype(dtype)
    t = (x >= 0).astype(dtype)          # the linear term vanishes: loss = softplus(-|x|)
    value, _ = lossopt.BinaryCrossEntropy(reduction="none").loss_and_gradient(x, t)
    assert value.dtype == dtype
    # float32 data: the loss is computed in float64 and rounded to float32 at return
    # (and below float32's range, to 0)
    tol = 4e-16 if dtype == np.float64 else np.finfo(np.float32).eps / 2
    tiny = 1e-320 if dtype == np.float64 else float(np.finfo(np.float32).smallest_subnormal)
    with mpmath.workdps(40):
        for xi, v in zip(x, value):
            ref = mp_softplus(xi)
            assert abs(mpmath.mpf(float(v)) - ref) <= tol * ref + tiny, xi


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", LENGTHS)
def test_bce_every_length_against_float64_reference(rng, dtype, n):
    """Every element of every length (the masked tails of the sweeps, the last
    partial chunk) against a NumPy float64 evaluation, pos_weight and label
    smoothing included; nothing written past n (a guard element)."""
    x = (rng.normal(size=n) * 4).astype(dtype)
    x[::5] = rng.choice([0.0, 18.0, -18.0, 37.0, -37.0, 1e3, -1e3], size=x[::5].size)
    t = rng.uniform(size=n).astype(dtype)
    pw, ls = 1.7, 0.1
    out = np.full(n + 1, 7.0, dtype=dtype)
    value, grad = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=ls,
                                             reduction="sum").loss_and_gradient(
        x, t, out=out[:n])
    assert out[n] == 7.0
    # the loss alone (no gradient) is the same number
    assert lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=ls,
                                      reduction="sum")(x, t) == value
    xd, td = x.astype(np.float64), t.astype(np.float64)
    tt = td * (1 - ls) + ls / 2
    lw = 1 + (pw - 1) * tt
    ref_l = (1 - tt) * xd + lw * np.logaddexp(0, -xd)
    with np.errstate(over="ignore"):                   # exp(1e3) = inf: sigma = 0
        ref_g = lw / (1 + np.exp(-xd)) - pw * tt
    assert value == pytest.approx(ref_l.sum(), rel=1e-13)
    np.testing.assert_allclose(grad, ref_g, rtol=1e-13 if dtype == np.float64 else 1e-6,
                               atol=1e-15 if dtype == np.float64 else 1e-7)
    # float32 data: float64 arithmetic, the same loss as the float64 evaluation
    if dtype == np.float32:
        v64 = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=ls,
                                         reduction="sum")(xd, td)
        assert value == pytest.approx(v64, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", LENGTHS)
def test_poisson_every_length_against_float64_reference(rng, dtype, n):
    """log_input=True: l = e^p - t p, g = e^p - t, e^p from the sweep."""
    p = (rng.normal(size=n) * 3).astype(dtype)
    p[::7] = rng.choice([-700.0, 80.0, -80.0, 0.0], size=p[::7].size).astype(dtype)
    t = rng.poisson(2.0, size=n).astype(dtype)
    out = np.full(n + 1, 7.0, dtype=dtype)
    value, grad = lossopt.PoissonNLL(reduction="sum").loss_and_gradient(p, t, out=out[:n])
    assert out[n] == 7.0
    assert lossopt.PoissonNLL(reduction="sum")(p, t) == value      # no gradient: the same
    pd, td = p.astype(np.float64), t.astype(np.float64)
    assert value == pytest.approx(np.sum(np.exp(pd) - td * pd), rel=1e-13)
    # e^p - t cancels where e^p is near t: the bound is relative to both terms
    scale = np.exp(pd) + td
    # (float32: rounded to float32, e^-700 to 0)
    tol, tiny = (4e-16, 0.0) if dtype == np.float64 else (1.2e-7, 1.5e-45)
    assert np.all(np.abs(grad - (np.exp(pd) - td)) <= tol * scale + tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sweeps_with_weights_and_row_losses(rng, dtype):
    """The chunked loop also runs with sample weights and reduction='none'
    (one row loss per element): weighted sums and row losses against NumPy."""
    n = 3 * CHUNK + 11
    x = (rng.normal(size=n) * 4).astype(dtype)
    t = rng.uniform(size=n).astype(dtype)
    sw = rng.uniform(0, 2, size=n)
    sw[::9] = 0.0
    xd, td = x.astype(np.float64), t.astype(np.float64)
    ref = td * np.logaddexp(0, -xd) + (1 - td) * np.logaddexp(0, xd)
    got = lossopt.BinaryCrossEntropy(reduction="none")(x, t)
    np.testing.assert_allclose(got, ref, rtol=1e-14 if dtype == np.float64 else 1e-6)
    value, grad = lossopt.BinaryCrossEntropy(reduction="sum").loss_and_gradient(x, t, sw)
    assert value == pytest.approx(np.sum(sw * ref), rel=1e-13)
    np.testing.assert_allclose(grad, sw * (1 / (1 + np.exp(-xd)) - td),
                               rtol=1e-13 if dtype == np.float64 else 1e-6, atol=1e-15)
    assert np.all(grad[::9] == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_domain_counts_across_their_chunks(dtype):
    """count_outside keeps an int count per 2^16 elements: bad values at the
    first and last element of each chunk and in the tail are all counted."""
    n = 3 * 65536 + 5
    for domain, good, bad in [(_regression.SIGN_LABEL, 1.0, 0.5),
                              (_regression.UNIT, 0.25, 1.5),
                              (_regression.NONNEGATIVE, 3.0, -1.0)]:
        x = np.full(n, good, dtype=dtype)
        idx = [0, 65535, 65536, 131071, 131072, 196607, 196608, n - 1]
        x[idx] = bad
        x[100] = np.nan                                     # NaN is never outside
        assert _regression.count_outside(domain, x.reshape(1, -1)) == len(idx)
        assert _regression.count_outside(domain, x.reshape(-1, 1)[:1]) == 1


@pytest.mark.parametrize("n", LENGTHS)
def test_gaussian_float32_every_length_against_float64_reference(rng, n):
    """float32 data: log(max(v, eps)) from the float pre-sweep (on x86-64-v4
    the division-free table log, lossopt_logf_v16), the rest in float: loss
    and both gradients within a few float ulps of a float64 evaluation; the
    clamp and NaN kept; nothing written past n."""
    p = rng.normal(size=n).astype(np.float32)
    t = rng.normal(size=n).astype(np.float32)
    v = (10.0 ** rng.uniform(-8, 8, n)).astype(np.float32)
    v[::6] = 1e-9                                          # below eps: clamped
    out_p, out_v = np.full(n + 1, 7.0, np.float32), np.full(n + 1, 7.0, np.float32)
    value, (gp, gv) = lossopt.GaussianNLL(reduction="sum").loss_and_gradient(
        p, t, v, out=(out_p[:n], out_v[:n]))
    assert out_p[n] == 7.0 and out_v[n] == 7.0
    eps = float(np.float32(1e-6))
    d, vc = p.astype(np.float64) - t.astype(np.float64), np.maximum(v.astype(np.float64), eps)
    terms = 0.5 * (np.log(vc) + d * d / vc)
    f = float(np.finfo(np.float32).eps)
    assert abs(value - terms.sum()) <= 4 * f * np.sum(0.5 * (np.abs(np.log(vc)) + d * d / vc))
    np.testing.assert_allclose(gp, d / vc, rtol=2 * f, atol=0)
    assert np.all(np.abs(gv - 0.5 * (1 / vc - d * d / vc ** 2))
                  <= 4 * f * 0.5 * (1 / vc + d * d / vc ** 2))


def test_gaussian_float32_log_over_the_whole_float_range_against_mpmath(rng):
    """With pred == target the loss is log(v) / 2: over variances from the
    smallest subnormal float to the largest, across every table interval
    (mantissas 0.75..1.5), within 2 float ulps of mpmath; v = 0
    (eps = 0) meets 0/0 in d^2/v, +inf and NaN propagate."""
    bits = rng.integers(1, 0x7f800000, size=3000, dtype=np.uint32)
    v = np.concatenate([bits.view(np.float32),
                        np.float32(1.0) + np.arange(-64, 64, dtype=np.float32) / 128,
                        np.array([1.0, 0.75, 1.5, np.nextafter(np.float32(1), np.float32(0)),
                                  1e-45, 1e-40, 1.17549435e-38, 3.4028235e38],
                                 dtype=np.float32)])
    z = np.zeros_like(v)
    got = lossopt.GaussianNLL(eps=0.0, reduction="none")(z, z, v)
    assert got.dtype == np.float32
    # within 2 ulps of log(v): one ulp of the float 2 * got
    ulp_log = np.spacing(np.abs(2 * got).astype(np.float32)).astype(np.float64)
    with mpmath.workdps(30):
        for g, vi, u in zip(got, v, ulp_log):
            ref = mpmath.log(mpmath.mpf(float(vi))) / 2
            assert abs(mpmath.mpf(float(g)) - ref) <= u + 1e-45, vi
    special = np.array([0.0, np.inf, np.nan], dtype=np.float32)
    got = lossopt.GaussianNLL(eps=0.0, reduction="none")(np.zeros(3, np.float32),
                                                         np.zeros(3, np.float32), special)
    # v = 0: log 0 = -inf, and d^2 / v = 0 / 0 = NaN, as the float64 formula
    assert np.isnan(got[0]) and got[1] == np.inf and np.isnan(got[2])


@pytest.mark.parametrize("n", LENGTHS)
def test_gaussian_float64_every_length_against_float64_reference(rng, n):
    """float64 data, the call with gradients and no weights (on x86-64-v4 one
    AVX-512 loop with the division-free table log, lossopt_log_v8): loss and
    both gradients against NumPy float64; the clamp; nothing written past n."""
    p, t = rng.normal(size=n), rng.normal(size=n)
    v = 10.0 ** rng.uniform(-12, 12, n)
    v[::6] = 1e-9                                          # below eps: clamped
    out_p, out_v = np.full(n + 1, 7.0), np.full(n + 1, 7.0)
    value, (gp, gv) = lossopt.GaussianNLL(full=True, reduction="sum").loss_and_gradient(
        p, t, v, out=(out_p[:n], out_v[:n]))
    assert out_p[n] == 7.0 and out_v[n] == 7.0
    d, vc = p - t, np.maximum(v, 1e-6)
    terms = 0.5 * (np.log(vc) + d * d / vc) + 0.5 * np.log(2 * np.pi)
    assert abs(value - terms.sum()) <= 1e-14 * np.sum(np.abs(terms))
    np.testing.assert_allclose(gp, d / vc, rtol=1e-15, atol=0)
    # (both sides round 1/vc, d/vc and its square: a few ulps of the larger term)
    assert np.all(np.abs(gv - 0.5 * (1 / vc - d * d / vc ** 2))
                  <= 1e-15 * 0.5 * (1 / vc + d * d / vc ** 2))
    # the loss alone (no gradient) is the same number
    assert lossopt.GaussianNLL(full=True, reduction="sum")(p, t, v) == value


def test_gaussian_float64_log_over_the_whole_range_against_mpmath(rng):
    """log(v) / 2 (pred == target, eps = 0) through the same loop, one call
    per variance so that each value is the loss itself: subnormal to the
    largest double and across the table's intervals, within 2 ulps."""
    v = np.concatenate([10.0 ** rng.uniform(-300, 300, 60), 1.0 + rng.uniform(-0.3, 0.6, 60),
                        [5e-324, 1e-310, 2.2250738585072014e-308, 0.75, 1.5 - 2**-52,
                         1 - 2**-53, 1 + 2**-52, 1.7976931348623157e308]])
    loss = lossopt.GaussianNLL(eps=0.0, reduction="sum")
    with mpmath.workdps(40):
        for vi in v:
            got, _ = loss.loss_and_gradient(np.zeros(9), np.zeros(9), np.full(9, vi))
            ref = 9 * mpmath.log(mpmath.mpf(float(vi))) / 2
            assert abs(mpmath.mpf(got) - ref) <= 2 * np.spacing(abs(float(ref))) + 1e-300, vi


LOSS_ONLY_CASES = [
    dict(reduction="none"),
    dict(reduction="none", pos_weight=2.0, label_smoothing=0.1),
    dict(reduction="sum", weighted=True),
    dict(reduction="sum", shape=(701, 5), weighted=True),
    dict(reduction="none", shape=(301, 17), pos_weight="cols"),
    dict(reduction="mean", shape=(301, 17), pos_weight="cols", weighted=True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", LOSS_ONLY_CASES, ids=str)
def test_loss_alone_is_the_loss_of_loss_and_gradient_bit_for_bit(rng, dtype, case):
    """loss() and loss_and_gradient()[0] run different variants of a loop (with
    and without the gradient); each element's loss is rounded alike in both,
    for row losses, weights and per-column pos_weight too (the modules are
    built without contraction to fused multiply-adds)."""
    case = dict(case)
    shape = case.pop("shape", (50_000,))
    weighted = case.pop("weighted", False)
    if case.get("pos_weight") == "cols":
        case["pos_weight"] = np.linspace(0.3, 3.0, shape[1])
    x = (rng.normal(size=shape) * 8).astype(dtype)
    t = rng.uniform(size=shape).astype(dtype)
    sw = rng.uniform(0, 2, size=shape[0]) if weighted else None
    baseline = not _runtime.simd_path().startswith(("x86-64-v3", "x86-64-v4"))
    for loss in (lossopt.BinaryCrossEntropy(**case),
                 lossopt.PoissonNLL(reduction=case["reduction"]),
                 lossopt.GaussianNLL(reduction=case["reduction"])):
        args = (x, t) if not isinstance(loss, lossopt.GaussianNLL) else (x, t, np.abs(t) + 0.1)
        if isinstance(loss, lossopt.PoissonNLL):
            args = (x / 4, np.floor(t * 5))
        alone = loss(*args, sample_weight=sw)
        with_grad = loss.loss_and_gradient(*args, sample_weight=sw)[0]
        if (baseline and isinstance(loss, lossopt.GaussianNLL) and weighted
                and case["reduction"] != "none"):
            # known: on the baseline (SSE2) path GCC vectorises the two
            # variants of the weighted Gaussian loop differently, so the
            # block's sum is added in another order (the row losses agree):
            # the same total, summed in another order (rounding: far below
            # n eps of the sum of |terms|, all positive here but a few)
            assert alone == pytest.approx(with_grad, rel=1e-13)
            continue
        np.testing.assert_array_equal(alone, with_grad, err_msg=type(loss).__name__)


def test_bce_small_pos_weight_with_smoothing_against_mpmath():
    """lw = 1 + (pw - 1) tt is computed as pw tt + (1 - tt): for pw near 0 and
    a slightly smoothed target it is tiny, and the other form cancelled to
    1e-4 relative error."""
    for pw, ls, x in [(0.0, 1e-12, 0.0), (1e-6, 1e-10, 0.5), (0.0, 0.1, -2.0), (1e-9, 1e-8, 3.0)]:
        got = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=ls,
                                         reduction="none")(np.array([x]), np.array([1.0]))[0]
        mpmath.mp.dps = 40
        tt = 1 - mpmath.mpf(ls) / 2
        lw = 1 + (mpmath.mpf(pw) - 1) * tt
        ref = (1 - tt) * x + lw * mpmath.log1p(mpmath.exp(-mpmath.mpf(x)))
        assert abs(got - float(ref)) <= 4e-16 * abs(float(ref)), (pw, ls, x, got, ref)
