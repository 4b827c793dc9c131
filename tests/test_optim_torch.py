"""lossopt.optim against torch.optim: signatures and defaults, 200-step
trajectories of every algorithm and option combination (float64 and
float32), the schedules and gradient clipping.  Skipped without torch."""

import inspect
import itertools
import math

import numpy as np
import pytest

import lossopt.optim as lo

torch = pytest.importorskip("torch")

ALGORITHMS = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam",
              "Adamax"]
TORCH_ONLY = {"foreach", "capturable", "differentiable", "fused"}


@pytest.fixture(autouse=True)
def float64_scalars():
    """torch keeps NAdam's mu_product and every step count in its default
    scalar dtype; float64 makes them Python floats' equals."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_signature_matches_torch(name):
    """Same option names and defaults; the positional ones in torch's order
    (up to torch's first option lossopt does not have)."""
    ours = inspect.signature(getattr(lo, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
    for k, p in theirs.items():
        if k not in TORCH_ONLY:
            assert k in ours, k
            assert ours[k].default == p.default, (k, ours[k].default, p.default)
    assert set(ours) <= set(theirs)
    prefix = []
    for k, p in theirs.items():
        if k in TORCH_ONLY or p.kind != p.POSITIONAL_OR_KEYWORD:
            break
        prefix.append(k)
    positional = [k for k, p in ours.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional[:len(prefix)] == prefix


def _combos(options):
    keys = list(options)
    for values in itertools.product(*options.values()):
        yield dict(zip(keys, values))


OPTIONS = {
    "SGD": dict(lr=[0.01], momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                weight_decay=[0.0, 0.1], maximize=[False, True]),
    "Adagrad": dict(lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1],
                    initial_accumulator_value=[0.0, 0.5], maximize=[False, True]),
    "RMSprop": dict(momentum=[0.0, 0.9], centered=[False, True], weight_decay=[0.0, 0.1],
                    maximize=[False, True]),
    "Adadelta": dict(lr=[1.0, 0.5], weight_decay=[0.0, 0.1], maximize=[False, True]),
    "Adam": dict(lr=[0.01], amsgrad=[False, True], weight_decay=[0.0, 0.1],
                 maximize=[False, True], decoupled_weight_decay=[False, True]),
    "AdamW": dict(lr=[0.01], amsgrad=[False, True], weight_decay=[0.0, 0.1],
                  maximize=[False, True]),
    "NAdam": dict(weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True],
                  maximize=[False, True]),
    "RAdam": dict(lr=[0.01], weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True],
                  maximize=[False, True]),
    "Adamax": dict(weight_decay=[0.0, 0.1], maximize=[False, True]),
}


# Non-default values of the options the grid above leaves at torch's
# defaults: betas, eps, alpha, rho, momentum_decay, lr_decay,
# initial_accumulator_value (with the flags that change what they feed).
EXTRA = [
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
    ("Adagrad", dict(lr=0.2, lr_decay=1.0, initial_accumulator_value=2.0, eps=1e-3,
                     weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.005, alpha=0.5, eps=1e-4, momentum=0.5, centered=True)),
    ("Adadelta", dict(rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=0.5, rho=0.99, eps=1e-8, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-4)),
    ("Adam", dict(lr=0.01, betas=(0.0, 0.99), eps=1e-6, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("NAdam", dict(betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.01)),
    ("NAdam", dict(betas=(0.95, 0.9), momentum_decay=0.0, decoupled_weight_decay=True,
                   weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.7, 0.9), eps=1e-5)),   # rectifies from step 6
    ("Adamax", dict(betas=(0.5, 0.9), eps=1e-3)),
    ("Adamax", dict(lr=0.01, betas=(0.95, 0.5), eps=1e-6, maximize=True)),
]


def _cases():
    def case(name, kw):
        return pytest.param(name, kw, id=name + "-" + "-".join(
            f"{k}={v}" for k, v in kw.items()))
    for name, options in OPTIONS.items():
        for kw in _combos(options):
            if kw.get("nesterov") and (kw["momentum"] == 0 or kw["dampening"] != 0):
                continue
            yield case(name, kw)
    for name, kw in EXTRA:
        yield case(name, kw)


def test_extra_cases_use_non_default_values():
    """Every option named in the issue takes a non-default value somewhere."""
    seen = {(name, k) for name, kw in EXTRA for k, v in kw.items()
            if v != inspect.signature(getattr(lo, name)).parameters[k].default}
    for name, k in [("Adam", "betas"), ("Adam", "eps"), ("AdamW", "betas"),
                    ("NAdam", "betas"), ("NAdam", "momentum_decay"), ("RAdam", "betas"),
                    ("Adamax", "betas"), ("Adamax", "eps"), ("RMSprop", "alpha"),
                    ("RMSprop", "eps"), ("Adadelta", "rho"), ("Adadelta", "eps"),
                    ("Adagrad", "lr_decay"), ("Adagrad", "initial_accumulator_value"),
                    ("Adagrad", "eps")]:
        assert (name, k) in seen, (name, k)


def _trajectories(name, kw, dtype, steps=200, groups=False):
    """Run ours and torch's side by side on g = noise + w (a noisy quadratic),
    the same noise for both; return the final parameters of each."""
    rng = np.random.default_rng(7)
    shapes = [(7, 5), (3,)]
    ws = [rng.normal(size=s).astype(dtype) for s in shapes]
    ts = [torch.tensor(w.copy(), requires_grad=True) for w in ws]
    if groups:   # two groups, the second with its own lr
        ours = getattr(lo, name)([{"params": [ws[0]]}, {"params": [ws[1]], "lr": 0.003}], **kw)
        theirs = getattr(torch.optim, name)([{"params": [ts[0]]},
                                             {"params": [ts[1]], "lr": 0.003}], **kw)
    else:
        ours = getattr(lo, name)(ws, **kw)
        theirs = getattr(torch.optim, name)(ts, **kw)
    for _ in range(steps):
        noise = [rng.normal(size=s).astype(dtype) for s in shapes]
        ours.step([n + w for n, w in zip(noise, ws)])
        for t, n in zip(ts, noise):
            t.grad = torch.from_numpy(n) + t.detach()
        theirs.step()
    return ws, [t.detach().numpy() for t in ts], ours, theirs


def assert_relative(got, ref, tol):
    """What "<= tol relative" means for the float32 trajectories.

    Measured: max over elements of |got - ref| / max(|ref|, S), S = the
    array's own scale max |ref| (so an element is judged against the size
    of the numbers the update works with); <= tol.  In addition, the plain
    element-wise relative error |got - ref| / |ref| must be <= tol for every
    element with |ref| >= S / 10.

    Why not element-wise everywhere (nor with a tiny absolute floor): torch's
    kernels fuse multiply-adds, ours round every operation, so elements that
    a trajectory brings near 0 (cancellation) keep an absolute error of a
    float32 ulp or two at the array's scale, which is large relative to the
    element.  Measured over the 104 grid combinations + 15 EXTRA (tool:
    this module's _trajectories, float32, 200 steps; 4522 elements):
    element-wise relative max 1.64e-4 (RMSprop centered, |ref| = 6.8e-5 in an
    array of scale 0.225, absolute error 1.1e-8); with an absolute floor of
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2: 1.64e-4, 1.64e-4, 1.12e-4, 2.38e-5, 3.6e-6.
    Only 11 elements exceed 1e-5 element-wise, all with |ref| <= 2.1e-3 and
    <= 1.21% of their array's scale, absolute errors <= 2.5e-8 (<= 2.1
    float32 eps times the scale).  This metric's worst value is 7.4e-7; the
    element-wise one over elements with |ref| >= S / 10 is 3.2e-6."""
    ref64 = ref.astype(np.float64)
    err_abs = np.abs(got.astype(np.float64) - ref64)
    scale = np.max(np.abs(ref64))
    err = np.max(err_abs / np.maximum(np.abs(ref64), scale))
    assert err <= tol, err
    large = np.abs(ref64) >= scale / 10
    err_large = np.max(err_abs[large] / np.abs(ref64[large]))
    assert err_large <= tol, err_large


@pytest.mark.parametrize("name, kw", list(_cases()))
def test_trajectory_float64(name, kw):
    ws, ts, ours, theirs = _trajectories(name, kw, np.float64)
    for w, t in zip(ws, ts):
        # element-wise relative, no floor needed in float64
        np.testing.assert_allclose(w, t, rtol=1e-12, atol=0)
    # the state agrees too (torch keys it by tensor, in parameter order)
    for i, (p, st) in enumerate(theirs.state.items()):
        for k, v in st.items():
            if k == "step":
                assert ours.state[i][k] == int(v.item())
            elif k == "mu_product":
                assert ours.state[i][k] == pytest.approx(float(v), rel=1e-15)
            elif isinstance(v, torch.Tensor):
                np.testing.assert_allclose(ours.state[i][k], v.numpy(), rtol=1e-11,
                                           atol=1e-300)


@pytest.mark.parametrize("name, kw", list(_cases()))
def test_trajectory_float32(name, kw):
    ws, ts, _, _ = _trajectories(name, kw, np.float32)
    for w, t in zip(ws, ts):
        assert w.dtype == np.float32
        assert_relative(w, t, 1e-5)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_param_groups_with_different_lrs_match_torch(name):
    kw = {"lr": 0.01} if name in ("SGD", "Adam", "AdamW", "RAdam") else {}
    if name == "SGD":
        kw["momentum"] = 0.9
    ws, ts, _, _ = _trajectories(name, kw, np.float64, steps=50, groups=True)
    for w, t in zip(ws, ts):
        np.testing.assert_allclose(w, t, rtol=1e-12, atol=0)


# ----------------------------------------------------------- schedules --

def _schedule_pair(make, epochs=60, n_groups=2):
    """The learning rates of each epoch under our schedule and torch's,
    built by make(module, optimizer) on SGD with n_groups groups."""
    lrs = [0.1 * (i + 1) for i in range(n_groups)]
    ours = lo.SGD([{"params": [np.zeros(1)], "lr": lr} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                              for lr in lrs])
    s1, s2 = make(lo, ours), make(torch.optim.lr_scheduler, theirs)
    seq1, seq2 = [], []
    for epoch in range(epochs):
        seq1.append([g["lr"] for g in ours.param_groups])
        seq2.append([g["lr"] for g in theirs.param_groups])
        assert s1.get_last_lr() == s2.get_last_lr()
        ours.step([np.zeros(1) for _ in lrs])
        theirs.step()
        if isinstance(s1, lo.ReduceLROnPlateau):
            metric = [5.0, 4.0, 4.0, 4.0, 3.0, 3.5, 3.5, 3.5, 3.5][epoch % 9]
            s1.step(metric)
            s2.step(metric)
        else:
            s1.step()
            s2.step()
    return seq1, seq2


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.3),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 11, 11, 30], gamma=0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=13, eta_min=0.001),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=17),
    "LambdaLR": lambda m, o: m.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1 / (1 + e)]),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=5),
            m.CosineAnnealingLR(o, T_max=20), m.ExponentialLR(o, gamma=0.9)],
        milestones=[5, 30]),
    "ReduceLROnPlateau": lambda m, o: m.ReduceLROnPlateau(o, patience=2, factor=0.5,
                                                          cooldown=1, min_lr=[0.0, 0.05]),
    "ReduceLROnPlateau-max-abs": lambda m, o: m.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.1, patience=1),
}


