"""logsumexp: scipy.special.logsumexp semantics, plus where=; hard cases
against mpmath at 60 digits."""

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import lossopt
from helpers import ulp_distance

mpmath.mp.dps = 60


def mp_lse(row):
    return float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (2, 1), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matches_scipy(rng, dtype, axis, keepdims):
    a = (rng.normal(size=(7, 5, 11)) * 30).astype(dtype)
    got = lossopt.logsumexp(a, axis=axis, keepdims=keepdims)
    ref = sc.logsumexp(a.astype(np.float64), axis=axis, keepdims=keepdims)
    assert np.shape(got) == np.shape(ref)
    assert np.asarray(got).dtype == dtype
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(got, ref, rtol=rtol)


def test_scalar_and_types():
    assert isinstance(lossopt.logsumexp([1.0, 2.0]), np.float64)
    assert lossopt.logsumexp(3.0) == 3.0
    assert lossopt.logsumexp([1, 2, 3]) == pytest.approx(sc.logsumexp([1, 2, 3]), rel=1e-15)
    assert lossopt.logsumexp(np.array([1, 2], np.float16)).dtype == np.float32
    assert lossopt.logsumexp(np.array([True, False])) == pytest.approx(np.log(1 + np.e))


@pytest.mark.parametrize("row", [
    [-np.inf, -np.inf], [np.inf, 0.0], [np.inf, np.inf], [np.nan, 1.0], [np.nan, -np.inf],
    [-np.inf, np.inf], [np.inf, np.nan], [1e308, 1e308], [-1e308, 1e308], [0.0],
])
def test_edge_cases_like_scipy(row):
    a = np.array(row)
    with np.errstate(all="ignore"):
        ref = sc.logsumexp(a)
    got = lossopt.logsumexp(a)
    np.testing.assert_array_equal(got, ref)


def test_empty():
    assert lossopt.logsumexp(np.array([])) == -np.inf
    # scipy's sign for the sum of nothing is sign(-inf) = -1
    assert lossopt.logsumexp(np.zeros(0), return_sign=True) == sc.logsumexp(
        np.zeros(0), return_sign=True)
    np.testing.assert_array_equal(lossopt.logsumexp(np.zeros((0, 3)), axis=0, return_sign=True),
                                  sc.logsumexp(np.zeros((0, 3)), axis=0, return_sign=True))
    np.testing.assert_array_equal(lossopt.logsumexp(np.zeros((3, 0)), axis=1), [-np.inf] * 3)
    assert lossopt.logsumexp(np.zeros((0, 3)), axis=1).shape == (0,)
    assert lossopt.logsumexp(np.zeros((0, 3)), axis=0).tolist() == [-np.inf] * 3


@pytest.mark.parametrize("b", [
    [1.0, -1.0, 0.5], [-1.0, -2.0, -0.5], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 1.0, 1.0],
    [-1.0, 1.0, 0.0],
])
@pytest.mark.parametrize("a", [[1.0, 1.0, 3.0], [0.0, 0.0, -np.inf], [2.0, 2.0, 2.0],
                               [np.inf, 1.0, 0.0]])
def test_b_and_return_sign_like_scipy(a, b):
    a, b = np.array(a), np.array(b)
    with np.errstate(all="ignore"):
        ref, ref_sign = sc.logsumexp(a, b=b, return_sign=True)
        ref_nosign = sc.logsumexp(a, b=b)
    if not b.any():
        # b == 0 everywhere: nothing is present, so -inf.  scipy's own rule says
        # entries with b == 0 add nothing even where a is inf, but its fallback
        # for non-finite results computes 0 * inf = NaN; lossopt keeps the rule.
        ref, ref_sign, ref_nosign = -np.inf, 0.0, -np.inf
    got, sign = lossopt.logsumexp(a, b=b, return_sign=True)
    np.testing.assert_allclose(got, ref, rtol=1e-15)
    np.testing.assert_array_equal(sign, ref_sign)
    np.testing.assert_allclose(lossopt.logsumexp(a, b=b), ref_nosign, rtol=1e-15)


def test_b_broadcasts(rng):
    a = rng.normal(size=(4, 6))
    b = rng.uniform(0.1, 2, size=(6,))
    np.testing.assert_allclose(lossopt.logsumexp(a, axis=1, b=b),
                               sc.logsumexp(a, axis=1, b=b), rtol=1e-14)
    # b larger than a: a is broadcast too, as in scipy
    b2 = rng.uniform(0.1, 2, size=(3, 4, 6))
    np.testing.assert_allclose(lossopt.logsumexp(a, axis=-1, b=b2),
                               sc.logsumexp(a, axis=-1, b=b2), rtol=1e-14)
    with pytest.raises(ValueError, match="b with shape"):
        lossopt.logsumexp(a, b=np.ones(5))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_cols", [3, 10, 100, 1000])
