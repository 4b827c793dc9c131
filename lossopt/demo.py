r"""``lossopt demo``: the lecture's claims, run end to end on bundled data.

Six parts, one function each; every part returns a dict of the numbers it
shows (the test suite asserts them), prints a short table, and carries the
arrays its figure needs (:mod:`lossopt.plotting` draws them):

1. :func:`regression` -- the L2 fit of a noisy line is the Gaussian
   maximum-likelihood fit, and the precision :math:`\hat\beta = 1/\overline{r^2}`
   maximises the likelihood; L1 (Laplace) against L2 with outliers.
2. :func:`classification` -- cross-entropy (logistic regression), hinge
   (linear SVM) and the perceptron criterion on a red/blue problem.
3. :func:`optimizers` -- GD, momentum, Nesterov, AdaGrad, RMSProp, Adadelta,
   Adam and AMSGrad on an ill-conditioned valley and on Rosenbrock's function.
4. :func:`learning_rate` -- too small, good, too large, and step decay.
5. :func:`adam_amsgrad` -- Reddi et al.'s counterexample: Adam goes to +1,
   AMSGrad to the optimum -1.
6. :func:`digits` -- softmax regression and an MLP on the bundled digits.

:func:`run_demo` runs them all (what ``lossopt demo`` calls).  Everything is
seeded: two runs print the same tables.  Nothing touches the network.

Examples
--------
>>> import io
>>> from lossopt import demo
>>> r = demo.adam_amsgrad(quick=True, file=io.StringIO())
>>> round(float(r["adam_final"]), 2), round(float(r["amsgrad_final"]), 1)
(1.0, -1.0)
"""

import contextlib
import io
import math
import os
import sys
import time

import numpy as np

__all__ = ["regression", "classification", "optimizers", "learning_rate", "adam_amsgrad",
           "digits", "run_demo", "valley", "rosenbrock", "descend", "confusion_matrix",
           "PARTS", "FIGURE_NAMES"]

#: the file name of each part's figure, in the order of the parts
FIGURE_NAMES = ("1_regression.png", "2_classification.png", "3_optimizers.png",
                "4_learning_rate.png", "5_adam_amsgrad.png", "6_digits.png")


_FILE_DOC = """file : file-like, default sys.stdout
        Where the table goes (None: sys.stdout)."""
_QUICK_IGNORED_DOC = """Parameters
    ----------
    quick : bool, default False
        Ignored: this part is fast either way (the same signature as the
        other parts).
    """ + _FILE_DOC


def _documented(function):
    """Fill the shared parameter texts into a part's docstring."""
    function.__doc__ = (function.__doc__.replace("{quick_ignored}", _QUICK_IGNORED_DOC)
                        .replace("{file}", _FILE_DOC))
    return function


def _out(file, quick=False):
    """The stream a part prints to (None: sys.stdout at call time), after
    checking the parts' shared arguments."""
    from ._validation import check_bool
    check_bool(quick, "quick")
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must be a writable text stream or None, got {file!r}")
    return sys.stdout if file is None else file


