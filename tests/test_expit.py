"""expit / sigmoid / log_expit against scipy.special and mpmath."""

import mpmath
import numpy as np
import pytest
import scipy.special as sc

import lossopt
from helpers import ulp_distance

mpmath.mp.dps = 60


def test_sigmoid_is_expit():
    assert lossopt.sigmoid is lossopt.expit


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_scipy(rng, dtype):
    x = (rng.normal(size=(100, 37)) * 30).astype(dtype)
    e, le = lossopt.expit(x), lossopt.log_expit(x)
    assert e.dtype == dtype and le.dtype == dtype and e.shape == x.shape
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    atol = 1e-300 if dtype == np.float64 else 1e-44   # float32 subnormals
    np.testing.assert_allclose(e, sc.expit(x.astype(np.float64)), rtol=rtol, atol=atol)
    np.testing.assert_allclose(le, sc.log_expit(x.astype(np.float64)), rtol=rtol, atol=atol)


@pytest.mark.parametrize("v", [-1e308, -1e3, -745.0, -709.0, -37.0, -18.0, -1e-20, 0.0,
                               1e-20, 18.0, 37.0, 709.0, 1e3, 1e308])
def test_against_mpmath(v):
    x = mpmath.mpf(v)
    assert ulp_distance(lossopt.expit(v), float(1 / (1 + mpmath.exp(-x)))) <= 2
    assert ulp_distance(lossopt.log_expit(v), float(-mpmath.log1p(mpmath.exp(-x)))) <= 2


def test_edges():
    x = np.array([-np.inf, np.inf, np.nan, 1e3, -1e3])
    np.testing.assert_array_equal(lossopt.expit(x), [0.0, 1.0, np.nan, 1.0, 0.0])
    np.testing.assert_array_equal(lossopt.log_expit(x), [-np.inf, 0.0, np.nan, 0.0, -1e3])
    assert lossopt.expit(np.float32(100.0)) == np.float32(1.0)
    assert isinstance(lossopt.expit(0.0), np.float64)


def test_out_in_place_and_strides(rng):
    x = rng.normal(size=(20, 30))
    ref = sc.expit(x)
    y = x.copy()
    assert lossopt.expit(y, out=y) is y
    np.testing.assert_allclose(y, ref, rtol=1e-15)
    out = np.empty((30, 20)).T
    lossopt.log_expit(x, out=out)
    np.testing.assert_allclose(out, sc.log_expit(x), rtol=1e-15)
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(lossopt.expit(ro[:, ::3]), ref[:, ::3], rtol=1e-15)
    with pytest.raises(TypeError, match="out must have dtype float64"):
        lossopt.expit(x, out=np.empty(x.shape, np.float32))


def test_threads_bit_identical(rng):
    x = rng.normal(size=500_000) * 20
    with lossopt.threads(1):
        a = lossopt.log_expit(x)
    with lossopt.threads(2):
        b = lossopt.log_expit(x)
    assert a.tobytes() == b.tobytes()
