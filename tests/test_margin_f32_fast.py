"""The hinge, squared hinge and perceptron of float32 data in their AVX-512
loop (src/lossopt_elementwise.h, lossopt_margin_plain_f32_v4: the flat call
without sample weights and per-sample losses on the x86-64-v4 path; the
other paths run the generic loop, tests/test_isa_paths.py runs this file on
each): against NumPy float64 references computed from the same float32
values, at every start offset from a cache line and length around the
vector width, with NaN, at the kinks, loss alone = loss with gradient, in
place, and bit-identical for any thread count."""

import numpy as np
import pytest

import lossopt
from lossopt._kernels import _binary, _runtime

LOSSES = {"perceptron": lossopt.Perceptron, "hinge": lossopt.Hinge,
          "squared_hinge": lossopt.SquaredHinge}
V4 = _runtime.simd_path().startswith("x86-64-v4")


def reference(name, p, t, margin, scale):
    """float64 loss per element and scale * d loss / d p, from float32 p and t
    (labels -1/0 -> -1, 1 -> +1)."""
    p, t = p.astype(np.float64), t.astype(np.float64)
    y = np.where(t == 1, 1.0, -1.0) + (t - t)
    if name == "perceptron":
        z = y * p
        return np.maximum(0.0, -z), scale * np.where(z > 0, 0.0, -y)
    u = margin - y * p
    h = np.maximum(u, 0.0)
    if name == "hinge":
        return h, scale * np.where(u > 0, -y, 0.0)
    return h * h, scale * (-2.0 * y * h)


