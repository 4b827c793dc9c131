"""The element-wise losses' domain check fused into their one pass: the
kernel checks the targets (variances, for the Gaussian NLL) of each span of
a block before it computes the span, and stops the block at the first span
holding a bad one (that span and the rest of the block are left unwritten);
Python raises the same ValueError afterwards.  The fused check runs where
nothing the caller sees is written (loss only, or a gradient into a fresh
array); with a caller's out= the targets are checked in one vectorised pass
before anything is written (DESIGN.md section 6: an error is raised before
any output is written, and inputs are never modified).  Covered here: the
error and its message for a bad value in the first, a middle (in a later
span) and the last (partial) block, on one and two threads, with and without
out= and with out=pred or a view of an input; out= and the inputs unchanged;
which parts the kernel writes and the count it returns; and the results of
the checking pass equal to the unchecked one and to NumPy float64
references."""

import numpy as np
import pytest

import lossopt
from lossopt._kernels import _binary, _regression

BLOCK = 8192                  # STREAM_BLOCK of src/_elementwise.pxd (K = 1)
SPAN = 512                    # LOSSOPT_ELEM_SPAN of src/lossopt_elementwise.h
N = 4 * BLOCK + 123           # the last block partial; above the 2-thread threshold


def _labels(rng, n):
    return rng.choice([-1.0, 1.0], n)


# loss, target maker, bad value, message
CASES = {
    "hinge": (lossopt.Hinge, _labels, 0.5, "binary labels"),
    "squared_hinge": (lossopt.SquaredHinge, _labels, 2.0, "binary labels"),
    "perceptron": (lossopt.Perceptron, _labels, np.inf, "binary labels"),
    "bce": (lossopt.BinaryCrossEntropy, lambda rng, n: rng.uniform(size=n), 1.5, "target"),
    "poisson": (lossopt.PoissonNLL, lambda rng, n: rng.poisson(2.0, n) * 1.0, -1.0,
                "target must be non-negative"),
}
POSITIONS = {"first": 0, "middle": BLOCK + 17, "later_span": 2 * BLOCK + 5000,
             "last": N - 1}


