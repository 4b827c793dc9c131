"""The kernel benchmark: lossopt against NumPy and the installed peers.

One table of cases (`KERNELS`, expanded by `cases`) drives both the ratio
report (`python -m bench.report` from a checkout, `main` here) and the
pytest-benchmark suite in bench/, so that both time the same code.  It lives
in the package, not in bench/ (which the sdist leaves out), so that a
``lossopt bench`` command can run the same code from an installed wheel.

For every kernel and size, each implementation is a zero-argument callable
built from prepared inputs:

* ``lossopt``: the public API allocating its results, as the peers do;
* ``lossopt out=``: the same writing into preallocated arrays (``out=``),
  compared with the one-call NumPy reference, which writes into ``out=`` too;
* the reference: ``np.exp`` over the same number of elements (the exp-bound
  limit) or ``np.add(a, b, out=c)`` (the bandwidth limit of a kernel that
  reads two arrays and writes one);
* the peers, each only when its package is installed: ``numpy`` (the
  textbook formula), ``scipy``, ``sklearn`` (scikit-learn's private
  ``sklearn._loss``), ``torch`` (forward + backward for a loss) and ``jax``
  (``jax.jit`` of ``jax.value_and_grad``, finished with
  ``block_until_ready``).  The peers are imported only when a case is built:
  importing this module costs NumPy and lossopt only.

Everything runs on one thread (`single_thread`): lossopt, torch, BLAS pools
(through threadpoolctl when installed) and XLA (jax runs on its CPU device,
with one thread when this module imports it first).  Times are the best
of interleaved rounds (`best_times`): on a shared machine the implementations
compared in one case share the drift.

A ratio is lossopt's time over the other's: below 1, lossopt is faster.  Each
case carries issue 4's target: the largest allowed ratio to the reference,
and for a few kernels the largest allowed ratio to a peer (e.g. cross-entropy
at least 3x faster than scikit-learn: a ratio at most 1/3).
"""

import argparse
import collections
import contextlib
import importlib.util
import os
import platform
import sys
import time

import numpy as np

import lossopt

ROW_SIZES = ((1_000_000, 10), (100_000, 100), (10_000, 1000))
ELEMENTWISE_SIZES = ((10_000_000,),)
DTYPES = ("float64", "float32")
REFERENCES = ("np.exp", "np.add")


# ------------------------------------------------------------------ timing --

#: The clock of `time_round`: wall-clock time (``time.perf_counter``, the
#: default), or with ``--clock thread`` the CPU time of the calling thread
#: (``time.thread_time``): on a shared machine it leaves out the time the
#: thread waits for a core, which wall-clock time counts.  Everything timed
#: runs on the calling thread (one thread), except jax, whose XLA runtime
#: computes on threads of its own: jax is left out under the thread clock.
CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}
_clock = CLOCKS["wall"]


def set_clock(name):
    """Time with the clock `name` ("wall" or "thread", see CLOCKS)."""
    global _clock
    if name not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {name!r}")
    _clock = CLOCKS[name]


def time_round(fn, inner):
    """Seconds per call of fn over `inner` back-to-back calls."""
    t0 = _clock()
    for _ in range(inner):
        fn()
    return (_clock() - t0) / inner


def best_times(fns, rounds, min_time=0.03):
    """{name: seconds per call}, the best of `rounds` interleaved rounds, each
    round at least `min_time` long per function."""
    inner = {}
    for name, fn in fns.items():
        fn()  # warm up (and compile, for jax)
        inner[name] = max(1, int(min_time / max(time_round(fn, 1), 1e-7)))
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], time_round(fn, inner[name]))
    return best


def best_time(fn, rounds, min_time=0.03):
    """Seconds per call of one function, best of `rounds` rounds."""
    return best_times({"fn": fn}, rounds, min_time)["fn"]


# ------------------------------------------------------------------- peers --

