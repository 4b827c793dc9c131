"""save(path) / lossopt.models.load(path): identical predictions after the
round trip, and files that are not lossopt models are refused without
unpickling anything."""

import json

import numpy as np
import pytest

from lossopt.models import LinearRegression, LogisticRegression, NotFittedError, \
    SoftmaxRegression, load

pytestmark = pytest.mark.usefixtures("one_blas_thread")

_rng = np.random.default_rng(3)
X = _rng.normal(size=(60, 3)) * [1.0, 100.0, 0.01]
Xnew = _rng.normal(size=(25, 3)) * [1.0, 100.0, 0.01]

CASES = [
    (LinearRegression(max_epochs=30), X @ [1.0, 0.01, 50.0]),
    (LinearRegression(loss="huber", max_epochs=30), np.column_stack([X[:, 0], -X[:, 1]])),
    (LogisticRegression(class_weight={"no": 2.0}, max_epochs=30),
     np.where(X[:, 0] > 0, "yes", "no")),
    (SoftmaxRegression(label_smoothing=0.1, optimizer=lambda p, lr: __import__(
        "lossopt").optim.SGD(p, lr=lr), lr=0.5, max_epochs=30),
     np.digitize(X[:, 0], [-0.5, 0.5]) * 10),
]


@pytest.mark.parametrize("model,y", CASES, ids=lambda c: type(c).__name__)
def test_round_trip_gives_identical_predictions(model, y, tmp_path):
    model.fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(X)))
    path = tmp_path / "model.npz"
    model.save(path)
    back = load(path)
    assert type(back) is type(model)
    np.testing.assert_array_equal(back.predict(Xnew), model.predict(Xnew))
    assert back.predict(Xnew).dtype == model.predict(Xnew).dtype
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        if hasattr(model, method):
            np.testing.assert_array_equal(getattr(back, method)(Xnew),
                                          getattr(model, method)(Xnew))
    assert back.score(X, y) == model.score(X, y)
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            got = getattr(back, name)
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(got, value)
                assert got.dtype == value.dtype and got.shape == value.shape
            else:
                assert got == value and type(got) is type(value), name
    params, back_params = model.get_params(), back.get_params()
    for k, v in params.items():
        assert back_params[k] == (None if callable(v) else v), k


def test_warm_start_after_load_continues_from_the_saved_parameters(tmp_path):
    y = X @ [1.0, 0.01, 50.0]
    m = LinearRegression(max_epochs=100, tol=None).fit(X, y)
    m.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz").set_params(warm_start=True, max_epochs=1, optimizer="sgd",
                                               lr=1e-12)
    np.testing.assert_allclose(back.fit(X, y).coef_, m.coef_, rtol=1e-9)
    assert back.n_iter_ == 101


def test_save_before_fit_raises(tmp_path):
    with pytest.raises(NotFittedError):
        SoftmaxRegression().save(tmp_path / "x.npz")


def _meta(path):
    with np.load(path) as f:
        return json.loads(str(f["__meta__"])), {k: f[k] for k in f.files if k != "__meta__"}


def test_load_refuses_an_unknown_class(tmp_path):
    LinearRegression(max_epochs=3).fit(X, X[:, 0]).save(tmp_path / "m.npz")
    meta, arrays = _meta(tmp_path / "m.npz")
    for cls in ("Popen", "BaseModel_", "ndarray", "LinearRegressionX"):
        meta["cls"] = cls
        np.savez(tmp_path / "bad.npz", __meta__=np.array(json.dumps(meta)), **arrays)
        with pytest.raises(ValueError, match=f"class {cls!r}, which is not one of"):
            load(tmp_path / "bad.npz")


def test_load_never_unpickles(tmp_path):
    """A file with a pickled object array is refused by np.load(allow_pickle=False)
    before any object is built (the pickle here would raise if it ran)."""
    LinearRegression(max_epochs=3).fit(X, X[:, 0]).save(tmp_path / "m.npz")
    meta, arrays = _meta(tmp_path / "m.npz")

    class Boom:
        def __reduce__(self):
            return (exec, ("raise RuntimeError('unpickled!')",))
    arrays["attr:coef_"] = np.array([Boom()], dtype=object)
    np.savez(tmp_path / "evil.npz", __meta__=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        load(tmp_path / "evil.npz")


def test_load_refuses_other_files(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a lossopt model file"):
        load(tmp_path / "plain.npz")
    np.savez(tmp_path / "other.npz", __meta__=np.array('{"format": "something else"}'))
    with pytest.raises(ValueError, match="is not a lossopt.models/1 file"):
        load(tmp_path / "other.npz")
