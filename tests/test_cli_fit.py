"""`lossopt fit` / `lossopt predict` / `lossopt bench` as a user runs them.

The round trips run the command through subprocess and compare its
predictions with a model trained in this process on the same rows; the
error table runs ``lossopt.cli.main`` in-process (the same code, without a
Python start per case), and a few errors also go through subprocess to
check the real exit code and stderr.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lossopt import cli
from lossopt._tabular import read_table
from lossopt.models import LinearRegression, LinearSVM, MLPRegressor, SoftmaxRegression, load
from lossopt.models._training import _validation_split

pytestmark = pytest.mark.usefixtures("one_blas_thread")

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
SPECIES = ["setosa", "versicolor", "virginica"]
# the header has a quoted name holding a comma and a space
HEADER = ["sepal_length", "sepal_width", "petal length, cm", "petal_width", "species"]


def run(*args, cwd, code=None):
    r = subprocess.run([sys.executable, "-m", "lossopt", *map(str, args)], capture_output=True,
                       text=True, timeout=120, cwd=cwd, env=ENV)
    assert "Traceback" not in r.stderr, r.stderr
    if code is not None:
        assert r.returncode == code, (r.stdout, r.stderr)
    return r


def call(*args):
    """cli.main in-process: (exit code, stdout, stderr)."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:        # argparse's usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def iris_like(n_per_class=20, seed=0):
    """Three separable-ish classes with string labels, 4 features."""
    rng = np.random.default_rng(seed)
    centre = np.array([5.0, 3.0, 1.5, 0.2])
    step = np.array([0.9, -0.3, 2.0, 0.9])
    X = np.vstack([rng.normal(size=(n_per_class, 4)) * 0.4 + centre + k * step
                   for k in range(3)]).round(3)
    y = np.repeat(SPECIES, n_per_class)
    return X, y


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def read_csv(path_or_text, text=False):
    lines = path_or_text.splitlines() if text else open(path_or_text, newline="").read() \
        .splitlines()
    rows = list(csv.reader(lines))
    return rows[0], rows[1:]


@pytest.fixture
def iris_csv(tmp_path):
    X, y = iris_like()
    path = tmp_path / "iris.csv"
    write_csv(path, HEADER, [[*map(repr, x), label] for x, label in zip(X.tolist(), y)])
    return path, X, y


def split(model, y, fraction, seed):
    return _validation_split(model, y, fraction, np.random.default_rng(seed))


# ------------------------------------------------------------- round trips --