@pytest.mark.parametrize("b_shape", [(1, -1), (-1,), (3000, 1)])
def test_broadcast_b_is_read_in_place(rng, dtype, n_cols, b_shape):
    """A b broadcast along the rows (one scale per class) is read as a view
    with row stride 0, not copied to (N, C): the same bits as the full
    array (signed b too), scipy's values, and no allocation of the
    broadcast size."""
    import tracemalloc
    a = (rng.normal(size=(3000, n_cols)) * 5).astype(dtype)
    shape = tuple(n_cols if k == -1 else k for k in b_shape)
    b_pos = rng.uniform(0.1, 2, size=shape).astype(dtype)
    b_signed = rng.uniform(-0.5, 2, size=shape).astype(dtype)
    where = rng.uniform(size=a.shape) > 0.2
    for kw in ({}, {"where": where}):
        for b in (b_pos, b_signed):
            got, sign = lossopt.logsumexp(a, axis=1, b=b, return_sign=True, **kw)
            full, full_sign = lossopt.logsumexp(
                a, axis=1, b=np.ascontiguousarray(np.broadcast_to(b, a.shape)),
                return_sign=True, **kw)
            np.testing.assert_array_equal(got, full)
            np.testing.assert_array_equal(sign, full_sign)
        # (positive b: the sums do not cancel; float32 exponentials are
        # float, so an absolute error of a few float32 epsilons of the
        # logits' size where m + log(s) nearly cancels)
        x = np.where(kw.get("where", True), a, -np.inf).astype(np.float64)
        ref = sc.logsumexp(x, axis=1, b=b_pos.astype(np.float64))
        if dtype == np.float64:
            np.testing.assert_allclose(lossopt.logsumexp(a, axis=1, b=b_pos, **kw), ref,
                                       rtol=1e-14)
        else:
            np.testing.assert_allclose(lossopt.logsumexp(a, axis=1, b=b_pos, **kw), ref,
                                       rtol=1e-6, atol=1e-6)
    if (shape[0] == 1 or len(shape) == 1) and n_cols >= 100:
        # (a b constant along the rows, (N, 1), is still copied to (N, C):
        # its rows have stride 0 along the columns)
        tracemalloc.start()
        try:
            lossopt.logsumexp(a, axis=1, b=b_pos)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < a.nbytes / 4


def test_b_zero_ignores_inf_and_nan():
    a = np.array([np.inf, np.nan, 1.0])
    assert lossopt.logsumexp(a, b=[0, 0, 1]) == 1.0


def test_where_mask(rng):
    a = rng.normal(size=(6, 9)) * 5
    mask = rng.random((6, 9)) < 0.6
    mask[0] = False
    got = lossopt.logsumexp(a, axis=1, where=mask)
    for i in range(6):
        ref = sc.logsumexp(a[i][mask[i]]) if mask[i].any() else -np.inf
        assert got[i] == pytest.approx(ref, rel=1e-14) if np.isfinite(ref) else got[i] == ref
    # masked entries are absent even when they are +inf or NaN
    assert lossopt.logsumexp([0.0, np.inf, np.nan], where=[True, False, False]) == 0.0
    # broadcasting mask
    m = np.array([True, False, True, True, False, True, True, True, True])
    np.testing.assert_allclose(lossopt.logsumexp(a, axis=1, where=m),
                               sc.logsumexp(a[:, m], axis=1), rtol=1e-14)
    with pytest.raises(TypeError, match="where must be a boolean"):
        lossopt.logsumexp(a, where=np.ones_like(a))


@pytest.mark.parametrize("row", [
    [1e4, 0.0, 7e-7], [-1e300, 0.0], [0.0, -40.0], [0.0, -800.0, -745.0], [709.0, 709.5],
    [-1e4, -1e4 - 1e-9], [1.0, 1.0, 1.0, -np.inf], [3e-300, -3e-300], [-745.5, -746.0],
])
def test_hard_cases_against_mpmath(row):
    got = lossopt.logsumexp(np.array(row))
    finite = [v for v in row if np.isfinite(v)]
    ref = mp_lse(finite)
    assert ulp_distance(got, ref) <= 2


