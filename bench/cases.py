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


def torch_autograd(x, loss_of):
    """torch's forward + backward of loss_of(tensor of x): (loss, gradient)."""
    import torch

    def run():
        z = torch.from_numpy(x).requires_grad_(True)
        loss = loss_of(z)
        loss.backward()
        return loss.item(), z.grad
    return run


def ce_torch(logits, labels):
    import torch
    y = torch.from_numpy(labels)
    return torch_autograd(logits, lambda z: torch.nn.functional.cross_entropy(z, y))


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


def add_reference(x):
    """np.add over the same number of elements (reads x, writes an array of its
    size, like a loss + gradient kernel that is not exp-bound)."""
    out = np.empty_like(x)
    return lambda: np.add(x, x, out=out)


# ------------------------------------------------------------ KL divergence --

def kl_target(logits, seed=1):
    """Target probabilities for the logits' rows (all positive)."""
    rng = np.random.default_rng(seed)
    t = rng.gamma(1.0, size=logits.shape).astype(logits.dtype) + logits.dtype.type(1e-3)
    t /= t.sum(axis=1, keepdims=True)
    return t


def kl_lossopt(logits, target):
    loss = lossopt.KLDivergence()
    return lambda: loss.loss_and_gradient(logits, target)


def kl_numpy(logits, target):
    n = len(logits)

    def run():
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        logp = logits - m - np.log(s)
        loss = np.sum(target * (np.log(target) - logp)) / n
        grad = (e / s) * target.sum(axis=1, keepdims=True) - target
        grad /= n
        return loss, grad
    return run


def kl_torch(logits, target):
    import torch
    t = torch.from_numpy(target)
    return torch_autograd(logits, lambda z: torch.nn.functional.kl_div(
        torch.log_softmax(z, 1), t, reduction="batchmean"))


KL_DIVERGENCE = installed({"lossopt": (None, kl_lossopt), "numpy": (None, kl_numpy),
                           "torch": ("torch", kl_torch)})


# --------------------------------------------------------- multiclass hinge --

def hinge_lossopt(kind):
    def make(scores, labels):
        loss = lossopt.MulticlassHinge(kind=kind)
        return lambda: loss.loss_and_gradient(scores, labels)
    return make


def ww_numpy(scores, labels):
    n, c = scores.shape
    rows = np.arange(n)

    def run():
        z = 1.0 - scores[rows, labels][:, None] + scores
        z[rows, labels] = 0.0
        on = z > 0
        loss = np.sum(z, where=on) / (c * n)
        grad = on.astype(scores.dtype) / (c * n)
        grad[rows, labels] = -grad.sum(axis=1)
        return loss, grad
    return run


def cs_numpy(scores, labels):
    n, c = scores.shape
    rows = np.arange(n)

    def run():
        others = scores.copy()
        others[rows, labels] = -np.inf
        k = others.argmax(axis=1)
        h = 1.0 + others[rows, k] - scores[rows, labels]
        on = (h > 0) / n
        grad = np.zeros_like(scores)
        grad[rows, k] = on
        grad[rows, labels] -= on
        return np.maximum(h, 0).sum() / n, grad
    return run


def ww_torch(scores, labels):
    import torch
    y = torch.from_numpy(labels)
    return torch_autograd(scores, lambda x: torch.nn.functional.multi_margin_loss(x, y))


def cs_torch(scores, labels):
    """Crammer-Singer from torch ops (torch has no such loss): optax's formula."""
    import torch
    y = torch.from_numpy(labels)[:, None]

    def loss_of(x):
        xy = x.gather(1, y)
        return ((x + 1.0).scatter(1, y, xy).max(dim=1).values - xy[:, 0]).mean()
    return torch_autograd(scores, loss_of)


HINGE_WW = installed({"lossopt": (None, hinge_lossopt("weston_watkins")),
                      "numpy": (None, ww_numpy), "torch": ("torch", ww_torch)})
HINGE_CS = installed({"lossopt": (None, hinge_lossopt("crammer_singer")),
                      "numpy": (None, cs_numpy), "torch": ("torch", cs_torch)})


KERNELS = {
    "softmax_cross_entropy": (CROSS_ENTROPY, lambda x, y: (x, y)),
    "logsumexp": (LOGSUMEXP, lambda x, y: (x,)),
    "kl_divergence": (KL_DIVERGENCE, lambda x, y: (x, kl_target(x))),
    "multiclass_hinge_ww": (HINGE_WW, lambda x, y: (x, y)),
    "multiclass_hinge_cs": (HINGE_CS, lambda x, y: (x, y)),
}

# (N, C) sizes and the reference each kernel is timed at, when not ROW_SIZES
# and np.exp (the exp-bound reference of the softmax family)
SIZES = {"multiclass_hinge_ww": [(1_000_000, 10)], "multiclass_hinge_cs": [(1_000_000, 10)]}
REFERENCES = {"multiclass_hinge_ww": ("np.add", add_reference),
              "multiclass_hinge_cs": ("np.add", add_reference)}


def sizes_of(kernel):
    return SIZES.get(kernel, ROW_SIZES)


def reference_of(kernel):
    """(name, factory) of the single-NumPy-call reference for `kernel`."""
    return REFERENCES.get(kernel, ("np.exp", exp_reference))