def test_fit_predict_round_trip_classifier(iris_csv, tmp_path):
    path, X, y = iris_csv
    r = run("fit", path, "--target", "species", "--save", "m.npz", "--plot", "curve.png",
            "--epochs", "300", "--random-state", "3", cwd=tmp_path, code=0)
    out = r.stdout
    assert "SoftmaxRegression (the default for class labels" in out
    assert "3 classes (setosa, versicolor, virginica)" in out
    assert "48 rows to train, 12 to validate" in out        # stratified: 4 per class
    assert (tmp_path / "m.npz").is_file() and (tmp_path / "curve.png").is_file()
    assert open(tmp_path / "curve.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    # the same model trained here on the same rows
    ref = SoftmaxRegression(max_epochs=300, random_state=3)
    train, val = split(ref, y, 0.2, 3)
    assert np.array_equal(np.unique(y[val], return_counts=True)[1], [4, 4, 4])
    ref.fit(X[train], y[train])
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()}
    assert float(lines["train"][0]) == pytest.approx(ref.score(X[train], y[train]), abs=5e-5)
    assert float(lines["validation"][0]) == pytest.approx(ref.score(X[val], y[val]), abs=5e-5)
    logp = ref.predict_log_proba(X[val])
    ll = -np.mean(logp[np.arange(val.size), np.searchsorted(ref.classes_, y[val])])
    assert float(lines["validation"][1]) == pytest.approx(ll, abs=5e-5)

    # new data: columns in another order, an extra column, no target
    rng = np.random.default_rng(7)
    Xnew = X[rng.permutation(len(X))[:15]] + rng.normal(size=(15, 4)) * 0.1
    order = [3, 0, 2, 1]
    write_csv(tmp_path / "new.csv", ["id"] + [HEADER[j] for j in order],
              [[i, *map(repr, x[order].tolist())] for i, x in enumerate(Xnew)])
    run("predict", "m.npz", "new.csv", "--out", "pred.csv", "--proba", cwd=tmp_path, code=0)
    header, rows = read_csv(tmp_path / "pred.csv")
    assert header == ["species", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert [r[0] for r in rows] == ref.predict(Xnew).tolist()
    np.testing.assert_array_equal(np.array([r[1:] for r in rows], dtype=float),
                                  ref.predict_proba(Xnew))
    # printed without --out: the same CSV on stdout
    r = run("predict", "m.npz", "new.csv", cwd=tmp_path, code=0)
    assert read_csv(r.stdout, text=True) == (["species"], [[v] for v in
                                                           ref.predict(Xnew).tolist()])


def test_fit_predict_round_trip_regression(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3)) * [1.0, 10.0, 0.1]
    yv = X @ [1.5, -0.2, 8.0] + 3.0 + rng.normal(size=80) * 0.05
    write_csv(tmp_path / "reg.csv", ["a", "b", "c", "price"],
              [[*map(repr, x), repr(t)] for x, t in zip(X.tolist(), yv.tolist())])
    r = run("fit", "reg.csv", "--target", "price", "--loss", "huber", "--optimizer", "rmsprop",
            "--lr", "0.01", "--epochs", "150", "--batch-size", "16", "--validation-fraction",
            "0.25", "--save", "r.npz", cwd=tmp_path, code=0)
    assert "LinearRegression, optimizer rmsprop, lr 0.01, at most 150 epochs, batch 16, " \
           "loss huber" in r.stdout
    ref = LinearRegression(loss="huber", optimizer="rmsprop", lr=0.01, max_epochs=150,
                           batch_size=16, random_state=0)
    train, val = split(ref, yv, 0.25, 0)
    ref.fit(X[train], yv[train])
    lines = {ln.split()[0]: ln.split()[1:] for ln in r.stdout.splitlines()}
    assert float(lines["validation"][0]) == pytest.approx(ref.score(X[val], yv[val]), abs=5e-5)
    rmse = np.sqrt(np.mean((ref.predict(X[val]) - yv[val]) ** 2))
    assert float(lines["validation"][1]) == pytest.approx(rmse, abs=5e-5)
    r = run("predict", "r.npz", "reg.csv", cwd=tmp_path, code=0)
    header, rows = read_csv(r.stdout, text=True)
    assert header == ["price"]
    # exact: predictions are written in their shortest round-trip form
    np.testing.assert_array_equal(np.array(rows, dtype=float).ravel(), ref.predict(X))


def test_npz_and_npy_inputs(tmp_path):
    X, y = iris_like(10)
    labels = np.searchsorted(SPECIES, y)                 # integers 0, 1, 2: classes
    np.savez(tmp_path / "xy.npz", X=X, feature_names=np.array(["p", "q", "r", "s"]), kind=y)
    code, out, err = call("fit", tmp_path / "xy.npz", "--target", "kind", "--model", "svm",
                          "--validation-fraction", "0", "--save", tmp_path / "a.npz")
    assert code == 0, err
    assert "LinearSVM, optimizer adam" in out and "loss squared_hinge" in out
    ref = LinearSVM(random_state=0).fit(X, y)
    # predict from the other .npz layout: one 1-D array per column, by name
    np.savez(tmp_path / "cols.npz", s=X[:, 3], r=X[:, 2], q=X[:, 1], p=X[:, 0], extra=y)
    code, out, err = call("predict", tmp_path / "a.npz", tmp_path / "cols.npz")
    assert code == 0, err
    assert out.split() == ["kind"] + ref.predict(X).tolist()

    # .npy: 2-D, the target by column index; integer labels are classes
    A = np.column_stack([labels, X])
    np.save(tmp_path / "a.npy", A)
    code, out, err = call("fit", tmp_path / "a.npy", "--target", "0", "--validation-fraction",
                          "0", "--epochs", "50", "--save", tmp_path / "b.npz")
    assert code == 0, err
    assert "SoftmaxRegression (the default for class labels" in out
    model = load(tmp_path / "b.npz")
    assert model.feature_names_in_.tolist() == ["1", "2", "3", "4"]
    assert model.target_name_ == "0" and model.classes_.tolist() == [0, 1, 2]
    ref = SoftmaxRegression(max_epochs=50, random_state=0).fit(X, labels)
    code, out, err = call("predict", tmp_path / "b.npz", tmp_path / "a.npy")
    assert code == 0, err
    assert out.split() == ["0"] + [str(v) for v in ref.predict(X)]
    # a regression target in the last column (negative index), MLP
    t = X @ [1.0, 2.0, -1.0, 0.5]
    np.save(tmp_path / "r.npy", np.column_stack([X, t]))
    code, out, err = call("fit", tmp_path / "r.npy", "--target", "-1", "--model",
                          "mlp-regressor", "--epochs", "20", "--validation-fraction", "0",
                          "--save", tmp_path / "mlp.npz")
    assert code == 0, err
    assert "LinearRegression" not in out and "MLPRegressor" in out and "R^2" in out
    ref = MLPRegressor(max_epochs=20, random_state=0).fit(X, t)
    code, out, err = call("predict", tmp_path / "mlp.npz", tmp_path / "r.npy")
    np.testing.assert_array_equal(np.array(out.split()[1:], dtype=float), ref.predict(X))