def _table(file, title, header, rows):
    """Print `title` and a fixed-width table (first column left-aligned)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r):
        return ("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(r, widths)))).rstrip()
    print(title, file=file)
    print(line(cells[0]), file=file)
    print("  " + "  ".join("-" * w for w in widths), file=file)
    for r in cells[1:]:
        print(line(r), file=file)
    print(file=file)


# --------------------------------------------------------------------------
# 1. regression = Gaussian maximum likelihood
# --------------------------------------------------------------------------

#: the multiples of beta-hat at which part 1 prints the Gaussian NLL
BETA_FACTORS = (0.5, 0.8, 1.0, 1.25, 2.0)


@_documented
def regression(*, quick=False, file=None):
    r"""Part 1: least squares is the Gaussian maximum-likelihood fit.

    A noisy line (the lecture's :math:`x_2 \to x_1`,
    :func:`lossopt.datasets.make_line`, 100 samples) is fitted with
    :class:`~lossopt.models.LinearRegression` and the L2 loss (full-batch
    gradient descent, run to the least-squares solution).  For the fitted
    residuals :math:`r_m`, the Gaussian negative log-likelihood

    .. math::

        -\ln L(\beta) = \tfrac M2 \ln 2\pi - \tfrac M2 \ln\beta
        + \tfrac\beta2 \textstyle\sum_m r_m^2

    (:class:`lossopt.likelihood.Gaussian`) is smallest at
    :math:`\hat\beta = M / \sum_m r_m^2`, one over the mean squared
    residual: the table shows it at :math:`\hat\beta` times 0.5 ... 2.
    Then the same line with 10 outliers is fitted with L2 and with L1
    (:class:`~lossopt.AbsoluteError`, the Laplace likelihood): the table
    shows how far each fit's slope and intercept move from its fit on the
    clean data.

    {quick_ignored}

    Returns
    -------
    dict
        ``beta_hat``, ``mean_squared_residual``, ``beta_grid`` / ``nll_grid``
        (the NLL curve), ``beta_factors`` / ``nll_at_factors`` (the table),
        ``coef_l2`` / ``coef_l1`` (slope, intercept on the clean data),
        ``coef_l2_outliers`` / ``coef_l1_outliers``, ``shift_l2`` /
        ``shift_l1`` (Euclidean distance between the two), and the data
        ``x``, ``y``, ``x_out``, ``y_out``.

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import regression
    >>> r = regression(file=io.StringIO())
    >>> bool(abs(r["beta_hat"] * r["mean_squared_residual"] - 1) < 1e-12)
    True
    >>> bool(r["shift_l1"] < r["shift_l2"])
    True
    """
    from .likelihood import Gaussian
    from .models import LinearRegression
    file = _out(file, quick)
    x, y = _make_line(100, n_outliers=0, random_state=0)
    x_out, y_out = _make_line(100, n_outliers=10, random_state=0)

    def fit(loss, X, t):
        if loss == "squared_error":   # full-batch GD: converges to least squares
            m = LinearRegression(optimizer="gd", lr=0.5, alpha=0.0, tol=None, max_epochs=200)
        else:
            m = LinearRegression(loss=loss, random_state=0)
        m.fit(X, t)
        return m, np.array([m.coef_[0], m.intercept_])

    l2, coef_l2 = fit("squared_error", x, y)
    residual = y - l2.predict(x)
    msr = float(np.mean(residual ** 2))
    beta_hat = 1.0 / msr
    pred = l2.predict(x)

    def nll(beta):
        return Gaussian(beta=beta).nll(y, pred)

    factors = np.array(BETA_FACTORS)
    nll_factors = np.array([nll(beta_hat * f) for f in factors])
    grid = beta_hat * np.geomspace(0.25, 4.0, 121)
    nll_grid = np.array([nll(b) for b in grid])

    _, coef_l1 = fit("absolute_error", x, y)
    _, coef_l2_out = fit("squared_error", x_out, y_out)
    _, coef_l1_out = fit("absolute_error", x_out, y_out)
    shift_l2 = float(np.linalg.norm(coef_l2_out - coef_l2))
    shift_l1 = float(np.linalg.norm(coef_l1_out - coef_l1))

    _table(file, f"Part 1a  L2 fit = Gaussian MLE: beta_hat = 1/mean(residual^2) = "
                 f"{beta_hat:.4g}",
           ["beta", "beta/beta_hat", "Gaussian NLL", ""],
           [[f"{beta_hat * f:.4g}", f"{f:g}", f"{v:.3f}", "<- min" if f == 1 else ""]
            for f, v in zip(factors, nll_factors)])
    _table(file, "Part 1b  L1 vs L2 with 10 outliers (slope, intercept)",
           ["loss", "clean data", "with outliers", "moved by"],
           [["L2 (Gaussian)", _pair(coef_l2), _pair(coef_l2_out), f"{shift_l2:.3f}"],
            ["L1 (Laplace)", _pair(coef_l1), _pair(coef_l1_out), f"{shift_l1:.3f}"]])
    return dict(beta_hat=beta_hat, mean_squared_residual=msr, beta_grid=grid,
                nll_grid=nll_grid, beta_factors=factors, nll_at_factors=nll_factors,
                coef_l2=coef_l2, coef_l1=coef_l1, coef_l2_outliers=coef_l2_out,
                coef_l1_outliers=coef_l1_out, shift_l2=shift_l2, shift_l1=shift_l1,
                x=x[:, 0], y=y, x_out=x_out[:, 0], y_out=y_out)


def _pair(c):
    return f"({c[0]:.3f}, {c[1]:.3f})"


# --------------------------------------------------------------------------
# 2. classification: cross-entropy, hinge, perceptron criterion
# --------------------------------------------------------------------------

@_documented
def classification(*, quick=False, file=None):
    r"""Part 2: three losses, three linear decision boundaries.

    On the two-class red/blue problem (:func:`lossopt.datasets.make_red_blue`,
    200 samples) it fits :class:`~lossopt.models.LogisticRegression`
    (cross-entropy, the Bernoulli likelihood),
    :class:`~lossopt.models.LinearSVM` with ``loss="hinge"`` (hinge + L2:
    the soft-margin SVM) and :class:`~lossopt.models.Perceptron` (the
    perceptron criterion), each with its defaults, and prints each model's
    training accuracy and its own mean training loss on its scores
    (:class:`~lossopt.BinaryCrossEntropy`, :class:`~lossopt.Hinge`,
    :class:`~lossopt.Perceptron`; the penalty not included).  The clouds
    overlap, so no line separates them: cross-entropy and hinge settle on
    nearly the same boundary, while the perceptron, one sample per step,
    stops wherever its tolerance rule ends it (the perceptron criterion
    only converges on separable data).

    {quick_ignored}

    Returns
    -------
    dict
        ``X``, ``y`` (the data), ``models`` (name -> (coef (2,), intercept)),
        ``accuracy`` and ``loss`` (name -> float).

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import classification
    >>> r = classification(file=io.StringIO())
    >>> sorted(r["accuracy"])
    ['cross-entropy (logistic)', 'hinge (linear SVM)', 'perceptron criterion']
    """
    from .losses import BinaryCrossEntropy, Hinge, Perceptron as PerceptronLoss
    from .models import LinearSVM, LogisticRegression, Perceptron
    file = _out(file, quick)
    X, y = _make_red_blue(200, random_state=0)
    specs = [("cross-entropy (logistic)", LogisticRegression(random_state=0),
              BinaryCrossEntropy()),
             ("hinge (linear SVM)", LinearSVM(loss="hinge", random_state=0), Hinge()),
             ("perceptron criterion", Perceptron(random_state=0), PerceptronLoss())]
    models, accuracy, loss = {}, {}, {}
    for name, model, loss_fn in specs:
        model.fit(X, y)
        scores = model.decision_function(X)
        models[name] = (np.asarray(model.coef_, float).reshape(-1),
                        float(np.asarray(model.intercept_).reshape(-1)[0]))
        accuracy[name] = float(np.mean((scores > 0) == (y == 1)))
        loss[name] = float(loss_fn(scores, y))
    _table(file, "Part 2  red/blue: three losses, three linear boundaries (training set)",
           ["loss (model)", "accuracy", "mean loss"],
           [[n, f"{accuracy[n]:.3f}", f"{loss[n]:.4f}"] for n in models])
    return dict(X=X, y=y, models=models, accuracy=accuracy, loss=loss)


# --------------------------------------------------------------------------
# 3. optimizers on a valley and on Rosenbrock's function
# --------------------------------------------------------------------------

_VALLEY_ANGLE = math.radians(30.0)
_VALLEY_ROT = np.array([[math.cos(_VALLEY_ANGLE), -math.sin(_VALLEY_ANGLE)],
                        [math.sin(_VALLEY_ANGLE), math.cos(_VALLEY_ANGLE)]])
#: the valley's Hessian: curvatures 1 and 25 (condition number 25), axes turned by 30 degrees
VALLEY_HESSIAN = _VALLEY_ROT @ np.diag([1.0, 25.0]) @ _VALLEY_ROT.T


def _plane_points(w):
    """`w` as float64 of shape (2,) or (2, ...): points of the plane."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 0 or w.shape[0] != 2:
        raise ValueError(f"w must be a point of the plane, shape (2,) or (2, ...); got "
                         f"shape {w.shape}")
    return w