def have(module):
    """True when `module` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def _jax():
    """jax, with float64 enabled and, when we import it first, only XLA's CPU
    backend (a machine with a GPU would otherwise run the peer there), on one
    thread."""
    if "jax" not in sys.modules:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


@contextlib.contextmanager
def single_thread():
    """Pin lossopt, torch and every BLAS/OpenMP pool to one thread, and (on
    Linux) the calling thread to one CPU: thread pools created meanwhile --
    XLA's, when jax first runs -- inherit that CPU, so no peer can spread over
    more cores than lossopt's one thread (jax has no one-thread switch)."""
    with contextlib.ExitStack() as stack:
        if hasattr(os, "sched_getaffinity"):
            cpus = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(cpus)})
            stack.callback(os.sched_setaffinity, 0, cpus)
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


def torch_autograd(loss_of, grad_of=(0,)):
    """A peer factory: torch's forward + backward of loss_of(*tensors), the
    gradient taken with respect to the arrays at positions `grad_of`."""
    def make(*arrays):
        import torch

        def run():
            ts = [torch.from_numpy(a) for a in arrays]
            for i in grad_of:
                ts[i].requires_grad_(True)
            loss = loss_of(*ts)
            loss.backward()
            return loss.item(), [ts[i].grad for i in grad_of]
        return run
    return make


def torch_call(fn):
    """A peer factory: fn(*tensors), no gradient (the activations)."""
    def make(*arrays):
        import torch
        ts = [torch.from_numpy(a) for a in arrays]
        return lambda: fn(*ts)
    return make


def jax_jit(fn, grad_of=None):
    """A peer factory: jax.jit(fn), or of jax.value_and_grad(fn, grad_of) when
    `grad_of` is given; fn(jnp, *arrays).  The inputs are put on the device
    once; each call waits for its result (block_until_ready)."""
    def make(*arrays):
        jax = _jax()
        import jax.numpy as jnp
        f = (lambda *a: fn(jnp, *a))
        if grad_of is not None:
            f = jax.value_and_grad(f, argnums=grad_of)
        f = jax.jit(f)
        cpu = jax.devices("cpu")[0]   # committed inputs: jit runs on the CPU
        args = [jax.device_put(a, cpu) for a in arrays]
        return lambda: jax.block_until_ready(f(*args))
    return make


def sklearn_loss(cls_name, **kw):
    """A peer factory: sklearn._loss's loss_gradient (per-sample values and
    gradients, one thread), labels as floats; the mean taken after."""
    def make(pred, target):
        import sklearn._loss.loss as skl
        n_classes = {"n_classes": pred.shape[1]} if cls_name == "HalfMultinomialLoss" else {}
        loss = getattr(skl, cls_name)(**kw, **n_classes)
        y = target.astype(pred.dtype)

        def run():
            per_sample, grad = loss.loss_gradient(y_true=y, raw_prediction=pred, n_threads=1)
            return per_sample.mean(), grad
        return run
    return make


def lossopt_loss(make_loss, out=False):
    """A factory for lossopt's loss_and_gradient; with `out`, writing into
    preallocated gradient arrays (two for the Gaussian NLL)."""
    def make(*arrays):
        loss = make_loss()
        if not out:
            return lambda: loss.loss_and_gradient(*arrays)
        g = np.empty_like(arrays[0])
        if len(arrays) == 3:
            g = (g, np.empty_like(arrays[2]))
        return lambda: loss.loss_and_gradient(*arrays, out=g)
    return make


def lossopt_call(fn, out=False):
    """A factory for a lossopt function fn(x, *rest, axis=1), with `out`
    writing into a preallocated array."""
    def make(x, *rest):
        if not out:
            return lambda: fn(x, *rest, axis=1)
        o = np.empty_like(x)
        return lambda: fn(x, *rest, axis=1, out=o)
    return make


def scipy_special(name):
    """A peer factory: scipy.special's `name`(x, axis=1[, b=b])."""
    def make(x, b=None):
        from scipy import special
        fn = getattr(special, name)
        kw = {} if b is None else {"b": b}
        return lambda: fn(x, axis=1, **kw)
    return make


def exp_reference(x, *rest):
    """np.exp over as many elements as x, into a preallocated array."""
    out = np.empty_like(x)
    return lambda: np.exp(x, out=out)


def add_reference(x, *rest):
    """np.add(a, b, out=c) over as many elements as x: a = x, b = the second
    input when it is an array of x's shape (the target), else a copy of x."""
    b = rest[0] if rest and getattr(rest[0], "shape", None) == x.shape else x.copy()
    out = np.empty_like(x)
    return lambda: np.add(x, b, out=out)