def test_saved_model_metadata(iris_csv, tmp_path):
    path = iris_csv[0]
    code, out, err = call("fit", path, "--target", "species", "--model", "Logistic",
                          "--save", tmp_path / "m.npz")
    # LogisticRegression is binary: three classes are refused by the model, one line
    assert code == 1 and out.count("\n") >= 1
    assert err.count("\n") == 1 and err.startswith("lossopt fit: error: training failed:")
    assert not (tmp_path / "m.npz").exists()
    code, out, err = call("fit", path, "--target", "species", "--features",
                          "petal_width,sepal_length", "--model", "MLPClassifier",
                          "--epochs", "30", "--save", tmp_path / "m.npz")
    assert code == 0, err
    m = load(tmp_path / "m.npz")
    assert type(m).__name__ == "MLPClassifier"
    assert m.feature_names_in_.tolist() == ["petal_width", "sepal_length"]
    assert m.feature_names_in_.dtype == object
    assert m.target_name_ == "species" and m.classes_.tolist() == SPECIES
    assert m.n_features_in_ == 2 and m.max_epochs == 30 and m.random_state == 0
    assert m.verbose is False          # the progress bar is not saved with the model
    with np.load(tmp_path / "m.npz") as f:
        kinds = json.loads(str(f["__meta__"]))["kinds"]
    assert kinds["feature_names_in_"] == "object_str" and kinds["target_name_"] == "str"


def test_feature_names_round_trip_through_save_and_load(tmp_path):
    X, y = iris_like(10)
    m = SoftmaxRegression(max_epochs=5).fit(X, y)
    m.feature_names_in_ = np.array(["a", "b", "c", "d"], dtype=object)
    m.target_name_ = "species"
    m.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    assert back.feature_names_in_.dtype == object and back.target_name_ == "species"
    # a file without them (as written before) loads without them
    SoftmaxRegression(max_epochs=5).fit(X, y).save(tmp_path / "old.npz")
    old = load(tmp_path / "old.npz")
    assert not hasattr(old, "feature_names_in_") and not hasattr(old, "target_name_")
    # a warm start keeps them; a fresh fit drops them (they described other data)
    back.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert back.target_name_ == "species"
    back.set_params(warm_start=False).fit(X[:, :3], y)
    assert not hasattr(back, "feature_names_in_") and not hasattr(back, "target_name_")


# ------------------------------------------------------------------ errors --

def _bad_files(tmp_path, iris):
    path, X, y = iris
    rows = [[*map(repr, x), label] for x, label in zip(X.tolist(), y)]
    bad = [r[:] for r in rows]
    bad[6][1] = "n/a"
    write_csv(tmp_path / "text.csv", HEADER, bad)
    empty = [r[:] for r in rows]
    empty[2][3] = ""
    write_csv(tmp_path / "empty.csv", HEADER, empty)
    write_csv(tmp_path / "ragged.csv", HEADER, rows[:3] + [rows[3][:4]])
    (tmp_path / "garbage.csv").write_bytes(b"\xff\xfe\x00\x81binary")
    (tmp_path / "notamodel.npz").write_bytes(b"PK but not really")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    write_csv(tmp_path / "few.csv", [HEADER[0], HEADER[2]], [[r[0], r[2]] for r in rows])
    write_csv(tmp_path / "reg.csv", ["a", "y"], [[i, i * 0.37] for i in range(12)])


