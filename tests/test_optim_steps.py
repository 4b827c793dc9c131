"""lossopt.optim: hand-computed steps of every algorithm, the Reddi et al.
(2018) counterexample, convergence on an ill-conditioned quadratic and on
the Rosenbrock function, and bit-identical results for any thread count and
for a flat buffer."""

import math

import numpy as np
import pytest

import lossopt
import lossopt.optim as lo
from lossopt._kernels import _optim


def run(opt_cls, grads, w0=1.0, dtype=np.float64, **kw):
    """The iterates of one scalar parameter under the given gradients."""
    w = np.array([w0], dtype=dtype)
    opt = opt_cls([w], **kw)
    out = []
    for g in grads:
        opt.step([np.array([g], dtype=dtype)])
        out.append(float(w[0]))
    return out


# ----------------------------------------------------- hand-computed steps --

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_momentum_lecture_example(dtype):
    # v <- 0.9 v - 1 * 1: v = -1, w = 0; v = -0.9 - 1 = -1.9, w = -1.9
    assert run(lo.SGD, [1, 1], lr=1.0, momentum=0.9, dtype=dtype) == \
        pytest.approx([0.0, -1.9], abs=1e-7 if dtype == np.float32 else 1e-15)


def test_sgd_variants_by_hand():
    assert run(lo.SGD, [1, 1], lr=1.0) == [0.0, -1.0]                      # w - eta g
    # Nesterov: b1 = 1, d = 1 + 0.9 = 1.9; b2 = 1.9, d = 1 + 0.9 * 1.9 = 2.71
    assert run(lo.SGD, [1, 1], lr=1.0, momentum=0.9, nesterov=True) == \
        pytest.approx([1 - 1.9, 1 - 1.9 - 2.71], abs=1e-15)
    # dampening 0.5: b1 = g = 1 (torch: the first buffer is the gradient), b2 = 0.9 + 0.5
    assert run(lo.SGD, [1, 1], lr=1.0, momentum=0.9, dampening=0.5) == \
        pytest.approx([0.0, -1.4], abs=1e-15)
    # weight decay 0.5: d = 1 + 0.5 * 1 = 1.5
    assert run(lo.SGD, [1], lr=1.0, weight_decay=0.5) == [-0.5]
    assert run(lo.SGD, [1], lr=1.0, maximize=True) == [2.0]


def test_adagrad_by_hand():
    # r = 4: w = 1 - 0.5 * 2 / 2 = 0.5; r = 8, clr = 0.5 / (1 + 0.5): w -= clr * 2 / sqrt(8)
    got = run(lo.Adagrad, [2, 2], lr=0.5, lr_decay=0.5, eps=0.0)
    assert got == pytest.approx([0.5, 0.5 - (0.5 / 1.5) * 2 / math.sqrt(8)], rel=1e-15)
    # initial accumulator 5: r = 5 + 4 = 9
    assert run(lo.Adagrad, [2], lr=0.3, initial_accumulator_value=5.0, eps=0.0) == \
        pytest.approx([1 - 0.3 * 2 / 3], rel=1e-15)


def test_rmsprop_by_hand():
    # r = 0.25 * 4 = 1: w = 1 - 0.1 * 2; r = 0.75 + 1 = 1.75
    got = run(lo.RMSprop, [2, 2], lr=0.1, alpha=0.75, eps=0.0)
    assert got == pytest.approx([0.8, 0.8 - 0.2 / math.sqrt(1.75)], rel=1e-15)
    # centered: m = 0.25 * 2 = 0.5, s = sqrt(1 - 0.25)
    got = run(lo.RMSprop, [2], lr=0.1, alpha=0.75, eps=0.0, centered=True)
    assert got == pytest.approx([1 - 0.2 / math.sqrt(0.75)], rel=1e-15)
    # momentum 0.5: b = 2; then b = 1 + 2 / sqrt(1.75)
    got = run(lo.RMSprop, [2, 2], lr=0.1, alpha=0.75, eps=0.0, momentum=0.5)
    assert got == pytest.approx([0.8, 0.8 - 0.1 * (1 + 2 / math.sqrt(1.75))], rel=1e-15)


