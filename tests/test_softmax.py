"""softmax / log_softmax: scipy.special semantics plus where= and out=."""

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import lossopt
from helpers import ulp_distance

mpmath.mp.dps = 60
FUNCS = [(lossopt.softmax, sc.softmax), (lossopt.log_softmax, sc.log_softmax)]


def mp_log_softmax(row):
    lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))
    return [mpmath.mpf(float(v)) - lse for v in row]


@pytest.mark.parametrize("ours, theirs", FUNCS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (1, 2)])
def test_matches_scipy(rng, ours, theirs, dtype, axis):
    x = (rng.normal(size=(6, 5, 9)) * 20).astype(dtype)
    got = ours(x, axis=axis)
    ref = theirs(x.astype(np.float64), axis=axis)
    assert got.shape == x.shape and got.dtype == dtype
    # log-probabilities near 0 carry scipy's absolute rounding error of
    # log(sum(exp)); float32 probabilities may be subnormal
    rtol = 1e-14 if dtype == np.float64 else 2e-6
    atol = (1e-15 if dtype == np.float64 else 1e-44) if ours is lossopt.softmax else \
        (4e-15 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("n_cols", [1, 2, 2047, 2048, 2049, 5000])
@pytest.mark.parametrize("ours, theirs", FUNCS)
def test_block_boundaries_and_long_rows(rng, ours, theirs, n_cols):
    x = rng.normal(size=(7, n_cols)) * 8
    np.testing.assert_allclose(ours(x, axis=1), theirs(x, axis=1), rtol=1e-13, atol=4e-15)


def test_big_single_row(rng):
    x = rng.normal(size=100_003)
    np.testing.assert_allclose(lossopt.softmax(x), sc.softmax(x), rtol=1e-13)
    np.testing.assert_allclose(lossopt.log_softmax(x), sc.log_softmax(x), rtol=1e-13)


def test_huge_equal_logits_do_not_nan():
    np.testing.assert_array_equal(lossopt.softmax(np.full(5, 10000.0)), np.full(5, 0.2))
    np.testing.assert_array_equal(lossopt.softmax(np.full((2, 4), 1e300), axis=1), 0.25)


@pytest.mark.parametrize("row", [
    [1e4, 0.0, 7e-7], [-1e300, 0.0], [0.0, -40.0], [0.0, -800.0], [709.0, 709.5, -709.0],
    [1.0, 1.0, 1.0], [-1e-300, 1e-300],
])
def test_hard_cases_against_mpmath(row):
    ref = mp_log_softmax(row)
    got_log = lossopt.log_softmax(np.array(row))
    got = lossopt.softmax(np.array(row))
    for j in range(len(row)):
        assert ulp_distance(got_log[j], float(ref[j])) <= 2
        assert ulp_distance(got[j], float(mpmath.exp(ref[j]))) <= 2


def test_float32_near_overflow():
    x = np.array([3.0e38, 3.0e38, -3.0e38], dtype=np.float32)
    np.testing.assert_array_equal(lossopt.softmax(x), np.array([0.5, 0.5, 0.0], np.float32))
    got = lossopt.log_softmax(x)
    assert got.dtype == np.float32
    assert got[0] == np.float32(-np.log(2.0)) and got[2] == -np.inf


def test_masks_and_infinities():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, -np.inf, 5.0],
                  [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 0.0], [np.nan, 0.0, 1.0]])
    mask = np.array([[True, False, True], [False, False, False], [True, True, True],
                     [True, True, True], [True, True, True], [True, True, True]])
    p = lossopt.softmax(x, axis=1, where=mask)
    lp = lossopt.log_softmax(x, axis=1, where=mask)
    np.testing.assert_allclose(p[0], sc.softmax([1.0, 3.0]).tolist()[:1] + [0.0] +
                               sc.softmax([1.0, 3.0]).tolist()[1:], rtol=1e-15)
    assert lp[0, 1] == -np.inf
    np.testing.assert_array_equal(p[1], 0.0)          # every entry masked: zeros
    np.testing.assert_array_equal(lp[1], -np.inf)
    np.testing.assert_array_equal(p[2], [0.5, 0.0, 0.5])  # -inf is a masked class
    np.testing.assert_array_equal(p[3], 0.0)          # all -inf: zeros (scipy: NaN)
    np.testing.assert_array_equal(lp[3], -np.inf)
    assert np.isnan(p[4]).all()                       # +inf: NaN, as scipy
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(lp[4], sc.log_softmax(x[4]))
    assert np.isnan(p[5]).all() and np.isnan(lp[5]).all()  # NaN propagates
    # a masked NaN or inf takes no part
    np.testing.assert_array_equal(
        lossopt.softmax([np.nan, np.inf, 0.0], where=[False, False, True]), [0, 0, 1])


@pytest.mark.parametrize("ours, theirs", FUNCS)
def test_out_and_in_place(rng, ours, theirs):
    x = rng.normal(size=(50, 13))
    ref = theirs(x, axis=1)
    out = np.empty_like(x)
    assert ours(x, axis=1, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=1e-14)
    y = x.copy()
    assert ours(y, axis=1, out=y) is y                 # in place
    np.testing.assert_allclose(y, ref, rtol=1e-14)
    # out laid out differently from the input, and along axis 0
    out_f = np.empty((13, 50), order="F").T
    ours(x, axis=1, out=out_f)
    np.testing.assert_allclose(out_f, ref, rtol=1e-14)
    out0 = np.empty_like(x)
    ours(x, axis=0, out=out0)
    np.testing.assert_allclose(out0, theirs(x, axis=0), rtol=1e-14)
    # partial overlap with the input: still right, input of the call unchanged
    buf = np.concatenate([x.ravel(), np.zeros(13)])
    view_in = buf[:x.size].reshape(x.shape)
    view_out = buf[13:].reshape(x.shape)
    ours(view_in, axis=1, out=view_out)
    np.testing.assert_allclose(view_out, ref, rtol=1e-14)