def test_float32_near_overflow():
    a = np.array([3.0e38, 3.0e38, 88.0], dtype=np.float32)
    got = lossopt.logsumexp(a)
    assert got.dtype == np.float32
    ref = mp_lse(a.astype(np.float64))
    assert got == np.float32(ref)
    a = np.array([88.7, 88.7, 80.0], dtype=np.float32)  # exp overflows float32
    assert lossopt.logsumexp(a) == pytest.approx(mp_lse(a.astype(np.float64)), rel=1e-7)


def test_accuracy_random_rows_against_mpmath(rng):
    rows = rng.normal(size=(200, 7)) * rng.choice([1, 30, 300], size=(200, 1))
    got = lossopt.logsumexp(rows, axis=1)
    ref = np.array([mp_lse(r) for r in rows])
    assert ulp_distance(got, ref).max() <= 2


@pytest.mark.parametrize("n_cols", [1, 2047, 2048, 2049, 5000])
def test_long_and_boundary_rows(rng, n_cols):
    a = rng.normal(size=(5, n_cols)) * 10
    np.testing.assert_allclose(lossopt.logsumexp(a, axis=1), sc.logsumexp(a, axis=1),
                               rtol=1e-14)
    mask = rng.random(a.shape) < 0.5
    b = np.where(mask, 1.0, 0.0)
    np.testing.assert_allclose(lossopt.logsumexp(a, axis=1, where=mask),
                               sc.logsumexp(a, axis=1, b=b), rtol=1e-13)


def test_big_reduction_all_axes(rng):
    a = rng.normal(size=300_001)
    assert lossopt.logsumexp(a) == pytest.approx(sc.logsumexp(a), rel=1e-14)


def test_read_only_strided_and_not_modified(rng):
    a = rng.normal(size=(40, 30))
    copy = a.copy()
    a.flags.writeable = False
    for view in (a, a[:, ::3], a[::2], a.T, np.asfortranarray(a), a[::-1], a[:, ::-1],
                 a[::-1, :1]):
        np.testing.assert_allclose(lossopt.logsumexp(view, axis=1),
                                   sc.logsumexp(view, axis=1), rtol=1e-14)
    np.testing.assert_array_equal(a, copy)


def test_threads_bit_identical(rng):
    a = rng.normal(size=(20_000, 17)) * 20
    with lossopt.threads(1):
        one = lossopt.logsumexp(a, axis=1)
        one_all = lossopt.logsumexp(a)
    with lossopt.threads(2):
        two = lossopt.logsumexp(a, axis=1)
        two_all = lossopt.logsumexp(a)
    assert one.tobytes() == two.tobytes()
    assert one_all == two_all


@pytest.mark.parametrize("bad, exc, msg", [
    (dict(a=np.array(["a", "b"])), TypeError, "a must be a real numeric"),
    (dict(a=np.ones(3, complex)), TypeError, "a must be a real numeric"),
    (dict(a=np.ones(3), axis=1), ValueError, "axis 1 is out of bounds"),
    (dict(a=np.ones((2, 3)), axis=(0, 0)), ValueError, "repeated axis"),
    (dict(a=np.ones(3), axis=1.5), TypeError, "axis must be an integer"),
    (dict(a=[[1, 2], [3]]), ValueError, "a must be a rectangular"),
])
def test_errors(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        lossopt.logsumexp(**bad)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
                  elements=st.floats(-1e3, 1e3)),
       st.data())
def test_property_matches_scipy(a, data):
    axis = data.draw(st.sampled_from([None] + list(range(-a.ndim, a.ndim))))
    if a.size == 0:  # scipy fails on some empty shapes; the sum of nothing is 0
        ref = np.full(np.sum(a, axis=axis).shape, -np.inf)[()]
    else:
        ref = sc.logsumexp(a, axis=axis)
    got = lossopt.logsumexp(a, axis=axis)
    # lse = m + log(s) cancels where m is near -log(s) (e.g. three entries
    # -1.09765625: lse = 0.000956...), so the error is bounded in absolute
    # terms, by a few ulps of m and log(s), not relative to lse (there
    # against mpmath: scipy +0.9e-16, lossopt -1.3e-16, a relative 1e-13 apart)
    # (per reduced slice: its largest |a| and the log of its size)
    size = a.size if axis is None else a.shape[axis]
    scale = np.abs(a).max(axis=axis, initial=0.0) + np.log(max(size, 1))
    atol = np.maximum(4 * np.finfo(np.float64).eps * scale, 1e-300)
    got, ref = np.asarray(got), np.asarray(ref)
    with np.errstate(invalid="ignore"):       # (inf - inf where both are -inf)
        close = np.abs(got - ref) <= atol + 1e-13 * np.abs(ref)
    assert np.all(close | (got == ref)), (got, ref)
