"""No kernel reads or writes past its arrays, checked with the arrays placed
flush against an inaccessible page (Linux: mmap + mprotect PROT_NONE).

A read or write of even one element past an array's end (or before its
start) then faults, where with ordinary heap memory it would silently touch
a neighbour.  This is what the masked loads and stores of the AVX-512
kernels (row ends, row-group ends, the last chunk of an element-wise block)
must get right: a masked store that the compiler turns into a wider store
of a register half faults on its masked-off lanes (the bug this file was
written for: softmax into an out= that ended at a page end crashed).

Every array of a call -- inputs and out= -- sits flush against a guard page,
at the end of its mapping (over-reads and over-writes) or at the start
(under-runs), for row counts and row lengths around the vector widths.
"""

import ctypes
import mmap
import sys

import numpy as np
import pytest

import lossopt

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="mmap/mprotect through ctypes (Linux)")

PAGE = mmap.PAGESIZE
PROT_NONE, PROT_RW = 0, 3
MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20


class GuardedArrays:
    """Arrays each alone in an anonymous mapping with a PROT_NONE page on
    either side, flush against the page after it (at_end) or before it."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mmap.restype = ctypes.c_void_p
        self.libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_long]
        self.libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.maps = []

    def __call__(self, values, at_end=True):
        values = np.ascontiguousarray(values)
        nbytes = values.nbytes
        pages = (nbytes + PAGE - 1) // PAGE + 2
        base = self.libc.mmap(None, pages * PAGE, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0)
        assert base not in (None, ctypes.c_void_p(-1).value)
        self.maps.append((base, pages * PAGE))
        assert self.libc.mprotect(base, PAGE, PROT_NONE) == 0
        assert self.libc.mprotect(base + (pages - 1) * PAGE, PAGE, PROT_NONE) == 0
        addr = base + (pages - 1) * PAGE - nbytes if at_end else base + PAGE
        buf = (ctypes.c_char * max(nbytes, 1)).from_address(addr)
        a = np.frombuffer(buf, dtype=values.dtype, count=values.size).reshape(values.shape)
        a[...] = values
        return a

    def close(self):
        for base, size in self.maps:
            self.libc.munmap(base, size)
        self.maps = []


@pytest.fixture
def guarded():
    g = GuardedArrays()
    yield g
    g.close()


COLS = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 15, 16, 17, 31, 33, 63, 64, 65, 100]
# last groups of 8 rows with 1, 3, 5 and 7 rows (a float64 chunk of <= 4 columns
# reads row r + 4 of the group: only with 5..7 rows does that row exist)
ROWS = [1, 3, 5, 7, 9, 13, 17]
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("at_end", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", COLS)
def test_row_kernels(guarded, rng, dtype, n_cols, at_end):
    for n_rows in ROWS:
        xv = (rng.normal(size=(n_rows, n_cols)) * 3).astype(dtype)
        yv = rng.integers(0, n_cols, size=n_rows)
        x = guarded(xv, at_end)
        ref_sm = np.exp(xv - xv.max(axis=1, keepdims=True).astype(np.float64))
        ref_sm /= ref_sm.sum(axis=1, keepdims=True)
        for log in (False, True):
            out = guarded(np.zeros_like(xv), at_end)
            f = lossopt.log_softmax if log else lossopt.softmax
            f(x, axis=1, out=out)
            ref = np.log(ref_sm) if log else ref_sm
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        lse, sign = lossopt.logsumexp(x, axis=1, return_sign=True)
        np.testing.assert_allclose(lse, np.log(np.exp(xv.astype(np.float64)).sum(axis=1)),
                                   rtol=1e-5)
        np.testing.assert_array_equal(sign, 1.0)
        y = guarded(yv, at_end)
        grad = guarded(np.zeros_like(xv), at_end)
        ce = lossopt.SoftmaxCrossEntropy()
        value, g = ce.loss_and_gradient(x, y, out=grad)
        onehot = np.eye(n_cols)[yv]
        np.testing.assert_allclose(grad, (ref_sm - onehot) / n_rows, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(value, -np.log(ref_sm[np.arange(n_rows), yv]).mean(),
                                   rtol=1e-5)
        # a where= mask (the block copied with absent entries -inf), in its own
        # guarded mapping, and label smoothing (its extra terms per column)
        mv = rng.random((n_rows, n_cols)) < 0.8
        mv[:, 0] = True
        mask = guarded(mv, at_end)
        out = guarded(np.zeros_like(xv), at_end)
        lossopt.softmax(x, axis=1, where=mask, out=out)
        ref_w = np.where(mv, np.exp(xv - xv.max(axis=1, keepdims=True,
                                                initial=-np.inf, where=mv)), 0.0)
        np.testing.assert_allclose(out, ref_w / ref_w.sum(axis=1, keepdims=True),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lossopt.logsumexp(x, axis=1, where=mask),
                                   np.log(np.where(mv, np.exp(xv.astype(np.float64)),
                                                   0.0).sum(axis=1)), rtol=1e-5)
        grad = guarded(np.zeros_like(xv), at_end)
        lossopt.SoftmaxCrossEntropy(label_smoothing=0.3).loss_and_gradient(x, y, out=grad)
        np.testing.assert_allclose(grad, (ref_sm - 0.7 * onehot - 0.3 / n_cols) / n_rows,
                                   rtol=1e-4, atol=1e-6)
        # ... with class and sample weights (each in its own mapping)
        wv = np.linspace(0.5, 2.0, n_cols)
        swv = np.linspace(0.2, 1.0, n_rows)
        grad = guarded(np.zeros_like(xv), at_end)
        lossopt.SoftmaxCrossEntropy(label_smoothing=0.3, class_weight=guarded(wv, at_end),
                                    reduction="sum").loss_and_gradient(
            x, y, guarded(swv, at_end), out=grad)
        a_coef = 0.7 * wv[yv] + 0.3 / n_cols * wv.sum()
        want = swv[:, None] * (ref_sm * a_coef[:, None] - 0.3 / n_cols * wv
                               - 0.7 * onehot * wv[yv][:, None])
        np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-6)
        # a mask broadcast along the rows (row stride 0)
        row_mask = guarded(mv[:1], at_end)
        out = guarded(np.zeros_like(xv), at_end)
        lossopt.log_softmax(x, axis=1, where=np.broadcast_to(row_mask, xv.shape), out=out)
        assert (out[:, ~mv[0]] == -np.inf).all() and np.isfinite(out[:, mv[0]]).all()
        # the classes first: (C, N) over axis 0, the samples side by side in
        # place (lossopt_cols.h), N around the tiles' 8 / 16
        xt = guarded(np.ascontiguousarray(xv.T), at_end)
        out_t = guarded(np.zeros_like(xv.T), at_end)
        lossopt.softmax(xt, axis=0, out=out_t)
        np.testing.assert_allclose(out_t, ref_sm.T, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lossopt.logsumexp(xt, axis=0),
                                   np.log(np.exp(xv.astype(np.float64)).sum(axis=1)), rtol=1e-5)
        # probability targets and the KL divergence (their own block kernels)
        t = guarded(ref_sm[::-1].astype(dtype), at_end)
        grad2 = guarded(np.zeros_like(xv), at_end)
        lossopt.KLDivergence().loss_and_gradient(x, t, out=grad2)
        np.testing.assert_allclose(grad2, (ref_sm - ref_sm[::-1]) / n_rows, rtol=1e-4,
                                   atol=1e-6)
        # the cross-entropy with probability targets, and the KL divergence's loss
        # alone (no gradient written)
        grad4 = guarded(np.zeros_like(xv), at_end)
        lossopt.SoftmaxCrossEntropy().loss_and_gradient(x, t, out=grad4)
        np.testing.assert_allclose(grad4, grad2, rtol=1e-5, atol=1e-7)
        tv = ref_sm[::-1].astype(dtype).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_ref = np.where(tv > 0, tv * (np.log(tv) - np.log(ref_sm)), 0.0).sum() / n_rows
        assert lossopt.KLDivergence()(x, t) == pytest.approx(kl_ref, rel=1e-4, abs=1e-6)
        b = guarded(np.full_like(xv, 0.5), at_end)
        np.testing.assert_allclose(lossopt.logsumexp(x, axis=1, b=b), lse + np.log(0.5),
                                   rtol=1e-5, atol=1e-6)
        bneg = guarded(np.full_like(xv, -0.5), at_end)
        lse_n, sign_n = lossopt.logsumexp(x, axis=1, b=bneg, return_sign=True)
        np.testing.assert_allclose(lse_n, lse + np.log(0.5), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(sign_n, -1.0)
        for kind in ("weston_watkins", "crammer_singer"):
            hinge = lossopt.MulticlassHinge(kind=kind)
            grad3 = guarded(np.zeros_like(xv), at_end)
            v3, _ = hinge.loss_and_gradient(x, y, out=grad3)
            rv, rg = hinge.loss_and_gradient(xv.copy(), yv.copy())
            assert v3 == rv
            np.testing.assert_array_equal(grad3, rg)


ELEMENTWISE = [
    (lossopt.SquaredError(), "real"),
    (lossopt.Huber(), "real"),
    (lossopt.PoissonNLL(), "count"),
    (lossopt.PoissonNLL(log_input=False), "count"),
    (lossopt.BinaryCrossEntropy(), "unit"),
    (lossopt.Hinge(), "sign"),
    (lossopt.SquaredHinge(), "sign"),
    (lossopt.Perceptron(), "sign"),
]


def element_target(kind, rng, n):
    if kind == "real":
        return rng.normal(size=n)
    if kind == "count":
        return rng.poisson(2.0, size=n).astype(np.float64)
    if kind == "unit":
        return rng.random(n)
    return np.where(rng.random(n) < 0.5, -1.0, 1.0)


@pytest.mark.parametrize("at_end", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,kind", ELEMENTWISE, ids=lambda v: getattr(v, "__name__", None)
                         or type(v).__name__)
def test_elementwise_losses(guarded, rng, dtype, loss, kind, at_end):
    for n in list(range(1, 41)) + [511, 513, 1025]:
        pv = (np.abs(rng.normal(size=n)) + 0.1).astype(dtype)
        tv = element_target(kind, rng, n).astype(dtype)
        p, t = guarded(pv, at_end), guarded(tv, at_end)
        out = guarded(np.zeros_like(pv), at_end)
        value, g = loss.loss_and_gradient(p, t, out=out)
        ref_value, ref_g = loss.loss_and_gradient(pv.copy(), tv.copy())
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_array_equal(out, ref_g)


@pytest.mark.parametrize("at_end", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_nll_and_expit(guarded, rng, dtype, at_end):
    loss = lossopt.GaussianNLL()
    for n in list(range(1, 41)) + [511, 513, 1025]:
        pv, tv = rng.normal(size=(2, n)).astype(dtype)
        vv = (rng.random(n) + 0.05).astype(dtype)
        p, t, v = guarded(pv, at_end), guarded(tv, at_end), guarded(vv, at_end)
        outs = (guarded(np.zeros_like(pv), at_end), guarded(np.zeros_like(vv), at_end))
        value, _ = loss.loss_and_gradient(p, t, v, out=outs)
        ref_value, (ref_gp, ref_gv) = loss.loss_and_gradient(pv.copy(), tv.copy(), vv.copy())
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_array_equal(outs[0], ref_gp)
        np.testing.assert_array_equal(outs[1], ref_gv)
        e = guarded(np.zeros_like(pv), at_end)
        lossopt.expit(p, out=e)
        np.testing.assert_array_equal(e, lossopt.expit(pv.copy()))
