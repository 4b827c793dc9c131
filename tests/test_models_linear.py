"""Linear, logistic and softmax regression: their objectives against
independent references (NumPy least squares, SciPy minimisers, scikit-learn),
gradients against central differences, predictions, and errors."""

import numpy as np
import pytest

from helpers import numerical_gradient
from lossopt.models import LinearRegression, LogisticRegression, NotFittedError, \
    SoftmaxRegression

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _problem(rng, n=120, d=4, scales=(1.0, 10.0, 0.1, 1000.0)):
    X = rng.normal(size=(n, d)) * np.asarray(scales[:d]) + rng.normal(size=d) * 5
    return X


# ------------------------------------------------- against scikit-learn --

def _split(load):
    from sklearn.model_selection import train_test_split
    X, y = load(return_X_y=True)
    return train_test_split(X, y, random_state=0)


@pytest.mark.parametrize("dataset,model", [("load_iris", SoftmaxRegression),
                                           ("load_digits", SoftmaxRegression),
                                           ("load_breast_cancer", LogisticRegression)])
def test_defaults_match_sklearn_logistic_regression(dataset, model):
    """With defaults, on the raw (unscaled) features: test accuracy no more than
    1 point below sklearn's default LogisticRegression, and within 1 point of
    sklearn's LogisticRegression with the same objective (standardised
    features, C = 1 / (alpha * n_samples))."""
    sklearn = pytest.importorskip("sklearn")
    import warnings
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    Xtr, Xte, ytr, yte = _split(getattr(datasets, dataset))
    ours = model(random_state=0).fit(Xtr, ytr)
    acc = ours.score(Xte, yte)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        default = SkLR().fit(Xtr, ytr).score(Xte, yte)
    same = make_pipeline(StandardScaler(),
                         SkLR(C=1.0 / (ours.alpha * len(Xtr)), max_iter=10000)).fit(Xtr, ytr)
    assert acc >= default - 0.01, (acc, default)
    assert abs(acc - same.score(Xte, yte)) <= 0.01, (acc, same.score(Xte, yte))


def test_defaults_match_closed_form_on_diabetes():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_diabetes
    Xtr, Xte, ytr, yte = _split(load_diabetes)
    A = np.column_stack([Xtr, np.ones(len(Xtr))])
    coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
    pred = np.column_stack([Xte, np.ones(len(Xte))]) @ coef
    r2_ref = 1 - np.sum((yte - pred) ** 2) / np.sum((yte - yte.mean()) ** 2)
    ours = LinearRegression(random_state=0).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - r2_ref) <= 0.01


def test_alpha_is_sklearn_c_mapping():
    """LogisticRegression(alpha=1/(C n), standardize=False) minimises sklearn's
    C·Σ loss + ½‖w‖²: the same coefficients as sklearn at convergence."""
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression as SkLR
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.normal(size=200) > 0).astype(int)
    C = 0.5
    ref = SkLR(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    ours = LogisticRegression(alpha=1.0 / (C * len(X)), standardize=False, optimizer="gd",
                              lr=2.0, max_epochs=3000, tol=None).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-7)


# ------------------------------------------------------- least squares --

def test_gd_reaches_least_squares_solution(rng):
    """Full-batch gradient descent with squared error and no penalty converges
    to NumPy's least-squares solution (incl. intercept) to 1e-8, also weighted,
    on unscaled features and targets."""
    X = _problem(rng)
    y = X @ [2.0, -0.3, 40.0, 0.001] + 1000.0 + rng.normal(size=len(X)) * 50
    sw = rng.uniform(0.5, 2.0, size=len(X))
    for weights in (None, sw):
        m = LinearRegression(optimizer="gd", lr=0.5, alpha=0.0, tol=None,
                             max_epochs=600).fit(X, y, sample_weight=weights)
        w = np.ones(len(X)) if weights is None else weights
        A = np.column_stack([X, np.ones(len(X))]) * np.sqrt(w)[:, None]
        ref = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)[0]
        np.testing.assert_allclose(m.coef_, ref[:-1], rtol=1e-8, atol=0)
        np.testing.assert_allclose(m.intercept_, ref[-1], rtol=1e-8, atol=0)