FIT_ERRORS = [
    # (arguments after DATA, data file, exit code, words in the message)
    (["--target", "specie"], "iris.csv", 1,
     ["iris.csv has no column 'specie'", "did you mean 'species'?"]),
    (["--target", "species", "--features", "sepal_length,petal"], "iris.csv", 1,
     ["no column 'petal'"]),
    (["--target", "species"], "text.csv", 1,
     ["column 'sepal_width', row 7 (line 8) of text.csv is not a number: 'n/a'",
      "choose the feature columns with --features"]),
    (["--target", "species"], "empty.csv", 1,
     ["column 'petal_width', row 3 (line 4) of empty.csv is empty"]),
    (["--target", "species"], "ragged.csv", 1, ["ragged.csv, line 5: 4 fields"]),
    (["--target", "species"], "garbage.csv", 1, ["garbage.csv is not a UTF-8 text file"]),
    (["--target", "species"], "missing.csv", 1, ["missing.csv: no such file"]),
    (["--target", "species", "--model", "forest"], "iris.csv", 2,
     ["unknown model 'forest'", "mlp-classifier"]),
    (["--target", "species", "--loss", "cauchy"], "iris.csv", 2,
     ["argument --loss: invalid choice: 'cauchy'"]),
    (["--target", "species", "--optimizer", "lbfgs"], "iris.csv", 2,
     ["argument --optimizer: invalid choice: 'lbfgs'"]),
    (["--target", "species", "--model", "softmax", "--loss", "hinge"], "iris.csv", 2,
     ["--loss hinge is not a loss of SoftmaxRegression"]),
    (["--target", "species", "--model", "svm", "--loss", "huber"], "iris.csv", 2,
     ["--loss huber is not a loss of LinearSVM (it takes hinge, squared_hinge)"]),
    (["--target", "species", "--loss", "absolute_error"], "iris.csv", 1,
     ["the target 'species' is not numeric (row 1 holds 'setosa')",
      "LinearRegression is a regressor"]),
    (["--target", "y", "--model", "softmax"], "reg.csv", 1,
     ["holds non-integer numbers and SoftmaxRegression is a classifier"]),
    (["--target", "species", "--lr", "0"], "iris.csv", 2, ["argument --lr: '0' is not valid"]),
    (["--target", "species", "--epochs", "2.5"], "iris.csv", 2, ["argument --epochs"]),
    (["--target", "species", "--plot", "c.xyz"], "iris.csv", 2,
     ["matplotlib cannot write .xyz files"]),
    (["--target", "species", "--save", "c.png", "--plot", "c.png"], "iris.csv", 2,
     ["--save and --plot name the same file"]),
    (["--target", "species", "--save", "nofolder/m.npz"], "iris.csv", 1,
     ["the folder", "does not exist"]),
    ([], "iris.csv", 2, ["the following arguments are required: --target"]),
]


@pytest.mark.parametrize("args,data,code,words", FIT_ERRORS,
                         ids=[" ".join(c[0][2:]) or c[1] for c in FIT_ERRORS])
def test_fit_errors_are_one_line_and_write_nothing(args, data, code, words, iris_csv,
                                                   tmp_path, monkeypatch):
    _bad_files(tmp_path, iris_csv)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    got, out, err = call("fit", data, *args, "--save", "model.npz") if "--save" not in args \
        else call("fit", data, *args)
    assert got == code, err
    assert err.count("\n") == 1 and err.startswith("lossopt fit: error: "), err
    for w in words:
        assert w in err
    assert sorted(os.listdir(tmp_path)) == before      # no model, no temporary file


PREDICT_ERRORS = [
    (["model.npz", "few.csv"], 1,
     ["few.csv has no columns 'petal_width', 'sepal_width'"]),
    (["model.npz", "text.csv"], 1, ["column 'sepal_width', row 7 (line 8) of text.csv"]),
    (["nomodel.npz", "iris.csv"], 1, ["nomodel.npz: no such model file"]),
    (["iris.csv", "iris.csv"], 1, ["iris.csv is not a lossopt model file (not a .npz"]),
    (["notamodel.npz", "iris.csv"], 1, ["notamodel.npz is not a lossopt model file"]),
    (["plain.npz", "iris.csv"], 1,
     ["plain.npz is not a readable lossopt model file", "no __meta__ entry"]),
    (["svm.npz", "iris.csv", "--proba"], 2, ["--proba: LinearSVM gives no probabilities"]),
    (["model.npz", "iris.csv", "--out", "existing.csv"], 1,
     ["existing.csv exists; pass --force to overwrite it (--out)"]),
    (["model.npz"], 2, ["the following arguments are required: DATA"]),
]