@pytest.mark.parametrize("which", list(SCHEDULES))
def test_schedule_matches_torch(which):
    seq1, seq2 = _schedule_pair(SCHEDULES[which])
    assert seq1 == seq2            # the same Python float operations: identical
    assert len({tuple(s) for s in seq1}) > 1   # the schedule did change the rate


def test_schedule_drives_adam_like_torch():
    rng = np.random.default_rng(3)
    w = rng.normal(size=10)
    t = torch.tensor(w.copy(), requires_grad=True)
    ours, theirs = lo.Adam([w], lr=0.05), torch.optim.Adam([t], lr=0.05)
    s1 = lo.CosineAnnealingLR(ours, T_max=30)
    s2 = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=30)
    for _ in range(100):
        g = rng.normal(size=10)
        ours.step([g])
        t.grad = torch.from_numpy(g.copy())
        theirs.step()
        s1.step()
        s2.step()
    np.testing.assert_allclose(w, t.detach().numpy(), rtol=1e-12, atol=0)


# ------------------------------------------------------------- clipping --

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=s) for s in [(30, 4), (7,), (100_000,)]]
    tensors = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    total = lo.clip_grad_norm_(grads, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ref), rel=1e-13)
    for g, t in zip(grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-13, atol=0)


def test_clip_grad_value_matches_torch():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(50, 3)).astype(np.float32)
    t = torch.zeros(g.shape, dtype=torch.float32, requires_grad=True)
    t.grad = torch.from_numpy(g.copy())
    lo.clip_grad_value_([g], 0.7)
    torch.nn.utils.clip_grad_value_([t], 0.7)
    np.testing.assert_array_equal(g, t.grad.numpy())


@pytest.mark.parametrize("norm_type", [math.inf, 2.0, 1.0])
@pytest.mark.parametrize("nan_at", [0, 1, 2])
def test_clip_grad_norm_with_nan_matches_torch(norm_type, nan_at):
    """A NaN anywhere makes the norm NaN and every gradient NaN, in any
    array order (the inf-norm used to keep the first array's maximum)."""
    grads = [np.array([3.0, -4.0]), np.array([0.5]), np.array([1.0, 2.0, -7.0])]
    grads[nan_at][0] = np.nan
    tensors = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    total = lo.clip_grad_norm_(grads, 1.0, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tensors, 1.0, norm_type=norm_type)
    assert math.isnan(float(ref)) and math.isnan(total)
    for g, t in zip(grads, tensors):
        np.testing.assert_array_equal(g, t.grad.numpy())     # all NaN in both
        assert np.isnan(g).all()
    with pytest.raises(RuntimeError, match="is nan"):
        lo.clip_grad_norm_([np.array([1.0]), np.array([np.nan])], 1.0, norm_type=norm_type,
                           error_if_nonfinite=True)
