"""The optimizer steps we time and their peers, shared by bench/optim_report.py
and the pytest-benchmark suite (bench/test_bench_optim.py).

Each implementation is a zero-argument callable doing one step over N
parameters with a fixed gradient, on its own copies of the arrays:

* lossopt:      lossopt.optim (one fused kernel per step);
* numpy:        the same update written with in-place NumPy ufuncs (out=)
                and one preallocated temporary, the best plain NumPy does;
* numpy-plain:  the update as the formulas read (``buf *= mu; buf += g;
                w -= lr * buf``; Adam's ``m = b1 * m + (1 - b1) * g`` ...),
                the NumPy code a user writes, with its temporaries;
* torch-foreach, torch-fused: torch.optim with foreach=True / fused=True.
"""

import itertools
import math

import numpy as np

import lossopt
import lossopt.optim as lo
from lossopt._bench import have

N_PARAMS = 10_000_000
DTYPES = [np.float64, np.float32]
LR, MOMENTUM, BETAS, EPS, WD = 1e-3, 0.9, (0.9, 0.999), 1e-8, 1e-2

ALGORITHMS = {
    "SGD-momentum": ("SGD", dict(lr=LR, momentum=MOMENTUM)),
    "Adam": ("Adam", dict(lr=LR, betas=BETAS, eps=EPS)),
    "AdamW": ("AdamW", dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)),
}


def inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)


def make_lossopt(algo, w, g):
    name, kw = ALGORITHMS[algo]
    w = w.copy()
    opt = getattr(lo, name)([w], **kw)
    grads = [g]
    return lambda: opt.step(grads)


def _numpy_step(algo, w, g, sgd_update, adam_update):
    """One step over a copy of `w` with gradient `g`: ``sgd_update(w, buf)``
    for SGD-momentum, ``adam_update(w, m, v, k)`` (step k = 1, 2, ...) for
    Adam/AdamW; the two NumPy peers differ only in those updates."""
    w = w.copy()
    if algo == "SGD-momentum":
        buf = np.zeros_like(w)             # mu * 0 + g = g: torch's first buffer
        return lambda: sgd_update(w, buf)
    m, v = np.zeros_like(w), np.zeros_like(w)
    steps = itertools.count(1)
    return lambda: adam_update(w, m, v, next(steps))


def make_numpy(algo, w, g):
    """In-place NumPy with one temporary: torch's update, op by op."""
    t = np.empty_like(w)
    dt = w.dtype.type
    b1, b2 = BETAS

    def sgd_update(w, buf):
        np.multiply(buf, dt(MOMENTUM), out=buf)
        np.add(buf, g, out=buf)
        np.multiply(buf, dt(-LR), out=t)
        np.add(w, t, out=w)

    def adam_update(w, m, v, k):
        if algo == "AdamW":
            np.multiply(w, dt(1 - LR * WD), out=w)
        np.subtract(g, m, out=t)               # m <- m + (1 - b1)(g - m)
        np.multiply(t, dt(1 - b1), out=t)
        np.add(m, t, out=m)
        np.multiply(v, dt(b2), out=v)          # v <- b2 v + (1 - b2) g^2
        np.multiply(g, g, out=t)
        np.multiply(t, dt(1 - b2), out=t)
        np.add(v, t, out=v)
        np.sqrt(v, out=t)                      # w <- w - ss m / (sqrt(v) / bc2 + eps)
        np.divide(t, dt(math.sqrt(1 - b2 ** k)), out=t)
        np.add(t, dt(EPS), out=t)
        np.divide(m, t, out=t)
        np.multiply(t, dt(-LR / (1 - b1 ** k)), out=t)
        np.add(w, t, out=w)
    return _numpy_step(algo, w, g, sgd_update, adam_update)


def make_numpy_plain(algo, w, g):
    """NumPy as the update rules read, temporaries and all."""
    b1, b2 = BETAS

    def sgd_update(w, buf):
        buf[...] = MOMENTUM * buf + g
        w[...] -= LR * buf

    def adam_update(w, m, v, k):
        if algo == "AdamW":
            w[...] *= 1 - LR * WD
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** k)
        v_hat = v / (1 - b2 ** k)
        w[...] -= LR * m_hat / (np.sqrt(v_hat) + EPS)
    return _numpy_step(algo, w, g, sgd_update, adam_update)


def _make_torch(flag):
    def make(algo, w, g):
        import torch
        name, kw = ALGORITHMS[algo]
        p = torch.from_numpy(w.copy()).requires_grad_(True)
        p.grad = torch.from_numpy(g)
        opt = getattr(torch.optim, name)([p], **kw, **{flag: True})
        return opt.step
    return make


def implementations():
    impls = {"lossopt": make_lossopt, "numpy": make_numpy, "numpy-plain": make_numpy_plain}
    if have("torch"):
        impls["torch-foreach"] = _make_torch("foreach")
        impls["torch-fused"] = _make_torch("fused")
    return impls


class threads_everywhere:
    """Set lossopt's and torch's thread counts (NumPy's ufuncs use one)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self._ctx = lossopt.threads(self.n)
        self._ctx.__enter__()
        if have("torch"):
            import torch
            self._torch = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if have("torch"):
            import torch
            torch.set_num_threads(self._torch)
        return self._ctx.__exit__(*exc)