REFERENCE_FACTORIES = {"np.exp": exp_reference, "np.add": add_reference}


# --------------------------------------------------------------- the inputs --

def row_inputs(shape, dtype, seed=0):
    """(logits, labels): normal logits (scale 3), uniform labels."""
    n, c = shape
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, c)) * 3).astype(dtype), rng.integers(0, c, size=n)


def probability_targets(shape, dtype, seed=1):
    """Rows of positive probabilities summing to 1."""
    rng = np.random.default_rng(seed)
    t = rng.gamma(1.0, size=shape) + 1e-3
    return (t / t.sum(axis=1, keepdims=True)).astype(dtype)


def _logits(shape, dtype):
    return row_inputs(shape, dtype)[:1]


def _logits_and_probs(shape, dtype):
    return row_inputs(shape, dtype)[0], probability_targets(shape, dtype)


def _logits_and_b(shape, dtype):
    rng = np.random.default_rng(2)
    return row_inputs(shape, dtype)[0], rng.uniform(0.5, 2.0, size=shape).astype(dtype)


def elementwise_inputs(name):
    """An inputs(shape, dtype) for the element-wise loss `name`: (pred,
    target[, var])."""
    def make(shape, dtype, seed=0):
        (n,) = shape
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
    return make


# ------------------------------------------------- NumPy textbook formulas --

def _np_log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    return x - m - np.log(s), e / s


def np_cross_entropy(x, y):
    n = len(y)
    rows = np.arange(n)

    def run():
        logp, p = _np_log_softmax(x)
        p[rows, y] -= 1
        return -logp[rows, y].mean(), p / n
    return run


def np_cross_entropy_probs(x, t):
    n = len(x)

    def run():
        logp, p = _np_log_softmax(x)
        return -np.sum(t * logp) / n, (p * t.sum(axis=1, keepdims=True) - t) / n
    return run


def np_kl_divergence(x, t):
    n = len(x)

    def run():
        logp, p = _np_log_softmax(x)
        return (np.sum(t * (np.log(t) - logp)) / n,
                (p * t.sum(axis=1, keepdims=True) - t) / n)
    return run


def np_logsumexp(x, b=None):
    def run():
        m = x.max(axis=1, keepdims=True)
        e = np.exp(x - m)
        return np.log((e if b is None else b * e).sum(axis=1)) + m[:, 0]
    return run


def np_softmax(x):
    return lambda: _np_log_softmax(x)[1]


def np_log_softmax(x):
    return lambda: _np_log_softmax(x)[0]


def np_hinge_ww(x, y):
    n, c = x.shape
    rows = np.arange(n)

    def run():
        z = 1.0 - x[rows, y][:, None] + x
        z[rows, y] = 0.0
        on = z > 0
        grad = on.astype(x.dtype) / (c * n)
        grad[rows, y] = -grad.sum(axis=1)
        return np.sum(z, where=on) / (c * n), grad
    return run


def np_hinge_cs(x, y):
    n = len(x)
    rows = np.arange(n)

    def run():
        others = x.copy()
        others[rows, y] = -np.inf
        k = others.argmax(axis=1)
        h = 1.0 + others[rows, k] - x[rows, y]
        on = (h > 0) / n
        grad = np.zeros_like(x)
        grad[rows, k] = on
        grad[rows, y] -= on
        return np.maximum(h, 0).sum() / n, grad
    return run


def _np_elementwise(value_and_derivative):
    """A peer factory from f(*arrays) -> (per-element values, derivatives):
    the mean and the derivatives / N."""
    def make(*arrays):
        n = len(arrays[0])

        def run():
            value, *grads = value_and_derivative(*arrays)
            return value.mean(), [g / n for g in grads]
        return run
    return make


def _np_huber(p, t):
    d = p - t
    z = np.abs(d)
    return np.where(z < 1.0, 0.5 * d * d, z - 0.5), np.clip(d, -1.0, 1.0)


def _np_gaussian_nll(p, t, v):
    vc = np.maximum(v, 1e-6)
    d = p - t
    q = d / vc
    return 0.5 * (np.log(vc) + q * d), q, 0.5 * (1 / vc - q * q)


def _np_poisson_nll(p, t):
    e = np.exp(p)
    return e - t * p, e - t


