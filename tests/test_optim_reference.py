"""Every algorithm against a NumPy float64 reference written from the update
rules in the docstrings (and torch.optim's documented pseudo-code), with
options drawn by hypothesis: this checks the kernels where torch is not
installed, and the options' combinations beyond the torch grid."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lossopt.optim as lo


def reference(name, w, grads, lr, wd, maximize, opt):
    """The iterates of w under `grads`, in float64 NumPy."""
    w = w.astype(np.float64).copy()
    b1, b2 = opt.get("betas", (0.9, 0.999))
    eps = opt.get("eps")
    s = {}
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g.copy()
        decoupled = name == "AdamW" or opt.get("decoupled_weight_decay", False)
        if wd and decoupled:
            w = w * (1 - lr * wd)
        elif wd:
            g = g + wd * w
        if name == "SGD":
            mu, tau = opt["momentum"], opt["dampening"]
            if mu:
                s["b"] = g.copy() if t == 1 else mu * s["b"] + (1 - tau) * g
                g = g + mu * s["b"] if opt["nesterov"] else s["b"]
            w = w - lr * g
        elif name == "Adagrad":
            s["r"] = s.get("r", opt["initial_accumulator_value"]) + g * g
            w = w - lr / (1 + (t - 1) * opt["lr_decay"]) * g / (np.sqrt(s["r"]) + eps)
        elif name == "RMSprop":
            a = opt["alpha"]
            s["r"] = a * s.get("r", 0) + (1 - a) * g * g
            r = s["r"]
            if opt["centered"]:
                s["m"] = a * s.get("m", 0) + (1 - a) * g
                r = r - s["m"] ** 2
            step = g / (np.sqrt(r) + eps)
            if opt["momentum"]:
                s["b"] = opt["momentum"] * s.get("b", 0) + step
                step = s["b"]
            w = w - lr * step
        elif name == "Adadelta":
            rho = opt["rho"]
            s["r"] = rho * s.get("r", 0) + (1 - rho) * g * g
            u = np.sqrt(s.get("D", 0) + eps) / np.sqrt(s["r"] + eps) * g
            s["D"] = rho * s.get("D", 0) + (1 - rho) * u * u
            w = w - lr * u
        elif name == "Adamax":
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + eps)
            w = w - lr / (1 - b1 ** t) * s["m"] / s["u"]
        else:
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
            m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
            if name in ("Adam", "AdamW"):
                if opt.get("amsgrad"):
                    s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
                    v_hat = s["vmax"] / (1 - b2 ** t)
                w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
            elif name == "NAdam":
                psi = opt["momentum_decay"]
                mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_n = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                s["prod"] = s.get("prod", 1.0) * mu_t
                den = np.sqrt(v_hat) + eps
                w = w - lr * (1 - mu_t) / (1 - s["prod"]) * g / den \
                    - lr * mu_n / (1 - s["prod"] * mu_n) * s["m"] / den
            else:   # RAdam
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
                if rho_t > 5:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                     / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    w = w - lr * m_hat * rect * math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)
                else:
                    w = w - lr * m_hat
    return w


OPTIONS = {
    "SGD": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.5, 0.9]),
                                  "dampening": st.sampled_from([0.0, 0.2]),
                                  "nesterov": st.booleans()}).filter(
        lambda o: not o["nesterov"] or (o["momentum"] > 0 and o["dampening"] == 0)),
    "Adagrad": st.fixed_dictionaries({"lr_decay": st.sampled_from([0.0, 0.1]),
                                      "initial_accumulator_value": st.sampled_from([0.0, 0.3]),
                                      "eps": st.sampled_from([1e-10, 1e-3])}),
    "RMSprop": st.fixed_dictionaries({"alpha": st.sampled_from([0.9, 0.99]),
                                      "eps": st.sampled_from([1e-8, 1e-3]),
                                      "momentum": st.sampled_from([0.0, 0.7]),
                                      "centered": st.booleans()}),
    "Adadelta": st.fixed_dictionaries({"rho": st.sampled_from([0.5, 0.9]),
                                       "eps": st.sampled_from([1e-6, 1e-3])}),
    "Adam": st.fixed_dictionaries({"betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
                                   "eps": st.sampled_from([1e-8, 1e-3]),
                                   "amsgrad": st.booleans()}),
    "AdamW": st.fixed_dictionaries({"betas": st.sampled_from([(0.9, 0.999), (0.0, 0.5)]),
                                    "eps": st.sampled_from([1e-8, 1e-3]),
                                    "amsgrad": st.booleans()}),
    "NAdam": st.fixed_dictionaries({"betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
                                    "eps": st.sampled_from([1e-8, 1e-3]),
                                    "momentum_decay": st.sampled_from([4e-3, 0.1]),
                                    "decoupled_weight_decay": st.booleans()}),
    "RAdam": st.fixed_dictionaries({"betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
                                    "eps": st.sampled_from([1e-8, 1e-3]),
                                    "decoupled_weight_decay": st.booleans()}),
    "Adamax": st.fixed_dictionaries({"betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
                                     "eps": st.sampled_from([1e-8, 1e-3])}),
}


@st.composite
def cases(draw):
    name = draw(st.sampled_from(sorted(OPTIONS)))
    opt = draw(OPTIONS[name])
    shape = draw(st.sampled_from([(), (1,), (5,), (3, 4), (2, 3, 2)]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2**16))
    return (name, opt, shape, dtype, seed, draw(st.sampled_from([1e-3, 0.05])),
            draw(st.sampled_from([0.0, 0.1])), draw(st.booleans()))


@given(cases())
def test_matches_float64_reference(case):
    name, opt, shape, dtype, seed, lr, wd, maximize = case
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=shape).astype(dtype)
    grads = [rng.normal(size=shape).astype(dtype) for _ in range(15)]
    w = w0.copy()
    o = getattr(lo, name)([w], lr=lr, weight_decay=wd, maximize=maximize, **opt)
    for g in grads:
        o.step([g])
    ref = reference(name, w0, [g.astype(np.float64) for g in grads], lr, wd, maximize, opt)
    assert w.dtype == dtype and w.shape == shape
    # float64: a handful of roundings per step; float32: the data's precision
    tol = 1e-11 if dtype == np.float64 else 2e-5
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    np.testing.assert_allclose(w, ref, rtol=tol, atol=tol * scale)