@pytest.fixture
def models(iris_csv, tmp_path):
    path, X, y = iris_csv
    # a small softmax model on 2 features, saved with its names, and an SVM
    m = SoftmaxRegression(max_epochs=5).fit(X[:, [3, 1]], y)
    m.feature_names_in_ = np.array(["petal_width", "sepal_width"], dtype=object)
    m.target_name_ = "species"
    m.save(tmp_path / "model.npz")
    LinearSVM(max_epochs=5).fit(X, y).save(tmp_path / "svm.npz")
    (tmp_path / "existing.csv").write_text("keep me\n")
    return m


@pytest.mark.parametrize("args,code,words", PREDICT_ERRORS,
                         ids=[" ".join(c[0]) for c in PREDICT_ERRORS])
def test_predict_errors_are_one_line_and_write_nothing(args, code, words, models, iris_csv,
                                                       tmp_path, monkeypatch):
    _bad_files(tmp_path, iris_csv)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    out_args = [] if "--out" in args else ["--out", "pred.csv"]
    got, out, err = call("predict", *args, *out_args)
    assert got == code, err
    assert err.count("\n") == 1 and err.startswith("lossopt predict: error: "), err
    for w in words:
        assert w in err
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "existing.csv").read_text() == "keep me\n"


def test_existing_outputs_need_force(iris_csv, tmp_path, monkeypatch):
    path, X, y = iris_csv
    monkeypatch.chdir(tmp_path)
    for name in ("m.npz", "c.png", "p.csv"):
        (tmp_path / name).write_text("old")
    args = ["fit", path, "--target", "species", "--epochs", "20", "--save", "m.npz",
            "--plot", "c.png"]
    code, out, err = call(*args)
    assert code == 1 and "m.npz exists; pass --force to overwrite it (--save)" in err
    assert out == ""                       # refused before reading or training
    (tmp_path / "m.npz").unlink()
    code, out, err = call(*args)
    assert code == 1 and "c.png exists; pass --force" in err
    assert not (tmp_path / "m.npz").exists()
    assert (tmp_path / "c.png").read_text() == "old"
    code, out, err = call(*args, "--force")
    assert code == 0, err
    assert load(tmp_path / "m.npz").n_iter_ <= 20
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = call("predict", "m.npz", path, "--out", "p.csv")
    assert code == 1 and (tmp_path / "p.csv").read_text() == "old"
    code, out, err = call("predict", "m.npz", path, "--out", "p.csv", "--force")
    assert code == 0 and read_csv(tmp_path / "p.csv")[0] == ["species"]
    assert len(read_csv(tmp_path / "p.csv")[1]) == len(y)
    assert oct(os.stat(tmp_path / "p.csv").st_mode & 0o777) != oct(0o600)
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".lossopt-")) == []


def test_errors_through_subprocess(iris_csv, tmp_path):
    """The real process: exit codes 1 and 2, one line on stderr, no traceback."""
    r = run("fit", "iris.csv", "--target", "nope", "--save", "m.npz", cwd=tmp_path, code=1)
    assert r.stderr.startswith("lossopt fit: error: iris.csv has no column 'nope'")
    assert r.stderr.count("\n") == 1
    r = run("fit", "iris.csv", "--target", "species", "--model", "tree", cwd=tmp_path, code=2)
    assert r.stderr.count("\n") == 1 and "unknown model 'tree'" in r.stderr
    r = run("predict", "iris.csv", "iris.csv", cwd=tmp_path, code=1)
    assert r.stderr.count("\n") == 1
    assert os.listdir(tmp_path) == ["iris.csv"]


