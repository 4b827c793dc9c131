"""The kernels we time and the peers we time them against, in one place, so
the pytest-benchmark suite and the ratio report measure the same code.

Every implementation is a zero-argument callable built by a factory from
prepared inputs; a peer that is not installed is simply absent.  Everything
runs on one thread (see `single_thread`).
"""

import contextlib
import importlib.util

import numpy as np

import lossopt

ROW_SIZES = [(1_000_000, 10), (100_000, 100), (10_000, 1000)]
DTYPES = [np.float64, np.float32]


def have(module):
    return importlib.util.find_spec(module) is not None


def installed(impls):
    """{name: factory} for the implementations whose module is installed;
    `impls` maps a name to (module it needs or None, factory)."""
    return {name: make for name, (module, make) in impls.items()
            if module is None or have(module)}


@contextlib.contextmanager
def single_thread():
    """Pin lossopt, torch and every BLAS/OpenMP pool to one thread."""
    stack = contextlib.ExitStack()
    with stack:
        stack.enter_context(lossopt.threads(1))
        if have("threadpoolctl"):
            import threadpoolctl
            stack.enter_context(threadpoolctl.threadpool_limits(1))
        if have("torch"):
            import torch
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, previous)
        yield


def row_inputs(n, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=(n, c)) * 3).astype(dtype)
    labels = rng.integers(0, c, size=n)
    return logits, labels


# -------------------------------------------------- softmax cross-entropy --

def ce_lossopt(logits, labels):
    loss = lossopt.SoftmaxCrossEntropy()
    return lambda: loss.loss_and_gradient(logits, labels)


def ce_numpy(logits, labels):
    n = len(labels)
    rows = np.arange(n)

    def run():
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, labels])
        grad = e / s
        grad[rows, labels] -= 1
        grad /= n
        return loss, grad
    return run


def ce_sklearn(logits, labels):
    from sklearn._loss.loss import HalfMultinomialLoss
    loss = HalfMultinomialLoss(n_classes=logits.shape[1])
    y = labels.astype(logits.dtype)

    def run():
        per_sample, grad = loss.loss_gradient(y_true=y, raw_prediction=logits, n_threads=1)
        return per_sample.mean(), grad
    return run


def ce_torch(logits, labels):
    import torch
    y = torch.from_numpy(labels)

    def run():
        z = torch.from_numpy(logits).requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(z, y)
        loss.backward()
        return loss.item(), z.grad
    return run


CROSS_ENTROPY = installed({"lossopt": (None, ce_lossopt), "numpy": (None, ce_numpy),
                           "sklearn": ("sklearn", ce_sklearn), "torch": ("torch", ce_torch)})


# --------------------------------------------------------------- logsumexp --

def lse_lossopt(x):
    return lambda: lossopt.logsumexp(x, axis=1)


def lse_numpy(x):
    def run():
        m = x.max(axis=1, keepdims=True)
        return np.log(np.exp(x - m).sum(axis=1)) + m[:, 0]
    return run


def lse_scipy(x):
    from scipy.special import logsumexp
    return lambda: logsumexp(x, axis=1)


def lse_torch(x):
    import torch
    t = torch.from_numpy(x)
    return lambda: torch.logsumexp(t, 1)


LOGSUMEXP = installed({"lossopt": (None, lse_lossopt), "numpy": (None, lse_numpy),
                       "scipy": ("scipy", lse_scipy), "torch": ("torch", lse_torch)})


# ---------------------------------------------------------- the exp bound --

def exp_reference(x):
    """np.exp over the same number of elements: the exp-bound reference."""
    out = np.empty_like(x)
    return lambda: np.exp(x, out=out)


KERNELS = {
    "softmax_cross_entropy": (CROSS_ENTROPY, lambda x, y: (x, y)),
    "logsumexp": (LOGSUMEXP, lambda x, y: (x,)),
}
