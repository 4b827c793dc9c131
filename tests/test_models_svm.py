"""LinearSVM: the objective (C as scikit-learn's LinearSVC) against
independent references, gradients against central differences, the hinge
SVM against a reference SVM solver, accuracy against LinearSVC, bad input,
files."""

import numpy as np
import pytest

from helpers import (assert_fit_refuses_bad_data, assert_model_gradients,
                     assert_save_load_round_trip, blobs)
from lossopt.models import LinearSVM
from lossopt.optim import ExponentialLR


def _standardised(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _textbook_loss(S, y, loss, multi_class, n_classes):
    """Per-sample loss of scores S (n, k), written from the definitions."""
    h = (lambda m: np.maximum(0.0, 1.0 - m)) if loss == "hinge" else \
        (lambda m: np.maximum(0.0, 1.0 - m) ** 2)
    n = S.shape[0]
    if multi_class == "ovr":
        if n_classes == 2:
            return h(np.where(y == 1, 1.0, -1.0) * S[:, 0])
        Y = np.where(y[:, None] == np.arange(n_classes), 1.0, -1.0)
        return h(Y * S).sum(axis=1)
    true = S[np.arange(n), y]
    others = np.where(np.arange(S.shape[1]) == y[:, None], -np.inf, S)
    if multi_class == "crammer_singer":
        return h(true - others.max(axis=1))
    diffs = true[:, None] - S
    terms = h(diffs)
    terms[np.arange(n), y] = 0.0
    return terms.sum(axis=1)


CASES = [(loss, mc, k) for loss in ("hinge", "squared_hinge")
         for mc in ("ovr", "crammer_singer", "weston_watkins") for k in (2, 4)]


@pytest.mark.parametrize("loss, multi_class, n_classes", CASES)
def test_data_loss_and_gradient_vs_definition_and_central_differences(loss, multi_class,
                                                                      n_classes, rng):
    X, y = blobs(rng, 6, n_classes, 3, spread=1.0)
    sw = rng.uniform(0.5, 2.0, size=y.size)
    model = LinearSVM(loss=loss, multi_class=multi_class)
    Xs, Y, sw_enc, enc = model._encode(X, y, sw)
    params = model._init_params(enc["n_features_in_"], enc["n_outputs_"], rng)
    for p in params:
        p += rng.normal(size=p.shape)
    value = assert_model_gradients(model, Xs, Y, sw_enc, params, h=1e-5, atol=1e-8)
    S = Xs @ params[0] + params[1]
    ref = np.sum(sw * _textbook_loss(S, y, loss, multi_class, n_classes)) / sw.sum()
    assert value == pytest.approx(ref, rel=1e-12)


def _svm_objective(W, b, Z, y, C, loss, sw):
    """scikit-learn's LinearSVC objective (one-vs-rest, two classes) on Z."""
    m = np.where(y == 1, 1.0, -1.0) * (Z @ W + b)
    h = np.maximum(0.0, 1.0 - m)
    if loss == "squared_hinge":
        h = h ** 2
    return 0.5 * W @ W + C * np.sum(sw * h)


@pytest.mark.parametrize("C", [0.1, 10.0])
def test_C_is_linearsvc_C_squared_hinge_vs_scipy(C, rng):
    """The squared hinge is smooth: minimise ½‖w‖² + C Σ s_i loss_i on the
    standardised features with scipy's L-BFGS and compare the minimiser."""
    from scipy.optimize import minimize
    X, y = blobs(rng, 40, 2, 3, spread=1.0)
    X = X * [1.0, 30.0, 0.1] + [5.0, -2.0, 0.0]
    sw = rng.uniform(0.5, 2.0, size=y.size)
    Z = (X - np.average(X, axis=0, weights=sw)) / np.sqrt(
        np.average((X - np.average(X, axis=0, weights=sw)) ** 2, axis=0, weights=sw))
    res = minimize(lambda v: _svm_objective(v[:3], v[3], Z, y, C, "squared_hinge", sw),
                   np.zeros(4), method="L-BFGS-B", options=dict(ftol=1e-15, gtol=1e-10,
                                                                maxiter=10000))
    model = LinearSVM(C=C, optimizer="nesterov", lr=0.05, lr_schedule=None, max_epochs=3000,
                      tol=None).fit(X, y, sample_weight=sw)
    ref_decision = Z @ res.x[:3] + res.x[3]
    np.testing.assert_allclose(model.decision_function(X), ref_decision, atol=1e-6)


def test_hinge_svm_reaches_reference_solver_decision_function(rng):
    """Hinge + L2 on a separable problem, trained with the documented scheme
    (full-batch subgradient descent, geometrically decaying step), reaches
    the decision function of libsvm's exact solver (SVC, linear kernel) to
    1e-3 on every training point."""
    svm = pytest.importorskip("sklearn.svm")
    X, y = blobs(rng, 50, 2, 3, spread=3.0)
    X = X * [1.0, 10.0, 0.5] + [3.0, 0.0, -1.0]
    Z = _standardised(X)
    for C in (0.1, 1.0):
        ref = svm.SVC(kernel="linear", C=C, tol=1e-12).fit(Z, y)
        assert ref.score(Z, y) == 1.0          # separable
        epochs, lr = 2000, 0.3 * C * y.size    # lr = 0.3 / alpha
        model = LinearSVM(loss="hinge", C=C, optimizer="gd", lr=lr, tol=None,
                          max_epochs=epochs, lr_schedule=lambda opt: ExponentialLR(
                              opt, gamma=(1e-5 / lr) ** (1 / epochs)))
        model.fit(X, y)
        gap = np.abs(model.decision_function(X) - ref.decision_function(Z)).max()
        assert gap < 1e-3, (C, gap)


def _split(loader):
    ms = pytest.importorskip("sklearn.model_selection")
    X, y = loader(return_X_y=True)
    return ms.train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.parametrize("dataset", ["iris", "digits", "breast_cancer"])
def test_accuracy_within_one_point_of_linearsvc(dataset):
    """Defaults on the unscaled features, same split: at most 1 percentage
    point below LinearSVC()'s test accuracy."""
    datasets = pytest.importorskip("sklearn.datasets")
    svm = pytest.importorskip("sklearn.svm")
    import warnings
    Xtr, Xte, ytr, yte = _split(getattr(datasets, f"load_{dataset}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # LinearSVC's ConvergenceWarning
        ref = svm.LinearSVC(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    ours = LinearSVM(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= ref - 0.01, (ours, ref)


def test_multiclass_forms_classifyblobs(rng):
    X, y = blobs(rng, 30, 4, 2, spread=10.0)
    for mc in ("ovr", "crammer_singer", "weston_watkins"):
        model = LinearSVM(multi_class=mc, random_state=0).fit(X, y)
        assert model.coef_.shape == (4, 2) and model.intercept_.shape == (4,)
        assert model.score(X, y) > 0.95
        np.testing.assert_array_equal(model.predict(X),
                                      np.argmax(model.decision_function(X), axis=1))


@pytest.mark.parametrize("multi_class", ["crammer_singer", "weston_watkins"])
def test_two_classes_with_a_multiclass_loss_report_one_score(multi_class, rng):
    X, y = blobs(rng, 20, 2, 3)
    labels = np.array(["a", "b"])[y]
    model = LinearSVM(multi_class=multi_class, random_state=0).fit(X, labels)
    W = model._train_state["params"][0]
    assert W.shape == (3, 2) and model.coef_.shape == (1, 3)
    scores = model.decision_function(X)
    np.testing.assert_array_equal(model.predict(X), np.where(scores > 0, "b", "a"))
    assert model.score(X, labels) == 1.0


def test_coef_on_original_scale(rng):
    X, y = blobs(rng, 30, 3, 4)
    X = X * [1e-3, 1.0, 1e3, 10.0] + [0.0, 5.0, -7.0, 1e4]
    model = LinearSVM(random_state=0).fit(X, y)
    W, b = model._train_state["params"]
    Z = (X - model.x_mean_) / model.x_scale_
    np.testing.assert_allclose(model.decision_function(X), Z @ W + b, rtol=1e-9, atol=1e-9)


def test_save_load_round_trip(tmp_path, rng):
    X, y = blobs(rng, 20, 3, 3)
    for model in (LinearSVM(random_state=0), LinearSVM(loss="hinge", multi_class="crammer_singer",
                                                       C=0.5, random_state=0)):
        model.fit(X, y)
        assert_save_load_round_trip(model, X, tmp_path / "svm.npz",
                                    ("decision_function", "predict"))


def test_bad_input_names_the_argument_and_keeps_a_fitted_model(rng):
    X, y = blobs(rng, 10, 3, 2)
    model = LinearSVM(random_state=0).fit(X, y)
    assert_fit_refuses_bad_data(model, X, y)
    coef = model.coef_.copy()
    for name, value, exc in [("C", 0.0, ValueError), ("C", "1", TypeError),
                             ("loss", "log", ValueError), ("multi_class", "ovo", ValueError),
                             ("optimizer", "lbfgs", ValueError)]:
        with pytest.raises(exc, match=name):
            model.set_params(**{name: value}).fit(X, y)
        model.set_params(**{name: LinearSVM().get_params()[name]})
    with pytest.raises(ValueError, match="has 3 features"):
        model.predict(np.zeros((2, 3)))
    np.testing.assert_array_equal(model.coef_, coef)


def test_partial_fit_refuses_unseen_labels_and_uses_C_over_the_batch(rng):
    X, y = blobs(rng, 10, 3, 2)
    model = LinearSVM(random_state=0).partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"label\(s\) \[7\]"):
        model.partial_fit(X, np.where(y == 0, 7, y))
    model.partial_fit(X, y)
    assert model.n_iter_ == 2 and model.coef_.shape == (4, 2)


def test_integer_sample_weights_equal_repeated_samples_full_batch(rng):
    """Full batch: the weighted objective with integer weights is the
    objective on the data with each sample repeated that many times (the
    standardiser, the weighted mean and alpha = 1/(C Σ weights) included)."""
    X, y = blobs(rng, 15, 3, 2, spread=2.0)
    counts = rng.integers(1, 4, size=y.size)
    opts = dict(C=0.5, optimizer="gd", lr=0.1, lr_schedule=None, max_epochs=50, tol=None)
    weighted = LinearSVM(**opts).fit(X, y, sample_weight=counts.astype(float))
    repeated = LinearSVM(**opts).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.decision_function(X), repeated.decision_function(X),
                               rtol=1e-10, atol=1e-12)