def valley(w):
    r"""The ill-conditioned quadratic valley :math:`f(w) = \frac12 w^\top A w`
    and its gradient :math:`A w`.

    :math:`A` (``VALLEY_HESSIAN``) has eigenvalues 1 and 25, with axes
    turned by 30 degrees so that no optimizer's per-coordinate scaling lines
    up with them.  The minimum is 0 at the origin.  `w` has shape (2,), or
    (2, ...) for many points at once (the figure's contours).

    Examples
    --------
    >>> from lossopt.demo import valley
    >>> f, g = valley([1.0, 0.0])
    >>> round(f, 4), g.round(4).tolist()
    (3.5, [7.0, -10.3923])
    """
    w = _plane_points(w)
    g = np.tensordot(VALLEY_HESSIAN, w, axes=1)
    f = 0.5 * np.sum(w * g, axis=0)
    return (float(f) if w.ndim == 1 else f), g


def rosenbrock(w):
    r"""Rosenbrock's function :math:`f(x, y) = (1 - x)^2 + 100 (y - x^2)^2`
    and its gradient; the minimum is 0 at (1, 1), at the end of a curved,
    flat-bottomed valley.  `w` has shape (2,), or (2, ...).

    Examples
    --------
    >>> from lossopt.demo import rosenbrock
    >>> f, g = rosenbrock([0.0, 0.0])
    >>> f, g.tolist()
    (1.0, [-2.0, 0.0])
    """
    w = _plane_points(w)
    x, y = w[0], w[1]
    d = y - x * x
    f = (1 - x) ** 2 + 100 * d * d
    return (float(f) if w.ndim == 1 else f), np.array([-2 * (1 - x) - 400 * x * d, 200 * d])