def test_sample_weight_equals_repeating_samples(rng):
    """Integer weights (0 included) give the objective of the data set with
    each sample repeated that many times: with full-batch "gd" the fits agree
    to rounding (the estimator-check waiver in test_models_estimator_checks.py
    is about Adam amplifying that rounding)."""
    X = _problem(rng, n=40)
    y = X @ [1.0, 0.5, -3.0, 0.002] + rng.normal(size=40)
    sw = rng.integers(0, 4, size=40)
    order = rng.permutation(int(sw.sum()))
    Xr, yr = np.repeat(X, sw, axis=0)[order], np.repeat(y, sw)[order]
    common = dict(optimizer="gd", lr=0.3, max_epochs=200, tol=None, alpha=0.01)
    a = LinearRegression(loss="huber", **common).fit(X, y, sample_weight=sw)
    b = LinearRegression(loss="huber", **common).fit(Xr, yr)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10)
    yc = np.where(y > np.median(y), "hi", "lo")
    c = LogisticRegression(**common).fit(X, yc, sample_weight=sw)
    d = LogisticRegression(**common).fit(Xr, np.repeat(yc, sw)[order])
    np.testing.assert_allclose(c.decision_function(X), d.decision_function(X), rtol=1e-10)


def test_gd_ridge_matches_closed_form_in_standardised_space(rng):
    """alpha penalises the weights of the standardised problem (not the
    intercept): closed form (Xs'Xs/n + alpha I) w = Xs'ys/n."""
    X = _problem(rng)
    Y = np.column_stack([X @ [1.0, 2.0, 3.0, 0.01], X[:, 0] * 4 - 7]) + rng.normal(size=(120, 2))
    alpha = 0.3
    m = LinearRegression(optimizer="gd", lr=0.5, alpha=alpha, tol=None, max_epochs=400).fit(X, Y)
    Xs = (X - X.mean(0)) / X.std(0)
    Ys = (Y - Y.mean(0)) / Y.std(0)
    W = np.linalg.solve(Xs.T @ Xs / len(X) + alpha * np.eye(4), Xs.T @ Ys / len(X))
    coef = (W / X.std(0)[:, None] * Y.std(0)).T
    np.testing.assert_allclose(m.coef_, coef, rtol=1e-9)
    np.testing.assert_allclose(m.intercept_, Y.mean(0) - coef @ X.mean(0), rtol=1e-9)
    assert m.coef_.shape == (2, 4) and m.predict(X).shape == (120, 2)


def _objective_minimum(objective, dim):
    from scipy.optimize import minimize
    res = minimize(objective, np.zeros(dim), method="BFGS", options=dict(gtol=1e-10))
    return res.x, res.fun


def test_absolute_error_reaches_the_l1_optimum(rng):
    """Median regression: the mean absolute error reached is within 1e-3 of the
    optimum of the linear programme (SciPy's linprog)."""
    from scipy.optimize import linprog
    X = rng.normal(size=(80, 2))
    y = X @ [1.5, -1.0] + 2.0 + rng.standard_cauchy(size=80)
    m = LinearRegression(loss="absolute_error", standardize=False, lr=0.05,
                         lr_schedule="cosine", max_epochs=1500, tol=None).fit(X, y)
    n, d = X.shape
    # variables: w (d), b, r+ (n), r- (n); minimise sum(r+ + r-) / n
    c = np.concatenate([np.zeros(d + 1), np.ones(2 * n) / n])
    A = np.hstack([X, np.ones((n, 1)), -np.eye(n), np.eye(n)])
    res = linprog(c, A_eq=A, b_eq=y, bounds=[(None, None)] * (d + 1) + [(0, None)] * 2 * n)
    ours = np.mean(np.abs(m.predict(X) - y))
    assert res.fun <= ours <= res.fun + 1e-3


def test_huber_matches_scipy_minimiser(rng):
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, 0.0, -2.0] + 0.5 + rng.standard_t(2, size=100)
    delta, alpha = 1.35, 0.05

    def objective(v):
        r = X @ v[:3] + v[3] - y
        a = np.abs(r)
        h = np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta))
        return h.mean() + 0.5 * alpha * v[:3] @ v[:3]
    v, _ = _objective_minimum(objective, 4)
    m = LinearRegression(loss="huber", delta=delta, alpha=alpha, standardize=False,
                         optimizer="gd", lr=0.5, max_epochs=3000, tol=None).fit(X, y)
    np.testing.assert_allclose(m.coef_, v[:3], atol=1e-6)
    np.testing.assert_allclose(m.intercept_, v[3], atol=1e-6)


