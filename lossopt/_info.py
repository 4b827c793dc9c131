"""`lossopt info`: how the compiled core was built, and a short self-check of
every kernel against a NumPy float64 reference on random data."""

import os

import numpy as np

from . import functional as F
from ._kernels import _runtime
from ._memory import output_cache_info
from ._threads import get_num_threads
from . import losses as L
from .losses import KLDivergence, MulticlassHinge, SoftmaxCrossEntropy, SquaredError


def build_info():
    """The facts `lossopt info` prints, as a dict."""
    from . import __version__
    return {
        "version": __version__,
        "numpy": np.__version__,
        "compiler": _runtime.compiler(),
        "openmp": _runtime.openmp_enabled(),
        "openmp_version": _runtime.openmp_version(),
        "threads": get_num_threads(),
        "cpus": _runtime.omp_num_procs(),
        "simd": _runtime.simd_path(),
        "simd_best": _runtime.simd_best_path(),
        "simd_env": os.environ.get("LOSSOPT_SIMD", ""),
        "output_cache": output_cache_info()["limit"],
        **_runtime.constants(),
    }


# NumPy float64 references, written the textbook way
def _ref_logsumexp(x):
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


def _ref_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ref_cross_entropy(x, y):
    p = _ref_softmax(x)
    n = x.shape[0]
    loss = -np.log(p[np.arange(n), y]).mean()
    g = p.copy()
    g[np.arange(n), y] -= 1
    return loss, g / n


def _ref_kl_divergence(x, t):
    logp = x - _ref_logsumexp(x)[:, None]
    n = x.shape[0]
    return (t * (np.log(t) - logp)).sum() / n, (_ref_softmax(x) - t) / n


def _ref_multiclass_hinge(x, y):
    """Weston-Watkins (torch's multi_margin_loss) and Crammer-Singer, each
    (loss, gradient), mean over the samples."""
    n, c = x.shape
    rows = np.arange(n)
    z = 1.0 - x[rows, y][:, None] + x
    z[rows, y] = 0.0
    g = (z > 0) / (n * c)
    g[rows, y] = -g.sum(axis=1)
    others = np.where(np.arange(c) == y[:, None], -np.inf, x)
    k = others.argmax(axis=1)
    h = 1.0 + others[rows, k] - x[rows, y]
    gc = np.zeros_like(x)
    gc[rows, k] = (h > 0) / n
    gc[rows, y] -= (h > 0) / n
    return (np.maximum(z, 0).sum() / (n * c), g), (np.maximum(h, 0).sum() / n, gc)