def _np_binary_cross_entropy(x, t):
    e = np.exp(-np.abs(x))
    return np.logaddexp(0, x) - t * x, np.where(x >= 0, 1, e) / (1 + e) - t


def _np_hinge(p, y):
    u = np.maximum(1 - y * p, 0)
    return u, np.where(u > 0, -y, 0)


def _np_squared_hinge(p, y):
    u = np.maximum(1 - y * p, 0)
    return u * u, -2 * y * u


def _np_perceptron(p, y):
    z = y * p
    return np.maximum(-z, 0), np.where(z <= 0, -y, 0)


# ------------------------------------------------- torch and jax formulas --

def _torch_cs(x, y):
    """Crammer-Singer from torch ops (torch has no such loss): optax's formula."""
    y = y[:, None]
    xy = x.gather(1, y)
    return ((x + 1.0).scatter(1, y, xy).max(dim=1).values - xy[:, 0]).mean()


def _torch_kl(z, t):
    import torch.nn.functional as F
    return F.kl_div(z.log_softmax(1), t, reduction="batchmean")


def _torch_f(name, **kw):
    def fn(*ts):
        import torch.nn.functional as F
        return getattr(F, name)(*ts, **kw)
    return fn


def _jax_log_softmax(jnp, x):
    return x - _jax_lse(jnp, x)[:, None]


def _jax_lse(jnp, x, b=None):
    import jax.scipy.special
    return jax.scipy.special.logsumexp(x, axis=1, b=b)


def _jax_ww(jnp, x, y):
    n, c = x.shape
    z = 1.0 - jnp.take_along_axis(x, y[:, None], 1) + x
    z = jnp.where(jnp.arange(c) == y[:, None], 0.0, z)
    return jnp.maximum(z, 0.0).sum() / (n * c)


def _jax_cs(jnp, x, y):
    xy = jnp.take_along_axis(x, y[:, None], 1)[:, 0]
    others = jnp.where(jnp.arange(x.shape[1]) == y[:, None], xy[:, None], x + 1.0)
    return (others.max(axis=1) - xy).mean()


def _jax_softmax(jnp, x):
    import jax
    return jax.nn.softmax(x, axis=1)


def _jax_gaussian_nll(jnp, p, t, v):
    vc = jnp.maximum(v, 1e-6)
    return 0.5 * jnp.mean(jnp.log(vc) + (p - t) ** 2 / vc)


def _jax_huber(jnp, p, t):
    z = jnp.abs(p - t)
    return jnp.mean(jnp.where(z < 1.0, 0.5 * z * z, z - 0.5))


# ------------------------------------------------------------ the kernels --

Kernel = collections.namedtuple(
    "Kernel", "group inputs reference target impls sizes peer_targets")
Kernel.__doc__ = """One kernel of the table: its group ("rows" or "elementwise"),
inputs(shape, dtype), reference ("np.exp" or "np.add"), issue-4 target (the
largest ratio to the reference), implementations {name: (module needed or
None, factory)} (each factory(*inputs) returns a zero-argument callable),
sizes, and peer_targets {peer: largest ratio}."""


def _lossopt_pair(make_loss):
    return {"lossopt": (None, lossopt_loss(make_loss)),
            "lossopt out=": (None, lossopt_loss(make_loss, out=True))}


def _row_kernel(inputs, reference, target, impls, peer_targets=None):
    return Kernel("rows", inputs, reference, target, impls, ROW_SIZES, peer_targets or {})


def _softmax_family(log):
    name = "log_softmax" if log else "softmax"
    fn = getattr(lossopt, name)
    return _row_kernel(_logits, "np.exp", 1.3, {
        "lossopt": (None, lossopt_call(fn)),
        "lossopt out=": (None, lossopt_call(fn, out=True)),
        "numpy": (None, np_log_softmax if log else np_softmax),
        "scipy": ("scipy", scipy_special(name)),
        "torch": ("torch", torch_call(lambda t: getattr(t, name)(1))),
        "jax": ("jax", jax_jit(_jax_log_softmax if log else _jax_softmax)),
    })