#: the problems of part 3: function, start, steps (full, quick), tolerance on f
PROBLEMS = {
    "valley": dict(function=valley, start=(-4.0, 1.5), steps=(1000, 1000), tol=1e-6),
    "rosenbrock": dict(function=rosenbrock, start=(-1.5, 2.0), steps=(5000, 2000), tol=1e-6),
}

#: the optimizers of part 3 as (lossopt.optim class name, keyword arguments)
OPTIMIZERS = {
    "GD": ("SGD", {}),
    "momentum": ("SGD", dict(momentum=0.9)),
    "Nesterov": ("SGD", dict(momentum=0.9, nesterov=True)),
    "AdaGrad": ("Adagrad", {}),
    "RMSProp": ("RMSprop", dict(alpha=0.9)),
    "Adadelta": ("Adadelta", dict(rho=0.95)),
    "Adam": ("Adam", {}),
    "AMSGrad": ("Adam", dict(amsgrad=True)),
}

#: learning rate of each optimizer on each problem, hand-picked after a grid
#: search over 10**(k/4) (steps to f < 1e-6 from the same start): each rate
#: reaches the tolerance or gets low, with a path that stays readable in the
#: figure.  GD, momentum and Nesterov share one rate per problem (the
#: lecture's comparison: the same step with and without momentum).  Larger
#: rates are faster for some, with wilder paths: on the valley AdaGrad at 5.6
#: (109 steps), Adam and AMSGrad at 3.2 (134, 117); on Rosenbrock Adam and
#: AMSGrad at 1.8 (435, 479).
LEARNING_RATES = {
    "valley": {"GD": 0.02, "momentum": 0.02, "Nesterov": 0.02, "AdaGrad": 3.0,
               "RMSProp": 0.3, "Adadelta": 10.0, "Adam": 0.3, "AMSGrad": 0.3},
    "rosenbrock": {"GD": 0.001, "momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 1.0,
                   "RMSProp": 0.001, "Adadelta": 0.05, "Adam": 0.1, "AMSGrad": 0.1},
}


def descend(function, start, optimizer, lr, n_steps, tol=0.0, **kwargs):
    """Minimise a 2-D `function` (returning value and gradient) from `start`
    with the :mod:`lossopt.optim` class named `optimizer`.

    Returns
    -------
    path : ndarray of shape (k + 1, 2)
        The iterates, from `start` to the last one evaluated.
    values : ndarray of shape (k + 1,)
        `function` at each of them.
    steps : int or None
        The number of steps after which the value first fell below `tol`,
        None when it did not within `n_steps` (or the run diverged: a
        value above 1e6 or not finite stops it).

    Examples
    --------
    >>> from lossopt.demo import descend, valley
    >>> path, values, steps = descend(valley, (1.0, 1.0), "SGD", 0.02, 1000, tol=1e-6)
    >>> steps, path.shape
    (341, (342, 2))
    """
    from . import optim
    from ._validation import check_int, check_positive_float
    if not callable(function):
        raise TypeError(f"function must be callable(w) -> (value, gradient), got {function!r}")
    names = [n for n in optim.__all__ if isinstance(getattr(optim, n), type)
             and issubclass(getattr(optim, n), optim.Optimizer) and n != "Optimizer"]
    if optimizer not in names:
        raise ValueError(f"optimizer must be the name of a lossopt.optim optimizer, one of "
                         f"{names}; got {optimizer!r}")
    lr = check_positive_float(lr, "lr")
    n_steps = check_int(n_steps, "n_steps", 0)
    w = np.array(start, dtype=np.float64)
    if w.shape != (2,):
        raise ValueError(f"start must be a point of the plane, shape (2,); got shape {w.shape}")
    opt = getattr(optim, optimizer)([w], lr=lr, **kwargs)
    grad = np.empty(2)
    path, values, steps = [w.copy()], [], None
    for k in range(n_steps + 1):
        f, g = function(w)
        values.append(f)
        if f < tol:
            steps = k
            break
        if k == n_steps or not (np.isfinite(f) and f < 1e6):
            break
        grad[:] = g
        opt.step([grad])
        path.append(w.copy())
    return np.array(path), np.array(values), steps