def test_adadelta_by_hand():
    rho, eps = 0.5, 1e-6
    r = 0.5 * 1.0                                   # (1 - rho) g^2
    u = math.sqrt(0 + eps) / math.sqrt(r + eps) * 1.0
    D = 0.5 * u * u
    r2 = rho * r + 0.5 * 4.0
    u2 = math.sqrt(D + eps) / math.sqrt(r2 + eps) * 2.0
    got = run(lo.Adadelta, [1, 2], lr=1.0, rho=rho, eps=eps)
    assert got == pytest.approx([1 - u, 1 - u - u2], rel=1e-14)
    # torch's lr multiplies the update
    assert run(lo.Adadelta, [1], lr=0.1, rho=rho, eps=eps) == pytest.approx([1 - 0.1 * u])


def test_adam_lecture_example():
    # eta = 1, mu = 0.01, rho = 0.02, eps = 1e-8: w = 1 - 1 / (1 + 1e-8), then -0.98144...
    got = run(lo.Adam, [1.0, 0.5], lr=1.0, betas=(0.01, 0.02), eps=1e-8)
    assert got[0] == pytest.approx(1e-8, rel=1e-6)
    assert got[1] == -0.9814473195614205


def test_adam_bias_correction_and_amsgrad_by_hand():
    # betas (0, 0.5), eps 0, lr 1.  Step 1, g = 2: m = 2, r = 2, r_hat = r / 0.5 = 4,
    # w = 1 - 2 / 2 = 0.  Step 2, g = 1: m = 1, r = 1 + 0.5 = 1.5, r_hat = 1.5 / 0.75 = 2.
    adam = run(lo.Adam, [2, 1], lr=1.0, betas=(0.0, 0.5), eps=0.0)
    assert adam == pytest.approx([0.0, -1 / math.sqrt(2)], abs=1e-15)
    # AMSGrad keeps max(r) = 2 > 1.5, so the second step is smaller: r_hat = 2 / 0.75
    ams = run(lo.Adam, [2, 1], lr=1.0, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    assert ams == pytest.approx([0.0, -1 / math.sqrt(2 / 0.75)], abs=1e-15)


def test_adamw_by_hand():
    # decay first: 2 (1 - 0.1 * 0.5) = 1.9; then Adam's first step is lr * sign(g)
    assert run(lo.AdamW, [1.0], w0=2.0, lr=0.1, weight_decay=0.5, eps=0.0) == \
        pytest.approx([1.8], rel=1e-15)
    # Adam's coupled decay instead adds 0.5 * 2 to g: still a step of lr * sign
    assert run(lo.Adam, [1.0], w0=2.0, lr=0.1, weight_decay=0.5, eps=0.0) == \
        pytest.approx([1.9], rel=1e-15)


def test_nadam_by_hand():
    lr, b1, psi = 0.1, 0.9, 4e-3
    mu1 = b1 * (1 - 0.5 * 0.96 ** (1 * psi))
    mu2 = b1 * (1 - 0.5 * 0.96 ** (2 * psi))
    # step 1, g = 1: m = 0.1, r_hat = 1, s = 1
    expected = 1 - lr * (1 - mu1) / (1 - mu1) * 1 - lr * mu2 / (1 - mu1 * mu2) * 0.1
    got = run(lo.NAdam, [1.0], lr=lr, eps=0.0)
    assert got == pytest.approx([expected], rel=1e-15)


def test_radam_by_hand():
    # constant gradient 1, eps 0: m_hat = 1 and r = 1 - beta2^t, so each step is
    # lr (rho_t <= 5) or lr * rect_t (rho_t > 5)
    lr, b2 = 0.01, 0.999
    got = run(lo.RAdam, [1.0] * 8, w0=0.0, lr=lr, eps=0.0)
    rho_inf = 2 / (1 - b2) - 1
    w, expected = 0.0, []
    for t in range(1, 9):
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            w -= lr * math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        else:
            w -= lr
        expected.append(w)
    assert got == pytest.approx(expected, rel=1e-13)
    assert got[0] == -lr and got[-1] != -8 * lr    # both branches taken


def test_adamax_by_hand():
    # m = -0.4, u = 4, clr = 0.5 / 0.1: w = 1 + 5 * 0.4 / 4 = 1.5
    # m = -0.36 + 0.2 = -0.16, u = max(3.996, 2), clr = 0.5 / 0.19
    got = run(lo.Adamax, [-4.0, 2.0], lr=0.5, eps=0.0)
    assert got == pytest.approx([1.5, 1.5 + 0.5 / 0.19 * 0.16 / 3.996], rel=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
                                  "NAdam", "RAdam", "Adamax"])
