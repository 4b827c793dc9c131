"""lossopt.datasets: the bundled data equals its published source, the toy
problems are deterministic and have the stated distributions, no network."""

import hashlib
import socket

import numpy as np
import pytest

from lossopt import datasets


# sha256 of the (1797, 65) int64 table (pixels, digit), first 16 hex digits: a changed
# file is caught even where scikit-learn is not installed
DIGITS_SHA256_16 = "e10b10289c0d9d8a"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("lossopt.datasets tried to open a socket")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_iris_matches_fisher_and_scikit_learn(no_network):
    iris = datasets.load_iris()
    X, y = iris.data, iris.target
    assert X.shape == (150, 4) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), [50, 50, 50])
    # Fisher's published class means (cm), e.g. setosa 5.006 3.428 1.462 0.246
    means = np.array([X[y == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(means, [[5.006, 3.428, 1.462, 0.246],
                                       [5.936, 2.770, 4.260, 1.326],
                                       [6.588, 2.974, 5.552, 2.026]], atol=5e-4)
    # the two corrected samples (UCI iris.names): 35 and 38, 1-based
    np.testing.assert_array_equal(X[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(X[37], [4.9, 3.6, 1.4, 0.1])
    assert list(iris.target_names) == ["setosa", "versicolor", "virginica"]
    assert len(iris.feature_names) == 4 and "CC BY 4.0" in iris.description
    sk = pytest.importorskip("sklearn.datasets")
    Xs, ys = sk.load_iris(return_X_y=True)
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)


def test_digits_match_uci_and_scikit_learn(no_network):
    digits = datasets.load_digits()
    X, y = digits.data, digits.target
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    # optdigits.tes's class counts (UCI optdigits.names)
    assert np.array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    np.testing.assert_array_equal(digits.images, X.reshape(-1, 8, 8))
    assert digits.feature_names[9] == "pixel_1_1"
    # content fingerprint of the integer table, stable across platforms
    table = np.column_stack([X.astype(np.int64), y]).astype("<i8")
    assert hashlib.sha256(table.tobytes()).hexdigest()[:16] == DIGITS_SHA256_16
    sk = pytest.importorskip("sklearn.datasets")
    Xs, ys = sk.load_digits(return_X_y=True)
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)


def test_every_call_returns_fresh_arrays():
    a = datasets.load_digits()
    a.data[:] = -1
    b = datasets.load_digits()
    assert b.data.min() == 0
    X, y = datasets.load_iris(return_X_y=True)
    assert isinstance(X, np.ndarray) and X.flags.writeable


def test_make_line_is_the_gaussian_line_model():
    X, y = datasets.make_line(20000, slope=-1.5, intercept=2.0, noise=0.3, random_state=3)
    assert X.shape == (20000, 1) and y.shape == (20000,)
    x = X[:, 0]
    assert -3 <= x.min() and x.max() <= 3
    A = np.column_stack([x, np.ones_like(x)])
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(coef, [-1.5, 2.0], atol=0.01)
    sigma = np.sqrt(res[0] / len(y))
    assert abs(sigma - 0.3) < 0.01
    # deterministic from the seed; another seed, other data
    X2, y2 = datasets.make_line(20000, slope=-1.5, intercept=2.0, noise=0.3, random_state=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(y, datasets.make_line(20000, random_state=4)[1])


def test_make_line_outliers_are_the_largest_x_moved_by_the_shift():
    X, y = datasets.make_line(40, random_state=1)
    Xo, yo = datasets.make_line(40, n_outliers=3, outlier_shift=-5.0, random_state=1)
    np.testing.assert_array_equal(X, Xo)
    moved = np.flatnonzero(yo != y)
    assert set(moved) == set(np.argsort(X[:, 0])[-3:])
    np.testing.assert_allclose(yo[moved] - y[moved], -5.0)


def test_make_red_blue():
    X, y = datasets.make_red_blue(10001, separation=3.0, random_state=2)
    assert X.shape == (10001, 2) and np.array_equal(np.bincount(y), [5000, 5001])
    c = 3.0 / (2 * np.sqrt(2))
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-c, -c], atol=0.05)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [c, c], atol=0.05)
    np.testing.assert_allclose(np.cov(X[y == 1].T), np.eye(2), atol=0.05)
    g = np.random.default_rng(5)
    Xg, _ = datasets.make_red_blue(10, random_state=g)
    assert np.array_equal(Xg, datasets.make_red_blue(10, random_state=np.random.default_rng(5))[0])


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.make_line(0), "n_samples"),
    (lambda: datasets.make_line(5, n_outliers=6), "n_outliers"),
    (lambda: datasets.make_line(5, noise=-1.0), "noise"),
    (lambda: datasets.make_line(5, slope=np.nan), "slope"),
    (lambda: datasets.make_line(5, random_state=-1), "random_state"),
    (lambda: datasets.make_line(5, random_state="a"), "random_state"),
    (lambda: datasets.make_red_blue(1), "n_samples"),
    (lambda: datasets.make_red_blue(4, separation="far"), "separation"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_load_rejects_positional_and_unknown_arguments():
    with pytest.raises(TypeError):
        datasets.load_iris(True)