def test_without_matplotlib_and_tqdm(iris_csv, tmp_path):
    """--plot without matplotlib is a usage error (nothing trained or written);
    without tqdm training says so on one plain line."""
    code = ("import sys; sys.modules['matplotlib'] = None; sys.modules['tqdm'] = None; "
            "from lossopt.cli import main; sys.exit(main(sys.argv[1:]))")
    base = [sys.executable, "-c", code, "fit", "iris.csv", "--target", "species",
            "--epochs", "10"]
    r = subprocess.run(base + ["--plot", "c.png", "--save", "m.npz"], capture_output=True,
                       text=True, cwd=tmp_path, env=ENV, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("lossopt fit: error: --plot needs matplotlib, which is not "
                        "installed: pip install matplotlib\n")
    r = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path, env=ENV,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "training   SoftmaxRegression ... (install tqdm for a progress bar)\n"
    assert "validation" in r.stdout
    assert os.listdir(tmp_path) == ["iris.csv"]


def test_help_texts_and_bench():
    r = run("--help", cwd="/", code=0)
    for command in ("info", "fit", "predict", "bench"):
        assert f"\n    {command} " in r.stdout
    r = run("fit", "--help", cwd="/", code=0)
    text = " ".join(r.stdout.split())
    for words in ("--target COLUMN", "--model NAME", "mlp-classifier (MLPClassifier)",
                  "--loss LOSS", "--optimizer NAME", "amsgrad", "--lr LR", "--epochs N",
                  "--batch-size N", "--save FILE", "--plot FILE", "--force",
                  "--validation-fraction F", "--random-state SEED", "Exit codes"):
        assert words in text, words
    r = run("predict", "--help", cwd="/", code=0)
    assert "--out FILE" in r.stdout and "--proba" in r.stdout and "--force" in r.stdout
    # bench: lossopt._bench.main's options (its run is tested in tests/test_bench.py)
    r = run("bench", "--help", cwd="/", code=0)
    assert r.stdout.startswith("usage: lossopt bench [-h] [--quick]")
    for words in ("--quick", "--markdown FILE", "--plot FILE"):
        assert words in r.stdout, words
    r = run("bench", "--no-such-option", cwd="/", code=2)
    assert "lossopt bench: error: unrecognized arguments: --no-such-option" in r.stderr


def test_read_table_numbers_and_labels(tmp_path):
    """CSV parsing: quoted fields, a BOM, blank lines, integer / float / text targets."""
    text = ('\ufeff"a, b",c,t\n"1.5", 2 ,1\n\n-3e2,4,2\n0,0.25,1\n')
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    t = read_table(tmp_path / "t.csv", target="t")
    assert t.feature_names == ["a, b", "c"] and t.target_name == "t"
    np.testing.assert_array_equal(t.X, [[1.5, 2.0], [-300.0, 4.0], [0.0, 0.25]])
    assert t.y.dtype == np.int64 and t.y.tolist() == [1, 2, 1]
    t = read_table(tmp_path / "t.csv", target="c")
    assert t.y.dtype == np.float64 and t.y.tolist() == [2.0, 4.0, 0.25]
    (tmp_path / "t.tsv").write_text("x\ty\n1\tcat\n2\tdog\n")
    t = read_table(tmp_path / "t.tsv", target="y")
    assert t.y.tolist() == ["cat", "dog"] and t.X.tolist() == [[1.0], [2.0]]


# ------------------------------------------------- review findings (fixed) --

def test_outputs_never_replace_the_inputs_even_with_force(iris_csv, tmp_path, monkeypatch):
    path, X, y = iris_csv
    monkeypatch.chdir(tmp_path)
    data = path.read_bytes()
    code, out, err = call("fit", path, "--target", "species", "--epochs", "5",
                          "--save", "m.npz", "--validation-fraction", "0")
    assert code == 0, err
    model = (tmp_path / "m.npz").read_bytes()
    for args in (["fit", path, "--target", "species", "--save", path.name, "--force"],
                 ["fit", path, "--target", "species", "--plot", str(path), "--force"],
                 ["predict", "m.npz", path, "--out", path.name, "--force"],
                 ["predict", "m.npz", path, "--out", "./m.npz", "--force"]):
        code, out, err = call(*args)
        assert code == 2 and "an output never replaces an input" in err, (args, err)
        assert err.count("\n") == 1
    assert path.read_bytes() == data and (tmp_path / "m.npz").read_bytes() == model
    # a hard link to the data is the data too
    os.link(path, tmp_path / "alias.csv")
    code, out, err = call("predict", "m.npz", path, "--out", "alias.csv", "--force")
    assert code == 2 and "is the data file" in err and path.read_bytes() == data


def test_a_quoted_empty_value_in_a_one_column_file_is_an_error_not_a_dropped_row(tmp_path):
    write_csv(tmp_path / "one.csv", ["x", "colour"],
              [[x, "red" if x < 5 else "blue"] for x in range(10)])
    code, out, err = call("fit", tmp_path / "one.csv", "--target", "colour", "--epochs", "5",
                          "--save", tmp_path / "m.npz")
    assert code == 0, err
    (tmp_path / "new.csv").write_text('x\n1\n""\n8\n')
    code, out, err = call("predict", tmp_path / "m.npz", tmp_path / "new.csv")
    assert code == 1 and "row 2 (line 3)" in err and "is empty" in err
    (tmp_path / "new.csv").write_text('x\n1\n\n8\n')       # a blank line is skipped
    code, out, err = call("predict", tmp_path / "m.npz", tmp_path / "new.csv")
    assert code == 0 and out.splitlines() == ["colour", "red", "blue"]


def test_a_closed_pipe_loses_no_output_file(iris_csv, tmp_path):
    # `lossopt fit ... --save m.npz | head -1`: the model is saved all the same
    cmd = (f"{sys.executable} -m lossopt fit iris.csv --target species --epochs 5 "
           "--save m.npz | head -1")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                       cwd=tmp_path, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("data ") and "Broken pipe" not in r.stderr
    assert "Traceback" not in r.stderr and (tmp_path / "m.npz").exists()
    r = subprocess.run(["bash", "-o", "pipefail", "-c",
                        f"{sys.executable} -m lossopt predict m.npz iris.csv | head -2"],
                       capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.splitlines()[0] == "species"


def test_a_plot_format_matplotlib_cannot_write_is_one_line(iris_csv, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    def fail(self, *args, **kwargs):
        raise RuntimeError("'xelatex' not found")
    monkeypatch.setattr(Figure, "savefig", fail)
    path, X, y = iris_csv
    code, out, err = call("fit", path, "--target", "species", "--epochs", "5",
                          "--save", tmp_path / "m.npz", "--plot", tmp_path / "c.pgf")
    assert code == 1 and err.count("\n") == 1
    assert "--plot: matplotlib could not write pgf ('xelatex' not found)" in err
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "c.pgf").exists()


def test_an_edited_model_file_is_one_line(iris_csv, tmp_path):
    path, X, y = iris_csv
    code, out, err = call("fit", path, "--target", "species", "--epochs", "5",
                          "--save", tmp_path / "m.npz")
    assert code == 0, err
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        arrays = dict(z)
    key = next(k for k in arrays if k.endswith("classes_"))
    arrays[key] = arrays[key][:1]                  # one class left for three columns
    np.savez(tmp_path / "bad.npz", **arrays)
    code, out, err = call("predict", tmp_path / "bad.npz", path)
    assert code == 1 and err.count("\n") == 1 and "prediction failed" in err


def test_huge_values_give_finite_metrics(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=200) * 1e200
    t = 3e100 * x + rng.normal(size=200) * 1e299
    write_csv(tmp_path / "huge.csv", ["x", "t"], np.column_stack([x, t]).tolist())
    code, out, err = call("fit", tmp_path / "huge.csv", "--target", "t")
    assert code == 0 and "Warning" not in err, err
    train = next(line for line in out.splitlines() if line.startswith("train "))
    r2, rmse = map(float, train.split()[1:])
    assert 0.99 < r2 <= 1.0 and 5e298 < rmse < 2e299


def test_a_diverging_fit_warns_and_its_metrics_stay_apart(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    write_csv(tmp_path / "reg.csv", ["a", "b", "t"],
              np.column_stack([X, X @ [1.0, 2.0]]).tolist())
    code, out, err = call("fit", tmp_path / "reg.csv", "--target", "t", "--model",
                          "mlp-regressor", "--lr", "1e6", "--epochs", "5")
    assert code == 0
    assert "warning: the training loss rose from" in err and "smaller --lr" in err
    train = next(line for line in out.splitlines() if line.startswith("train "))
    assert len(train.split()) == 3                 # label, R^2, RMSE: never run together
    assert float(train.split()[1]) < -1e6


def test_bench_refuses_an_unusable_output_before_measuring(tmp_path):
    code, out, err = call("bench", "--quick", "--markdown", tmp_path / "no" / "x.md")
    assert code == 2 and "has no folder" in err and err.count("\n") == 1
    code, out, err = call("bench", "--quick", "--plot", tmp_path)
    assert code == 2 and "is a folder" in err