def _elementwise(name, make_loss, reference, target, numpy, sklearn=None, torch=None,
                 jax=None):
    impls = {**_lossopt_pair(make_loss), "numpy": (None, _np_elementwise(numpy))}
    if sklearn is not None:
        impls["sklearn"] = ("sklearn", sklearn)
    impls["torch"] = ("torch", torch)
    impls["jax"] = ("jax", jax)
    return Kernel("elementwise", elementwise_inputs(name), reference, target, impls,
                  ELEMENTWISE_SIZES, {})


def _jax_mean(formula):
    """jax peer of an element-wise loss: mean of formula(jnp, p, t), with its
    gradient with respect to p."""
    return jax_jit(lambda jnp, p, t: jnp.mean(formula(jnp, p, t)), grad_of=0)


KERNELS = {
    "softmax_cross_entropy": _row_kernel(row_inputs, "np.exp", 1.5, {
        **_lossopt_pair(lambda: lossopt.SoftmaxCrossEntropy()),
        "numpy": (None, np_cross_entropy),
        "sklearn": ("sklearn", sklearn_loss("HalfMultinomialLoss")),
        "torch": ("torch", torch_autograd(_torch_f("cross_entropy"))),
        "jax": ("jax", jax_jit(lambda jnp, x, y: -jnp.mean(jnp.take_along_axis(
            _jax_log_softmax(jnp, x), y[:, None], 1)), grad_of=0)),
    }, peer_targets={"sklearn": 1 / 3, "torch": 0.1}),
    "softmax_cross_entropy_probs": _row_kernel(_logits_and_probs, "np.exp", 1.5, {
        **_lossopt_pair(lambda: lossopt.SoftmaxCrossEntropy()),
        "numpy": (None, np_cross_entropy_probs),
        "torch": ("torch", torch_autograd(_torch_f("cross_entropy"))),
        "jax": ("jax", jax_jit(lambda jnp, x, t: -jnp.sum(t * _jax_log_softmax(jnp, x))
                               / x.shape[0], grad_of=0)),
    }),
    "logsumexp": _row_kernel(_logits, "np.exp", 1.3, {
        "lossopt": (None, lossopt_call(lossopt.logsumexp)),
        "numpy": (None, np_logsumexp),
        "scipy": ("scipy", scipy_special("logsumexp")),
        "torch": ("torch", torch_call(lambda t: t.logsumexp(1))),
        "jax": ("jax", jax_jit(_jax_lse)),
    }, peer_targets={"scipy": 0.2, "jax": 1.0}),
    "logsumexp_b": _row_kernel(_logits_and_b, "np.exp", 1.3, {
        "lossopt": (None, lambda x, b: lambda: lossopt.logsumexp(x, axis=1, b=b)),
        "numpy": (None, np_logsumexp),
        "scipy": ("scipy", scipy_special("logsumexp")),
        "jax": ("jax", jax_jit(_jax_lse)),
    }, peer_targets={"scipy": 0.2, "jax": 1.0}),
    "softmax": _softmax_family(log=False),
    "log_softmax": _softmax_family(log=True),
    "kl_divergence": _row_kernel(_logits_and_probs, "np.exp", 1.5, {
        **_lossopt_pair(lambda: lossopt.KLDivergence()),
        "numpy": (None, np_kl_divergence),
        "torch": ("torch", torch_autograd(_torch_kl)),
        "jax": ("jax", jax_jit(lambda jnp, x, t: jnp.sum(
            t * (jnp.log(t) - _jax_log_softmax(jnp, x))) / x.shape[0], grad_of=0)),
    }),
    "multiclass_hinge_ww": _row_kernel(row_inputs, "np.add", 1.5, {
        **_lossopt_pair(lambda: lossopt.MulticlassHinge(kind="weston_watkins")),
        "numpy": (None, np_hinge_ww),
        "torch": ("torch", torch_autograd(_torch_f("multi_margin_loss"))),
        "jax": ("jax", jax_jit(_jax_ww, grad_of=0)),
    }),
    "multiclass_hinge_cs": _row_kernel(row_inputs, "np.add", 1.5, {
        **_lossopt_pair(lambda: lossopt.MulticlassHinge(kind="crammer_singer")),
        "numpy": (None, np_hinge_cs),
        "torch": ("torch", torch_autograd(_torch_cs)),
        "jax": ("jax", jax_jit(_jax_cs, grad_of=0)),
    }),
    "squared_error": _elementwise(
        "squared_error", lossopt.SquaredError, "np.add", 1.2,
        lambda p, t: (0.5 * (p - t) ** 2, p - t), sklearn_loss("HalfSquaredError"),
        torch_autograd(_torch_f("mse_loss")),
        _jax_mean(lambda jnp, p, t: 0.5 * (p - t) ** 2)),
    "absolute_error": _elementwise(
        "absolute_error", lossopt.AbsoluteError, "np.add", 1.5,
        lambda p, t: (np.abs(p - t), np.sign(p - t)), sklearn_loss("AbsoluteError"),
        torch_autograd(_torch_f("l1_loss")),
        _jax_mean(lambda jnp, p, t: jnp.abs(p - t))),
    "huber": _elementwise(
        "huber", lossopt.Huber, "np.add", 1.5, _np_huber, sklearn_loss("HuberLoss", delta=1.0),
        torch_autograd(_torch_f("huber_loss")), jax_jit(_jax_huber, grad_of=0)),
    "gaussian_nll": _elementwise(
        "gaussian_nll", lossopt.GaussianNLL, "np.exp", 1.5, _np_gaussian_nll, None,
        torch_autograd(_torch_f("gaussian_nll_loss"), grad_of=(0, 2)),
        jax_jit(_jax_gaussian_nll, grad_of=(0, 2))),
    "poisson_nll": _elementwise(
        "poisson_nll", lossopt.PoissonNLL, "np.exp", 1.5, _np_poisson_nll,
        sklearn_loss("HalfPoissonLoss"), torch_autograd(_torch_f("poisson_nll_loss")),
        _jax_mean(lambda jnp, p, t: jnp.exp(p) - t * p)),
    "binary_cross_entropy": _elementwise(
        "binary_cross_entropy", lossopt.BinaryCrossEntropy, "np.exp", 2.5,
        _np_binary_cross_entropy, sklearn_loss("HalfBinomialLoss"),
        torch_autograd(_torch_f("binary_cross_entropy_with_logits")),
        _jax_mean(lambda jnp, x, t: jnp.logaddexp(0.0, x) - t * x)),
    "hinge": _elementwise(
        "hinge", lossopt.Hinge, "np.add", 1.5, _np_hinge, None,
        torch_autograd(lambda p, y: (1 - y * p).clamp(min=0).mean()),
        _jax_mean(lambda jnp, p, y: jnp.maximum(1 - y * p, 0.0))),
    "squared_hinge": _elementwise(
        "squared_hinge", lossopt.SquaredHinge, "np.add", 1.5, _np_squared_hinge, None,
        torch_autograd(lambda p, y: (1 - y * p).clamp(min=0).square().mean()),
        _jax_mean(lambda jnp, p, y: jnp.maximum(1 - y * p, 0.0) ** 2)),
    "perceptron": _elementwise(
        "perceptron", lossopt.Perceptron, "np.add", 1.5, _np_perceptron, None,
        torch_autograd(lambda p, y: (-(y * p)).clamp(min=0).mean()),
        _jax_mean(lambda jnp, p, y: jnp.maximum(-y * p, 0.0))),
}

