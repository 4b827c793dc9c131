"""The vectorised math core (src/lossopt_math.h) on the ISA path the kernels
run: every function within its ulp bound of the correctly rounded result, on
millions of points spread over the whole exponent range plus dense samples at
the edges (overflow and underflow thresholds, subnormals, values near 1 for
log, tiny arguments for log1p), and exact IEEE results at +-0, +-inf, NaN.

References: float64 NumPy for the float32 functions (a float64 result rounded
to float32 is the correctly rounded float32 result but in rare double-rounding
cases, which a bound of 1 ulp absorbs), and np.longdouble (80-bit) or mpmath
for the float64 ones.
"""

import mpmath
import numpy as np
import pytest

from lossopt._kernels import _runtime

HAVE_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63


def run(name, x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype).reshape(-1)
    return _runtime.math_check(name, x, np.empty_like(x))


def random_bits(rng, n, dtype, sign=False):
    """Floats with uniformly random bit patterns: every exponent (subnormals
    included) equally likely; positive unless `sign`.  No inf/NaN."""
    if dtype == np.float32:
        u = rng.integers(0, 0x7F800000, size=n, dtype=np.uint32)
        x = u.view(np.float32)
    else:
        u = rng.integers(0, 0x7FF0000000000000, size=n, dtype=np.uint64)
        x = u.view(np.float64)
    if sign:
        x = np.where(rng.random(n) < 0.5, -x, x)
    return x


def ulp_error32(got, ref64):
    """|got - ref| in float32 ulps of the correctly rounded result (ref64
    finite, non-zero after rounding)."""
    r32 = ref64.astype(np.float32)
    return np.abs(got.astype(np.float64) - ref64) / np.spacing(np.abs(r32)).astype(np.float64)


def ulp_error64(got, ref):
    """|got - ref| in float64 ulps; ref a long double array."""
    return (np.abs(got.astype(np.longdouble) - ref)
            / np.spacing(np.abs(ref).astype(np.float64)).astype(np.longdouble))


def float32_points(rng, name):
    """A few hundred thousand float32 arguments for `name`."""
    f32 = np.finfo(np.float32)
    if name == "exp":
        return np.concatenate([
            rng.uniform(-103.97, 88.72, 400_000), rng.uniform(-1, 1, 100_000),
            rng.uniform(-1e-6, 1e-6, 20_000), rng.uniform(86, 88.72, 20_000),
            rng.uniform(-103.97, -87, 50_000)]).astype(np.float32)
    pts = [random_bits(rng, 600_000, np.float32),
           (1 + rng.uniform(-1e-3, 1e-3, 100_000)).astype(np.float32),
           (1 + rng.uniform(-1e-6, 1e-6, 20_000)).astype(np.float32),
           rng.uniform(0.5, 2, 100_000).astype(np.float32),
           np.nextafter(f32.max, 0, dtype=np.float32) * rng.random(1000, dtype=np.float32),
           f32.smallest_subnormal * rng.integers(1, 2**23, 10_000).astype(np.float32)]
    if name == "log1p":
        pts += [random_bits(rng, 200_000, np.float32) * np.float32(-1),  # -x: (-1, 0) and < -1
                (-1 + 10.0 ** rng.uniform(-7, 0, 100_000)).astype(np.float32),
                rng.uniform(-1e-4, 1e-4, 100_000).astype(np.float32)]
    return np.concatenate(pts)


def xlogx64(x):
    return np.where(x == 0, 0.0, x * np.log(x))


@pytest.mark.parametrize("name,bound", [("exp", 1.0), ("log", 1.0), ("log1p", 1.0),
                                        ("xlogx", 2.0)])