def test_maximize_is_minimizing_the_negation(name):
    grads = [0.3, -1.2, 2.0, 0.7]
    a = run(getattr(lo, name), grads, maximize=True, lr=0.1)
    b = run(getattr(lo, name), [-g for g in grads], lr=0.1)
    assert a == b


# ------------------------------------------------ Reddi et al. (2018) --

@pytest.mark.parametrize("C", [3.0, 5.0])
def test_reddi_counterexample_adam_fails_amsgrad_converges(C):
    """f_t(x) = C x for t mod 3 == 1, else -x, on [-1, 1], C > 2: the regret
    minimiser is x = -1.  With beta1 = 0, beta2 = 1 / (1 + C^2) and step sizes
    alpha / sqrt(t) (projected onto [-1, 1]), Adam drifts to +1; AMSGrad,
    whose step size never grows, reaches -1."""
    alpha = 0.5
    finals = {}
    for amsgrad in (False, True):
        x = np.zeros(1)
        opt = lo.Adam([x], lr=alpha, betas=(0.0, 1 / (1 + C * C)), eps=1e-8,
                      amsgrad=amsgrad)
        sched = lo.LambdaLR(opt, lambda epoch: 1 / math.sqrt(epoch + 1))
        trail = []
        for t in range(1, 6001):
            opt.step([np.array([C if t % 3 == 1 else -1.0])])
            np.clip(x, -1.0, 1.0, out=x)
            sched.step()
            trail.append(x[0])
        finals[amsgrad] = np.mean(trail[-300:])
    assert finals[False] > 0.99
    assert finals[True] < -0.99


# ---------------------------------------------------------- convergence --

LAM = np.array([1.0, 100.0])


def quadratic_grad(w):
    """f = 1/2 (w0^2 + 100 w1^2): condition number 100, minimum at 0."""
    return LAM * w


def rosenbrock_grad(w):
    """f = (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1)."""
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


# (algorithm, options, per-step ExponentialLR gamma, step budget); tolerance
# is the max-norm distance to the minimiser at the end of the budget.
QUADRATIC = [
    ("SGD", dict(lr=0.003, momentum=0.9, nesterov=True), 1.0, 500),
    ("Adagrad", dict(lr=0.1), 1.0, 500),
    ("RMSprop", dict(lr=0.01), 1.0, 500),
    ("Adadelta", dict(lr=0.3, eps=1e-4), 0.995, 1000),
    ("Adam", dict(lr=0.01), 1.0, 500),
    ("AdamW", dict(lr=0.01, weight_decay=0.0), 1.0, 500),
    ("NAdam", dict(lr=0.01), 1.0, 500),
    ("RAdam", dict(lr=0.03), 1.0, 500),
    ("Adamax", dict(lr=0.03), 1.0, 500),
]
ROSENBROCK = [
    ("SGD", dict(lr=0.001, momentum=0.9, nesterov=True), 1.0, 2000),
    ("Adam", dict(lr=0.03), 1.0, 2000),
    ("AdamW", dict(lr=0.03, weight_decay=0.0), 1.0, 2000),
    ("Adamax", dict(lr=0.1), 1.0, 3000),
    ("Adagrad", dict(lr=1.0), 1.0, 15000),
    ("RMSprop", dict(lr=0.003), 0.9995, 8000),
    ("Adadelta", dict(lr=0.1, eps=1e-4), 0.9995, 9000),
    ("NAdam", dict(lr=0.03), 0.9995, 5000),
    ("RAdam", dict(lr=0.01), 1.0, 8000),
]