GROUPS = ("rows", "elementwise")


class Case:
    """One kernel at one size and dtype."""

    def __init__(self, kernel, shape, dtype):
        self.kernel = kernel
        self.shape = tuple(shape)
        self.dtype = dtype
        spec = KERNELS[kernel]
        self.group = spec.group
        self.reference = spec.reference
        self.target = spec.target
        self.peer_targets = spec.peer_targets

    @property
    def name(self):
        """e.g. 'softmax_cross_entropy 1000000x10 float64'."""
        return f"{self.kernel} {'x'.join(map(str, self.shape))} {self.dtype}"

    def implementation_names(self):
        """lossopt's, the reference and the installed peers, in table order
        (nothing is imported)."""
        impls = KERNELS[self.kernel].impls
        timed = (lambda m: m != "jax") if _clock is time.thread_time else (lambda m: True)
        return [n for n, (module, _) in impls.items()
                if module is None or (have(module) and timed(module))] + [self.reference]

    def build(self, names=None):
        """{name: zero-argument callable} over freshly made inputs."""
        spec = KERNELS[self.kernel]
        arrays = spec.inputs(self.shape, np.dtype(self.dtype))
        fns = {}
        for name in names or self.implementation_names():
            if name == self.reference:
                fns[name] = REFERENCE_FACTORIES[name](*arrays)
            else:
                fns[name] = spec.impls[name][1](*arrays)
        return fns


