"""logsumexp, softmax and log_softmax over an axis that is not the last one of
a C-contiguous array (the classes first, (C, N) with axis=0, or the channels
of (N, C, H, W) with axis=1): on the x86-64-v4 path the samples are taken in
place, side by side (src/lossopt_cols.h), not moved into rows and back; the
samples whose maximum or result is not finite go to the row engine.
Elsewhere (tests/test_isa_paths.py runs this file on every path) the rows'
way runs; the results are the same.

References: SciPy in float64, and the same data moved into rows (the row
kernels: the same formulas, so the same bits for fewer than 64 classes and
for float32 up to 2048; float64 rows of 64 classes and more sum in vector
lanes there, float32 rows of more than 2048 go to the engine's chunks).
"""

import numpy as np
import pytest
import scipy.special as sc

import lossopt
from lossopt import _rows

DTYPES = [np.float64, np.float32]
FUNCS = [(lossopt.softmax, sc.softmax), (lossopt.log_softmax, sc.log_softmax),
         (lossopt.logsumexp, sc.logsumexp)]
SHAPES = [((1, 40), 0), ((2, 9), 0), ((7, 17), 0), ((10, 33), 0), ((63, 8), 0),
          ((64, 40), 0), ((100, 19), 0), ((1000, 24), 0), ((2049, 9), 0), ((3, 10, 50), 1),
          ((2, 5, 4, 6), 1), ((2, 3, 70, 9), 2)]


def tol(dtype):
    """(log_softmax near 0: (x - m) - lz cancels; a few ulp of |x - m| <= 60)"""
    return dict(rtol=1e-13, atol=2e-14) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-6)


def by_rows(f, x, ax, **kw):
    """f over axis `ax` computed on the data moved into contiguous rows."""
    r = f(np.ascontiguousarray(np.moveaxis(x, ax, -1)), axis=-1, **kw)
    return np.moveaxis(r, -1, ax) if r.ndim == x.ndim else r


def same(a, b, dtype, n_cols):
    if n_cols < 64 or (dtype == np.float32 and n_cols <= 2048):
        np.testing.assert_array_equal(a, b)
    elif dtype == np.float32:
        np.testing.assert_allclose(a, b, rtol=2.5e-7, atol=1e-30, equal_nan=True)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15, equal_nan=True)


def test_the_kernel_runs_on_the_v4_path():
    from lossopt._kernels import _runtime, _softmax
    v4 = _runtime.simd_path().startswith("x86-64-v4")
    assert _softmax.cols_available() == v4
    x = np.zeros((10, 20))
    assert (_rows.cols_layout(x, (0,)) is not None) == v4
    assert _rows.cols_layout(x, (1,)) is None                 # the last axis: rows
    assert _rows.cols_layout(np.zeros((10, 7)), (0,)) is None  # under 8 samples
    assert _rows.cols_layout(np.zeros((20, 10)).T, (0,)) is None  # not C-contiguous
    assert _rows.cols_layout(np.zeros((2, 10, 20)), (0, 1)) is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ax", SHAPES)
def test_against_scipy_and_the_rows(rng, dtype, shape, ax):
    x = (rng.normal(size=shape) * 6).astype(dtype)
    xd = x.astype(np.float64)
    for f, ref in FUNCS:
        got = f(x, axis=ax)
        assert got.dtype == dtype and got.shape == ref(xd, axis=ax).shape
        np.testing.assert_allclose(got, ref(xd, axis=ax), **tol(dtype))
        same(got, by_rows(f, x, ax), dtype, shape[ax])
    lse, sign = lossopt.logsumexp(x, axis=ax, return_sign=True, keepdims=True)
    np.testing.assert_allclose(lse, sc.logsumexp(xd, axis=ax, keepdims=True), **tol(dtype))
    assert (sign == 1).all() and sign.shape == lse.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 3, 10, 64, 100])
def test_special_samples_as_the_rows(rng, dtype, n_cols):
    # samples (columns of the (C, N) array) with NaN, +-inf, all -inf, huge
    # values, among regular ones, in every lane of a tile
    n = 53
    x = rng.normal(size=(n_cols, n)) * 4
    for k, col in enumerate(rng.choice(n, 12, replace=False)):
        j = k % n_cols
        if k % 6 == 0:
            x[j, col] = np.nan
        elif k % 6 == 1:
            x[j, col] = np.inf
        elif k % 6 == 2:
            x[:, col] = -np.inf
        elif k % 6 == 3:
            x[j, col] = 1e300
        elif k % 6 == 4:
            x[j, col] = -np.inf
        else:
            x[:, col] = np.nan
    with np.errstate(all="ignore"):
        x = x.astype(dtype)
        # as (C, N) over axis 0, and as (A, C, B) over axis 1 with A > 1 (the
        # special samples at outer positions a > 0 too)
        for arr, ax in [(x, 0), (np.ascontiguousarray(x[:, :52].reshape(n_cols, 4, 13)
                                                      .transpose(1, 0, 2)), 1)]:
            for f, _ in FUNCS:
                same(f(arr, axis=ax), by_rows(f, arr, ax), dtype, n_cols)
            lse, sign = lossopt.logsumexp(arr, axis=ax, return_sign=True)
            moved = np.ascontiguousarray(np.moveaxis(arr, ax, -1))
            want_lse, want_sign = lossopt.logsumexp(moved, axis=-1, return_sign=True)
            np.testing.assert_array_equal(sign, want_sign)
            same(lse, want_lse, dtype, n_cols)
            # in place (out is x: the rows' way), with the special samples
            for f in (lossopt.softmax, lossopt.log_softmax):
                y = arr.copy()
                assert f(y, axis=ax, out=y) is y
                same(y, by_rows(f, arr, ax), dtype, n_cols)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_in_place_and_views(rng, dtype):
    x = (rng.normal(size=(2, 30, 41)) * 3).astype(dtype)
    for f in (lossopt.softmax, lossopt.log_softmax):
        want = by_rows(f, x, 1)
        out = np.full_like(x, 7.0)
        assert f(x, axis=1, out=out) is out
        np.testing.assert_array_equal(out, want)
        y = x.copy()
        assert f(y, axis=1, out=y) is y                    # in place: the rows' way
        np.testing.assert_array_equal(y, want)
        big = np.full((2, 30, 82), 5.0, dtype)               # a strided out=
        f(x, axis=1, out=big[:, :, ::2])
        np.testing.assert_array_equal(big[:, :, ::2], want)
        assert (big[:, :, 1::2] == 5.0).all()
        xs = np.repeat(x, 2, axis=2)[:, :, ::2]              # strided x
        np.testing.assert_array_equal(f(xs, axis=1), want)
    before = x.copy()
    lossopt.logsumexp(x, axis=1)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [10, 100])
def test_bit_identical_for_any_thread_count(rng, dtype, n_cols):
    x = (rng.normal(size=(n_cols, 5003)) * 4).astype(dtype)
    x[3, ::101] = np.nan
    x[:, 7] = -np.inf
    with np.errstate(all="ignore"):
        with lossopt.threads(1):
            ref = [f(x, axis=0) for f, _ in FUNCS]
        for nt in (2, 3):
            with lossopt.threads(nt):
                for (f, _), r in zip(FUNCS, ref):
                    np.testing.assert_array_equal(f(x, axis=0), r)