def test_the_avx512_margin_loop_runs_on_v4():
    for name in LOSSES:
        assert _binary.margin_loop(name, True) == ("avx512" if V4 else None)
        assert _binary.margin_loop(name, False) is None     # float64: the generic loop


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("margin", [1.0, 0.5, 2.75])
def test_against_numpy_float64_every_offset_and_length(rng, name, margin):
    kw = {} if name == "perceptron" else {"margin": margin}
    base_p = (rng.normal(size=4200) * 2).astype(np.float32)
    base_t = rng.choice([-1.0, 0.0, 1.0], size=4200).astype(np.float32)
    for off in range(16):
        for n in [1, 2, 11, 15, 16, 17, 31, 33, 100, 511, 512, 513, 1030, 4100]:
            p, t = base_p[off:off + n], base_t[off:off + n]
            for reduction, scale in (("sum", 1.0), ("mean", 1.0 / n)):
                loss = LOSSES[name](reduction=reduction, **kw)
                value, grad = loss.loss_and_gradient(p, t)
                ref_l, ref_g = reference(name, p, t, margin, scale)
                ref_value = ref_l.sum() * scale
                assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-300), (off, n)
                # the float64 gradient rounded once to float32
                np.testing.assert_array_equal(grad, ref_g.astype(np.float32))
                assert loss(p, t) == value                          # the same bits
                # the float64 evaluation of the same values: the same loss
                v64 = loss(p.astype(np.float64), t.astype(np.float64))
                assert value == pytest.approx(v64, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("name", list(LOSSES))
def test_nan_kinks_and_in_place(rng, name):
    n = 700
    p = (rng.normal(size=n) * 2).astype(np.float32)
    t = rng.choice([-1.0, 1.0], size=n).astype(np.float32)
    # kinks: y p = margin (hinge) and y p = 0 (perceptron), and exact zeros
    p[:40] = t[:40]
    p[40:80] = 0.0
    p[[100, 333]] = np.nan
    t[[200, 513]] = np.nan
    p[600] = np.inf
    p[601] = -np.inf
    loss = LOSSES[name](reduction="sum")
    value, grad = loss.loss_and_gradient(p, t)
    assert np.isnan(value) and np.isnan(loss(p, t))
    nan = np.zeros(n, bool)
    nan[[100, 333, 200, 513]] = True
    assert np.isnan(grad[nan]).all()
    ref_l, ref_g = reference(name, p[~nan], t[~nan], 1.0, 1.0)
    np.testing.assert_array_equal(grad[~nan], ref_g.astype(np.float32))
    ok = ~nan & np.isfinite(p)
    assert loss(p[ok], t[ok]) == pytest.approx(reference(name, p[ok], t[ok], 1.0, 1.0)[0].sum(),
                                                rel=1e-12)
    # in place: the gradient overwrites the predictions
    q = p.copy()
    v2, g2 = loss.loss_and_gradient(q, t, out=q)
    assert g2 is q and np.array_equal(q, grad, equal_nan=True)
    assert np.isnan(v2)


@pytest.mark.parametrize("name", list(LOSSES))
def test_threads_give_the_same_bits(rng, name):
    n = 300_001
    p = (rng.normal(size=n) * 2).astype(np.float32)
    t = rng.choice([-1.0, 1.0], size=n).astype(np.float32)
    loss = LOSSES[name]()
    with lossopt.threads(1):
        v1, g1 = loss.loss_and_gradient(p, t)
    with lossopt.threads(2):
        v2, g2 = loss.loss_and_gradient(p, t)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    ref_l, ref_g = reference(name, p, t, 1.0, 1.0 / n)
    assert v1 == pytest.approx(ref_l.mean(), rel=1e-12)
    np.testing.assert_array_equal(g1, ref_g.astype(np.float32))


@pytest.mark.parametrize("name", list(LOSSES))
def test_the_loss_does_not_depend_on_the_arrays_address(rng, name):
    """The same values at every offset from a cache line give the same loss
    bits (the review found the AVX-512 loop's lanes following p's address)
    and the same gradient; no NaN, so the values are compared."""
    n = 1000
    p = (rng.normal(size=n) * 2).astype(np.float32)
    t = rng.choice([-1.0, 1.0], size=n).astype(np.float32)
    loss = LOSSES[name](reduction="sum")
    ref_value, ref_grad = loss.loss_and_gradient(p, t)
    ref_l, _ = reference(name, p, t, 1.0, 1.0)
    assert ref_value == pytest.approx(ref_l.sum(), rel=1e-12)
    buf_p = np.empty(n + 32, np.float32)
    buf_t = np.empty(n + 32, np.float32)
    for off_p in range(16):
        for off_t in (0, 5):
            q = buf_p[off_p:off_p + n]
            u = buf_t[off_t:off_t + n]
            q[:] = p
            u[:] = t
            assert loss(q, u) == ref_value, (off_p, off_t)
            value, grad = loss.loss_and_gradient(q, u)
            assert value == ref_value, (off_p, off_t)
            np.testing.assert_array_equal(grad, ref_grad)
            # in place: the gradient written over the shifted predictions
            v2, g2 = loss.loss_and_gradient(q, u, out=q)
            assert g2 is q and v2 == ref_value
            np.testing.assert_array_equal(q, ref_grad)


@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
@pytest.mark.parametrize("margin", [0.7, -0.3, 1e-46, 0.1])
def test_margins_not_exact_in_float32(name, margin):
    """A margin that float32 does not hold exactly: the predictions either
    side of float32(margin) (and at it) against NumPy float64 — u = margin -
    y p > 0 decides the kink in double."""
    m32 = np.float32(margin)
    around = [np.nextafter(m32, np.float32(-np.inf)), m32, np.nextafter(m32, np.float32(np.inf))]
    p = np.array(around * 12 + [-v for v in around] * 12, np.float32)
    t = np.array([1.0] * 36 + [-1.0] * 36, np.float32)
    loss = LOSSES[name](margin=margin, reduction="sum")
    value, grad = loss.loss_and_gradient(p, t)
    ref_l, ref_g = reference(name, p, t, margin, 1.0)
    np.testing.assert_array_equal(grad, ref_g.astype(np.float32))
    assert value == pytest.approx(ref_l.sum(), rel=1e-12, abs=1e-300)
    assert loss(p, t) == value