@pytest.mark.parametrize("ours", [lossopt.softmax, lossopt.log_softmax])
def test_out_errors(ours):
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="out must have shape"):
        ours(x, axis=1, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="out must have dtype float64"):
        ours(x, axis=1, out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        ours(x, axis=1, out=ro)
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        ours(x, axis=1, out=[[0] * 4] * 3)
    with pytest.raises(TypeError, match="x must be a real numeric"):
        ours(np.array(["a"]))


def test_read_only_strided_not_modified(rng):
    x = rng.normal(size=(30, 20))
    keep = x.copy()
    x.flags.writeable = False
    for view in (x, x[:, ::2], x[::3], x.T, x[:, 3:11]):
        np.testing.assert_allclose(lossopt.softmax(view, axis=1), sc.softmax(view, axis=1),
                                   rtol=1e-14)
        np.testing.assert_allclose(lossopt.log_softmax(view, axis=-1),
                                   sc.log_softmax(view, axis=-1), rtol=1e-14)
    np.testing.assert_array_equal(x, keep)


def test_threads_bit_identical(rng):
    x = rng.normal(size=(30_000, 10)) * 10
    with lossopt.threads(1):
        a, la = lossopt.softmax(x, axis=1), lossopt.log_softmax(x, axis=1)
    with lossopt.threads(2):
        b, lb = lossopt.softmax(x, axis=1), lossopt.log_softmax(x, axis=1)
    assert a.tobytes() == b.tobytes() and la.tobytes() == lb.tobytes()


@given(hnp.arrays(st.sampled_from([np.float32, np.float64]),
                  hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=7),
                  elements=st.floats(-100, 100, width=32)),
       st.data())
def test_property_matches_scipy(x, data):
    axis = data.draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    if data.draw(st.booleans()):
        x = x[::-1, ...]  # negative strides
    rtol = 1e-13 if x.dtype == np.float64 else 3e-6
    for ours, theirs in FUNCS:
        if ours is lossopt.softmax:
            atol = 1e-300 if x.dtype == np.float64 else 1e-44
        else:
            atol = 1e-14 if x.dtype == np.float64 else 1e-6
        got = ours(x, axis=axis)
        assert got.dtype == x.dtype and got.shape == x.shape
        if x.size:
            np.testing.assert_allclose(got, theirs(x.astype(np.float64), axis=axis),
                                       rtol=rtol, atol=atol)


@pytest.mark.parametrize("n_cols", [3, 10, 63, 64, 100, 3000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masks_on_every_path(rng, n_cols, dtype):
    """Short rows (column-wise path), mid rows (flat exp) and long rows (chunks)."""
    x = (rng.normal(size=(40, n_cols)) * 5).astype(dtype)
    mask = rng.random(x.shape) < 0.7
    mask[3] = False
    x64 = x.astype(np.float64)
    p = lossopt.softmax(x, axis=1, where=mask)
    lp = lossopt.log_softmax(x, axis=1, where=mask)
    lse = lossopt.logsumexp(x, axis=1, where=mask)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    for i in range(40):
        m = mask[i]
        if not m.any():
            assert (p[i] == 0).all() and (lp[i] == -np.inf).all() and lse[i] == -np.inf
            continue
        np.testing.assert_allclose(p[i][m], sc.softmax(x64[i][m]), rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(lp[i][m], sc.log_softmax(x64[i][m]), rtol=rtol,
                                   atol=1e-14 if dtype == np.float64 else 1e-6)
        assert (p[i][~m] == 0).all() and (lp[i][~m] == -np.inf).all()
        assert lse[i] == pytest.approx(sc.logsumexp(x64[i][m]), rel=rtol)


@pytest.mark.parametrize("n_cols", [5, 100, 3000])
def test_float32_accuracy_against_mpmath(rng, n_cols):
    """float32 data keeps its precision: x - max is taken exactly (two-sum)."""
    x = (rng.normal(size=(4, n_cols)) * 30).astype(np.float32)
    p = lossopt.softmax(x, axis=1)
    lp = lossopt.log_softmax(x, axis=1)
    for i in range(4):
        ref = mp_log_softmax(x[i].astype(np.float64))
        ref_lp = np.array([float(v) for v in ref])
        ref_p = np.array([float(mpmath.exp(v)) for v in ref])
        big = ref_p > 1e-30
        assert (np.abs(lp[i] - ref_lp) <= 2 * np.spacing(np.abs(ref_lp).astype(np.float32))).all()
        assert (np.abs(p[i][big] - ref_p[big]) <=
                2 * np.spacing(ref_p[big].astype(np.float32))).all()


@pytest.mark.parametrize("n_cols", [3, 70, 3000])
def test_masked_entries_stay_absent_next_to_nan_and_inf(n_cols):
    for bad in (np.nan, np.inf):
        x = np.linspace(-1, 1, n_cols)
        x[0] = bad
        x[1] = -np.inf
        mask = np.ones(n_cols, bool)
        mask[2] = False
        p = lossopt.softmax(x, where=mask)
        lp = lossopt.log_softmax(x, where=mask)
        assert p[2] == 0.0 and lp[2] == -np.inf
        assert np.isnan(p[mask]).all()
        assert np.isnan(lp[0])
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(lp[mask][1:], sc.log_softmax(x[mask])[1:])