def _unwritten(pos):
    """The elements the kernel leaves unwritten for the one bad value at pos:
    its span and the rest of its block."""
    return slice(pos // SPAN * SPAN, min(N, (pos // BLOCK + 1) * BLOCK))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("where", list(POSITIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CASES))
def test_bad_target_raises_inputs_unmodified(rng, name, dtype, where, threads):
    make_loss, make_target, bad_value, message = CASES[name]
    pred = rng.normal(size=N).astype(dtype)
    target = make_target(rng, N).astype(dtype)
    target[POSITIONS[where]] = bad_value
    pred0, target0 = pred.copy(), target.copy()
    loss = make_loss()
    with lossopt.threads(threads):
        for out in (None, np.full(N, 7.0, dtype)):
            with pytest.raises(ValueError, match=message):
                loss.loss_and_gradient(pred, target, out=out)
            with pytest.raises(ValueError, match=message):
                loss(pred, target)
            np.testing.assert_array_equal(pred, pred0)
            np.testing.assert_array_equal(target, target0)
            if out is not None:
                # a caller's out= is checked for before anything is written
                # (DESIGN.md section 6): not a value of it changes
                assert (out == 7.0).all()
        # out=pred: checked before anything is written
        with pytest.raises(ValueError, match=message):
            loss.loss_and_gradient(pred, target, out=pred)
        np.testing.assert_array_equal(pred, pred0)
        np.testing.assert_array_equal(target, target0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("where", list(POSITIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_negative_variance_raises_inputs_unmodified(rng, dtype, where, threads):
    pred = rng.normal(size=N).astype(dtype)
    target = rng.normal(size=N).astype(dtype)
    var = rng.uniform(0.5, 2.0, size=N).astype(dtype)
    var[POSITIONS[where]] = -0.25
    arrays0 = [a.copy() for a in (pred, target, var)]
    loss = lossopt.GaussianNLL()
    with lossopt.threads(threads):
        for out in [None, (np.full(N, 7.0, dtype), np.full(N, 7.0, dtype)),
                    (pred, None), (None, pred)]:
            with pytest.raises(ValueError, match="var must be non-negative"):
                loss.loss_and_gradient(pred, target, var, out=out)
            for a, a0 in zip((pred, target, var), arrays0):
                np.testing.assert_array_equal(a, a0)
        with pytest.raises(ValueError, match="var must be non-negative"):
            loss(pred, target, var)


def _np_hinge_grad(p, y):
    """dl/dp of max(0, 1 - y p) in float64 (0 at the kink)."""
    y = np.where(y == 1, 1.0, -1.0)
    return np.where(1.0 - y * p.astype(np.float64) > 0, -y, 0.0)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_leaves_only_bad_spans_unwritten(rng, dtype, n_threads):
    """The kernel's count is every bad target's; the first span holding one
    and the rest of its block are not written, everything else holds the
    gradient (NumPy float64 reference)."""
    pred = rng.normal(size=N).astype(dtype)
    target = _labels(rng, N).astype(dtype)
    bad_at = np.array([BLOCK + 3, BLOCK + 4000, 2 * BLOCK + 5000, 2 * BLOCK + 7000, N - 1])
    target[bad_at] = [0.5, -3.0, 2.0, np.inf, -0.5]
    g = np.full(N, 7.0, dtype)
    total, n_bad = _binary.hinge(pred.reshape(-1, 1), target.reshape(-1, 1),
                                 g.reshape(-1, 1), None, 1.0, None, n_threads,
                                 min_parallel=0)
    assert n_bad == len(bad_at)
    ref = _np_hinge_grad(pred, target)
    written = np.ones(N, bool)
    for pos in (BLOCK + 3, 2 * BLOCK + 5000, N - 1):     # the first of each block
        written[_unwritten(pos)] = False
    assert (~written).sum() == BLOCK + (BLOCK - 5000 // SPAN * SPAN) + (N - 4 * BLOCK)
    assert (g[~written] == 7.0).all()
    np.testing.assert_array_equal(g[written], ref[written].astype(dtype))
    good = np.flatnonzero(written)
    ref_sum = np.maximum(0.0, 1.0 - np.where(target[good] == 1, 1.0, -1.0) *
                         pred[good].astype(np.float64)).sum()
    np.testing.assert_allclose(total, ref_sum, rtol=1e-12)


KERNELS = {
    "hinge": (_binary.hinge, _labels, {}),
    "perceptron": (_binary.perceptron, _labels, {}),
    "bce": (_binary.binary_cross_entropy, lambda rng, n: rng.uniform(size=n),
            {"label_smoothing": 0.1}),
    "poisson": (_regression.poisson_nll, lambda rng, n: rng.poisson(2.0, n) * 1.0, {}),
}


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_checked_pass_same_bits_any_threads(rng, name, dtype):
    """The checking pass computes the unchecked pass's bits, on 1 and 2
    threads, and counts nothing on good targets."""
    kernel, make_target, kw = KERNELS[name]
    pred = rng.normal(size=(N, 1)).astype(dtype)
    target = make_target(rng, N).astype(dtype).reshape(-1, 1)
    results = []
    for check in (True, False):
        for nt in (1, 2):
            g = np.empty_like(pred)
            total, n_bad = kernel(pred, target, g, None, 1.0, None, nt, min_parallel=0,
                                  check_domain=check, **kw)
            assert n_bad == 0
            results.append((total, g))
    for total, g in results[1:]:
        assert total == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_equals_allocated_and_reference(rng, dtype):
    """With out= (the fused check) the gradient and value equal the
    allocating call's bits and a NumPy float64 reference."""
    pred = rng.normal(size=N).astype(dtype)
    target = _labels(rng, N).astype(dtype)
    loss = lossopt.Hinge()
    v1, g1 = loss.loss_and_gradient(pred, target)
    out = np.empty_like(pred)
    v2, g2 = loss.loss_and_gradient(pred, target, out=out)
    assert g2 is out and v1 == v2 and loss(pred, target) == v1
    np.testing.assert_array_equal(g1, g2)
    y = np.where(target == 1, 1.0, -1.0)
    ref = np.maximum(0.0, 1.0 - y * pred.astype(np.float64)).mean()
    np.testing.assert_allclose(v2, ref, rtol=1e-12)
    np.testing.assert_array_equal(g2, (_np_hinge_grad(pred, target) / N).astype(dtype))


@pytest.mark.parametrize("case", ["float32_sample_weight", "pred_view", "target_view",
                                  "gaussian_var_view", "gaussian_pred_view"])
def test_bad_target_never_modifies_an_input_out_is_a_view_of(rng, case):
    """out= an array that one of the caller's inputs is a view of, or is
    itself, where the input is copied by the conversion (a reversed view, a
    float32 sample_weight): the domain is checked before anything is written,
    so the input is unchanged when the ValueError comes (the fused check
    alone would have written part of the gradient over it)."""
    n = 3 * BLOCK + 7
    if case == "float32_sample_weight":
        pred = rng.normal(size=n).astype(np.float32)
        target = (rng.random(n) * 3).astype(np.float32)
        target[2 * BLOCK + 100] = -1.0
        sw = np.ones(n, np.float32)
        before = sw.copy()
        with pytest.raises(ValueError, match="target must be non-negative"):
            lossopt.PoissonNLL().loss_and_gradient(pred, target, sample_weight=sw, out=sw)
        np.testing.assert_array_equal(sw, before)
        return
    buf = rng.normal(size=n)
    before = buf.copy()
    if case == "pred_view":
        target = _labels(rng, n)
        target[2 * BLOCK + 100] = 0.5
        with pytest.raises(ValueError, match="binary labels"):
            lossopt.Hinge().loss_and_gradient(buf[::-1], target, out=buf)
    elif case == "target_view":
        buf[:] = _labels(rng, n)
        buf[2 * BLOCK + 100] = 0.5
        before = buf.copy()
        with pytest.raises(ValueError, match="binary labels"):
            lossopt.Hinge().loss_and_gradient(rng.normal(size=n), buf[::-1], out=buf)
    elif case == "gaussian_var_view":
        buf[:] = rng.uniform(0.5, 2.0, n)
        buf[2 * BLOCK + 100] = -1.0
        before = buf.copy()
        with pytest.raises(ValueError, match="var"):
            lossopt.GaussianNLL().loss_and_gradient(rng.normal(size=n), rng.normal(size=n),
                                                    buf[::-1], out=(buf, None))
    else:
        var = rng.uniform(0.5, 2.0, n)
        var[2 * BLOCK + 100] = -1.0
        with pytest.raises(ValueError, match="var"):
            lossopt.GaussianNLL().loss_and_gradient(buf[::-1], rng.normal(size=n), var,
                                                    out=(None, buf))
    np.testing.assert_array_equal(buf, before)
