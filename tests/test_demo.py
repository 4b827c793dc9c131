"""`lossopt demo`: each numerical claim of the six parts against an
independent reference, and the command through subprocess."""

import io
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from lossopt import demo
from lossopt.datasets import make_line, make_red_blue

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def part1():
    return demo.regression(file=io.StringIO())


def gaussian_nll(residual, beta):
    """The lecture's -ln L: M/2 ln 2pi - M/2 ln beta + beta/2 sum r^2."""
    m = residual.size
    return 0.5 * m * math.log(2 * math.pi) - 0.5 * m * math.log(beta) \
        + 0.5 * beta * float(np.sum(residual ** 2))


def test_regression_l2_fit_is_least_squares(part1):
    X, y = make_line(100, random_state=0)
    slope, intercept = np.polyfit(X[:, 0], y, 1)
    np.testing.assert_allclose(part1["coef_l2"], [slope, intercept], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(part1["x"], X[:, 0])


def test_beta_hat_is_one_over_mean_squared_residual_and_maximises_likelihood(part1):
    X, y = make_line(100, random_state=0)
    residual = y - np.polyval(np.polyfit(X[:, 0], y, 1), X[:, 0])
    beta_hat = 1.0 / np.mean(residual ** 2)
    assert part1["beta_hat"] == pytest.approx(beta_hat, rel=1e-10)
    assert part1["beta_hat"] * part1["mean_squared_residual"] == pytest.approx(1.0, rel=1e-14)
    # the printed NLL values are the lecture's formula (via lossopt.likelihood.Gaussian)
    expected = [gaussian_nll(residual, beta_hat * f) for f in part1["beta_factors"]]
    np.testing.assert_allclose(part1["nll_at_factors"], expected, rtol=1e-10)
    assert int(np.argmin(part1["nll_at_factors"])) == list(part1["beta_factors"]).index(1.0)
    # a maximum, not only the best of five: any nearby beta is worse
    for f in (1 - 1e-3, 1 + 1e-3, 0.9, 1.1):
        assert gaussian_nll(residual, beta_hat * f) > gaussian_nll(residual, beta_hat)
    grid = part1["beta_grid"]
    best = grid[np.argmin(part1["nll_grid"])]
    assert abs(math.log(best / beta_hat)) <= math.log(4 * 4) / 120 / 2 + 1e-12
    # the noise of make_line is 0.5: the estimate is near the true precision 4
    assert 3.0 < beta_hat < 5.5


def test_l1_moves_less_than_l2_with_outliers(part1):
    assert part1["shift_l1"] < part1["shift_l2"] / 3
    np.testing.assert_allclose(part1["coef_l1_outliers"], [0.8, 0.5], atol=0.15)
    X, y = make_line(100, n_outliers=10, random_state=0)
    slope, intercept = np.polyfit(X[:, 0], y, 1)
    np.testing.assert_allclose(part1["coef_l2_outliers"], [slope, intercept], atol=1e-8)


def test_l1_fit_minimises_the_absolute_error():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    r = demo.regression(file=io.StringIO())
    X, y = make_line(100, n_outliers=10, random_state=0)
    x = X[:, 0]

    def l1(c):
        return float(np.sum(np.abs(y - c[0] * x - c[1])))
    # least absolute deviations as a linear program: min sum(u + v), y - Xc = u - v
    n = x.size
    A = np.column_stack([x, np.ones(n), np.eye(n), -np.eye(n)])
    cost = np.concatenate([[0.0, 0.0], np.ones(2 * n)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
    lp = scipy_optimize.linprog(cost, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    assert lp.status == 0
    assert l1(r["coef_l1_outliers"]) <= lp.fun * (1 + 1e-3)


def test_classification_losses_and_accuracies():
    r = demo.classification(file=io.StringIO())
    X, y = make_red_blue(200, random_state=0)
    np.testing.assert_array_equal(r["X"], X)
    s = np.where(y == 1, 1.0, -1.0)
    refs = {"cross-entropy (logistic)": lambda z: np.logaddexp(0.0, -s * z),
            "hinge (linear SVM)": lambda z: np.maximum(0.0, 1.0 - s * z),
            "perceptron criterion": lambda z: np.maximum(0.0, -s * z)}
    for name, (w, b) in r["models"].items():
        z = X @ w + b
        assert r["loss"][name] == pytest.approx(float(np.mean(refs[name](z))), rel=1e-9)
        assert r["accuracy"][name] == pytest.approx(float(np.mean((z > 0) == (y == 1))))
    # overlapping clouds: the two convex losses find nearly the same good boundary
    assert r["accuracy"]["cross-entropy (logistic)"] >= 0.85
    assert r["accuracy"]["hinge (linear SVM)"] >= 0.85
    assert r["accuracy"]["perceptron criterion"] > 0.6


def test_gradient_descent_path_on_the_valley_is_the_closed_form():
    A = demo.VALLEY_HESSIAN
    path, values, steps = demo.descend(demo.valley, (-4.0, 1.5), "SGD", 0.02, 50)
    w = np.array([-4.0, 1.5])
    expected = [w]
    for _ in range(50):
        w = w - 0.02 * A @ w
        expected.append(w)
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(values, [0.5 * p @ A @ p for p in expected], rtol=1e-12)
    assert steps is None
    np.testing.assert_allclose(np.linalg.eigvalsh(A), [1.0, 25.0], rtol=1e-14)


def test_rosenbrock_gradient():
    from helpers import numerical_gradient
    for w in ([-1.5, 2.0], [0.3, -0.7], [1.0, 1.0]):
        _, g = demo.rosenbrock(w)
        np.testing.assert_allclose(
            g, numerical_gradient(lambda v: demo.rosenbrock(v)[0], w, h=1e-4),
            rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("quick", [True, False])
def test_optimizers_steps_to_tolerance(quick):
    r = demo.optimizers(quick=quick, file=io.StringIO())
    v, rb = r["valley"], r["rosenbrock"]
    # the same learning rate: momentum beats plain GD, Nesterov beats momentum
    assert v["GD"]["lr"] == v["momentum"]["lr"] == v["Nesterov"]["lr"]
    assert v["GD"]["steps"] > 2 * v["momentum"]["steps"]
    assert v["momentum"]["steps"] > 1.2 * v["Nesterov"]["steps"]
    # Rosenbrock's curved valley: GD does not get there; Adam, AMSGrad and
    # momentum do
    assert rb["GD"]["steps"] is None and rb["GD"]["final"] > 1e-4
    for name in ("momentum", "Nesterov", "Adam", "AMSGrad"):
        assert rb[name]["steps"] is not None, name
    for problem in ("valley", "rosenbrock"):
        for name, o in r[problem].items():
            f = demo.PROBLEMS[problem]["function"]
            assert o["final"] == f(o["path"][-1])[0]
            if o["steps"] is not None:
                assert o["final"] < 1e-6 and len(o["path"]) == o["steps"] + 1
                assert f(o["path"][-2])[0] >= 1e-6


def test_learning_rate_curves():
    r = demo.learning_rate(file=io.StringIO())
    f = r["final"]
    small, good, large, decay = (f[k] for k in demo.LR_RUNS)
    assert small > 1e3 * good           # too small stops short
    assert large > 100 * good           # too large bounces around
    assert decay < large / 100 and decay < 1e-4
    curves = list(r["curves"].values())
    assert all(c.size == r["epochs"] + 1 for c in curves)
    assert len({c[0] for c in curves}) == 1          # the same start
    # the too-large rate bounces: its loss goes up in many epochs
    assert np.sum(np.diff(curves[2]) > 0) >= 8
    # step decay: the first 10 epochs are the too-large run, bit for bit
    np.testing.assert_array_equal(curves[3][:11], curves[2][:11])


def reference_adam_reddi(steps, C, lr, amsgrad):
    """torch.optim.Adam's update with betas (0, 1/(1+C^2)), eps 1e-8, step
    size lr/sqrt(t), projected onto [-1, 1], written from its documentation."""
    beta2 = 1 / (1 + C * C)
    x, v, vmax, out = 0.0, 0.0, 0.0, [0.0]
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v)
        denom = math.sqrt(vmax if amsgrad else v) / math.sqrt(1 - beta2 ** t) + 1e-8
        x = min(1.0, max(-1.0, x - lr / math.sqrt(t) * g / denom))
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("quick", [True, False])
def test_adam_goes_to_plus_one_amsgrad_to_minus_one(quick):
    r = demo.adam_amsgrad(quick=quick, file=io.StringIO())
    assert abs(r["adam_final"] - 1) < 0.1
    assert abs(r["amsgrad_final"] + 1) < 0.1
    n = r["steps"]
    np.testing.assert_allclose(r["adam"], reference_adam_reddi(n, 3.0, 0.5, False),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r["amsgrad"], reference_adam_reddi(n, 3.0, 0.5, True),
                               rtol=1e-12, atol=1e-12)
    # the regret per step: Adam's average loss is far above the optimum's
    t = np.arange(1, n + 1)
    g = np.where(t % 3 == 1, 3.0, -1.0)
    assert np.mean(g * r["adam"][:-1]) > 0.2
    assert np.mean(g * r["amsgrad"][:-1]) < -0.2


def test_digits_accuracy_and_confusion_matrix():
    r = demo.digits(file=io.StringIO())
    assert r["accuracy"]["MLP"] >= 0.95
    assert r["accuracy"]["softmax regression"] >= 0.94
    assert r["n_train"] + r["n_test"] == 1797 and r["n_test"] == 450
    for name, cm in r["confusion"].items():
        assert cm.shape == (10, 10) and cm.sum() == r["n_test"]
        assert np.trace(cm) / r["n_test"] == pytest.approx(r["accuracy"][name])
        # stratified split: 45 +- 1 test images of each digit
        assert np.all(np.abs(cm.sum(axis=1) - 45) <= 1)


def test_confusion_matrix_against_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    ref = np.zeros((4, 4), int)
    for a, b in zip(t, p):
        ref[a, b] += 1
    np.testing.assert_array_equal(demo.confusion_matrix(t, p, 4), ref)


def run(*args, code=None):
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "lossopt", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd="/")


def test_command_writes_six_figures(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "figs"
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(demo.FIGURE_NAMES)
    for name in demo.FIGURE_NAMES:
        data = (out / name).read_bytes()
        assert data[:8] == PNG and 5_000 < len(data) < 400_000, name
    for k in range(1, 7):
        assert f"part {k}/6" in r.stdout and f"Part {k}" in r.stdout
    assert "Adam" in r.stdout and "demo finished" in r.stdout


def test_no_plots_writes_nothing(tmp_path, capsys):
    from lossopt.cli import main
    out = tmp_path / "none"
    assert main(["demo", "--quick", "--no-plots", "--out", str(out)]) == 0
    assert not out.exists()
    text = capsys.readouterr().out
    assert "Part 6" in text and "figures:" not in text


def test_without_matplotlib_the_tables_and_how_to_get_figures(tmp_path):
    out = tmp_path / "figs"
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from lossopt.cli import main\n"
            f"rc = main(['demo', '--quick', '--out', {str(out)!r}])\n"
            "assert 'matplotlib' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
            "sys.exit(rc)\n")
    r = run(code=code)
    assert r.returncode == 0, r.stderr
    assert 'pip install "lossopt[plot]"' in r.stdout
    assert "Part 1a" in r.stdout and "Part 6" in r.stdout
    assert not out.exists()


@pytest.mark.parametrize("kwargs, match", [
    (dict(quick="yes"), "quick"), (dict(plots=3), "plots"), (dict(out=5), "out"),
])
def test_run_demo_rejects_bad_arguments_before_running(kwargs, match, tmp_path):
    buf = io.StringIO()
    with pytest.raises(TypeError, match=match):
        demo.run_demo(**{"file": buf, **kwargs})
    assert buf.getvalue() == ""


def test_run_demo_rejects_unknown_parts():
    with pytest.raises(ValueError, match="parts"):
        demo.run_demo(plots=False, parts=[7], file=io.StringIO())


def test_import_lossopt_does_not_import_matplotlib():
    r = run(code="import sys, lossopt, lossopt.demo, lossopt.plotting; "
                 "print(any(m.startswith('matplotlib') for m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_out_that_is_a_file_is_one_line_and_exit_1(tmp_path):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    r = run("demo", "--quick", "--out", str(target))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"lossopt demo: error: out must be a folder; {str(target)!r} is a file"]
    assert target.read_text() == "keep me" and "Part 1" not in r.stdout


@pytest.mark.parametrize("call, error, match", [
    (lambda: demo.descend(demo.valley, (0, 0), "adam", 0.1, 10), ValueError, "optimizer"),
    (lambda: demo.descend(demo.valley, (0, 0), "Adam", -1.0, 10), ValueError, "lr"),
    (lambda: demo.descend(demo.valley, (0, 0, 0), "Adam", 0.1, 10), ValueError, "start"),
    (lambda: demo.descend(demo.valley, (0, 0), "Adam", 0.1, -5), ValueError, "n_steps"),
    (lambda: demo.descend(3, (0, 0), "Adam", 0.1, 5), TypeError, "function"),
    (lambda: demo.adam_amsgrad(C=2.0, file=io.StringIO()), ValueError, "C must be"),
    (lambda: demo.adam_amsgrad(lr=0.0, file=io.StringIO()), ValueError, "lr"),
    (lambda: demo.confusion_matrix([0, 5], [0, 1], 3), ValueError, "true"),
    (lambda: demo.confusion_matrix([0, 1], [0, 1.5], 3), ValueError, "pred"),
    (lambda: demo.confusion_matrix([0, 1], [0, 1, 1], 3), ValueError, "same length"),
    (lambda: demo.valley([1.0, 2.0, 3.0]), ValueError, "w must be"),
    (lambda: demo.rosenbrock(5.0), ValueError, "w must be"),
    (lambda: demo.regression(quick="x", file=io.StringIO()), TypeError, "quick"),
    (lambda: demo.digits(file=5), TypeError, "file"),
])
def test_public_helpers_name_the_bad_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
