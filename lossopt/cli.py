"""The `lossopt` command.

Sub-commands: ``demo`` (the lecture's claims, end to end on bundled data),
``info`` (the build and a self-check), ``fit`` and ``predict``
(train a model of :mod:`lossopt.models` on a CSV / ``.npz`` / ``.npy`` file
and apply it to new data), ``bench`` (the kernel ratio table).

Exit codes: 0 success; 1 a file or data error (a missing or unreadable file,
a missing column, a non-numeric value, a bad model file, an output file that
exists without ``--force``, training that fails); 2 a usage error, as
argparse (an unknown sub-command, model, loss or optimizer, a bad option
value, options that do not fit the model, ``--plot`` without matplotlib).
An error prints one line, ``lossopt COMMAND: error: ...``, on stderr and
writes no file.
"""

import argparse
import os
import sys

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: ``PROG: error: MESSAGE (see
    PROG --help)`` on stderr, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = _Parser(
        prog="lossopt",
        description="Losses of maximum-likelihood estimation and their optimizers, "
                    "on a compiled core.",
        epilog="Exit codes: 0 success, 1 a file or data error, 2 a usage error. "
               "`lossopt COMMAND --help` describes each command.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"lossopt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo_parser(sub)
    sub.add_parser("info", help="show the build (compiler, OpenMP, SIMD path) and "
                                "self-check every kernel")
    _add_fit_parser(sub)
    _add_predict_parser(sub)
    _add_bench_parser(sub)
    return parser


def main(argv=None):
    """Run the ``lossopt`` command with the arguments `argv` and return its
    exit code (0 success, 1 a file or data error, 2 a usage error).

    Parameters
    ----------
    argv : list of str or None
        The arguments after ``lossopt`` (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code; the console script passes it to ``sys.exit``.

    Examples
    --------
    Train on a CSV file, save the model, and predict new data with it:

    >>> import os, tempfile
    >>> from lossopt.cli import main
    >>> folder = tempfile.mkdtemp()
    >>> train, model = os.path.join(folder, "train.csv"), os.path.join(folder, "m.npz")
    >>> with open(train, "w") as f:
    ...     _ = f.write("x,colour\\n" + "".join(f"{x},{'red' if x < 5 else 'blue'}\\n"
    ...                                         for x in range(10)))
    >>> main(["fit", train, "--target", "colour", "--validation-fraction", "0",
    ...       "--save", model])  # doctest: +ELLIPSIS
    data       train.csv: 10 rows, 1 feature column (x)
    target     colour: 2 classes (blue, red)
    model      LogisticRegression (the default for class labels; --model picks another), ...
    ...
    saved      .../m.npz
    0
    >>> new = os.path.join(folder, "new.csv")
    >>> with open(new, "w") as f:
    ...     _ = f.write("x\\n1\\n8\\n")
    >>> main(["predict", model, new])
    colour
    red
    blue
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:   # its own parser: `lossopt bench --help`
        return _run_bench(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from ._info import info
            return info()
        if getattr(args, "run", None) is not None:
            return args.run(args)
        parser.print_help()
        return 2
    except BrokenPipeError:  # e.g. `lossopt info | head`: stop quietly
        sys.stderr.close()
        return 0


# ------------------------------------------------------------------ demo --

def _add_demo_parser(sub):
    demo = sub.add_parser("demo", help="run the lecture's claims end to end on bundled data: "
                                       "a table per part, a PNG figure per part")
    demo.add_argument("--out", default="lossopt-demo", metavar="DIR",
                      help="folder for the figures (default: ./lossopt-demo)")
    demo.add_argument("--no-plots", action="store_true", help="print the tables only")
    demo.add_argument("--quick", action="store_true", help="shorter runs, same claims")
    demo.set_defaults(run=_run_demo)


def _run_demo(args):
    from .demo import run_demo
    try:
        run_demo(args.out, plots=not args.no_plots, quick=args.quick)
    except OSError as e:       # --out unusable: one line, no traceback
        print(f"lossopt demo: error: {e}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------- fit / predict: shared --

class _Failure(Exception):
    """A sub-command's error: one line on stderr and exit code `code`."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class _StdoutGuard:
    """stdout that outlives its reader (``lossopt fit ... | head -1``): once
    the pipe is gone, output is dropped (stdout goes to the null device) and
    the work -- training, saving -- goes on."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self._stream.fileno())
        os.close(null)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _guarded(prog, body, args):
    """Run ``body(args)``; a _Failure, a data error or a model's refusal
    becomes one line on stderr and an exit code, never a traceback."""
    import contextlib
    from ._tabular import DataError
    try:
        with contextlib.redirect_stdout(_StdoutGuard(sys.stdout)):
            return body(args)
    except _Failure as exc:
        message, code = str(exc), exc.code
    except DataError as exc:
        message, code = str(exc), 1
    except OSError as exc:
        name = exc.filename if exc.filename is not None else ""
        message, code = f"{name}: {exc.strerror or exc}" if name else str(exc), 1
    except KeyboardInterrupt:
        message, code = "interrupted", 130
    print(f"{prog}: error: " + " ".join(message.split("\n")), file=sys.stderr)
    return code


def _check_outputs(paths, force, inputs=()):
    """Refuse, before any work, an output path that exists (without
    `force`), is a folder, or whose folder does not exist -- and, even with
    `force`, one that is an input file (the data or the model)."""
    given = [(option, path) for option, path in paths if path is not None]
    for option, path in given:
        for what, source in inputs:
            if os.path.realpath(path) == os.path.realpath(source) or (
                    os.path.exists(path) and os.path.exists(source)
                    and os.path.samefile(path, source)):
                raise _Failure(f"{option} {path} is the {what} file; an output never "
                               "replaces an input (not even with --force)", code=2)
    if len({os.path.abspath(path) for _, path in given}) < len(given):
        raise _Failure(f"{' and '.join(option for option, _ in given)} name the same file; "
                       "give each its own", code=2)
    for option, path in given:
        if os.path.isdir(path):
            raise _Failure(f"{option} {path} is a folder; give a file name")
        if os.path.lexists(path) and not force:
            raise _Failure(f"{path} exists; pass --force to overwrite it ({option})")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise _Failure(f"{option} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise _Failure(f"{option} {path}: the folder {folder} is not writable")


def _write_all(writers):
    """Write every output, or none: each ``(path, write)`` writes a temporary
    file next to `path` (``write(temp_path)``); only when all have been
    written are they renamed into place."""
    import tempfile
    done = []
    try:
        for path, write in writers:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                                       prefix=".lossopt-", suffix=".tmp")
            os.close(fd)
            done.append((tmp, path))
            write(tmp)
        mask = os.umask(0)
        os.umask(mask)
        for tmp, path in done:
            os.chmod(tmp, 0o666 & ~mask)     # as a file opened for writing would be
            os.replace(tmp, path)
        done = []
    finally:
        for tmp, _ in done:
            try:
                os.remove(tmp)
            except OSError:
                pass


# -------------------------------------------------------------------- fit --

# short names of the models; the class names are accepted too (any case)
MODEL_ALIASES = {
    "linear": "LinearRegression",
    "logistic": "LogisticRegression",
    "softmax": "SoftmaxRegression",
    "svm": "LinearSVM",
    "perceptron": "Perceptron",
    "mlp-classifier": "MLPClassifier",
    "mlp-regressor": "MLPRegressor",
}
# the models that take a loss= hyper-parameter, and its values
MODEL_LOSSES = {
    "LinearRegression": ("squared_error", "absolute_error", "huber"),
    "LinearSVM": ("hinge", "squared_hinge"),
}


def _resolve_model(name):
    """The class name of the model `name` (an alias or a class name, any case),
    or a usage error listing the choices."""
    from . import models
    classes = {c.lower(): c for c in MODEL_ALIASES.values()}
    key = name.strip().lower()
    found = MODEL_ALIASES.get(key) or classes.get(key)
    if found is None:
        raise _Failure(f"unknown model {name!r}; choose one of "
                       f"{', '.join(MODEL_ALIASES)} (or a class name: "
                       f"{', '.join(MODEL_ALIASES.values())})", code=2)
    return getattr(models, found)


def _add_fit_parser(sub):
    from .models._training import OPTIMIZERS
    losses = [loss for v in MODEL_LOSSES.values() for loss in v]
    models = ", ".join(f"{a} ({c})" for a, c in MODEL_ALIASES.items())
    p = sub.add_parser(
        "fit", help="train a model on a CSV / .npz / .npy file and report its metrics",
        description=(
            "Train a lossopt.models model on DATA, with a progress bar (tqdm's when it is "
            "installed), and print the accuracy (and log-loss) of a classifier or the R^2 "
            "(and RMSE) of a regressor on the training rows and on held-out validation "
            "rows. The model is trained on the training rows only."),
        epilog=(
            "DATA: a CSV file with a header row (every column but the target is a feature "
            "and must be numeric; the target may hold numbers or text labels; .tsv is "
            "tab-separated); a .npz file holding either X (2-D) plus a 1-D target array "
            "named by --target (feature names from an optional feature_names array, else "
            "x0, x1, ...), or only 1-D arrays of one length, each a column named by its "
            "key; or a .npy 2-D array whose columns are named by their index (--target "
            "-1 is the last column). The saved model remembers the feature and target "
            "names, and `lossopt predict` picks the same columns from new data by name. "
            "Exit codes: 0 success, 1 a file or data error, 2 a usage error; an error "
            "prints one line and writes no file."))
    p.add_argument("data", metavar="DATA", help="the training data (.csv, .tsv, .npz, .npy)")
    p.add_argument("--target", required=True, metavar="COLUMN",
                   help="the column to predict (for a .npy file: its index)")
    p.add_argument("--features", metavar="COLUMN,...", type=_name_list,
                   help="the feature columns, comma-separated (default: every column but "
                        "the target)")
    p.add_argument("--model", metavar="NAME",
                   help=f"the model: {models}; or the class name. Default: the model of "
                        "--loss when given, else logistic for 2 classes, softmax for more, "
                        "linear for a numeric target. A target is taken as class labels "
                        "when it holds text, or integers with at most 20 distinct values "
                        "(and at most half as many as rows)")
    p.add_argument("--loss", choices=losses, metavar="LOSS",
                   help="the loss of the models that take one: linear (squared_error "
                        "[default], absolute_error, huber) and svm (hinge, squared_hinge "
                        "[default]); the other models have their own likelihood's loss")
    p.add_argument("--optimizer", choices=OPTIMIZERS, metavar="NAME",
                   help=f"the optimizer: {', '.join(OPTIMIZERS)} (default: the model's: sgd "
                        "for the perceptron, adam for the others)")
    p.add_argument("--lr", type=_positive_float, metavar="LR",
                   help="the learning rate (default: the model's)")
    p.add_argument("--epochs", type=_positive_int, metavar="N",
                   help="the most epochs (max_epochs; default: the model's; training stops "
                        "earlier when the loss no longer improves)")
    p.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help="samples per mini-batch (default: the model's: the full batch for "
                        "linear, logistic, softmax and svm, 1 for the perceptron, 200 for the "
                        "MLPs)")
    p.add_argument("--validation-fraction", type=_fraction, default=0.2, metavar="F",
                   help="the fraction of rows held out for the validation metrics, in "
                        "[0, 1) (stratified by class for a classifier; default 0.2; 0: "
                        "train on every row)")
    p.add_argument("--random-state", type=_nonnegative_int, default=0, metavar="SEED",
                   help="seed of the split, shuffling and initialisation (default 0)")
    p.add_argument("--save", metavar="FILE", help="save the trained model to FILE (.npz)")
    p.add_argument("--plot", metavar="FILE",
                   help="draw the training loss per epoch to FILE (PNG, or another format "
                        "by its suffix; needs matplotlib)")
    p.add_argument("--force", action="store_true",
                   help="overwrite existing --save / --plot files")
    p.set_defaults(run=lambda args: _guarded("lossopt fit", _fit, args))


def _name_list(text):
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def _number_type(convert, check):
    """An argparse type: `convert` the text, then lossopt's `check` of it."""
    def parse(text):
        try:
            return check(convert(text))
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not valid: {str(exc).replace('value', 'it')}") from None
    return parse


def _positive_float_check(v):
    from ._validation import check_positive_float
    return check_positive_float(v, "value")


def _fraction_check(v):
    from ._validation import check_fraction
    v = check_fraction(v, "value")
    if v >= 1.0:
        raise ValueError(f"value must be in [0, 1), got {v!r}")
    return v


def _int_check(low):
    def check(v):
        from ._validation import check_int
        return check_int(v, "value", low)
    return check


_positive_float = _number_type(float, _positive_float_check)
_fraction = _number_type(float, _fraction_check)
_positive_int = _number_type(int, _int_check(1))
_nonnegative_int = _number_type(int, _int_check(0))


def _have(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _plot_format(path):
    """The image format of `path` (by suffix; png without one), checked
    against matplotlib's formats; a usage error without matplotlib."""
    if not _have("matplotlib"):
        raise _Failure("--plot needs matplotlib, which is not installed: "
                       "pip install matplotlib", code=2)
    from matplotlib.figure import Figure
    fmt = os.path.splitext(path)[1][1:].lower() or "png"
    supported = Figure().canvas.get_supported_filetypes()
    if fmt not in supported:
        raise _Failure(f"--plot {path}: matplotlib cannot write .{fmt} files; use one of "
                       f"{', '.join('.' + s for s in sorted(supported))}", code=2)
    return fmt


def _fit(args):
    import numpy as np
    from ._tabular import first_non_numeric, labels_are_classes, read_table
    from .models._training import _validation_split

    # the command line first: names, then the outputs, then the data
    cls = _resolve_model(args.model) if args.model else None
    if args.loss is not None:
        takers = [c for c, losses in MODEL_LOSSES.items() if args.loss in losses]
        if cls is None:
            from . import models
            cls = getattr(models, takers[0])
        elif cls.__name__ not in takers:
            takes = MODEL_LOSSES.get(cls.__name__)
            raise _Failure(
                f"--loss {args.loss} is not a loss of {cls.__name__}"
                + (f" (it takes {', '.join(takes)})" if takes else
                   " (it has no --loss: its loss is its likelihood's)"), code=2)
    _check_outputs([("--save", args.save), ("--plot", args.plot)], args.force,
                   inputs=[("data", args.data)])
    plot_format = _plot_format(args.plot) if args.plot else None

    table = read_table(args.data, target=args.target, features=args.features)
    X, y = table.X, table.y
    n, d = X.shape
    classes = labels_are_classes(y)
    default = cls is None
    if default:
        from . import models
        if classes:
            cls = models.LogisticRegression if np.unique(y).size == 2 \
                else models.SoftmaxRegression
        else:
            cls = models.LinearRegression
    classifier = cls._estimator_type == "classifier"
    if not classifier and y.dtype.kind in "US":
        i, value = first_non_numeric(y)
        raise _Failure(f"the target {table.target_name!r} is not numeric (row {i + 1} holds "
                       f"{str(value)!r}) and {cls.__name__} is a regressor; pick a classifier "
                       "with --model (e.g. softmax) for class labels")
    if classifier and y.dtype.kind == "f":
        raise _Failure(f"the target {table.target_name!r} holds non-integer numbers and "
                       f"{cls.__name__} is a classifier; pick a regressor with --model "
                       "(e.g. linear)")

    name = os.path.basename(args.data)
    cols = ", ".join(table.feature_names[:8]) + (", ..." if d > 8 else "")
    print(f"data       {name}: {n} row{'s' * (n != 1)}, {d} feature column{'s' * (d != 1)} "
          f"({cols})")
    if classifier:
        labels = np.unique(y)
        shown = ", ".join(str(v) for v in labels[:10]) + (", ..." if labels.size > 10 else "")
        print(f"target     {table.target_name}: {labels.size} classes ({shown})")
    else:
        print(f"target     {table.target_name}: numeric, {float(np.min(y)):.6g} to "
              f"{float(np.max(y)):.6g}")

    params = dict(random_state=args.random_state)
    for option, param in (("loss", "loss"), ("optimizer", "optimizer"), ("lr", "lr"),
                          ("epochs", "max_epochs"), ("batch_size", "batch_size")):
        value = getattr(args, option)
        if value is not None:
            params[param] = value
    tqdm = _have("tqdm")
    model = cls(verbose=tqdm, **params)
    hp = model.get_params()
    why = (" (the default for class labels; --model picks another)" if default and classifier
           else " (the default for a numeric target; --model picks another)" if default
           else "")
    loss = f", loss {hp['loss']}" if "loss" in hp else ""
    batch = "full" if hp["batch_size"] is None or hp["optimizer"] == "gd" else hp["batch_size"]
    print(f"model      {cls.__name__}{why}, optimizer {hp['optimizer']}, lr {hp['lr']:g}, "
          f"at most {hp['max_epochs']} epochs, batch {batch}{loss}")

    train = val = None
    if args.validation_fraction > 0 and n >= 2:
        rng = np.random.default_rng(args.random_state)
        try:
            train, val = _validation_split(model, y, args.validation_fraction, rng)
        except ValueError:      # every class too small to give a validation row
            train = val = None
    if val is not None:
        print(f"split      {train.size} rows to train, {val.size} to validate "
              f"(--validation-fraction {args.validation_fraction:g}, --random-state "
              f"{args.random_state})")
    else:
        why = "" if args.validation_fraction == 0 else \
            f" (--validation-fraction {args.validation_fraction:g} of {n} rows is none)"
        print(f"split      all {n} rows to train, none to validate{why}")
    X_train, y_train = (X, y) if train is None else (X[train], y[train])
    sys.stdout.flush()
    if not tqdm:
        print(f"training   {cls.__name__} ... (install tqdm for a progress bar)",
              file=sys.stderr, flush=True)
    try:
        model.fit(X_train, y_train)
    except (ValueError, TypeError, FloatingPointError) as exc:
        raise _Failure(f"training failed: {exc}") from None
    model.set_params(verbose=False)
    last = model.loss_curve_[-1]
    print(f"trained    {model.n_iter_} epochs, final training loss {last:.6g}")
    first = model.loss_curve_[0]
    if last > first:
        print("lossopt fit: warning: the training "
              f"loss rose from {first:.6g} to {last:.6g}: the learning rate is probably too "
              "large (try a smaller --lr)", file=sys.stderr)

    rows = [("train", X_train, y_train)]
    if val is not None:
        rows.append(("validation", X[val], y[val]))
    _print_metrics(model, rows, classifier)

    model.feature_names_in_ = np.array(table.feature_names, dtype=object)
    model.target_name_ = table.target_name
    writers = []
    if args.save:
        writers.append((args.save, model.save))
    if args.plot:
        writers.append((args.plot, lambda path: _plot_curve(model, name, path, plot_format)))
    _write_all(writers)
    if args.save:
        print(f"saved      {args.save}")
    if args.plot:
        print(f"plot       {args.plot}")
    return 0


def _print_metrics(model, rows, classifier):
    """The metrics table: accuracy (+ log-loss) or R^2 (+ RMSE) per row set."""
    import numpy as np
    proba = classifier and hasattr(model, "predict_log_proba")
    heads = (["accuracy"] + (["log-loss"] if proba else [])) if classifier \
        else ["R^2", "RMSE"]
    print(" " * 10 + "".join(f"{h:>11}" for h in heads))
    for label, X, y in rows:
        values = [model.score(X, y)]
        if proba:
            logp = model.predict_log_proba(X)
            idx = np.searchsorted(model.classes_, y)
            values.append(-float(np.mean(logp[np.arange(y.shape[0]), idx])))
        elif not classifier:
            residual = model.predict(X) - y
            scale = float(np.max(np.abs(residual))) if residual.size else 0.0
            scale = scale if 0.0 < scale < np.inf else 1.0   # no overflow in the squares
            values.append(scale * float(np.sqrt(np.mean((residual / scale) ** 2))))
        print(f"{label:<10}" + "".join(f" {_metric(v):>10}" for v in values))


def _metric(v):
    """A metric in 10 characters: 4 decimals, or 4 significant digits when
    that does not fit (a diverged fit's R^2 of -4e26, an RMSE of 1e5)."""
    text = f"{v:.4f}"
    return text if len(text) <= 10 else f"{v:.4g}"


def _plot_curve(model, data_name, path, fmt):
    """The training loss per epoch, drawn with matplotlib's object API (no
    pyplot, no display needed)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    curve = model.loss_curve_
    ax.plot(range(1, len(curve) + 1), curve)
    if min(curve) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{type(model).__name__} on {data_name}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, format=fmt, dpi=110)
    except Exception as exc:     # e.g. pgf without LaTeX: the writer's failure
        detail = " ".join(str(exc).split())
        raise _Failure(f"--plot: matplotlib could not write {fmt} ({detail})") from None


# ---------------------------------------------------------------- predict --

def _add_predict_parser(sub):
    p = sub.add_parser(
        "predict", help="apply a model saved by `lossopt fit --save` to new data",
        description=(
            "Predict the target of every row of DATA with the model in MODEL, and print "
            "the predictions as CSV (a header named after the target, one row per sample) "
            "or write them to --out. The model's feature columns are picked from DATA by "
            "name (other columns, the target included, are ignored; a missing one is an "
            "error); a model saved from Python without feature names takes every column "
            "of DATA, in order."),
        epilog="Exit codes: 0 success, 1 a file or data error, 2 a usage error; an error "
               "prints one line and writes no file.")
    p.add_argument("model", metavar="MODEL", help="a model file written by `lossopt fit --save`"
                                                  " (or model.save)")
    p.add_argument("data", metavar="DATA", help="the data (.csv, .tsv, .npz, .npy; see "
                                                "`lossopt fit --help`)")
    p.add_argument("--out", metavar="FILE", help="write the predictions to FILE (CSV) "
                                                 "instead of printing them")
    p.add_argument("--proba", action="store_true",
                   help="add one column of probabilities per class, proba_<class> (the "
                        "classifiers with probabilities: logistic, softmax, mlp-classifier)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.set_defaults(run=lambda args: _guarded("lossopt predict", _predict, args))


def _load_model(path):
    from .models import load
    import zipfile
    if not os.path.exists(path):
        raise _Failure(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise _Failure(f"{path} is not a lossopt model file (not a .npz archive; "
                       "`lossopt fit --save` writes one)")
    try:
        return load(path)
    except Exception as exc:      # any failure to read it is the file's
        detail = " ".join(str(exc).split())
        raise _Failure(f"{path} is not a readable lossopt model file ({detail})") from None


def _predict(args):
    import numpy as np
    from ._tabular import DataError, read_table

    _check_outputs([("--out", args.out)], args.force,
                   inputs=[("model", args.model), ("data", args.data)])
    model = _load_model(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        raise _Failure(f"--proba: {type(model).__name__} gives no probabilities (only "
                       "logistic, softmax and mlp-classifier do)", code=2)
    names = getattr(model, "feature_names_in_", None)
    names = None if names is None else [str(v) for v in names]
    table = read_table(args.data, features=names)
    if names is None and table.X.shape[1] != model.n_features_in_:
        raise DataError(f"{os.path.basename(args.data)} has {table.X.shape[1]} columns; the "
                        f"model (saved without column names) takes {model.n_features_in_}")
    try:
        pred = model.predict(table.X)
        proba = model.predict_proba(table.X) if args.proba else None
    except (ValueError, TypeError, IndexError) as exc:
        raise _Failure(f"prediction failed: {exc} (is {args.model} a model written by "
                       "`lossopt fit --save`, unmodified?)") from None

    target = getattr(model, "target_name_", None) or "prediction"
    header = [target]
    if pred.ndim == 2:      # a multi-output regressor
        header = [f"{target}_{k}" for k in range(pred.shape[1])]
    if proba is not None:
        header += [f"proba_{c}" for c in model.classes_]
    rows = np.asarray(pred).reshape(pred.shape[0], -1).tolist()
    if proba is not None:
        rows = [r + p for r, p in zip(rows, proba.tolist())]
    if args.out:
        def write(path):
            with open(path, "w", newline="", encoding="utf-8") as fh:
                _write_csv(fh, header, rows)
        _write_all([(args.out, write)])
        print(f"wrote {len(rows)} predictions to {args.out}", file=sys.stderr)
    else:
        _write_csv(sys.stdout, header, rows)
    return 0


def _write_csv(fh, header, rows):
    """Rows as CSV; floats in their shortest exact form (repr), so the file
    reads back to the very same values."""
    import csv
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([repr(v) if isinstance(v, float) else v for v in r])


# ------------------------------------------------------------------ bench --

def _add_bench_parser(sub):
    # listed for `lossopt --help`; main() hands `lossopt bench ...` to
    # lossopt._bench.main, which parses its own options
    sub.add_parser("bench", add_help=False,
                   help="time the kernels against NumPy and the installed peers and print "
                        "the ratio table (the same code as `python -m bench.report`; "
                        "`lossopt bench --help` lists the options)")


def _run_bench(argv):
    from ._bench import main as bench_main
    return bench_main(argv, prog="lossopt bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