def _expit(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# element-wise losses: (name, loss, kind of target, per-element value, derivative)
_ELEMENTWISE = [
    ("absolute_error", L.AbsoluteError, "real",
     lambda p, t: np.abs(p - t), lambda p, t: np.sign(p - t)),
    ("huber", L.Huber, "real",
     lambda p, t: np.where(np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5),
     lambda p, t: np.clip(p - t, -1, 1)),
    ("poisson_nll", L.PoissonNLL, "count",
     lambda p, t: np.exp(p) - t * p, lambda p, t: np.exp(p) - t),
    ("binary_cross_entropy", L.BinaryCrossEntropy, "probability",
     lambda p, t: np.logaddexp(0, p) - t * p, lambda p, t: _expit(p) - t),
    ("hinge", L.Hinge, "sign",
     lambda p, t: np.maximum(0, 1 - t * p), lambda p, t: np.where(t * p < 1, -t, 0.0)),
    ("squared_hinge", L.SquaredHinge, "sign",
     lambda p, t: np.maximum(0, 1 - t * p) ** 2, lambda p, t: -2 * t * np.maximum(0, 1 - t * p)),
    ("perceptron", L.Perceptron, "sign",
     lambda p, t: np.maximum(0, -t * p), lambda p, t: np.where(t * p <= 0, -t, 0.0)),
]


def _optimizer_cases(dtype, tag, tol):
    """Two steps of SGD with Nesterov momentum and of AMSGrad-Adam from the
    same start, against the update rules written out in NumPy float64."""
    from . import optim
    w0 = np.linspace(-1.0, 1.0, 101)
    grads = [np.cos(3.0 * w0), np.sin(2.0 * w0)]
    lr, mu, b1, b2, eps = 0.1, 0.9, 0.9, 0.999, 1e-8
    # SGD, nesterov: b <- mu b + g (b = g at the first step); w <- w - lr (g + mu b)
    w, b = w0.copy(), None
    for g in grads:
        b = g.copy() if b is None else mu * b + g
        w = w - lr * (g + mu * b)
    ref_sgd = w
    # Adam with amsgrad: r_max <- max(r_max, r); w <- w - lr m_hat / (sqrt(r_max / bc2) + eps)
    w, m, r, r_max = w0.copy(), 0.0, 0.0, 0.0
    for k, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        r = b2 * r + (1 - b2) * g * g
        r_max = np.maximum(r_max, r)
        w = w - lr / (1 - b1 ** k) * m / (np.sqrt(r_max / (1 - b2 ** k)) + eps)
    ref_adam = w
    out = []
    for name, make, ref in (("SGD nesterov", lambda p: optim.SGD(p, lr=lr, momentum=mu,
                                                                 nesterov=True), ref_sgd),
                            ("Adam amsgrad", lambda p: optim.Adam(p, lr=lr, betas=(b1, b2),
                                                                  eps=eps, amsgrad=True),
                             ref_adam)):
        w = w0.astype(dtype)
        opt = make([w])
        for g in grads:
            opt.step([g.astype(dtype)])
        out.append((f"optim {name} {tag}", w, ref, tol))
    return out


def self_check(seed=0):
    """Run each kernel against its float64 reference; yield (name, ok, error)."""
    rng = np.random.default_rng(seed)
    x64 = rng.normal(scale=4.0, size=(257, 13))
    y = rng.integers(0, 13, size=257)
    target = rng.normal(size=(257, 3))
    pred = rng.normal(size=(257, 3))
    counts = rng.poisson(2.0, size=(257, 3)).astype(np.float64)
    probabilities = rng.uniform(size=(257, 3))
    signs = rng.choice([-1.0, 1.0], size=(257, 3))
    variance = rng.uniform(0.5, 2.0, size=(257, 3))
    cases = []
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        x = x64.astype(dtype)
        xr = x.astype(np.float64)
        tag = np.dtype(dtype).name
        cases.append((f"logsumexp {tag}", F.logsumexp(x, axis=1), _ref_logsumexp(xr), tol))
        cases.append((f"softmax {tag}", F.softmax(x, axis=1), _ref_softmax(xr), tol))
        cases.append((f"log_softmax {tag}", F.log_softmax(x, axis=1),
                      xr - _ref_logsumexp(xr)[:, None], tol))
        cases.append((f"expit {tag}", F.expit(x), 1 / (1 + np.exp(-xr)), tol))
        cases.append((f"log_expit {tag}", F.log_expit(x), -np.log1p(np.exp(-xr)), tol))
        loss, grad = SoftmaxCrossEntropy().loss_and_gradient(x, y)
        rl, rg = _ref_cross_entropy(xr, y)
        cases.append((f"softmax_cross_entropy loss {tag}", loss, rl, tol))
        cases.append((f"softmax_cross_entropy grad {tag}", grad, rg, tol))
        p, t = pred.astype(dtype), target.astype(dtype)
        loss, grad = SquaredError().loss_and_gradient(p, t)
        pr, tr = p.astype(np.float64), t.astype(np.float64)
        cases.append((f"squared_error loss {tag}", loss,
                      0.5 * ((pr - tr) ** 2).sum(axis=1).mean(), tol))
        cases.append((f"squared_error grad {tag}", grad, (pr - tr) / len(pr), tol))
        probs = _ref_softmax(xr[:, ::-1] / 4).astype(dtype)
        refs = [("kl_divergence", KLDivergence(),
                 _ref_kl_divergence(xr, probs.astype(np.float64)), probs)]
        ww, cs = _ref_multiclass_hinge(xr, y)
        refs += [("multiclass_hinge weston_watkins", MulticlassHinge(), ww, y),
                 ("multiclass_hinge crammer_singer", MulticlassHinge(kind="crammer_singer"),
                  cs, y)]
        for name, loss_fn, (rl, rg), tgt in refs:
            loss, grad = loss_fn.loss_and_gradient(x, tgt)
            cases.append((f"{name} loss {tag}", loss, rl, tol))
            cases.append((f"{name} grad {tag}", grad, rg, tol))
        targets = {"real": target, "count": counts, "probability": probabilities,
                   "sign": signs}
        for name, cls, kind, value, derivative in _ELEMENTWISE:
            t = targets[kind].astype(dtype)
            tr = t.astype(np.float64)
            loss, grad = cls().loss_and_gradient(p, t)
            cases.append((f"{name} loss {tag}", loss, value(pr, tr).sum(axis=1).mean(), tol))
            cases.append((f"{name} grad {tag}", grad, derivative(pr, tr) / len(pr), tol))
        var, t_real = variance.astype(dtype), target.astype(dtype)
        vr = var.astype(np.float64)
        loss, (g_mean, g_var) = L.GaussianNLL().loss_and_gradient(p, t_real, var)
        d = pr - t_real.astype(np.float64)
        cases.append((f"gaussian_nll loss {tag}", loss,
                      (0.5 * (np.log(vr) + d * d / vr)).sum(axis=1).mean(), tol))
        cases.append((f"gaussian_nll grad {tag}", np.concatenate([g_mean, g_var]),
                      np.concatenate([d / vr, 0.5 * (1 / vr - d * d / vr ** 2)]) / len(pr), tol))
        cases += _optimizer_cases(dtype, tag, tol)
    for name, got, ref, tol in cases:
        got = np.asarray(got, dtype=np.float64)
        err = float(np.max(np.abs(got - ref) / (np.abs(ref) + 1e-300 + tol)))
        yield name, bool(np.allclose(got, ref, rtol=tol, atol=tol * 1e-3)), err


def info(stream=None):
    """Print the build report and the self-check; return 0 if all passed."""
    import sys
    stream = stream or sys.stdout
    b = build_info()
    omp = (f"yes (OpenMP {b['openmp_version']}), {b['threads']} thread(s) of "
           f"{b['cpus']} CPU(s)" if b["openmp"] else "no (serial build)")
    simd = b["simd"]
    if b["simd"] != b["simd_best"]:
        simd += f" (forced by LOSSOPT_SIMD={b['simd_env']}; this CPU: {b['simd_best']})"
    elif b["simd_env"]:
        simd += f" (LOSSOPT_SIMD={b['simd_env']})"
    lines = [
        f"lossopt {b['version']} (numpy {b['numpy']})",
        f"compiler : {b['compiler']}",
        f"openmp   : {omp}",
        f"simd     : {simd}",
        f"blocks   : {b['block_elems']} elements; threads from "
        f"{b['parallel_min_exp_elems']} (exp-bound) / "
        f"{b['parallel_min_stream_elems']} (streaming) elements",
        "outputs  : " + (f"cache of {b['output_cache'] / 2**20:g} MiB for outputs of 1 MiB or more"
                          if b["output_cache"] else "cache off"),
        "",
        "self-check against NumPy float64 references:",
    ]
    print("\n".join(lines), file=stream)
    failed = 0
    for name, ok, err in self_check():
        failed += not ok
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<48} max rel. error {err:.1e}",
              file=stream)
    print(f"\n{'all checks passed' if not failed else f'{failed} check(s) FAILED'}",
          file=stream)
    return 1 if failed else 0
