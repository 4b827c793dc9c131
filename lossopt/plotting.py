"""Figures of the demo (:mod:`lossopt.demo`), one per part.

Each ``plot_*`` function takes the dict its demo part returns and a path, and
writes a PNG there (about 100 dpi).  matplotlib (the ``plot`` extra,
``pip install "lossopt[plot]"``) is imported inside the functions, never by
``import lossopt``; the figures are drawn on matplotlib's ``Figure`` object
with the Agg canvas, without pyplot, so they neither need a display nor
change the backend of a running session.
"""

import numpy as np

__all__ = ["available", "plot_regression", "plot_classification", "plot_optimizers",
           "plot_learning_rate", "plot_adam_amsgrad", "plot_digits", "FIGURES"]

_DPI = 100
_RED, _BLUE = "#d62728", "#1f77b4"


_PARAMETERS = """Parameters
    ----------
    result : dict
        What the demo part returns.
    path : str or path-like
        The PNG file to write (replaced if it exists).

    Returns
    -------
    path
        `path`, as given."""


def _documented(function):
    """Put the shared Parameters and Returns sections into a plot function's docstring."""
    function.__doc__ = function.__doc__.replace("{parameters}", _PARAMETERS)
    return function


def available():
    """True when matplotlib can be imported (the figures need it).

    Examples
    --------
    >>> from lossopt.plotting import available
    >>> isinstance(available(), bool)
    True
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width, height, ncols=1):
    """A matplotlib Figure (no pyplot) with `ncols` axes side by side."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _save(fig, path, tight=True):
    """Write `fig` as a PNG of at most 256 colours (Pillow, which matplotlib
    requires, quantises the Agg rendering): a third of the size of the
    RGBA file, no visible difference for line art."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image
    if tight:
        fig.tight_layout()
    fig.set_dpi(_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    image.quantize(colors=256).save(path, format="png", optimize=True)
    return path


@_documented
def plot_regression(result, path):
    """Part 1's figure: the L2 fit, the Gaussian NLL against the precision,
    and L1 vs L2 on the data with outliers.

    {parameters}

    Examples
    --------
    >>> import io, os, tempfile
    >>> from lossopt import demo
    >>> from lossopt.plotting import plot_regression
    >>> r = demo.regression(file=io.StringIO())
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = plot_regression(r, os.path.join(d, "1.png"))
    ...     open(p, "rb").read(4) == b"\\x89PNG"
    True
    """
    fig, (a, b, c) = _figure(14, 4.3, 3)
    x, y = result["x"], result["y"]
    grid = np.linspace(x.min(), x.max(), 2)

    def line(ax, coef, **kw):
        ax.plot(grid, coef[0] * grid + coef[1], **kw)

    a.scatter(x, y, s=12, color="0.4", label="data")
    line(a, result["coef_l2"], color=_BLUE, lw=2,
         label=f"L2 fit: x1 = {result['coef_l2'][0]:.2f} x2 + {result['coef_l2'][1]:.2f}")
    a.set(xlabel="x2", ylabel="x1", title="L2 loss = Gaussian maximum likelihood")
    a.legend(loc="upper left", fontsize=8)

    beta_hat = result["beta_hat"]
    b.plot(result["beta_grid"], result["nll_grid"], color="k", lw=1.5,
           label="Gaussian NLL of the residuals")
    b.scatter(beta_hat * result["beta_factors"], result["nll_at_factors"], color=_BLUE,
              zorder=3, s=20, label="table points")
    b.axvline(beta_hat, color=_RED, ls="--",
              label=f"beta_hat = 1/mean(r^2) = {beta_hat:.3g}")
    b.set_xscale("log")
    b.set(xlabel="precision beta (log scale)", ylabel="-ln L(beta)",
          title="beta_hat minimises the NLL")
    b.legend(loc="upper center", fontsize=8)

    c.scatter(result["x_out"], result["y_out"], s=12, color="0.4", label="data with outliers")
    line(c, result["coef_l2_outliers"], color=_BLUE, lw=2,
         label=f"L2 (Gaussian), moved {result['shift_l2']:.2f}")
    line(c, result["coef_l1_outliers"], color=_RED, lw=2,
         label=f"L1 (Laplace), moved {result['shift_l1']:.2f}")
    line(c, result["coef_l2"], color="0.5", lw=1, ls=":", label="L2 fit without outliers")
    c.set(xlabel="x2", ylabel="x1", title="outliers pull L2, barely L1")
    c.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


@_documented
def plot_classification(result, path):
    """Part 2's figure: the red/blue dots and the three decision boundaries.

    {parameters}

    Examples
    --------
    >>> import io, pathlib, shutil, tempfile
    >>> from lossopt.demo import classification
    >>> from lossopt.plotting import plot_classification
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> plot_classification(classification(file=io.StringIO()), folder / "2.png").name
    '2.png'
    >>> shutil.rmtree(folder)
    """
    fig, (ax,) = _figure(7, 6.5)
    X, y = result["X"], result["y"]
    ax.scatter(*X[y == 0].T, s=14, color=_RED, label="red (0)")
    ax.scatter(*X[y == 1].T, s=14, color=_BLUE, label="blue (1)")
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    xs = np.linspace(lo[0], hi[0], 2)
    for (name, (w, b)), style in zip(result["models"].items(), ("-", "--", ":")):
        acc = result["accuracy"][name]
        ax.plot(xs, -(w[0] * xs + b) / w[1], color="k", ls=style, lw=2,
                label=f"{name}: accuracy {acc:.3f}")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="feature 1", ylabel="feature 2",
           title="Decision boundaries of three losses")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    return _save(fig, path)


@_documented
def plot_optimizers(result, path):
    """Part 3's figure: contours of the valley and of Rosenbrock's function
    with each optimizer's path from the same start.

    {parameters}

    Examples
    --------
    A 1150 x 1100 pixel PNG, two problems of 2 x 4 panels:

    >>> import io, tempfile
    >>> from PIL import Image
    >>> from lossopt import demo, plotting
    >>> with tempfile.NamedTemporaryFile(suffix=".png") as png:
    ...     _ = plotting.plot_optimizers(demo.optimizers(quick=True, file=io.StringIO()), png.name)
    ...     Image.open(png.name).size
    (1150, 1100)
    """
    from matplotlib.figure import Figure
    from .demo import PROBLEMS
    fig = Figure(figsize=(11.5, 11))
    # fixed margins (no layout engine: it would cost more than the drawing)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.94, wspace=0.04,
                        hspace=0.22)
    grid = fig.add_gridspec(5, 4, height_ratios=[1, 1, 0.12, 1, 1])
    views = {"valley": ((-5.0, 5.0), (-3.5, 3.5)), "rosenbrock": ((-2.0, 2.0), (-1.0, 3.0))}
    titles = {"valley": "Ill-conditioned quadratic valley (condition number 25)",
              "rosenbrock": "Rosenbrock's function"}
    for first_row, (problem, (xlim, ylim)) in zip((0, 3), views.items()):
        f = PROBLEMS[problem]["function"]
        n = result["n_steps"][problem]
        gx, gy = np.meshgrid(np.linspace(*xlim, 120), np.linspace(*ylim, 120))
        gz = f(np.stack([gx, gy]))[0]
        levels = np.geomspace(max(gz.min(), 1e-2), gz.max(), 14)
        start = PROBLEMS[problem]["start"]
        minimum = (0.0, 0.0) if problem == "valley" else (1.0, 1.0)
        for k, (name, r) in enumerate(result[problem].items()):
            ax = fig.add_subplot(grid[first_row + k // 4, k % 4])
            ax.contour(gx, gy, gz, levels=levels, colors="0.75", linewidths=0.6)
            p = r["path"]
            ax.plot(p[:, 0], p[:, 1], color=_BLUE, lw=1.0, marker=".", ms=2)
            ax.plot(*start, "ko", ms=5)
            ax.plot(*minimum, "*", color=_RED, ms=11)
            steps = r["steps"]
            reached = (f"{steps} steps" if steps is not None
                       else f"> {n} steps (f = {r['final']:.0e})")
            ax.set(xlim=xlim, ylim=ylim, xticks=[], yticks=[])
            ax.set_title(f"{name}, lr {r['lr']:g}: {reached}", fontsize=8.5)
    fig.text(0.5, 0.985, f"{titles['valley']}: the same start (dot), minimum (star); "
                         "steps until f < 1e-6", ha="center", va="top", fontsize=12)
    fig.text(0.5, 0.485, f"{titles['rosenbrock']}: the same start (dot), minimum (star); "
                         "steps until f < 1e-6", ha="center", va="top", fontsize=12)
    return _save(fig, path, tight=False)


@_documented
def plot_learning_rate(result, path):
    """Part 4's figure: training loss above its minimum per epoch, for each
    learning rate (log scale).

    {parameters}

    Examples
    --------
    The figures are PNGs of at most 256 colours (palette mode "P"):

    >>> import io, os, tempfile
    >>> from PIL import Image
    >>> from lossopt.demo import learning_rate
    >>> from lossopt.plotting import plot_learning_rate
    >>> fd, name = tempfile.mkstemp(suffix=".png"); os.close(fd)
    >>> Image.open(plot_learning_rate(learning_rate(file=io.StringIO()), name)).mode
    'P'
    >>> os.remove(name)
    """
    fig, (ax,) = _figure(7, 4.8)
    for (label, curve), color in zip(result["curves"].items(),
                                     ("tab:orange", "tab:green", "tab:red", "tab:blue")):
        ax.semilogy(np.arange(curve.size), curve, color=color, lw=2, label=label)
    ax.set(xlabel="epoch", ylabel="training loss - its minimum",
           title="Learning rate: too small stops short, too large bounces")
    ax.legend(fontsize=8)
    return _save(fig, path)


@_documented
def plot_adam_amsgrad(result, path):
    """Part 5's figure: the iterate of Adam and of AMSGrad on Reddi et al.'s
    problem, step by step.

    {parameters}

    Examples
    --------
    The result of a part can be drawn anywhere, here into a temporary folder:

    >>> import io, os, tempfile
    >>> from lossopt.demo import adam_amsgrad
    >>> from lossopt.plotting import plot_adam_amsgrad
    >>> d = tempfile.TemporaryDirectory()
    >>> path = plot_adam_amsgrad(adam_amsgrad(quick=True, file=io.StringIO()),
    ...                          os.path.join(d.name, "5_adam_amsgrad.png"))
    >>> os.listdir(d.name)
    ['5_adam_amsgrad.png']
    >>> d.cleanup()
    """
    fig, (ax,) = _figure(7, 4.8)
    t = np.arange(result["adam"].size)
    ax.plot(t, result["adam"], color=_RED, lw=1.2, label="Adam")
    ax.plot(t, result["amsgrad"], color=_BLUE, lw=1.2, label="AMSGrad")
    ax.axhline(-1.0, color="k", ls=":", lw=1, label="optimum x = -1")
    ax.legend(loc="center right", fontsize=9)
    ax.set_xscale("symlog", linthresh=10)
    ax.set(xlim=(0, t[-1]), ylim=(-1.1, 1.1), xlabel="step t (log scale beyond 10)",
           ylabel="x_t",
           title=f"f_t(x) = {result['C']:g}x if t mod 3 = 1 else -x:  "
                 "Adam goes to +1, AMSGrad to -1")
    return _save(fig, path)


@_documented
def plot_digits(result, path):
    """Part 6's figure: the test-set confusion matrix of each model.

    {parameters}

    Examples
    --------
    A made-up result, one model that is always right:

    >>> import numpy as np
    >>> import os, tempfile
    >>> from lossopt.plotting import plot_digits
    >>> cm = np.diag(np.full(10, 5))
    >>> r = dict(accuracy={"model": 1.0}, confusion={"model": cm}, n_test=50)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.path.getsize(plot_digits(r, os.path.join(d, "6.png"))) > 1000
    True
    """
    names = list(result["confusion"])
    fig, axes = _figure(5.6 * len(names), 5.4, len(names))
    for ax, name in zip(axes, names):
        cm = np.asarray(result["confusion"][name])
        ax.imshow(np.log1p(cm), cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if i == j else "black")
        ticks = np.arange(cm.shape[0])
        ax.set(xticks=ticks, yticks=ticks, xlabel="predicted digit", ylabel="true digit",
               title=f"{name}: test accuracy {result['accuracy'][name]:.3f} "
                     f"(n = {result['n_test']})")
    return _save(fig, path)


#: the figure of each part, in the order of the parts
FIGURES = (plot_regression, plot_classification, plot_optimizers, plot_learning_rate,
           plot_adam_amsgrad, plot_digits)
