"""MLPClassifier / MLPRegressor: backpropagation against central differences
and torch's autograd, the ReLU subgradient at 0, the initialisation, the
network on the original scale, accuracy against scikit-learn's MLPs, bad
input, files."""

import numpy as np
import pytest

from helpers import (assert_fit_refuses_bad_data, assert_model_gradients,
                     assert_save_load_round_trip)
from lossopt.models import MLPClassifier, MLPRegressor
from lossopt.models.mlp import ACTIVATIONS, init_layers


def _data(rng, n=12, d=3, n_classes=3):
    X = rng.normal(size=(n, d)) * [1.0, 5.0, 0.2][:d] + 2.0
    return X, rng.integers(0, n_classes, size=n)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_classifier_gradients_vs_central_differences(activation, n_classes, rng):
    X, y = _data(rng, n_classes=n_classes)
    y[:n_classes] = np.arange(n_classes)
    sw = rng.uniform(0.5, 2.0, size=y.size)
    model = MLPClassifier((5, 4), activation=activation)
    Xs, Y, sw_enc, enc = model._encode(X, y, sw)
    params = model._init_params(enc["n_features_in_"], enc["n_outputs_"], rng)
    for p in params[len(params) // 2:]:
        p += rng.normal(scale=0.3, size=p.shape)     # intercepts away from 0
    assert_model_gradients(model, Xs, Y, sw_enc, params)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regressor_gradients_vs_central_differences(activation, rng):
    X, _ = _data(rng)
    y = rng.normal(size=(X.shape[0], 2)) * 50.0
    model = MLPRegressor((6,), activation=activation)
    Xs, Y, sw, enc = model._encode(X, y, None)
    params = model._init_params(enc["n_features_in_"], enc["n_outputs_"], rng)
    for p in params[1:2] + params[2:]:
        p += rng.normal(scale=0.3, size=p.shape)
    assert_model_gradients(model, Xs, Y, sw, params)


def test_loss_and_gradients_match_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    X, y = _data(rng, n=20, n_classes=3)
    sw = rng.uniform(0.5, 2.0, size=y.size)
    model = MLPClassifier((7, 5), activation="tanh")
    Xs, Y, sw_enc, enc = model._encode(X, y, sw)
    params = model._init_params(3, 3, rng)
    grads = [np.empty_like(p) for p in params]
    value = model._data_loss_and_gradient(params, Xs, Y, sw_enc, grads)

    tp = [torch.tensor(p, requires_grad=True) for p in params]
    a = torch.tensor(Xs)
    for i in range(3):
        a = a @ tp[i] + tp[3 + i]
        if i < 2:
            a = torch.tanh(a)
    per = torch.nn.functional.cross_entropy(a, torch.tensor(y), reduction="none")
    w = torch.tensor(sw)
    loss = (per * w).sum() / w.sum()
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for g, t in zip(grads, tp):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_relu_subgradient_is_zero_at_zero():
    """A hidden unit whose pre-activation is exactly 0 passes no gradient
    (the element 0 of ReLU's subdifferential [0, 1] at 0)."""
    model = MLPRegressor((2,))
    X = np.array([[1.0, -1.0], [2.0, 0.5]])
    W1 = np.array([[1.0, 1.0], [1.0, -2.0]])        # unit 0: z = 0 on sample 0
    b1 = np.array([0.0, 0.0])
    W2 = np.array([[1.0], [1.0]])
    b2 = np.array([0.0])
    Y = np.array([[1.0], [0.0]])
    params = [W1, W2, b1, b2]
    grads = [np.empty_like(p) for p in params]
    model._data_loss_and_gradient(params, X, Y, None, grads)
    # by hand: hidden pre-activations z = [[0, 3], [2.5, 1]], a = relu(z)
    a = np.array([[0.0, 3.0], [2.5, 1.0]])
    r = a.sum(axis=1, keepdims=True) - Y                # d loss / d output, times N
    mask = np.array([[0.0, 1.0], [1.0, 1.0]])           # relu'(0) = 0
    delta = (r @ W2.T) * mask
    np.testing.assert_allclose(grads[0], X.T @ delta / 2, rtol=1e-14)
    np.testing.assert_allclose(grads[2], delta.sum(axis=0) / 2, rtol=1e-14)
    np.testing.assert_allclose(grads[1], a.T @ r / 2, rtol=1e-14)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_initialisation_is_glorot_uniform_with_intercepts(activation):
    params = init_layers([400, 300, 10], activation, np.random.default_rng(0))
    for p, (fan_in, fan_out) in zip(params, [(400, 300), (300, 10), (400, 300), (300, 10)]):
        r = np.sqrt(6.0 / (fan_in + fan_out))
        assert p.shape == ((fan_in, fan_out) if p.ndim == 2 else (fan_out,))
        assert np.abs(p).max() <= r
        if p.size >= 3000:
            # uniform on [-r, r]: standard deviation r / sqrt(3), range close to 2r
            assert p.std() == pytest.approx(r / np.sqrt(3.0), rel=0.03)
            assert abs(p.mean()) < 3 * r / np.sqrt(3.0 * p.size)
            assert np.abs(p).max() > 0.99 * r
    b1 = params[2]
    assert b1.std() == pytest.approx(np.sqrt(6.0 / 700) / np.sqrt(3.0), rel=0.1)


def test_features_are_divided_by_their_root_mean_square(rng):
    X = rng.normal(size=(50, 3)) * [1.0, 100.0, 0.01] + [5.0, -300.0, 0.0]
    X[:, 2] = 0.0                                   # all-zero column: scale 1
    y = rng.integers(0, 3, size=50)
    model = MLPClassifier((4,), random_state=0, max_epochs=2).fit(X, y)
    assert not model.x_mean_.any()
    expected = np.sqrt(np.mean(X ** 2, axis=0))
    expected[2] = 1.0
    np.testing.assert_allclose(model.x_scale_, expected, rtol=1e-13)
    w = rng.uniform(0.5, 2.0, size=50)
    weighted = MLPRegressor((4,), random_state=0, max_epochs=2).fit(X, X[:, 0], sample_weight=w)
    np.testing.assert_allclose(weighted.x_scale_[:2],
                               np.sqrt((w[:, None] * X[:, :2] ** 2).sum(0) / w.sum()),
                               rtol=1e-13)


def test_network_on_the_original_scale(rng):
    X, y = _data(rng, n=40, n_classes=3)
    model = MLPClassifier((6,), random_state=0, max_epochs=5).fit(X, y)
    # coefs_ on raw X = the trained parameters on the scaled X
    params = model._train_state["params"]
    Z = (X - model.x_mean_) / model.x_scale_
    h = np.maximum(Z @ params[0] + params[2], 0.0)
    logits = h @ params[1] + params[3]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(X), p / p.sum(axis=1, keepdims=True),
                               rtol=1e-10)
    h = np.maximum(X @ model.coefs_[0] + model.intercepts_[0], 0.0)
    np.testing.assert_allclose(h @ model.coefs_[1] + model.intercepts_[1], logits, rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), model.predict_proba(X),
                               rtol=1e-12)

    yr = X @ [1.0, -2.0, 30.0] + 100.0
    reg = MLPRegressor((4,), activation="identity", random_state=0, max_epochs=3).fit(X, yr)
    P = reg._train_state["params"]
    pred_std = ((X - reg.x_mean_) / reg.x_scale_) @ P[0] @ P[1] + P[2] @ P[1] + P[3]
    np.testing.assert_allclose(reg.predict(X), pred_std[:, 0] * reg.y_scale_ + reg.y_mean_,
                               rtol=1e-10)


