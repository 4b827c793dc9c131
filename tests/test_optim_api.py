"""lossopt.optim's machinery: parameter structures, param groups, state
round trips (state_dict and .npz), schedules' state, clipping, FlatParameters
and the errors bad input gets."""

import io
import math
import subprocess
import sys

import numpy as np
import pytest

import lossopt.optim as lo

ALL = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"]
OPTIONS = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True),
           "Adam": dict(amsgrad=True)}


def make(name, params, **kw):
    return getattr(lo, name)(params, **{**OPTIONS.get(name, {}), "lr": 0.01, **kw})


def grads_for(rng, params):
    return [rng.normal(size=p.shape).astype(p.dtype) for p in params]


# ------------------------------------------------------- state round trips --

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_resumes_bit_identically(name, dtype):
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=5).astype(dtype)]
    grads = [grads_for(rng, params) for _ in range(20)]
    ref = [p.copy() for p in params]
    opt_ref = make(name, ref)
    for g in grads:
        opt_ref.step(g)

    first = [p.copy() for p in params]
    opt1 = make(name, first)
    for g in grads[:10]:
        opt1.step(g)
    sd = opt1.state_dict()
    resumed = [p.copy() for p in first]
    opt2 = make(name, resumed, lr=123.0)          # hyper-parameters come from sd
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    for g in grads[10:]:
        opt2.step(g)
    for a, b in zip(resumed, ref):
        np.testing.assert_array_equal(a, b)
    # the snapshot did not move with later steps of opt1
    for g in grads[10:]:
        opt1.step(g)
    assert opt1.state_dict()["state"][0].keys() == sd["state"][0].keys()
    if "step" in sd["state"][0]:
        assert sd["state"][0]["step"] == 10


@pytest.mark.parametrize("name", ALL)
def test_npz_save_load_resumes_bit_identically(name, tmp_path):
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(6, 2)), "b": rng.normal(size=2)}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(16)]
    ref = {k: v.copy() for k, v in params.items()}
    opt_ref = make(name, ref)
    sched_ref = lo.StepLR(opt_ref, step_size=3, gamma=0.5)
    for g in grads:
        opt_ref.step(g)
        sched_ref.step()

    run = {k: v.copy() for k, v in params.items()}
    opt = make(name, run)
    sched = lo.StepLR(opt, step_size=3, gamma=0.5)
    for g in grads[:8]:
        opt.step(g)
        sched.step()
    path = tmp_path / "opt.npz"
    opt.save(path)
    np.savez(tmp_path / "params.npz", **run)
    sched_state = sched.state_dict()

    with np.load(tmp_path / "params.npz") as f:
        resumed = {k: f[k].copy() for k in f.files}
    opt2 = make(name, resumed)
    opt2.load(path)
    sched2 = lo.StepLR(opt2, step_size=3, gamma=0.5)
    sched2.load_state_dict(sched_state)
    for g in grads[8:]:
        opt2.step(g)
        sched2.step()
    for k in ref:
        np.testing.assert_array_equal(resumed[k], ref[k])
    assert opt2.param_groups[0]["lr"] == opt_ref.param_groups[0]["lr"]


