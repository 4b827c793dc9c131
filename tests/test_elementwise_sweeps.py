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
from lossopt._kernels import _regression

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