@_documented
def optimizers(*, quick=False, file=None):
    """Part 3: eight optimizers, same start, on a valley and on Rosenbrock.

    Each optimizer of :data:`OPTIMIZERS` (all from :mod:`lossopt.optim`,
    full-batch analytic gradients) starts at the same point of each problem
    of :data:`PROBLEMS` (:func:`valley`, :func:`rosenbrock`) with the learning
    rate of :data:`LEARNING_RATES`; the table gives the steps until
    :math:`f < 10^{-6}` (or "not reached within N" and the value at N).
    Momentum and Nesterov use μ = 0.9; Nesterov heads into the valley with
    fewer oscillations than momentum at the same step size.

    Parameters
    ----------
    quick : bool, default False
        Quick: at most 2000 steps on Rosenbrock (5000 otherwise).
    {file}

    Returns
    -------
    dict
        ``problem -> {optimizer -> dict(steps, final, lr, path)}``, plus
        ``"n_steps"``: problem -> the step budget.

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import optimizers
    >>> r = optimizers(quick=True, file=io.StringIO())
    >>> v = r["valley"]
    >>> v["GD"]["steps"] > v["momentum"]["steps"] > v["Nesterov"]["steps"]
    True
    """
    file = _out(file, quick)
    result = {"n_steps": {}}
    for problem, spec in PROBLEMS.items():
        n = spec["steps"][1 if quick else 0]
        result["n_steps"][problem] = n
        result[problem] = {}
        for name, (cls, kwargs) in OPTIMIZERS.items():
            lr = LEARNING_RATES[problem][name]
            path, values, steps = descend(spec["function"], spec["start"], cls, lr, n,
                                          spec["tol"], **kwargs)
            result[problem][name] = dict(steps=steps, final=float(values[-1]), lr=lr,
                                         path=path)
    rows = []
    for name in OPTIMIZERS:
        row = [name]
        for problem in PROBLEMS:
            r = result[problem][name]
            row += [f"{r['lr']:g}", str(r["steps"]) if r["steps"] is not None
                    else f"not within {result['n_steps'][problem]} (f={r['final']:.1e})"]
        rows.append(row)
    _table(file, "Part 3  steps until f < 1e-6, same start (valley: condition number 25)",
           ["optimizer", "lr", "valley", "lr", "Rosenbrock"], rows)
    return result


# --------------------------------------------------------------------------
# 4. learning rate
# --------------------------------------------------------------------------

#: part 4's runs: label -> (initial learning rate, StepLR step_size or None)
LR_RUNS = {"too small (0.001)": (0.001, None), "good (0.05)": (0.05, None),
           "too large (1.5)": (1.5, None),
           "step decay (1.5, /10 every 10 epochs)": (1.5, 10)}


@_documented
def learning_rate(*, quick=False, file=None):
    r"""Part 4: too small stops short, too large bounces, decay converges.

    Mini-batch SGD (batches of 10, reshuffled each epoch with a fixed seed,
    30 epochs) fits the least-squares line to the part-1 data (feature
    standardised) with the L2 loss :class:`~lossopt.SquaredError`, for the
    learning rates of :data:`LR_RUNS`, one of them with
    :class:`~lossopt.optim.StepLR` (divided by 10 every 10 epochs).  The
    curve is the training loss above its minimum (NumPy's least-squares
    solution) after each epoch.

    {quick_ignored}

    Returns
    -------
    dict
        ``curves`` (label -> ndarray of 31 excess losses, the first at the
        start), ``final`` (label -> the last of them), ``epochs``.

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import learning_rate
    >>> f = learning_rate(file=io.StringIO())["final"]
    >>> bool(f["good (0.05)"] < f["too small (0.001)"])
    True
    """
    from .losses import SquaredError
    from .optim import SGD, StepLR
    file = _out(file, quick)
    x, y = _make_line(100, n_outliers=0, random_state=0)
    x = x[:, 0]
    X = np.column_stack([(x - x.mean()) / x.std(), np.ones_like(x)])
    loss = SquaredError()
    best = loss(X @ np.linalg.lstsq(X, y, rcond=None)[0], y)
    epochs, batch = 30, 10
    curves, final = {}, {}
    for label, (lr, step_size) in LR_RUNS.items():
        rng = np.random.default_rng(0)
        w = np.zeros(2)
        opt = SGD([w], lr=lr)
        sched = StepLR(opt, step_size=step_size) if step_size else None
        grad = np.empty(2)
        curve = [loss(X @ w, y) - best]
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for i in range(0, len(y), batch):
                b = order[i:i + batch]
                _, g = loss.loss_and_gradient(X[b] @ w, y[b])
                np.matmul(X[b].T, g, out=grad)
                opt.step([grad])
            if sched is not None:
                sched.step()
            curve.append(loss(X @ w, y) - best)
        curves[label] = np.array(curve)
        final[label] = float(curve[-1])
    _table(file, f"Part 4  mini-batch SGD, {epochs} epochs: training loss above its minimum",
           ["learning rate", "after 1 epoch", "after 10", f"after {epochs}"],
           [[label, f"{c[1]:.2e}", f"{c[10]:.2e}", f"{c[-1]:.2e}"]
            for label, c in curves.items()])
    return dict(curves=curves, final=final, epochs=epochs)