def test_logistic_objective_with_weights_matches_scipy(rng):
    """Σ s_i BCE_i / Σ s_i + alpha/2 ‖w‖², s = sample_weight · class_weight[y],
    targets smoothed toward 1/2 by label_smoothing."""
    X = rng.normal(size=(90, 2))
    y = np.where(X @ [1.0, 1.0] + rng.normal(size=90) > 0.3, "b", "a")
    sw = rng.uniform(0.2, 3.0, size=90)
    cw = {"a": 2.0, "b": 0.5}
    alpha = 0.1
    s = sw * np.where(y == "a", 2.0, 0.5)
    t = (y == "b") * 0.8 + 0.1          # label_smoothing 0.2

    def objective(v):
        z = X @ v[:2] + v[2]
        loss = np.logaddexp(0, z) - t * z
        return (s * loss).sum() / s.sum() + 0.5 * alpha * v[:2] @ v[:2]
    v, _ = _objective_minimum(objective, 3)
    m = LogisticRegression(alpha=alpha, class_weight=cw, label_smoothing=0.2,
                           standardize=False, optimizer="gd",
                           lr=2.0, max_epochs=3000, tol=None).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(m.coef_[0], v[:2], atol=1e-6)
    np.testing.assert_allclose(m.intercept_[0], v[2], atol=1e-6)


def test_softmax_objective_matches_scipy(rng):
    """Label smoothing, balanced class weights and sample weights, as written
    in the docstring; class_weight='balanced' = n / (C · weighted count)."""
    X = rng.normal(size=(90, 2)) * [1.0, 100.0]
    y = rng.integers(0, 3, size=90)
    X[:, 0] += y
    sw = rng.uniform(0.5, 2.0, size=90)
    eps, alpha = 0.1, 0.05
    counts = np.bincount(y, weights=sw)
    s = sw * (sw.sum() / (3 * counts))[y]
    Xs = (X - np.average(X, 0, sw)) / np.sqrt(np.average((X - np.average(X, 0, sw)) ** 2, 0, sw))
    T = (1 - eps) * np.eye(3)[y] + eps / 3

    def objective(v):
        W, b = v[:6].reshape(2, 3), v[6:]
        z = Xs @ W + b
        logp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        return (s * -(T * logp).sum(1)).sum() / s.sum() + 0.5 * alpha * (W ** 2).sum()
    v, _ = _objective_minimum(objective, 9)
    m = SoftmaxRegression(label_smoothing=eps, class_weight="balanced", alpha=alpha,
                          optimizer="gd", lr=1.0, max_epochs=3000, tol=None)
    m.fit(X, y, sample_weight=sw)
    W = v[:6].reshape(2, 3)
    np.testing.assert_allclose(m.coef_ * m.x_scale_, W.T, atol=1e-6)
    np.testing.assert_allclose(m.decision_function(X), Xs @ W + v[6:], atol=1e-5)


# -------------------------------------------------------------- gradients --

MODELS_FOR_GRADIENTS = [
    (LinearRegression(), "reg"), (LinearRegression(loss="absolute_error"), "reg"),
    (LinearRegression(loss="huber", delta=0.7), "reg2"),
    (LogisticRegression(label_smoothing=0.3, class_weight={0: 3.0}), "bin"),
    (SoftmaxRegression(label_smoothing=0.2, class_weight="balanced"), "multi"),
]


@pytest.mark.parametrize("model,kind", MODELS_FOR_GRADIENTS, ids=lambda p: repr(p))
def test_data_gradient_matches_central_differences(model, kind, rng):
    X = _problem(rng, n=30)
    y = {"reg": lambda: X @ [1.0, 0.1, 2.0, 0.001] + rng.normal(size=30),
         "reg2": lambda: rng.normal(size=(30, 2)),
         "bin": lambda: rng.integers(0, 2, size=30),
         "multi": lambda: rng.integers(0, 4, size=30)}[kind]()
    sw = rng.uniform(0.1, 2.0, size=30)
    Xs, Y, s, enc = model._encode(X, y, sw)
    params = [rng.normal(size=p.shape)
              for p in model._init_params(enc["n_features_in_"], enc["n_outputs_"], rng)]
    grads = [np.empty_like(p) for p in params]
    model._data_loss_and_gradient(params, Xs, Y, s, grads)
    for i in range(len(params)):
        def f(v, i=i):
            trial = [p.copy() for p in params]
            trial[i] = v
            return model._data_loss_and_gradient(trial, Xs, Y, s,
                                                 [np.empty_like(p) for p in params])
        np.testing.assert_allclose(grads[i], numerical_gradient(f, params[i], h=1e-4),
                                   rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------ predictions --

def test_probabilities_and_decisions_agree(rng):
    X = _problem(rng)
    for model, y in [(LogisticRegression(), np.where(X[:, 0] > X[:, 0].mean(), 7, 3)),
                     (SoftmaxRegression(), np.digitize(X[:, 2], np.quantile(X[:, 2], [.3, .6]))),
                     (SoftmaxRegression(), np.where(X[:, 1] > X[:, 1].mean(), "x", "y"))]:
        model.set_params(max_epochs=200).fit(X, y)
        p = model.predict_proba(X)
        assert p.shape == (len(X), len(np.unique(y)))
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), p, rtol=1e-12)
        np.testing.assert_array_equal(model.predict(X), model.classes_[p.argmax(1)])
        d = model.decision_function(X)
        z = X @ model.coef_.T + model.intercept_
        if len(model.classes_) == 2:
            assert d.shape == (len(X),)
            np.testing.assert_allclose(d, z[:, -1] - (z[:, 0] if z.shape[1] == 2 else 0))
            np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-10)
        else:
            np.testing.assert_allclose(d, z)
        assert model.score(X, y) > 0.8