def test_float32_functions_within_one_ulp(rng, name, bound):
    x = float32_points(rng, "log" if name == "xlogx" else name)
    got = run(name, x, np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ref = xlogx64(x.astype(np.float64)) if name == "xlogx" else \
            getattr(np, name)(x.astype(np.float64))
    with np.errstate(over="ignore"):                 # x log x beyond float32's range
        r32 = ref.astype(np.float32)
    regular = np.isfinite(r32) & (np.abs(r32) >= np.finfo(np.float32).tiny)
    assert regular.sum() > 500_000
    assert ulp_error32(got[regular], ref[regular]).max() <= bound
    # subnormal and zero results (exp's underflow, log1p of tiny x): within
    # one subnormal step of the exact value
    small = np.isfinite(r32) & ~regular
    assert (np.abs(got[small].astype(np.float64) - ref[small])
            <= bound * np.finfo(np.float32).smallest_subnormal).all()
    # NaN exactly where the reference is NaN, infinities exactly
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    inf = np.isinf(r32)
    np.testing.assert_array_equal(got[inf], r32[inf])


@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_float32_edges_exact(name):
    f32 = np.finfo(np.float32)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, -2.0, f32.max, f32.tiny,
                  f32.smallest_subnormal, -f32.smallest_subnormal, 88.72, 88.73, -103.9,
                  -104.0, -1e30, 1e-30, -1e-30, 2.0, 0.5], dtype=np.float32)
    got = run(name, x, np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ref = getattr(np, name)(x.astype(np.float64)).astype(np.float32)
    exact = ~np.isfinite(ref) | (ref == 0) | (x == 1) | (x == 0)
    np.testing.assert_array_equal(got[exact], ref[exact])
    signed = exact & ~np.isnan(ref)          # (a NaN's sign bit means nothing)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(ref[signed]))
    close = ~exact
    assert (np.abs(got[close] - ref[close]) <= np.spacing(np.abs(ref[close]))).all()


def float64_points(rng, name):
    f64 = np.finfo(np.float64)
    if name == "exp":
        return np.concatenate([rng.uniform(-745.2, 709.8, 600_000),
                               rng.uniform(-1e-8, 1e-8, 20_000), rng.uniform(700, 709.78, 20_000),
                               rng.uniform(-745.13, -708.4, 50_000)])
    pts = [random_bits(rng, 800_000, np.float64), 1 + rng.uniform(-1e-3, 1e-3, 100_000),
           1 + rng.uniform(-1e-12, 1e-12, 20_000), rng.uniform(0.5, 2, 100_000),
           f64.max * rng.random(1000), 5e-324 * rng.integers(1, 2**52, 10_000)]
    if name == "log1p":
        pts += [-random_bits(rng, 200_000, np.float64), -1 + 10.0 ** rng.uniform(-15, 0, 100_000),
                rng.uniform(-1e-8, 1e-8, 100_000)]
    return np.concatenate(pts)


@pytest.mark.skipif(not HAVE_LONG_DOUBLE, reason="needs an 80-bit long double")
@pytest.mark.parametrize("name,bound", [("exp", 1.0), ("log", 1.0), ("log1p", 1.0),
                                        ("xlogx", 2.0)])
def test_float64_functions_against_long_double(rng, name, bound):
    x = float64_points(rng, "log" if name == "xlogx" else name)
    got = run(name, x, np.float64)
    xl = x.astype(np.longdouble)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ref = xl * np.log(xl) if name == "xlogx" else getattr(np, name)(xl)
    f64 = np.finfo(np.float64)
    regular = np.isfinite(ref) & (np.abs(ref) >= f64.tiny) & (np.abs(ref) <= f64.max)
    assert regular.sum() > 600_000
    assert ulp_error64(got[regular], ref[regular]).max() <= bound
    small = np.isfinite(ref) & (np.abs(ref) < f64.tiny)
    if name == "xlogx":   # x log x = 0 at x = 0; tiny x: a subnormal product
        assert (np.abs(got[small].astype(np.longdouble) - ref[small]) <= 2 * 5e-324).all()
    else:
        assert (np.abs(got[small].astype(np.longdouble) - ref[small]) <= 5e-324).all()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))


@pytest.mark.parametrize("name", ["log", "log1p", "xlogx"])
def test_float64_sample_against_mpmath(rng, name):
    """The same functions on a sample checked with mpmath (also where no
    80-bit long double exists)."""
    x = np.concatenate([random_bits(rng, 300, np.float64), 1 + rng.uniform(-1e-9, 1e-9, 50),
                        rng.uniform(-1e-10, 1e-10, 50) if name == "log1p" else
                        rng.uniform(1e-10, 1e-9, 50)])
    got = run(name, x, np.float64)
    with mpmath.workdps(40):
        for v, g in zip(x, got):
            xv = mpmath.mpf(float(v))
            ref = {"log": mpmath.log, "log1p": mpmath.log1p,
                   "xlogx": lambda t: t * mpmath.log(t)}[name](xv)
            bound = 2.0 if name == "xlogx" else 1.0
            if abs(ref) > np.finfo(np.float64).max:      # x log x overflows
                assert g == np.inf
                continue
            assert abs(mpmath.mpf(float(g)) - ref) <= bound * np.spacing(abs(float(ref)))


def test_float64_edges_exact():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, -2.0, 5e-324, -5e-324,
                  1e308, 2.0])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for name in ("log", "log1p", "exp"):
            got = run(name, x, np.float64)
            ref = getattr(np, name)(x)
            exact = ~np.isfinite(ref) | (ref == 0) | (x == 1) | (x == 0)
            np.testing.assert_array_equal(got[exact], ref[exact])
            signed = exact & ~np.isnan(ref)
            np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(ref[signed]))
        for dtype in (np.float64, np.float32):
            got = run("xlogx", np.array([0.0, -0.0, 1.0, np.inf, np.nan, -1.0]), dtype)
            np.testing.assert_array_equal(got[:4], [0.0, 0.0, 0.0, np.inf])
            assert np.isnan(got[4:]).all()


def test_check_hook_refuses_bad_input():
    with pytest.raises(ValueError, match="same length"):
        _runtime.math_check("log", np.ones(3), np.ones(2))
    with pytest.raises((TypeError, ValueError)):
        _runtime.math_check("log", np.ones(3, np.float32), np.ones(3))
    with pytest.raises(KeyError):
        _runtime.math_check("sin", np.ones(3), np.ones(3))
