"""The benchmark's case table (lossopt/_bench.py) compares like with like.

Every implementation the report times is run once on small inputs, and its
loss value (or output) is checked against lossopt's, and its gradient where
it has lossopt's scaling: a peer that computes something else would make the
ratios meaningless.  The report's table and targets are checked on made-up
times (no timing is asserted anywhere).
"""

import numpy as np
import pytest

from lossopt import _bench
from lossopt._bench import KERNELS, Case, Result

# the peers whose loss differs from lossopt's by a documented constant factor:
# torch's mse_loss(mean) is 2 * SquaredError for (N,) predictions
VALUE_FACTOR = {("squared_error", "torch"): 2.0}
# peers whose gradient is not lossopt's (per-sample, unscaled): values only
VALUE_ONLY = {"sklearn"}


def small_case(kernel, dtype="float64"):
    shape = (64, 7) if KERNELS[kernel].group == "rows" else (300,)
    return Case(kernel, shape, dtype)


def parts(out):
    """(loss value or None, [arrays]) of an implementation's result."""
    if isinstance(out, tuple):
        value, grads = out
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        return float(value), [np.asarray(g, dtype=np.float64) for g in grads]
    return None, [np.asarray(out, dtype=np.float64)]


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_every_implementation_computes_what_lossopt_computes(kernel):
    case = small_case(kernel)
    names = case.implementation_names()
    assert names[0] == "lossopt" and names[-1] == case.reference
    fns = case.build()
    value, grads = parts(fns["lossopt"]())
    assert value is None or np.isfinite(value)
    for name in names[1:-1]:
        v, g = parts(fns[name]())
        if value is not None:
            assert v == pytest.approx(value * VALUE_FACTOR.get((kernel, name), 1.0),
                                      rel=1e-10), name
        if name not in VALUE_ONLY and (kernel, name) not in VALUE_FACTOR:
            assert len(g) == len(grads), name
            for a, b in zip(g, grads):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("kernel", ["softmax_cross_entropy", "logsumexp_b", "gaussian_nll",
                                    "multiclass_hinge_cs"])
def test_float32_implementations_run_in_float32(kernel):
    fns = small_case(kernel, "float32").build()
    value, grads = parts(fns["lossopt"]())
    assert all(g.dtype == np.float64 for g in grads)  # parts() widens
    for name, fn in fns.items():
        v, g = parts(fn())
        if value is not None and name in ("numpy", "lossopt out="):
            assert v == pytest.approx(value, rel=1e-5), name


def test_references_write_as_many_elements():
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    t = np.ones_like(x)
    out = _bench.exp_reference(x)()
    np.testing.assert_array_equal(out, np.exp(x))
    np.testing.assert_array_equal(_bench.add_reference(x, t)(), x + 1.0)
    # a second input of another shape (labels): x is added to a copy of itself
    np.testing.assert_array_equal(_bench.add_reference(x, np.arange(3))(), 2 * x)


def test_cases_cover_issue_4_sizes():
    all_cases = _bench.cases()
    rows = {c.shape for c in all_cases if c.group == "rows"}
    assert rows == {(1_000_000, 10), (100_000, 100), (10_000, 1000)}
    assert {c.shape for c in all_cases if c.group == "elementwise"} == {(10_000_000,)}
    assert {c.dtype for c in all_cases} == {"float64", "float32"}
    assert len(all_cases) == len({c.name for c in all_cases})
    quick = _bench.cases(["logsumexp"], quick=True, dtypes=["float32"])
    assert [c.shape for c in quick] == [(100_000, 10), (10_000, 100), (1000, 1000)]
    assert {c.kernel for c in _bench.cases(groups=["elementwise"])} == {
        k for k, spec in KERNELS.items() if spec.group == "elementwise"}


def test_targets_of_issue_4():
    target = {k: (spec.reference, spec.target) for k, spec in KERNELS.items()}
    assert target["softmax_cross_entropy"] == ("np.exp", 1.5)
    for k in ("logsumexp", "logsumexp_b", "softmax", "log_softmax"):
        assert target[k] == ("np.exp", 1.3)
    assert target["squared_error"] == ("np.add", 1.2)
    assert target["binary_cross_entropy"] == ("np.exp", 2.5)
    assert target["poisson_nll"] == ("np.exp", 1.5)
    assert target["huber"] == ("np.add", 1.5)
    assert KERNELS["softmax_cross_entropy"].peer_targets == {"sklearn": 1 / 3, "torch": 0.1}
    assert KERNELS["logsumexp"].peer_targets == {"scipy": 0.2, "jax": 1.0}


def test_table_ratios_and_targets_from_given_times():
    ce = Case("softmax_cross_entropy", (1_000_000, 10), "float64")
    r = Result(ce, {"lossopt": 0.010, "lossopt out=": 0.012, "np.exp": 0.010,
                    "sklearn": 0.040, "torch": 0.050})
    assert r.reference_ratio == pytest.approx(1.2)   # out= against the reference
    assert r.peer_ratio("torch") == pytest.approx(0.2)
    assert r.peer_ratio("jax") is None
    assert r.missed() == ["torch"]                     # needs <= 0.1
    sq = Result(Case("squared_error", (10_000_000,), "float32"),
                {"lossopt": 0.002, "lossopt out=": 0.0013, "np.add": 0.001, "numpy": 0.01})
    assert sq.missed() == ["np.add"]                   # 1.3 > 1.2
    text = _bench.table([r, sq])
    lines = text.splitlines()
    assert lines[0].split(" | ")[-3:] == ["÷ numpy", "÷ sklearn", "÷ torch |"]
    assert "| softmax_cross_entropy | (1e6, 10) | float64 | 10.00 | 1.20 (np.exp) | " \
           "≤ 1.5× np.exp; ≤ 0.33× sklearn; ≤ 0.1× torch | no: torch | — | 0.250 | 0.200 |" \
           in lines
    assert "| squared_error | 1e7 | float32 | 2.00 | 1.30 (np.add) | ≤ 1.2× np.add | " \
           "no: np.add | 0.200 | — | — |" in lines
    assert _bench.summary([r, sq]) == "targets met in 0 of 2 cases"


@pytest.mark.parametrize("option", ["--png", "--plot"])
def test_png_needs_matplotlib(monkeypatch, capsys, tmp_path, option):
    monkeypatch.setattr(_bench, "have", lambda module: module != "matplotlib")
    assert _bench.main([option, str(tmp_path / "x.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_png_bar_chart(tmp_path):
    pytest.importorskip("matplotlib")
    case = Case("logsumexp", (1000, 10), "float64")
    path = tmp_path / "ratios.png"
    _bench.plot([Result(case, {"lossopt": 1.0, "np.exp": 2.0, "scipy": 4.0})], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_thread_clock_counts_cpu_time_and_leaves_jax_out(monkeypatch):
    import time
    monkeypatch.setattr(_bench, "have", lambda module: True)   # every peer "installed"
    case = Case("logsumexp", (10, 4), "float64")
    try:
        _bench.set_clock("thread")
        assert "jax" not in case.implementation_names()
        assert "scipy" in case.implementation_names()
        # a sleep costs wall-clock time, not CPU time of the thread
        assert _bench.time_round(lambda: time.sleep(0.02), 2) < 0.01
        assert "thread CPU time" in _bench.header()
        _bench.set_clock("wall")
        assert "jax" in case.implementation_names()
        assert _bench.time_round(lambda: time.sleep(0.02), 2) >= 0.02
        with pytest.raises(ValueError, match="clock must be one of"):
            _bench.set_clock("cpu")
    finally:
        _bench.set_clock("wall")
