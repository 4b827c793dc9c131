"""The vectorised exp behind every kernel: within 1 ulp of the correctly
rounded result over the whole range, edges included."""

import mpmath
import numpy as np

from lossopt._kernels import _softmax

mpmath.mp.dps = 40


def run_kernel(kernel, x, dtype):
    """The library's vectorised function (a test hook of _softmax) applied to x."""
    x = np.ascontiguousarray(x, dtype=dtype)
    out = np.empty_like(x)
    kernel(x, out)
    return out


def kernel_exp(x):
    return run_kernel(_softmax.exp_array, x, np.float64)


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


def kernel_expf(x):
    return run_kernel(_softmax.expf_array, x, np.float32)


def kernel_log1p(x):
    return run_kernel(_softmax.log1p_array, x, np.float64)


def test_float_exp_within_one_ulp(rng):
    x = np.concatenate([rng.uniform(-103.9, 88.7, 2_000_000), rng.uniform(-1, 1, 100_000)]
                       ).astype(np.float32)
    got = kernel_expf(x)
    ref = np.exp(x.astype(np.float64))
    f32 = np.finfo(np.float32)
    normal = (ref >= f32.tiny) & (ref <= f32.max)
    err = np.abs(got[normal] - ref[normal]) / np.spacing(ref[normal].astype(np.float32))
    assert err.max() <= 1.0
    sub = (ref < f32.tiny)
    assert (np.abs(got[sub] - ref[sub]) <= np.spacing(np.float32(0))).all()
    assert np.isinf(got[ref > f32.max]).all()


def test_float_exp_edges():
    x = np.array([0, -0.0, np.inf, -np.inf, np.nan, 88.73, -103.97, -104.5],
                 dtype=np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(kernel_expf(x), np.exp(x))
    x = np.array([88.72, 1.0, -87.33], dtype=np.float32)   # near the ends: 1 ulp
    ref = np.exp(x.astype(np.float64))
    assert (np.abs(kernel_expf(x) - ref) <= np.spacing(ref.astype(np.float32))).all()


def test_log1p_against_long_double(rng):
    r = rng.random(1_000_000)
    x = np.concatenate([r[:250_000] * 10, 10.0 ** (-20 + 40 * r[250_000:500_000]),
                        -1 + 10.0 ** (-15 * r[500_000:750_000]), (r[750_000:] - 0.5) * 1e-8])
    got = kernel_log1p(x)
    if np.finfo(np.longdouble).nmant >= 63:
        ref = np.log1p(x.astype(np.longdouble))
        nz = ref != 0
        err = np.abs(got[nz].astype(np.longdouble) - ref[nz]) / \
            np.spacing(np.abs(ref[nz]).astype(np.float64)).astype(np.longdouble)
        assert err.max() <= 1.0
    else:
        for v, g in zip(x[::991], got[::991]):
            ref = mpmath.log1p(mpmath.mpf(v))
            assert abs(mpmath.mpf(g) - ref) <= np.spacing(abs(float(ref)))


def test_log1p_edges():
    x = np.array([0.0, -0.0, np.inf, -1.0, -2.0, np.nan, 5e-324, 1e308, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(kernel_log1p(x), np.log1p(x))
    assert np.signbit(kernel_log1p(np.array([-0.0]))[0])


def test_every_length_exact_at_zero_and_nothing_written_past_the_end(rng):
    """The block sweep runs whole vectors and then the rest under a mask:
    every length, every lane position of exp(0) = 1, nothing past n."""
    for dtype, kernel in ((np.float64, _softmax.exp_array), (np.float32, _softmax.expf_array)):
        for n in range(1, 41):
            x = rng.uniform(-30, 30, n).astype(dtype)
            x[rng.random(n) < 0.3] = 0
            buf = np.full(n + 17, 7.0, dtype=dtype)
            kernel(x, buf[:n])
            ref = np.exp(x.astype(np.float64))
            assert (np.abs(buf[:n] - ref) <= np.spacing(ref.astype(dtype))).all()
            assert (buf[:n][x == 0] == 1).all()
            assert (buf[n:] == 7).all()
            kernel(x, x)                              # in place
            np.testing.assert_array_equal(x, buf[:n])
