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


# ------------------------------------------------------ element-wise losses --
# loss + gradient (mean reduction) over N elements, (N,) predictions.  The
# reference is np.exp over N for the transcendental losses and
# np.add(a, b, out=c) over N for the bandwidth-bound ones (issue 4).

ELEMENTWISE_N = 10_000_000


def elementwise_inputs(name, n, dtype, seed=0):
    """(pred, target[, var]) for the loss `name`, float `dtype`."""
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=n)
    if name == "binary_cross_entropy":
        return (pred * 3).astype(dtype), rng.uniform(size=n).astype(dtype)
    if name in ("hinge", "squared_hinge", "perceptron"):
        return pred.astype(dtype), rng.choice([-1.0, 1.0], size=n).astype(dtype)
    if name == "poisson_nll":
        return (pred * 0.5).astype(dtype), rng.poisson(2.0, size=n).astype(dtype)
    target = rng.normal(size=n).astype(dtype)
    if name == "gaussian_nll":
        return pred.astype(dtype), target, rng.uniform(0.5, 2.0, size=n).astype(dtype)
    return pred.astype(dtype), target


def _torch_peer(fn, grad_of=(0,)):
    """fn(*tensors) -> torch loss, timed with its backward (gradients with
    respect to the arrays at positions `grad_of`)."""
    def make(*arrays):
        import torch

        def run():
            ts = [torch.from_numpy(a) for a in arrays]
            for i in grad_of:
                ts[i].requires_grad_(True)
            loss = fn(*ts)
            loss.backward()
            return loss.item(), [ts[i].grad for i in grad_of]
        return run
    return make


def _sklearn_peer(cls_name, **kw):
    """sklearn._loss's loss_gradient (per-sample values and gradients, 1 thread)."""
    def make(pred, target):
        import sklearn._loss.loss as skl
        loss = getattr(skl, cls_name)(**kw)

        def run():
            per_sample, grad = loss.loss_gradient(y_true=target, raw_prediction=pred,
                                                  n_threads=1)
            return per_sample.mean(), grad
        return run
    return make


def _lossopt_peer(make_loss):
    def make(*arrays):
        loss = make_loss()
        return lambda: loss.loss_and_gradient(*arrays)
    return make


def _lossopt_out_peer(make_loss):
    """lossopt writing the gradient into preallocated arrays (out=), as the
    np.add / np.exp references do; compared with the reference only."""
    def make(*arrays):
        loss = make_loss()
        out = np.empty_like(arrays[0])
        if len(arrays) == 3:                      # GaussianNLL: (d_pred, d_var)
            out = (out, np.empty_like(arrays[2]))
        return lambda: loss.loss_and_gradient(*arrays, out=out)
    return make


def _np_squared_error(p, t):
    def run():
        d = p - t
        return 0.5 * np.dot(d, d) / len(p), d / len(p)
    return run


def _np_absolute_error(p, t):
    def run():
        d = p - t
        return np.abs(d).mean(), np.sign(d) / len(p)
    return run


def _np_huber(p, t, delta=1.0):
    def run():
        d = p - t
        z = np.abs(d)
        loss = np.where(z < delta, 0.5 * d * d, delta * (z - 0.5 * delta)).mean()
        return loss, np.clip(d, -delta, delta) / len(p)
    return run


def _np_gaussian_nll(p, t, v, eps=1e-6):
    def run():
        vc = np.maximum(v, eps)
        d = p - t
        q = d / vc
        loss = 0.5 * (np.log(vc) + q * d).mean()
        return loss, q / len(p), 0.5 * (1 / vc - q * q) / len(p)
    return run


def _np_poisson_nll(p, t):
    def run():
        e = np.exp(p)
        return (e - t * p).mean(), (e - t) / len(p)
    return run


def _np_binary_cross_entropy(x, t):
    def run():
        loss = (np.logaddexp(0, x) - t * x).mean()
        e = np.exp(-np.abs(x))
        sig = np.where(x >= 0, 1, e) / (1 + e)
        return loss, (sig - t) / len(x)
    return run


def _np_hinge(p, y, squared=False):
    def run():
        u = np.maximum(1 - y * p, 0)
        if squared:
            return np.dot(u, u) / len(p), -2 * y * u / len(p)
        return u.mean(), np.where(u > 0, -y, 0) / len(p)
    return run


def _np_perceptron(p, y):
    def run():
        z = y * p
        return np.maximum(-z, 0).mean(), np.where(z <= 0, -y, 0) / len(p)
    return run


def _torch_fn(name, **kw):
    def fn(*ts):
        import torch.nn.functional as F
        return getattr(F, name)(*ts, **kw)
    return fn


def _torch_perceptron(p, y):
    return (-(y * p)).clamp(min=0).mean()


ELEMENTWISE = {
    # name: ({peer: (module or None, factory)}, reference)
    "squared_error": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.SquaredError())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.SquaredError())),
        "numpy": (None, _np_squared_error),
        "sklearn": ("sklearn", _sklearn_peer("HalfSquaredError")),
        "torch": ("torch", _torch_peer(_torch_fn("mse_loss")))}), "np.add"),
    "absolute_error": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.AbsoluteError())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.AbsoluteError())),
        "numpy": (None, _np_absolute_error),
        "sklearn": ("sklearn", _sklearn_peer("AbsoluteError")),
        "torch": ("torch", _torch_peer(_torch_fn("l1_loss")))}), "np.add"),
    "huber": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.Huber())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.Huber())),
        "numpy": (None, _np_huber),
        "sklearn": ("sklearn", _sklearn_peer("HuberLoss", delta=1.0)),
        "torch": ("torch", _torch_peer(_torch_fn("huber_loss")))}), "np.add"),
    "gaussian_nll": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.GaussianNLL())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.GaussianNLL())),
        "numpy": (None, _np_gaussian_nll),
        "torch": ("torch", _torch_peer(_torch_fn("gaussian_nll_loss"), grad_of=(0, 2)))}),
        "np.exp"),
    "poisson_nll": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.PoissonNLL())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.PoissonNLL())),
        "numpy": (None, _np_poisson_nll),
        "sklearn": ("sklearn", _sklearn_peer("HalfPoissonLoss")),
        "torch": ("torch", _torch_peer(_torch_fn("poisson_nll_loss")))}), "np.exp"),
    "binary_cross_entropy": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.BinaryCrossEntropy())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.BinaryCrossEntropy())),
        "numpy": (None, _np_binary_cross_entropy),
        "sklearn": ("sklearn", _sklearn_peer("HalfBinomialLoss")),
        "torch": ("torch", _torch_peer(_torch_fn("binary_cross_entropy_with_logits")))}),
        "np.exp"),
    "hinge": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.Hinge())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.Hinge())),
        "numpy": (None, _np_hinge),
        "torch": ("torch", _torch_peer(lambda p, y: (1 - y * p).clamp(min=0).mean()))}),
        "np.add"),
    "squared_hinge": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.SquaredHinge())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.SquaredHinge())),
        "numpy": (None, lambda p, y: _np_hinge(p, y, squared=True)),
        "torch": ("torch", _torch_peer(lambda p, y: (1 - y * p).clamp(min=0).square().mean()))}),
        "np.add"),
    "perceptron": (installed({
        "lossopt": (None, _lossopt_peer(lambda: lossopt.Perceptron())),
        "lossopt out=": (None, _lossopt_out_peer(lambda: lossopt.Perceptron())),
        "numpy": (None, _np_perceptron),
        "torch": ("torch", _torch_peer(_torch_perceptron))}), "np.add"),
}

REFERENCE_BY_NAME = {"np.exp": exp_reference, "np.add": add_reference}
