"""The vectorised exp behind every kernel: within 1 ulp of the correctly
rounded result over the whole range, edges included."""

import mpmath
import numpy as np

from lossopt._kernels import _softmax

mpmath.mp.dps = 40


def kernel_exp(x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _softmax.exp_array(x, out)
    return out


def test_million_points_against_long_double(rng):
    x = np.concatenate([rng.uniform(-745.2, 709.8, 1_000_000),
                        rng.uniform(-1, 1, 200_000), rng.uniform(-1e-8, 1e-8, 10_000)])
    got = kernel_exp(x)
    if np.finfo(np.longdouble).nmant >= 63:
        ref = np.exp(x.astype(np.longdouble))
        f64 = np.finfo(np.float64)
        normal = (ref >= f64.tiny) & (ref <= f64.max)
        err = np.abs(got[normal].astype(np.longdouble) - ref[normal]) / \
            np.spacing(ref[normal].astype(np.float64)).astype(np.longdouble)
        assert err.max() <= 1.0
        assert np.isinf(got[ref > f64.max]).all()
    else:  # no 80-bit long double: mpmath on a sample
        for v, g in zip(x[::997], got[::997]):
            assert abs(mpmath.mpf(g) - mpmath.exp(v)) <= np.spacing(abs(float(mpmath.exp(v))))


def test_subnormal_range_against_mpmath(rng):
    x = rng.uniform(-745.13, -708.4, 2000)
    got = kernel_exp(x)
    for v, g in zip(x, got):
        ref = mpmath.exp(mpmath.mpf(v))
        assert abs(mpmath.mpf(g) - ref) <= 5e-324  # within one subnormal ulp


def test_edges():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, 710.0, 1e300,
                  -745.1, -745.2, -746.0, -1e300, 1e-300, 1.0])
    got = kernel_exp(x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, np.exp(x))
    assert got[0] == 1.0 and got[1] == 1.0
    assert got[-1] == np.e