def _minimise(name, kw, gamma, steps, grad, start):
    w = np.array(start, dtype=np.float64)
    opt = getattr(lo, name)([w], **kw)
    sched = lo.ExponentialLR(opt, gamma)
    for _ in range(steps):
        opt.step([grad(w)])
        sched.step()
    return w


@pytest.mark.parametrize("name, kw, gamma, steps", QUADRATIC)
def test_converges_on_ill_conditioned_quadratic(name, kw, gamma, steps):
    w = _minimise(name, kw, gamma, steps, quadratic_grad, [1.0, 1.0])
    assert np.max(np.abs(w)) < 1e-4, w


@pytest.mark.parametrize("name, kw, gamma, steps", ROSENBROCK)
def test_converges_on_rosenbrock(name, kw, gamma, steps):
    w = _minimise(name, kw, gamma, steps, rosenbrock_grad, [-1.5, 2.0])
    assert np.max(np.abs(w - 1.0)) < 1e-3, w


# ------------------------------------------- threads and flat buffers --

ALL = [("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
       ("Adagrad", dict(lr_decay=0.01)), ("RMSprop", dict(momentum=0.5, centered=True)),
       ("Adadelta", {}), ("Adam", dict(amsgrad=True)), ("AdamW", {}), ("NAdam", {}),
       ("RAdam", {}), ("Adamax", {})]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kw", ALL)
def test_bit_identical_for_any_thread_count(name, kw, dtype):
    """Above the thread threshold the update runs on several threads; the
    parameters and states are the same bits for 1, 2 and 3 threads."""
    n = _optim.PARALLEL_MIN_ELEMS * 2 + 12345
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=n).astype(dtype)
    grads = [rng.normal(size=n).astype(dtype) for _ in range(12)]
    results = []
    for threads in (1, 2, 3):
        w = w0.copy()
        opt = getattr(lo, name)([w], **kw)
        with lossopt.threads(threads):
            for g in grads:
                opt.step([g])
        results.append((w, opt.state[0]))
    for w, state in results[1:]:
        np.testing.assert_array_equal(w, results[0][0])
        for k, v in state.items():
            np.testing.assert_array_equal(v, results[0][1][k])


@pytest.mark.parametrize("name, kw", ALL)
def test_flat_buffer_equals_separate_arrays(name, kw):
    """One kernel call over a FlatParameters buffer gives the same bits as
    one call per array."""
    rng = np.random.default_rng(5)
    shapes = {"W": (40, 30), "b": (30,), "v": (7,)}
    init = {k: rng.normal(size=s) for k, s in shapes.items()}
    sep = {k: v.copy() for k, v in init.items()}
    flat = lo.FlatParameters.from_arrays(init)
    opt_sep = getattr(lo, name)(sep, **kw)
    opt_flat = getattr(lo, name)(flat, **kw)
    for _ in range(20):
        g = {k: rng.normal(size=s) for k, s in shapes.items()}
        opt_sep.step(g)
        for k in shapes:
            flat.grads[k][...] = g[k]
        opt_flat.step(flat)
    for k in shapes:
        np.testing.assert_array_equal(flat[k], sep[k])


def test_clip_norm_bit_identical_for_any_thread_count():
    rng = np.random.default_rng(4)
    g = rng.normal(size=_optim.PARALLEL_MIN_ELEMS * 3 + 7)
    norms = []
    for threads in (1, 2, 3):
        with lossopt.threads(threads):
            norms.append(lo.clip_grad_norm_([g.copy()], 1.0))
    assert norms[0] == norms[1] == norms[2]
    assert norms[0] == pytest.approx(np.sqrt(np.sum(g * g)), rel=1e-13)