def test_npz_holds_no_pickles_and_checks_the_optimizer(tmp_path):
    w = np.zeros(3)
    opt = lo.Adam([w])
    opt.step([np.ones(3)])
    opt.save(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as f:
        assert "state/0/exp_avg" in f.files
    with pytest.raises(ValueError, match="state of a Adam, not of a SGD"):
        lo.SGD([w]).load(tmp_path / "a.npz")


def test_load_state_dict_refuses_mismatches():
    w = np.zeros(3)
    opt = lo.Adam([w])
    opt.step([np.ones(3)])
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 param groups; the optimizer has 2"):
        lo.Adam([{"params": [np.zeros(3)]}, {"params": [np.zeros(1)]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"shape \(3,\).*has \(4,\)"):
        lo.Adam([np.zeros(4)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="dtype float64.*float32"):
        lo.Adam([np.zeros(3, np.float32)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="state_dict must be a dict"):
        opt.load_state_dict([1, 2])


# -------------------------------------------------- structures and groups --

def test_param_groups_with_different_lrs():
    w1, w2 = np.ones(2), np.ones(2)
    opt = lo.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.5}], lr=0.1)
    opt.step([[np.ones(2)], [np.ones(2)]])          # one list per group
    np.testing.assert_array_equal(w1, [0.9, 0.9])
    np.testing.assert_array_equal(w2, [0.5, 0.5])
    opt.step([np.ones(2), np.ones(2)])              # or a flat list in parameter order
    np.testing.assert_allclose(w1, [0.8, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(w2, [0.0, 0.0])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]


def test_add_param_group_and_dict_groups():
    w, b = np.ones(2), np.ones(1)
    opt = lo.Adam({"w": w}, lr=0.1)
    opt.add_param_group({"params": {"b": b}, "lr": 0.2, "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.9)
    assert opt.param_groups[1]["eps"] == 1e-8
    opt.step({"w": np.ones(2), "b": np.ones(1)})
    # Adam's first step is lr m_hat / (sqrt(r_hat) + eps) = lr / (1 + 1e-8)
    np.testing.assert_allclose(w, 1 - 0.1 / (1 + 1e-8), rtol=1e-15)
    np.testing.assert_allclose(b, 1 - 0.2 / (1 + 1e-8), rtol=1e-15)
    opt.step([{"w": np.ones(2)}, {"b": None}])       # None skips b, and its step count
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1


def test_none_gradient_skips_the_parameter():
    w1, w2 = np.ones(2), np.ones(2)
    opt = lo.SGD([w1, w2], lr=1.0, momentum=0.9)
    opt.step([np.ones(2), None])
    np.testing.assert_array_equal(w2, 1.0)
    assert 1 not in opt.state


def test_schedules_change_every_group():
    opt = lo.SGD([{"params": [np.zeros(1)], "lr": 1.0}, {"params": [np.zeros(1)], "lr": 0.1}])
    sched = lo.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.05]
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.1]


def test_sequential_schedule_state_round_trip():
    def build():
        opt = lo.SGD([np.zeros(1)], lr=1.0)
        s = lo.SequentialLR(opt, [lo.LinearLR(opt, 0.5, total_iters=3),
                                  lo.ExponentialLR(opt, 0.9)], milestones=[3])
        return opt, s
    opt, s = build()
    for _ in range(5):
        s.step()
    opt2, s2 = build()
    s2.load_state_dict(s.state_dict())
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(3):
        s.step()
        s2.step()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_flat_parameters_views_and_structure():
    flat = lo.FlatParameters({"W": (3, 2), "b": (2,)}, dtype=np.float32)
    assert flat.data.shape == (8,) and flat.grad.dtype == np.float32
    assert np.shares_memory(flat["W"], flat.data) and flat["W"].flags.c_contiguous
    flat.params["b"][:] = [1, 2]
    np.testing.assert_array_equal(flat.data[6:], [1, 2])
    opt = lo.SGD(flat, lr=1.0)
    flat.grads["b"][:] = 1
    opt.step(flat.grad)                 # the flat gradient works as well
    np.testing.assert_array_equal(flat["b"], [0, 1])
    np.testing.assert_array_equal(flat["W"], 0)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        lo.FlatParameters([(2,)], dtype=np.int64)
    with pytest.raises(ValueError, match="negative dimension"):
        lo.FlatParameters([(2, -1)])


# --------------------------------------------------------------- clipping --

def test_clip_grad_norm_global_norm_and_no_op_below():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert lo.clip_grad_norm_(g, 10.0) == 5.0
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])           # below max_norm: unchanged
    assert lo.clip_grad_norm_(g, 1.0) == 5.0
    np.testing.assert_allclose(g["a"], [3.0 / (5 + 1e-6), 0.0], rtol=1e-15)
    g32 = [np.full(4, 2.0, np.float32)]
    assert lo.clip_grad_norm_(g32, 2.0, norm_type="inf") == 2.0
    assert g32[0].dtype == np.float32
    with pytest.raises(RuntimeError, match="norm .* is nan"):
        lo.clip_grad_norm_([np.array([np.nan])], 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("call", [lambda g: lo.clip_grad_norm_(g, 1.0),
                                  lambda g: lo.clip_grad_value_(g, 1.0)])
def test_clipping_refuses_arrays_it_cannot_modify(call):
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\[0\] is read-only"):
        call([ro])
    with pytest.raises(ValueError, match=r"grads\[0\] is not C-contiguous"):
        call([np.ones((3, 4))[:, ::2]])
    with pytest.raises(TypeError, match=r"grads\[0\] must be a numpy.ndarray"):
        call([[1.0, 2.0]])


def test_clipping_bad_bounds():
    with pytest.raises(ValueError, match="max_norm must be a non-negative"):
        lo.clip_grad_norm_([np.ones(2)], -1.0)
    with pytest.raises(ValueError, match="norm_type must be a positive"):
        lo.clip_grad_norm_([np.ones(2)], 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value must be a non-negative"):
        lo.clip_grad_value_([np.ones(2)], -1.0)


# ------------------------------------------------------------- bad input --

def test_bad_params():
    with pytest.raises(TypeError, match="not a single array"):
        lo.SGD(np.zeros(3))
    with pytest.raises(ValueError, match="params is an empty list"):
        lo.SGD([])
    with pytest.raises(TypeError, match=r"params\[0\] has dtype int64"):
        lo.SGD([np.zeros(3, dtype=np.int64)])
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] is read-only"):
        lo.Adam([ro])
    with pytest.raises(ValueError, match=r"params\['w'\] is not C-contiguous"):
        lo.Adam({"w": np.zeros((4, 4))[:, 1]})
    with pytest.raises(ValueError, match=r"params\['w'\] is not C-contiguous"):
        lo.Adam({"w": np.zeros((4, 4), order="F")})
    with pytest.raises(TypeError, match=r"params\[1\] must be a numpy.ndarray"):
        lo.SGD([np.zeros(2), [1.0, 2.0]])
    w = np.zeros(4)
    with pytest.raises(ValueError, match="share memory"):
        lo.SGD([w[:3], w[2:]])
    with pytest.raises(ValueError, match=r"param_groups\[1\]\['params'\]\[0\] is read-only"):
        lo.SGD([{"params": [np.zeros(1)]}, {"params": [ro]}])


@pytest.mark.parametrize("name, kw, match", [
    ("SGD", dict(lr=-0.1), "lr must be a non-negative float, got -0.1"),
    ("Adam", dict(lr=float("nan")), "lr must be a non-negative float"),
    ("Adam", dict(betas=(0.9, 1.0)), r"betas\[1\] must be >= 0 and < 1.0"),
    ("Adam", dict(betas=0.9), "betas must be a pair"),
    ("Adam", dict(eps=-1e-8), "eps must be a non-negative"),
    ("SGD", dict(momentum=-0.9), "momentum must be a non-negative"),
    ("SGD", dict(nesterov=True), "nesterov=True requires momentum > 0"),
    ("Adagrad", dict(lr_decay=-1), "lr_decay must be a non-negative"),
    ("RMSprop", dict(alpha=-0.5), "alpha must be a non-negative"),
    ("Adadelta", dict(rho=1.5), "rho must be >= 0 and <= 1.0"),
    ("NAdam", dict(momentum_decay=-1), "momentum_decay must be a non-negative"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay must be a non-negative"),
    ("Adam", dict(amsgrad=1), "amsgrad must be True or False"),
])
def test_bad_hyper_parameters(name, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        getattr(lo, name)([np.zeros(2)], **kw)


def test_negative_lr_set_later_is_caught_before_any_write():
    w = np.ones(2)
    opt = lo.SGD([w], lr=0.1)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr must be a non-negative"):
        opt.step([np.ones(2)])
    np.testing.assert_array_equal(w, 1.0)


def test_unknown_group_option():
    with pytest.raises(ValueError, match=r"unknown hyper-parameters \['momentom'\]"):
        lo.SGD([{"params": [np.zeros(1)], "momentom": 0.9}])


def test_bad_grads_leave_every_parameter_untouched():
    w1, w2 = np.ones(3), np.ones(2, dtype=np.float32)
    opt = lo.Adam([w1, w2])
    cases = [
        ([np.ones(3)], ValueError, "grads has 1 entries; the optimizer has 2"),
        ([np.ones(3), np.ones(3, np.float32)], ValueError,
         r"grads\[1\] has shape \(3,\); expected \(2,\)"),
        ([np.ones(3), np.ones(2)], TypeError,
         r"grads\[1\] has dtype float64 but its parameter is float32"),
        ([np.ones(3, np.int64), np.ones(2, np.float32)], TypeError, r"grads\[0\] has dtype int64"),
        (np.ones(3), TypeError, "grads is a single array but the optimizer has 2"),
        ({"a": np.ones(3)}, TypeError, "parameters have no names"),
        (5, TypeError, "grads must be a list or dict"),
    ]
    for grads, exc, match in cases:
        with pytest.raises(exc, match=match):
            opt.step(grads)
    np.testing.assert_array_equal(w1, 1.0)
    np.testing.assert_array_equal(w2, 1.0)
    assert opt.state == {}


def test_dict_grads_must_have_the_same_keys():
    opt = lo.SGD({"w": np.ones(2), "b": np.ones(1)})
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        opt.step({"w": np.ones(2), "c": np.ones(1)})


def test_inputs_are_not_modified_and_aliasing_is_safe():
    w = np.ones(3)
    g = np.full(3, 2.0)
    g.flags.writeable = False                       # read-only gradients are fine
    opt = lo.SGD([w], lr=0.5, maximize=True, weight_decay=0.1)
    opt.step([g])
    np.testing.assert_array_equal(g, 2.0)
    w2 = np.ones(3)
    lo.SGD([w2], lr=0.5).step([w2])                 # the gradient is the parameter itself
    np.testing.assert_array_equal(w2, 0.5)
    w3 = np.ones((4, 3))
    lo.SGD([w3], lr=1.0).step([np.ones((3, 4)).T])  # strided gradients are copied
    np.testing.assert_array_equal(w3, 0.0)


def test_schedule_bad_input():
    with pytest.raises(TypeError, match="optimizer must be a lossopt.optim.Optimizer"):
        lo.StepLR(object(), step_size=2)
    opt = lo.SGD([np.zeros(1)])
    with pytest.raises(ValueError, match="step_size must be an integer in"):
        lo.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="factor must be >= 0 and < 1.0"):
        lo.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lo.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="milestones must have one entry fewer"):
        lo.SequentialLR(opt, [lo.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError, match="start_factor must be in"):
        lo.LinearLR(opt, start_factor=0)
    with pytest.raises(KeyError, match="initial_lr"):
        lo.StepLR(lo.SGD([np.zeros(1)]), step_size=2, last_epoch=3)


def test_import_lossopt_stays_light_and_optim_is_reachable():
    code = ("import sys, lossopt; assert 'lossopt.optim' not in sys.modules; "
            "import lossopt.optim; assert lossopt.optim.Adam; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'scipy', 'sklearn', 'threadpoolctl')]; assert not bad, bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/")
    assert out.returncode == 0, out.stderr
    import lossopt
    assert lossopt.optim is lo


def test_repr_and_zero_grad():
    opt = lo.Adam([np.zeros(1)], lr=0.5)
    opt.zero_grad()
    assert "lr: 0.5" in repr(opt)
    assert "FlatParameters({0: (2,)}" in repr(lo.FlatParameters([(2,)]))
    buf = io.BytesIO()
    opt.save(buf)
    assert buf.tell() > 0


@pytest.mark.parametrize("name", ALL)
def test_empty_and_zero_dimensional_parameters(name):
    empty, scalar = np.zeros((0, 3)), np.array(1.0)
    ref = np.array([1.0])
    make(name, [empty, scalar]).step([np.zeros((0, 3)), np.array(2.0)])
    make(name, [ref]).step([np.array([2.0])])
    assert empty.shape == (0, 3)
    assert scalar == ref[0]


# ------------------------------------------- audit regressions (complete state) --

# name, options, the state arrays those options need (beyond the algorithm's
# own), the numbers its state holds
NEEDED = [
    ("SGD", dict(momentum=0.9), ["momentum_buffer"], []),
    ("SGD", dict(momentum=0.9, nesterov=True), ["momentum_buffer"], []),
    ("Adagrad", {}, ["sum"], ["step"]),
    ("RMSprop", {}, ["square_avg"], ["step"]),
    ("RMSprop", dict(centered=True), ["square_avg", "grad_avg"], ["step"]),
    ("RMSprop", dict(momentum=0.5), ["square_avg", "momentum_buffer"], ["step"]),
    ("RMSprop", dict(momentum=0.5, centered=True),
     ["square_avg", "grad_avg", "momentum_buffer"], ["step"]),
    ("Adadelta", {}, ["square_avg", "acc_delta"], ["step"]),
    ("Adam", {}, ["exp_avg", "exp_avg_sq"], ["step"]),
    ("Adam", dict(amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], ["step"]),
    ("AdamW", dict(amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], ["step"]),
    ("NAdam", {}, ["exp_avg", "exp_avg_sq"], ["step", "mu_product"]),
    ("RAdam", {}, ["exp_avg", "exp_avg_sq"], ["step"]),
    ("Adamax", {}, ["exp_avg", "exp_inf"], ["step"]),
]


def _stepped(name, kw, n=3):
    w = np.zeros(n)
    opt = getattr(lo, name)([w], **{"lr": 0.1, **kw})
    opt.step([np.ones(n)])
    return w, opt


@pytest.mark.parametrize("name, kw, arrays, numbers", NEEDED)
def test_load_state_dict_refuses_incomplete_state(name, kw, arrays, numbers):
    """A state missing an array the algorithm reads was accepted and the next
    step passed a NULL pointer to the kernel (a segfault)."""
    w, opt = _stepped(name, kw)
    assert sorted(opt.state[0]) == sorted(arrays + numbers)   # the table is right
    for key in arrays + numbers:
        sd = opt.state_dict()
        del sd["state"][0][key]
        fresh = getattr(lo, name)([np.zeros(3)], **{"lr": 0.1, **kw})
        if not sd["state"][0]:
            # SGD keeps only its buffer: without it the entry is that of a
            # parameter with no step yet (torch: buffer None), a valid state
            fresh.load_state_dict(sd)
            assert fresh.state == {}
        else:
            with pytest.raises(ValueError, match=rf"state\[0\]\['{key}'\] is missing"):
                fresh.load_state_dict(sd)
            assert fresh.state == {}                          # nothing loaded
        sd["state"][0][key] = None                            # torch's "no buffer"
        with pytest.raises((ValueError, TypeError), match=rf"state\[0\]\['{key}'\]"):
            fresh.load_state_dict(sd)


def test_load_state_dict_repro_from_the_audit():
    w = np.zeros(3)
    o = lo.Adam([w])
    o.step([np.ones(3)])
    sd = o.state_dict()
    del sd["state"][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg_sq'\] is missing"):
        o.load_state_dict(sd)
    o.step([np.ones(3)])                         # the old state is kept: a normal step
    assert o.state[0]["step"] == 2
    ref = lo.Adam([np.zeros(3)])
    ref.step([np.ones(3)])
    ref.step([np.ones(3)])
    np.testing.assert_array_equal(o.state[0]["exp_avg_sq"], ref.state[0]["exp_avg_sq"])


@pytest.mark.parametrize("name, key", [("Adam", "exp_avg_sq"), ("Adagrad", "sum"),
                                       ("Adam", "step")])
def test_npz_load_refuses_incomplete_state(name, key, tmp_path):
    w, opt = _stepped(name, {})
    path = tmp_path / "opt.npz"
    opt.save(path)
    with np.load(path) as data:
        files = {k: data[k] for k in data.files}
    if key == "step":
        import json
        meta = json.loads(str(files["__meta__"]))
        del meta["state"]["0"]["step"]
        files["__meta__"] = np.array(json.dumps(meta))
    else:
        del files[f"state/0/{key}"]
    np.savez(path, **files)
    fresh = getattr(lo, name)([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match=rf"state\['?0'?\]\['{key}'\] is missing"):
        fresh.load(path)


@pytest.mark.parametrize("value, exc, match", [
    ("3", TypeError, r"state\[0\]\['step'\] must be a number, got '3'"),
    (None, TypeError, r"state\[0\]\['step'\] must be a number, got None"),
    (True, TypeError, r"state\[0\]\['step'\] must be a number"),
    (-1, ValueError, r"state\[0\]\['step'\] must be a step count, a whole number >= 0"),
    (2.5, ValueError, r"state\[0\]\['step'\] must be a step count"),
    (float("nan"), ValueError, r"state\[0\]\['step'\] must be a step count"),
])
def test_load_state_dict_refuses_a_bad_step(value, exc, match):
    _, opt = _stepped("Adam", {})
    sd = opt.state_dict()
    sd["state"][0]["step"] = value
    with pytest.raises(exc, match=match):
        lo.Adam([np.zeros(3)]).load_state_dict(sd)


def test_load_state_dict_refuses_a_nonfinite_mu_product():
    _, opt = _stepped("NAdam", {})
    sd = opt.state_dict()
    sd["state"][0]["mu_product"] = float("inf")
    with pytest.raises(ValueError, match=r"state\[0\]\['mu_product'\] must be a finite number"):
        lo.NAdam([np.zeros(3)]).load_state_dict(sd)


def test_load_state_dict_accepts_steps_as_numbers_and_empty_entries():
    _, opt = _stepped("Adam", {})
    sd = opt.state_dict()
    sd["state"][0]["step"] = np.float64(1.0)            # e.g. torch's float step
    fresh = lo.Adam([np.zeros(3)])
    fresh.load_state_dict(sd)
    assert fresh.state[0]["step"] == 1 and isinstance(fresh.state[0]["step"], int)
    sd["state"][0] = {}                                 # no step taken yet
    fresh.load_state_dict(sd)
    assert fresh.state == {}
    # an option that is off needs no buffer; torch writes None for it
    w, sgd = _stepped("SGD", {})
    sd = sgd.state_dict()
    sd["state"][0] = {"momentum_buffer": None}
    fresh = lo.SGD([np.zeros(3)], lr=0.1)
    fresh.load_state_dict(sd)
    assert fresh.state == {}


def test_step_never_hands_the_kernel_a_missing_state_array():
    """The state edited by hand after loading: the step refuses it instead
    of passing a NULL pointer."""
    w, opt = _stepped("Adam", {})
    opt.state[0]["exp_avg_sq"] = None
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg_sq'\] must be an array of "
                                         r"its parameter's shape .* got None \(missing\)"):
        opt.step([np.ones(3)])
    w, opt = _stepped("Adagrad", {})
    del opt.state[0]["sum"]
    with pytest.raises(ValueError, match=r"state\[0\]\['sum'\] must be"):
        opt.step([np.ones(3)])
    w, opt = _stepped("RMSprop", dict(centered=True))
    opt.state[0]["grad_avg"] = np.zeros(2)
    with pytest.raises(ValueError, match=r"state\[0\]\['grad_avg'\] must be .* got an array "
                                         r"of shape \(2,\)"):
        opt.step([np.ones(3)])


# --------------------------------------------- audit regressions (others) --

def test_gradient_that_is_another_parameter_is_read_before_the_step():
    """All gradients are taken before any update, as in torch."""
    a, b = np.array([1.0]), np.array([2.0])
    lo.SGD([a, b], lr=1.0).step([b, a])
    np.testing.assert_array_equal(a, [-1.0])       # 1 - 2
    np.testing.assert_array_equal(b, [1.0])        # 2 - 1 (a's value before the step)
    # a view into another parameter, and one parameter's gradient in two groups
    p = np.arange(6.0)
    q = np.ones(3)
    opt = lo.SGD([{"params": [q]}, {"params": [p]}], lr=1.0)
    opt.step([[p[2:5]], [np.zeros(6)]])
    np.testing.assert_array_equal(q, 1.0 - np.array([2.0, 3.0, 4.0]))
    # the gradient owns the memory a parameter is a view of
    base = np.arange(6.0)
    p, q = base[:3], np.zeros(6)
    lo.SGD([p, q], lr=1.0).step([np.ones(3), base])
    np.testing.assert_array_equal(p, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(q, -np.arange(6.0))       # base before the step
    # parameters and gradient over a foreign buffer (no owning array)
    buf = bytearray(np.arange(4.0).tobytes())
    r, s = np.frombuffer(buf)[:2], np.frombuffer(buf)[2:]
    lo.SGD([r, s], lr=1.0).step([np.frombuffer(buf)[2:], np.frombuffer(buf)[:2]])
    np.testing.assert_array_equal(np.frombuffer(buf), [0.0 - 2, 1 - 3, 2 - 0, 3 - 1])
    # a gradient that aliases a parameter skipped this step (None) is not updated
    c, d = np.array([5.0]), np.array([7.0])
    lo.SGD([c, d], lr=1.0).step([d, None])
    np.testing.assert_array_equal(c, [-2.0])
    np.testing.assert_array_equal(d, [7.0])


def test_flat_parameters_gradients_are_not_copied():
    flat = lo.FlatParameters({"w": (3,), "b": (2,)})
    opt = lo.SGD(flat, lr=1.0)
    (i, g), = opt._match_grads(flat)
    assert g is flat.grad                 # the fast path: no copy
    (i, g), = opt._match_grads([flat.data])
    assert g is not flat.data             # the parameter itself: copied


def test_flat_parameters_refuse_names_that_collide_as_strings():
    with pytest.raises(ValueError, match=r"shapes has two keys named '1'"):
        lo.FlatParameters({1: (2,), "1": (3,)})
    with pytest.raises(ValueError, match=r"arrays has two keys named '0'"):
        lo.FlatParameters.from_arrays({0: np.ones(2), "0": np.zeros(3)})
    flat = lo.FlatParameters({1: (2,), "2": (3,)})
    assert flat.size == 5 and len(flat) == 2


@pytest.mark.parametrize("name, kw, arg", [
    ("SGD", dict(lr="0.1"), "lr"),
    ("SGD", dict(momentum="0.9"), "momentum"),
    ("SGD", dict(dampening=b"0"), "dampening"),
    ("SGD", dict(weight_decay=True), "weight_decay"),
    ("Adam", dict(lr=True), "lr"),
    ("Adam", dict(eps="1e-8"), "eps"),
    ("Adam", dict(betas=("0.9", 0.999)), r"betas\[0\]"),
    ("Adam", dict(betas=(0.9, False)), r"betas\[1\]"),
    ("AdamW", dict(weight_decay="0.01"), "weight_decay"),
    ("Adagrad", dict(lr_decay="0"), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value="0.1"), "initial_accumulator_value"),
    ("RMSprop", dict(alpha="0.9"), "alpha"),
    ("Adadelta", dict(rho="0.9"), "rho"),
    ("NAdam", dict(momentum_decay="0.004"), "momentum_decay"),
    ("RAdam", dict(eps=np.array("1e-8")), "eps"),
    ("Adamax", dict(lr=[0.1]), "lr"),
])
def test_string_and_bool_hyper_parameters_are_refused(name, kw, arg):
    with pytest.raises(TypeError, match=rf"^{arg} must be a non-negative float, got"):
        getattr(lo, name)([np.zeros(2)], **kw)


def test_hyper_parameters_accept_numpy_and_integer_numbers():
    w = np.ones(2)
    opt = lo.Adam([w], lr=np.float32(0.5), betas=(np.float64(0.5), 0), eps=np.array(0.0))
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["betas"] == (0.5, 0.0)
    opt.step([np.ones(2)])
    np.testing.assert_allclose(w, 0.5, rtol=1e-15)      # Adam's first step is lr * sign(g)
    with pytest.raises(TypeError, match=r"^lr must be a non-negative float, got '1'"):
        opt.param_groups[0]["lr"] = "1"                  # set later: caught at the step
        opt.step([np.ones(2)])
    np.testing.assert_allclose(w, 0.5, rtol=1e-15)
    with pytest.raises(TypeError, match=r"^gamma must be a non-negative float"):
        lo.StepLR(lo.SGD([np.ones(1)]), step_size=2, gamma="0.1")


@pytest.mark.parametrize("norm_type", [math.inf, 2.0, 1.0, 3.0])
@pytest.mark.parametrize("error_if_nonfinite", [False, True])
def test_clip_grad_norm_nan_wins_in_any_order(norm_type, error_if_nonfinite):
    """max(3.0, nan) is 3.0 in Python: the inf-norm missed a NaN in a later
    array.  torch: the norm is NaN and every gradient becomes NaN."""
    for order in [(0, 1, 2), (2, 1, 0), (1, 0, 2)]:
        arrays = [np.array([3.0, -1.0]), np.array([np.nan, 0.5]), np.array([np.inf])]
        grads = [arrays[i] for i in order]
        if error_if_nonfinite:
            with pytest.raises(RuntimeError, match="total norm .* is nan"):
                lo.clip_grad_norm_(grads, 1.0, norm_type=norm_type, error_if_nonfinite=True)
            continue
        total = lo.clip_grad_norm_(grads, 1.0, norm_type=norm_type)
        assert math.isnan(total), (order, total)
        for g in grads:
            assert np.isnan(g).all()
    # without the inf: NaN still wins over the larger finite array
    grads = [np.array([5.0], np.float32), np.array([np.nan], np.float32)]
    assert math.isnan(lo.clip_grad_norm_(grads, 1.0, norm_type=norm_type))


@pytest.mark.parametrize("name", ALL)
def test_every_float_hyper_parameter_refuses_a_string(name):
    """Each real-valued option of every optimizer, found from its signature,
    goes through the one validator: a string (which float() would accept)
    and a bool are refused with a TypeError naming the option."""
    import inspect
    checked = 0
    for k, p in inspect.signature(getattr(lo, name)).parameters.items():
        if isinstance(p.default, float):
            for bad in (str(p.default), True):
                with pytest.raises(TypeError, match=rf"^{k} must be a non-negative float"):
                    getattr(lo, name)([np.zeros(2)], **{k: bad})
            checked += 1
        elif isinstance(p.default, tuple):          # betas
            with pytest.raises(TypeError, match=rf"^{k}\[1\] must be a non-negative float"):
                getattr(lo, name)([np.zeros(2)], **{k: (p.default[0], str(p.default[1]))})
            checked += 1
    assert checked >= 3