# --------------------------------------------------------------------------
# 5. Adam vs AMSGrad (Reddi, Kale & Kumar 2018)
# --------------------------------------------------------------------------

@_documented
def adam_amsgrad(*, quick=False, file=None, C=3.0, lr=0.5):
    r"""Part 5: Adam fails on Reddi et al.'s convex problem, AMSGrad does not.

    The online problem of Reddi, Kale & Kumar (2018), section 3: on
    :math:`x \in [-1, 1]` the loss at step :math:`t` is

    .. math::

        f_t(x) = \begin{cases} C x & t \bmod 3 = 1 \\ -x & \text{else,} \end{cases}

    with :math:`C = 3`, so the average loss :math:`(C - 2)x/3` is minimised
    at :math:`x = -1`.  :class:`~lossopt.optim.Adam` with the paper's
    :math:`\beta_1 = 0`, :math:`\beta_2 = 1/(1 + C^2)` and step size
    :math:`\alpha/\sqrt t` (:class:`~lossopt.optim.LambdaLR`; here
    :math:`\alpha` = `lr` = 0.5), the iterate projected back onto
    :math:`[-1, 1]` after each step, from :math:`x = 0`: the rare large
    gradient :math:`C` is forgotten so quickly that the frequent :math:`-1`
    steps win and Adam drifts to +1, the worst point.  The same with
    ``amsgrad=True`` (the running maximum of the second moment) goes to -1.
    lossopt's Adam is torch's, with bias correction (the paper's has none):
    with :math:`\beta_1 = 0` only the second moment is corrected, by a factor
    that tends to 1, and the outcome is the same.

    Parameters
    ----------
    quick : bool, default False
        300 steps instead of 3000.
    {file}
    C : float > 2, default 3.0
    lr : float, default 0.5

    Returns
    -------
    dict
        ``adam`` and ``amsgrad`` (the iterates, ndarray of n + 1 values from
        :math:`x_0 = 0`), ``adam_final``, ``amsgrad_final``, ``optimum`` (-1),
        ``steps``, ``C``, ``beta2``.

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import adam_amsgrad
    >>> r = adam_amsgrad(quick=True, file=io.StringIO())
    >>> r["steps"], round(r["beta2"], 3)
    (300, 0.1)
    """
    from .optim import Adam, LambdaLR
    file = _out(file, quick)
    from ._validation import check_finite_float, check_positive_float
    if not check_finite_float(C, "C") > 2.0:
        raise ValueError(f"C must be a float > 2 (Reddi et al.'s condition for the "
                         f"counterexample), got {C!r}")
    lr = check_positive_float(lr, "lr")
    steps = 300 if quick else 3000
    beta2 = 1.0 / (1.0 + C * C)
    paths = {}
    for amsgrad in (False, True):
        x = np.zeros(1)
        opt = Adam([x], lr=lr, betas=(0.0, beta2), amsgrad=amsgrad)
        sched = LambdaLR(opt, lambda epoch: 1.0 / math.sqrt(epoch + 1))
        grad = np.empty(1)
        path = [0.0]
        for t in range(1, steps + 1):
            grad[0] = C if t % 3 == 1 else -1.0
            opt.step([grad])
            np.clip(x, -1.0, 1.0, out=x)       # projection onto the feasible set
            sched.step()
            path.append(float(x[0]))
        paths["amsgrad" if amsgrad else "adam"] = np.array(path)
    rows = [[name, f"{p[-1]:+.4f}", f"{p[-3:].mean():+.4f}",
             f"{(C - 2) / 3 * p[-3:].mean():+.4f}"]
            for name, p in (("Adam", paths["adam"]), ("AMSGrad", paths["amsgrad"]))]
    rows.append(["optimum", "-1", "-1", f"{-(C - 2) / 3:+.4f}"])
    _table(file, f"Part 5  Reddi et al. 2018: f_t(x) = {C:g}x if t mod 3 == 1 else -x, "
                 f"x in [-1, 1]; beta1 = 0, beta2 = 1/(1+C^2), lr = {lr:g}/sqrt(t), "
                 f"{steps} steps",
           ["optimizer", "final x", "mean x, last 3", "mean loss there"], rows)
    return dict(adam=paths["adam"], amsgrad=paths["amsgrad"],
                adam_final=float(paths["adam"][-1]), amsgrad_final=float(paths["amsgrad"][-1]),
                optimum=-1.0, steps=steps, C=C, beta2=beta2)