def test_predict_log_proba_is_finite_for_confident_predictions():
    X = np.array([[0.0], [1.0], [1e6]])
    m = LogisticRegression(standardize=False).fit(X[:2], [0, 1])
    lp = m.predict_log_proba(X)
    assert np.isfinite(lp).all() and lp[2, 1] == 0.0 and lp[2, 0] < -1000


def test_r2_score_matches_definition(rng):
    X = _problem(rng)
    y = X[:, 0] + rng.normal(size=len(X))
    sw = rng.uniform(size=len(X))
    m = LinearRegression(max_epochs=50).fit(X, y)
    pred = m.predict(X)
    mean = np.average(y, weights=sw)
    ref = 1 - np.sum(sw * (y - pred) ** 2) / np.sum(sw * (y - mean) ** 2)
    assert m.score(X, y, sample_weight=sw) == pytest.approx(ref, rel=1e-12)


# ----------------------------------------------------------------- errors --

def _fitted_state(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else
                [a.copy() for a in v["params"]] if isinstance(v, dict) else
                list(v) if isinstance(v, list) else v)
            for k, v in vars(model).items() if k.endswith("_") or k == "_train_state"}


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k])
        elif isinstance(a[k], list) and a[k] and isinstance(a[k][0], np.ndarray):
            for u, v in zip(a[k], b[k]):
                np.testing.assert_array_equal(u, v)
        else:
            assert a[k] == b[k], k


X_OK = np.random.default_rng(1).normal(size=(20, 3))
Y_BIN = np.arange(20) % 2
BAD_FITS = [
    (dict(X=np.where(np.eye(20, 3) > 0, np.nan, X_OK)), ValueError, "X contains NaN"),
    (dict(X=np.where(np.eye(20, 3) > 0, np.inf, X_OK)), ValueError, "X contains infinity"),
    (dict(X=X_OK[:, 0]), ValueError, "X must be 2-D"),
    (dict(X=X_OK[:0]), ValueError, "0 sample"),
    (dict(y=Y_BIN[:-1]), ValueError, "inconsistent numbers of samples"),
    (dict(y=np.zeros(20, dtype=int)), ValueError, "1 class"),
    (dict(y=np.arange(20) % 3), ValueError, "Only binary classification"),
    (dict(y=np.linspace(0, 1, 20)), ValueError, "Unknown label type: continuous"),
    (dict(y=None), ValueError, "requires y"),
    (dict(sample_weight=-np.ones(20)), ValueError, "sample_weight must be non-negative"),
    (dict(sample_weight=np.ones(19)), ValueError, "sample_weight must have shape"),
    (dict(params=dict(optimizer="lbfgs")), ValueError, "optimizer must be one of"),
    (dict(params=dict(optimizer=3)), TypeError, "optimizer must be one of"),
    (dict(params=dict(lr=-1.0)), ValueError, "lr must be"),
    (dict(params=dict(lr="big")), TypeError, "lr must be"),
    (dict(params=dict(batch_size=0)), ValueError, "batch_size"),
    (dict(params=dict(max_epochs=0)), ValueError, "max_epochs"),
    (dict(params=dict(alpha=-0.1)), ValueError, "alpha"),
    (dict(params=dict(validation_fraction=1.0)), ValueError, "validation_fraction"),
    (dict(params=dict(n_iter_no_change=0)), ValueError, "n_iter_no_change"),
    (dict(params=dict(tol=-1.0)), ValueError, "tol"),
    (dict(params=dict(early_stopping="yes")), TypeError, "early_stopping"),
    (dict(params=dict(random_state=-3)), ValueError, "random_state"),
    (dict(params=dict(lr_schedule="warmup")), ValueError, "lr_schedule"),
    (dict(params=dict(class_weight="even")), ValueError, "class_weight"),
    (dict(params=dict(class_weight={5: 1.0})), ValueError, "class_weight has label 5"),
    (dict(params=dict(standardize=1)), TypeError, "standardize"),
]