def cases(kernels=None, groups=GROUPS, dtypes=DTYPES, quick=False):
    """The cases of `kernels` (default: all of `groups`), at issue 4's sizes
    (a tenth of the elements with `quick`)."""
    kernels = kernels or [k for k, spec in KERNELS.items() if spec.group in groups]
    out = []
    for kernel in kernels:
        for shape in KERNELS[kernel].sizes:
            if quick:
                shape = (shape[0] // 10,) + tuple(shape[1:])
            out.extend(Case(kernel, shape, dtype) for dtype in dtypes)
    return out


# ---------------------------------------------------------- measuring --

class Result:
    """The times (seconds) of one case's implementations, and its ratios."""

    def __init__(self, case, times):
        self.case = case
        self.times = times

    @property
    def ours(self):
        return self.times["lossopt"]

    @property
    def reference_ratio(self):
        """lossopt (out= where it has it) / the reference."""
        t = self.times
        return t.get("lossopt out=", t["lossopt"]) / t[self.case.reference]

    def peer_ratio(self, peer):
        """lossopt (allocating, as the peers) / the peer, or None if absent."""
        return self.ours / self.times[peer] if peer in self.times else None

    def checks(self):
        """[(what, ratio, bound)] of issue 4's targets for this case."""
        out = [(self.case.reference, self.reference_ratio, self.case.target)]
        for peer, bound in self.case.peer_targets.items():
            if peer in self.times:
                out.append((peer, self.peer_ratio(peer), bound))
        return out

    def missed(self):
        """The names whose target this case misses."""
        return [what for what, ratio, bound in self.checks() if not ratio <= bound]


def measure(case_list, rounds=7, min_time=0.03, progress=None):
    """Time every case on one thread; yield a Result per case."""
    with single_thread():
        for case in case_list:
            if progress:
                progress(case)
            fns = case.build()
            times = best_times(fns, rounds, min_time)
            del fns
            yield Result(case, times)


# ------------------------------------------------------------- the table --

PEER_ORDER = ("numpy", "scipy", "sklearn", "torch", "jax")


def _fmt_shape(shape):
    """(1e6, 10) for rows, 1e7 for a flat size."""
    text = [f"{s:.0e}".replace("e+0", "e") if s >= 1000 else str(s) for s in shape]
    return text[0] if len(text) == 1 else "(" + ", ".join(text) + ")"


def _fmt_bound(bound):
    return f"{bound:.2g}"


def target_text(case):
    """Issue 4's target for `case`, e.g. '≤ 1.5× np.exp; ≤ 0.33× sklearn'."""
    parts = [f"≤ {_fmt_bound(case.target)}× {case.reference}"]
    parts += [f"< 1× {p}" if b == 1.0 else f"≤ {_fmt_bound(b)}× {p}"
              for p, b in case.peer_targets.items()]
    return "; ".join(parts)


def table(results):
    """The Markdown table of ratios: one row per case."""
    peers = [p for p in PEER_ORDER if any(p in r.times for r in results)]
    head = ["kernel", "size", "dtype", "lossopt ms", "÷ reference", "target", "met"]
    head += [f"÷ {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        c = r.case
        missed = r.missed()
        cells = [c.kernel, _fmt_shape(c.shape), c.dtype, f"{r.ours * 1e3:.2f}",
                 f"{r.reference_ratio:.2f} ({c.reference})", target_text(c),
                 "yes" if not missed else "no: " + ", ".join(missed)]
        cells += ["—" if r.peer_ratio(p) is None else f"{r.peer_ratio(p):.3f}" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(results):
    """One line: how many cases meet every target."""
    met = sum(not r.missed() for r in results)
    return f"targets met in {met} of {len(results)} cases"


def header():
    """The machine and build the table was measured on."""
    from ._kernels import _runtime
    clock = "thread CPU time" if _clock is time.thread_time else "wall-clock time"
    return (f"lossopt {lossopt.__version__} ({_runtime.simd_path()} path), "
            f"numpy {np.__version__}, {platform.machine()} {platform.processor() or ''}"
            .rstrip() + f"; 1 thread, {clock}, best of interleaved rounds; ratio = lossopt time / "
            "other time (< 1: lossopt faster); ÷ reference uses lossopt's out= where "
            "it has one, the peers lossopt allocating its result as they do")


def plot(results, path):
    """A bar chart of the ratios (log scale) to `path` (PNG).  Raises
    ImportError with an install hint when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("--png needs matplotlib: pip install matplotlib") from e
    peers = [p for p in PEER_ORDER if any(p in r.times for r in results)]
    series = [("÷ reference", [r.reference_ratio for r in results])]
    series += [(f"÷ {p}", [r.peer_ratio(p) for r in results]) for p in peers]
    labels = [r.case.name for r in results]
    n = len(results)
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.3 * n))
    for k, (name, values) in enumerate(series):
        ys = [i + (k - (len(series) - 1) / 2) * height for i in range(n)]
        xs = [v if v is not None else np.nan for v in values]
        ax.barh(ys, xs, height=height, label=name)
    ax.scatter([r.case.target for r in results], range(n), marker="|", s=200, color="k",
               zorder=3, label="target ÷ reference")
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(n - 0.5, -0.5)  # first case on top
    ax.set_xlabel("lossopt time / other time (log scale; < 1: lossopt faster)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"lossopt {lossopt.__version__}, 1 thread", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------ the command --

def parser(prog=None):
    p = argparse.ArgumentParser(prog=prog, description=(
        "Time lossopt's kernels against np.exp / np.add and the installed peers "
        "(NumPy, SciPy, scikit-learn, torch, jax) on one thread; print the ratios."))
    p.add_argument("--quick", action="store_true",
                   help="a tenth of the elements and 3 rounds (about a minute)")
    p.add_argument("--only", choices=GROUPS, help="only the row kernels or the element-wise losses")
    p.add_argument("--kernels", nargs="+", choices=list(KERNELS), metavar="NAME",
                   help="only these kernels: " + ", ".join(KERNELS))
    p.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 7, 3 with --quick)")
    p.add_argument("--clock", choices=list(CLOCKS), default="wall",
                   help="wall-clock time (default), or the CPU time of the timing "
                   "thread, which leaves out waiting for a core on a shared machine "
                   "(jax, which computes on threads of its own, is then left out)")
    p.add_argument("--markdown", metavar="FILE",
                   help="also write the table (markdown) to FILE")
    p.add_argument("--plot", "--png", metavar="FILE", dest="png",
                   help="also draw the ratios as a PNG bar chart (needs matplotlib)")
    return p


def publish(text, markdown=None):
    """Print a report, and write it to the file `markdown` when given."""
    print(text)
    if markdown:
        with open(markdown, "w") as fh:
            fh.write(text + "\n")


def main(argv=None, prog=None):
    """Run the benchmark and print the table; the command-line entry point
    (``python -m bench.report``; a ``lossopt bench`` subcommand calls
    ``main(rest_of_argv, prog="lossopt bench")``).  Returns the exit code."""
    args = parser(prog).parse_args(argv)
    if args.png and not have("matplotlib"):
        print("--png needs matplotlib, which is not installed: pip install matplotlib",
              file=sys.stderr)
        return 2
    for option, path in (("--markdown", args.markdown), ("--plot", args.png)):
        # before the minutes of measuring, not after them
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if path and (os.path.isdir(path) or not os.path.isdir(folder)):
            why = "is a folder" if os.path.isdir(path) else f"has no folder {folder}"
            print(f"{parser(prog).prog}: error: {option} {path} {why}", file=sys.stderr)
            return 2
    set_clock(args.clock)
    groups = (args.only,) if args.only else GROUPS
    todo = cases(args.kernels, groups, args.dtypes, args.quick)
    rounds = args.rounds or (3 if args.quick else 7)
    progress = (lambda c: print(f"  {c.name}", file=sys.stderr, flush=True))
    results = list(measure(todo, rounds, progress=progress))
    publish("\n\n".join([header(), table(results), summary(results)]), args.markdown)
    if args.png:
        plot(results, args.png)
    return 0