# --------------------------------------------------------------------------
# 6. digits
# --------------------------------------------------------------------------

@_documented
def digits(*, quick=False, file=None):
    """Part 6: softmax regression and an MLP on the bundled digits.

    The UCI optical digits bundled with lossopt
    (:func:`lossopt.datasets.load_digits`, 1797 images of 8x8 pixels, 10
    classes), split once into 75 % training and 25 % test data with a fixed
    seed (stratified by class).  :class:`~lossopt.models.SoftmaxRegression`
    (softmax + cross-entropy: the categorical likelihood) and
    :class:`~lossopt.models.MLPClassifier` (one hidden layer of 100 ReLU
    units, Adam, mini-batches of 200) train with their defaults
    (``random_state=0``); the table gives test accuracy, the confusion
    matrix (rows: true digit, columns: predicted) is the MLP's.  Training
    runs with NumPy's BLAS limited to one thread when threadpoolctl is
    installed: on these small matrices more threads only cost time (20x on
    a busy 2-core machine).

    Parameters
    ----------
    quick : bool, default False
        Quick: the MLP trains at most 60 epochs and softmax regression 200
        (otherwise their tolerance rules stop them, after about 200 and 630).
    {file}

    Returns
    -------
    dict
        ``accuracy`` (name -> test accuracy), ``confusion`` (name -> 10x10
        int array), ``n_train``, ``n_test``, ``epochs`` (name -> epochs run).

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import digits
    >>> r = digits(quick=True, file=io.StringIO())
    >>> int(r["confusion"]["MLP"].sum()) == r["n_test"]
    True
    """
    from .models import MLPClassifier, SoftmaxRegression
    file = _out(file, quick)
    X, y = _load_digits()
    train, test = _stratified_split(y, 0.25, random_state=0)
    cap = {"max_epochs": 200} if quick else {}
    models = {"softmax regression": SoftmaxRegression(random_state=0, **cap),
              "MLP": MLPClassifier(random_state=0, **({"max_epochs": 60} if quick else {}))}
    accuracy, confusion, epochs = {}, {}, {}
    for name, model in models.items():
        with _one_blas_thread():
            model.fit(X[train], y[train])
        pred = model.predict(X[test])
        accuracy[name] = float(np.mean(pred == y[test]))
        confusion[name] = confusion_matrix(y[test], pred, 10)
        epochs[name] = int(model.n_iter_)
    _table(file, f"Part 6  digits ({len(train)} training, {len(test)} test images)",
           ["model", "epochs", "test accuracy"],
           [[n, str(epochs[n]), f"{accuracy[n]:.4f}"] for n in models])
    cm = confusion["MLP"]
    _table(file, "        MLP confusion matrix (rows: true digit, columns: predicted)",
           ["true"] + [str(k) for k in range(10)],
           [[str(k)] + [str(v) for v in cm[k]] for k in range(10)])
    return dict(accuracy=accuracy, confusion=confusion, n_train=len(train),
                n_test=len(test), epochs=epochs)


def confusion_matrix(true, pred, n_classes):
    """Counts of (true, predicted) label pairs: ``C[i, j]`` is the number of
    samples of class i predicted as j.

    Examples
    --------
    >>> from lossopt.demo import confusion_matrix
    >>> confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], 2).tolist()
    [[1, 1], [0, 2]]
    """
    from ._validation import check_int
    n_classes = check_int(n_classes, "n_classes", 1)
    true, pred = np.asarray(true), np.asarray(pred)
    for name, labels in (("true", true), ("pred", pred)):
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or (
                labels.size and not (0 <= labels.min() and labels.max() < n_classes)):
            raise ValueError(f"{name} must be a 1-d array of integer labels in "
                             f"[0, {n_classes}), got {labels!r}")
    if true.shape != pred.shape:
        raise ValueError(f"true and pred must have the same length, got {true.size} "
                         f"and {pred.size}")
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def _stratified_split(y, test_fraction, random_state):
    """(train, test) index arrays: each class split in the given fraction."""
    rng = np.random.default_rng(random_state)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# --------------------------------------------------------------------------