@pytest.mark.parametrize("bad,exc,msg", BAD_FITS)
def test_bad_fit_raises_and_leaves_the_model_as_it_was(bad, exc, msg):
    model = LogisticRegression(max_epochs=20)
    model.fit(X_OK, Y_BIN)
    before = _fitted_state(model)
    params = model.get_params()
    fresh = LogisticRegression(max_epochs=20)
    for m in (model, fresh):
        m.set_params(**bad.get("params", {}))
        with pytest.raises(exc, match=msg):
            m.fit(bad.get("X", X_OK), bad.get("y", Y_BIN),
                  sample_weight=bad.get("sample_weight"))
    _same_state(_fitted_state(model), before)
    assert not [k for k in vars(fresh) if k.endswith("_") or k == "_train_state"]
    model.set_params(**params)
    np.testing.assert_array_equal(model.predict(X_OK), model.predict(X_OK))


@pytest.mark.parametrize("bad,exc,msg", [
    (dict(loss="l3"), ValueError, "loss must be one of"),
    (dict(loss="huber", delta=0.0), ValueError, "delta"),
])
def test_bad_regression_options(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        LinearRegression(**bad).fit(X_OK, X_OK[:, 0])


def test_label_smoothing_is_checked():
    with pytest.raises(ValueError, match="label_smoothing"):
        SoftmaxRegression(label_smoothing=1.5).fit(X_OK, Y_BIN)


def test_divergence_raises_and_leaves_the_model_as_it_was():
    y = X_OK @ [1.0, 2.0, 3.0]
    model = LinearRegression(max_epochs=30).fit(X_OK, y)
    before = _fitted_state(model)
    model.set_params(optimizer="sgd", lr=1e6, tol=None)
    with pytest.raises(FloatingPointError, match="diverged"):
        model.fit(X_OK, y)
    _same_state(_fitted_state(model), before)


def test_predict_errors():
    m = SoftmaxRegression()
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict(X_OK)
    m.set_params(max_epochs=5).fit(X_OK, Y_BIN)
    with pytest.raises(ValueError, match="X has 2 features, but SoftmaxRegression is "
                                         "expecting 3 features"):
        m.predict_proba(X_OK[:, :2])
    with pytest.raises(ValueError, match="X contains NaN"):
        m.decision_function(np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="Complex data not supported"):
        m.predict(X_OK + 1j)
    with pytest.raises(TypeError, match="sparse"):
        scipy_sparse = pytest.importorskip("scipy.sparse")
        m.predict(scipy_sparse.csr_matrix(X_OK))


def test_inputs_are_not_modified_and_read_only_inputs_work():
    X, y, sw = X_OK.copy(), Y_BIN.copy(), np.linspace(1, 2, 20)
    for a in (X, y, sw):
        a.flags.writeable = False
    m = SoftmaxRegression(max_epochs=10).fit(X, y, sample_weight=sw)
    m.predict(X)
    np.testing.assert_array_equal(X, X_OK)
    np.testing.assert_array_equal(sw, np.linspace(1, 2, 20))


def test_column_vector_y_warns_and_is_flattened():
    from lossopt._validation import DataConversionWarning
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        m = LogisticRegression(max_epochs=5).fit(X_OK, Y_BIN[:, None])
    assert m.predict(X_OK).shape == (20,)


def test_get_set_params_and_repr():
    m = SoftmaxRegression(label_smoothing=0.1)
    assert m.get_params()["label_smoothing"] == 0.1
    assert repr(m) == "SoftmaxRegression(label_smoothing=0.1)"
    assert m.set_params(lr=0.2, optimizer="sgd") is m and m.lr == 0.2
    with pytest.raises(ValueError, match="Invalid parameter 'learning_rate'"):
        m.set_params(learning_rate=0.1)
    assert not [k for k in vars(m) if k.endswith("_")]