def test_binary_output_is_one_logistic_unit(rng):
    X, _ = _data(rng, n=30)
    y = np.where(X[:, 0] > 2.0, "pos", "neg")
    model = MLPClassifier((5,), random_state=0, max_epochs=20).fit(X, y)
    assert model.out_activation_ == "logistic" and model.coefs_[-1].shape == (5, 1)
    z = model._decision_scores(X)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], 1.0 / (1.0 + np.exp(-z)),
                               rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), np.where(z > 0, "pos", "neg"))


def _split(dataset, stratify=True):
    datasets = pytest.importorskip("sklearn.datasets")
    ms = pytest.importorskip("sklearn.model_selection")
    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    return ms.train_test_split(X, y, test_size=0.25, random_state=0,
                               stratify=y if stratify else None)


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.parametrize("dataset", ["digits", "breast_cancer"])
def test_accuracy_within_one_point_of_sklearn_mlp(dataset):
    """Defaults, unscaled features, same split, random_state 0 on both sides."""
    nn = pytest.importorskip("sklearn.neural_network")
    import warnings
    Xtr, Xte, ytr, yte = _split(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # ConvergenceWarning
        ref = nn.MLPClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
        ours = MLPClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= ref - 0.01, (ours, ref)


@pytest.mark.usefixtures("one_blas_thread")
def test_iris_accuracy_within_one_point_of_sklearn_mlp():
    """Defaults, raw iris features: the tests' split (random_state 0 on both
    sides; scikit-learn scores 1.0 there) and the mean over 10 stratified
    splits with random_state s for the split and both models (scikit-learn
    0.982)."""
    nn = pytest.importorskip("sklearn.neural_network")
    ms = pytest.importorskip("sklearn.model_selection")
    datasets = pytest.importorskip("sklearn.datasets")
    import warnings
    X, y = datasets.load_iris(return_X_y=True)
    ours, ref = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # ConvergenceWarning
        for s in range(10):
            Xtr, Xte, ytr, yte = ms.train_test_split(X, y, test_size=0.25, random_state=s,
                                                     stratify=y)
            ref.append(nn.MLPClassifier(random_state=s).fit(Xtr, ytr).score(Xte, yte))
            ours.append(MLPClassifier(random_state=s).fit(Xtr, ytr).score(Xte, yte))
    assert ours[0] >= ref[0] - 0.01, (ours[0], ref[0])
    assert np.mean(ours) >= np.mean(ref) - 0.01, (ours, ref)


@pytest.mark.usefixtures("one_blas_thread")
def test_regressor_r2_on_diabetes_vs_sklearn_with_scaling():
    """scikit-learn's MLPRegressor() on the raw diabetes targets does not fit
    in 200 epochs (R² = -3.7), so the reference is the same network with
    features and targets standardised (StandardScaler pipeline inside a
    TransformedTargetRegressor), R² averaged over random_state 0..4 on both
    sides, on the same split."""
    nn = pytest.importorskip("sklearn.neural_network")
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import warnings
    Xtr, Xte, ytr, yte = _split("diabetes", stratify=False)
    seeds = range(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.mean([TransformedTargetRegressor(
            make_pipeline(StandardScaler(), nn.MLPRegressor(random_state=s)),
            transformer=StandardScaler()).fit(Xtr, ytr).score(Xte, yte) for s in seeds])
        ours = np.mean([MLPRegressor(random_state=s).fit(Xtr, ytr).score(Xte, yte)
                        for s in seeds])
    assert ours >= ref - 0.01, (ours, ref)


def test_fit_is_bit_reproducible_and_partial_fit_matches_fit(rng):
    X, y = _data(rng, n=50)
    a = MLPClassifier((8,), random_state=3, max_epochs=4, batch_size=16, tol=None).fit(X, y)
    b = MLPClassifier((8,), random_state=3, max_epochs=4, batch_size=16, tol=None).fit(X, y)
    np.testing.assert_array_equal(a.packed_params_, b.packed_params_)
    c = MLPClassifier((8,), random_state=3, batch_size=16)
    for _ in range(4):
        c.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(a.packed_params_, c.packed_params_)


def test_save_load_round_trip(tmp_path, rng):
    X, y = _data(rng, n=30)
    clf = MLPClassifier((5, 3), random_state=0, max_epochs=3).fit(X, y)
    reg = MLPRegressor((4,), activation="tanh", random_state=0,
                       max_epochs=3).fit(X, X @ [1.0, 2.0, 3.0])
    for model, methods in ((clf, ("predict", "predict_proba")), (reg, ("predict",))):
        back = assert_save_load_round_trip(model, X, tmp_path / "m.npz", methods)
        assert [w.shape for w in back.coefs_] == [w.shape for w in model.coefs_]


def test_bad_input(rng):
    X, y = _data(rng, n=20)
    y[:3] = [0, 1, 2]
    model = MLPClassifier((4,), random_state=0, max_epochs=2).fit(X, y)
    assert_fit_refuses_bad_data(model, X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="gelu").fit(X, y)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes\[1\]"):
        MLPClassifier((4, 0)).fit(X, y)
    with pytest.raises(TypeError, match="hidden_layer_sizes"):
        MLPRegressor(hidden_layer_sizes=None).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="optimizer"):
        MLPRegressor(optimizer="lbfgs").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="has 2 features"):
        model.predict(X[:, :2])
    m = MLPClassifier((3,)).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"label\(s\) \[9\]"):
        m.partial_fit(X, np.where(y == 0, 9, y))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_early_stopping_scores_the_held_out_accuracy(n_classes, rng):
    X, _ = _data(rng, n=90)
    y = np.digitize(X[:, 0], np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1]))
    model = MLPClassifier((8,), early_stopping=True, validation_fraction=0.2, batch_size=10,
                          lr=0.01, n_iter_no_change=30, random_state=0).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_ < 200
    assert all(0.0 <= s <= 1.0 for s in model.validation_scores_)
    assert max(model.validation_scores_) > 0.9


def test_regressor_early_stopping_scores_r2(rng):
    X, _ = _data(rng, n=80)
    y = X @ [1.0, 0.5, -3.0]
    model = MLPRegressor((8,), early_stopping=True, batch_size=10, lr=0.01, n_iter_no_change=5,
                         random_state=0).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_
    assert max(model.validation_scores_) > 0.9