# data (lossopt.datasets)
# --------------------------------------------------------------------------

def _make_line(n, n_outliers, random_state):
    from .datasets import make_line
    return make_line(n, n_outliers=n_outliers, random_state=random_state)


def _make_red_blue(n, random_state):
    from .datasets import make_red_blue
    return make_red_blue(n, random_state=random_state)


def _load_digits():
    from .datasets import load_digits
    return load_digits(return_X_y=True)


# --------------------------------------------------------------------------
# the whole demo
# --------------------------------------------------------------------------

#: the parts in order: (title, function)
PARTS = (("regression = Gaussian MLE", regression),
         ("classification losses", classification),
         ("optimizers", optimizers),
         ("learning rate", learning_rate),
         ("Adam vs AMSGrad", adam_amsgrad),
         ("digits", digits))


def run_demo(out="lossopt-demo", plots=True, quick=False, file=None, *, parts=None):
    """Run the six parts, print their tables and write their figures.

    Parameters
    ----------
    out : str or path, default "lossopt-demo"
        Folder for the figures (created if missing); they are named as in
        :data:`FIGURE_NAMES`, and existing files of those names are replaced.
    plots : bool, default True
        Write the figures (needs matplotlib, the ``plot`` extra: without it
        the tables are printed and one line says how to get the figures).
    quick : bool, default False
        Shorter runs (parts 3, 5 and 6), the same claims.
    file : file-like, default sys.stdout
        Where tables and progress lines go (None: sys.stdout).  A tqdm bar (the ``progress``
        extra) on stderr replaces the progress lines when stderr is a
        terminal.
    parts : iterable of int, optional
        Run only these parts (1 to 6); all by default.

    Returns
    -------
    dict
        Part name -> its result, plus ``"figures"`` (the paths written) and
        ``"seconds"``.

    Raises
    ------
    NotADirectoryError
        `out` is an existing file (checked before anything runs); other
        ``OSError`` when the folder cannot be created.

    Examples
    --------
    >>> import io
    >>> from lossopt.demo import run_demo
    >>> buf = io.StringIO()
    >>> r = run_demo(plots=False, quick=True, file=buf, parts=[5])
    >>> print(buf.getvalue().splitlines()[0])
    part 5/6: Adam vs AMSGrad ...
    >>> sorted(r), r["figures"]
    (['adam_amsgrad', 'figures', 'seconds'], [])
    """
    from . import plotting
    from ._validation import check_bool
    plots, quick = check_bool(plots, "plots"), check_bool(quick, "quick")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder name (str or path), got {out!r}")
    file = _out(file, quick)
    t0 = time.perf_counter()
    chosen = range(1, len(PARTS) + 1) if parts is None else sorted(set(parts))
    if any(k not in range(1, len(PARTS) + 1) for k in chosen):
        raise ValueError(f"parts must be numbers from 1 to {len(PARTS)}, got {parts!r}")
    if plots and not plotting.available():
        print('matplotlib is not installed: tables only; pip install "lossopt[plot]" '
              "to get the figures", file=file)
        plots = False
    if plots:
        if os.path.exists(out) and not os.path.isdir(out):
            raise NotADirectoryError(f"out must be a folder; {os.fspath(out)!r} is a file")
        os.makedirs(out, exist_ok=True)
    bar = _progress_bar(len(chosen))
    results, figures = {}, []
    for k in chosen:
        (title, part), fig_name, draw = PARTS[k - 1], FIGURE_NAMES[k - 1], plotting.FIGURES[k - 1]
        if bar is None:
            print(f"part {k}/{len(PARTS)}: {title} ...", file=file, flush=True)
        else:
            bar.set_description(title)
        if bar is None:
            result = part(quick=quick, file=file)
        else:                     # the table written above the bar once the part is done
            buf = io.StringIO()
            result = part(quick=quick, file=buf)
            bar.write(buf.getvalue(), file=file, end="")
        if plots:
            path = os.path.join(out, fig_name)
            draw(result, path)
            figures.append(path)
        results[part.__name__] = result
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    if figures:
        print(f"figures: {', '.join(os.path.basename(p) for p in figures)} in "
              f"{os.path.abspath(out)}", file=file)
    print(f"demo finished in {seconds:.1f} s", file=file)
    results["figures"] = figures
    results["seconds"] = seconds
    return results


def _one_blas_thread():
    """Context: NumPy's BLAS on one thread (threadpoolctl), or nothing
    without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _progress_bar(total):
    """A tqdm bar on stderr when tqdm is installed and stderr is a terminal."""
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="part", file=sys.stderr, leave=False)
