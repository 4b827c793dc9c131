"""Data to try lossopt on: the lecture's toy problems and two small real datasets.

The toy problems are generated deterministically from a seed; the real ones
(Fisher's iris and the UCI optical digits) ship inside the package, in
``lossopt/data/`` with their sources and licences (``lossopt/data/README.md``).
Nothing here touches the network.

=====================  =============================================================
``load_iris``          150 flowers, 4 features, 3 classes (Fisher 1936; CC BY 4.0)
``load_digits``        1797 8×8 images of handwritten digits, 10 classes (UCI
                       optdigits test part, Alpaydin & Kaynak 1998; CC BY 4.0)
``make_line``          the lecture's regression figure: x₁ predicted from x₂ by a
                       line, Gaussian noise, optional outliers
``make_red_blue``      the lecture's classification figure: red and blue dots in
                       the plane, two overlapping Gaussian clouds
=====================  =============================================================
"""

import dataclasses
import gzip
from importlib import resources

import numpy as np

from ._validation import as_generator, check_finite_float, check_int, check_positive_float

__all__ = ["Dataset", "load_iris", "load_digits", "make_line", "make_red_blue"]


@dataclasses.dataclass(repr=False, eq=False)
class Dataset:
    """A bundled dataset: the arrays and what they mean.

    Attributes
    ----------
    name : str
        "iris" or "digits".
    data : ndarray of shape (n_samples, n_features), float64
        One sample per row.
    target : ndarray of shape (n_samples,), int64
        The class of each sample, an index into `target_names`.
    feature_names : list of str
        The name of each column of `data`.
    target_names : ndarray of str
        The name of each class.
    images : ndarray of shape (n_samples, 8, 8) or None
        `data` as images (digits only).
    description : str
        What the data is, its source and its licence.

    Examples
    --------
    >>> from lossopt.datasets import load_iris
    >>> iris = load_iris()
    >>> iris
    Dataset('iris', data=(150, 4), 3 classes)
    >>> X, y = iris          # unpacks as (data, target)
    >>> X.shape, y.shape
    ((150, 4), (150,))
    """

    name: str
    data: np.ndarray
    target: np.ndarray
    feature_names: list
    target_names: np.ndarray
    description: str
    images: np.ndarray = None

    def __iter__(self):
        return iter((self.data, self.target))

    def __repr__(self):
        return (f"Dataset({self.name!r}, data={self.data.shape}, "
                f"{len(self.target_names)} classes)")


_IRIS_CLASSES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")


def _data_file(name):
    return resources.files(__package__).joinpath("data", name)


def load_iris(*, return_X_y=False):
    """Fisher's iris: 150 flowers of 3 species, 4 measurements each.

    Read from the copy inside the package (``lossopt/data/iris.data``, the UCI
    file's format with Fisher's published values; CC BY 4.0), never downloaded.

    Parameters
    ----------
    return_X_y : bool, default False
        Return ``(data, target)`` instead of a :class:`Dataset`.

    Returns
    -------
    Dataset or (ndarray, ndarray)
        ``data`` (150, 4) float64 in cm (sepal length, sepal width, petal
        length, petal width), ``target`` (150,) int64 in {0, 1, 2} for
        ``target_names`` setosa, versicolor, virginica (50 each).

    Notes
    -----
    R. A. Fisher (1936), "The use of multiple measurements in taxonomic
    problems", Annals of Eugenics 7(2); UCI Machine Learning Repository,
    doi:10.24432/C56C76.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> X[0], y[0]
    (array([5.1, 3.5, 1.4, 0.2]), np.int64(0))
    >>> np.bincount(y)
    array([50, 50, 50])
    >>> load_iris().target_names
    array(['setosa', 'versicolor', 'virginica'], dtype='<U10')
    """
    text = _data_file("iris.data").read_text(encoding="ascii")
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    data = np.array([[float(v) for v in row[:4]] for row in rows])
    target = np.array([_IRIS_CLASSES.index(row[4]) for row in rows], dtype=np.int64)
    if return_X_y:
        return data, target
    return Dataset(
        "iris", data, target,
        ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
        np.array([c.removeprefix("Iris-") for c in _IRIS_CLASSES]),
        "Fisher's iris (1936): 150 flowers of three species, four measurements in cm. "
        "UCI Machine Learning Repository, doi:10.24432/C56C76; CC BY 4.0.")


def load_digits(*, return_X_y=False):
    """The UCI optical digits: 1797 8×8 images of handwritten digits 0–9.

    Read from the copy inside the package (``lossopt/data/optdigits.tes.gz``,
    the UCI file ``optdigits.tes``; CC BY 4.0), never downloaded. Each pixel is
    the number of set pixels in a 4×4 block of a 32×32 bitmap, so an integer
    in 0..16.

    Parameters
    ----------
    return_X_y : bool, default False
        Return ``(data, target)`` instead of a :class:`Dataset`.

    Returns
    -------
    Dataset or (ndarray, ndarray)
        ``data`` (1797, 64) float64 (the image rows one after another),
        ``target`` (1797,) int64 in 0..9, ``images`` (1797, 8, 8).

    Notes
    -----
    E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten
    Digits", UCI Machine Learning Repository, doi:10.24432/C50P49.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.datasets import load_digits
    >>> digits = load_digits()
    >>> digits.data.shape, digits.images.shape
    ((1797, 64), (1797, 8, 8))
    >>> digits.target[:10]
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> int(digits.data.min()), int(digits.data.max())
    (0, 16)
    """
    with _data_file("optdigits.tes.gz").open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64, ndmin=2)
    data = table[:, :64].astype(np.float64)
    target = np.ascontiguousarray(table[:, 64])
    if return_X_y:
        return data, target
    return Dataset(
        "digits", data, target,
        [f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        np.arange(10), "UCI optical recognition of handwritten digits, test part "
        "(optdigits.tes): 1797 8x8 images, pixels 0..16. Alpaydin & Kaynak (1998), "
        "doi:10.24432/C50P49; CC BY 4.0.", images=data.reshape(-1, 8, 8))


def make_line(n_samples=50, *, slope=0.8, intercept=0.5, noise=0.5, n_outliers=0,
              outlier_shift=-6.0, random_state=0):
    """The lecture's regression problem: predict x₁ from x₂ with a line.

    ``x₂ ~ Uniform(-3, 3)`` and ``x₁ = slope · x₂ + intercept + noise · ε`` with
    ``ε ~ N(0, 1)``: the Gaussian model under which the L2 loss is the
    maximum-likelihood estimator, with precision ``β = 1 / noise²``. The
    ``n_outliers`` samples with the largest x₂ are moved by ``outlier_shift``
    (all to one side, so that they pull an L2 fit and barely move an L1 fit).

    Parameters
    ----------
    n_samples : int, default 50
        Number of samples (>= 1).
    slope, intercept : float, default 0.8, 0.5
        The true line.
    noise : float, default 0.5
        Standard deviation of the Gaussian noise (>= 0).
    n_outliers : int, default 0
        How many samples become outliers (0..n_samples).
    outlier_shift : float, default -6.0
        Added to each outlier's x₁.
    random_state : int, numpy.random.Generator or None, default 0
        Seed; the same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        x₂, the input.
    y : ndarray of shape (n_samples,)
        x₁, the target.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.datasets import make_line
    >>> X, y = make_line(1000, noise=0.1)
    >>> slope, intercept = np.polyfit(X[:, 0], y, 1)
    >>> print(f"{slope:.2f} {intercept:.2f}")
    0.80 0.50
    >>> X2, y2 = make_line(1000, noise=0.1, n_outliers=5)
    >>> int((y2 != y).sum())        # the same draw, five samples moved
    5
    """
    n = check_int(n_samples, "n_samples", 1)
    slope = check_finite_float(slope, "slope")
    intercept = check_finite_float(intercept, "intercept")
    noise = check_positive_float(noise, "noise", allow_zero=True)
    k = check_int(n_outliers, "n_outliers", 0, n)
    shift = check_finite_float(outlier_shift, "outlier_shift")
    rng = as_generator(random_state)
    x2 = rng.uniform(-3.0, 3.0, size=n)
    x1 = slope * x2 + intercept + noise * rng.standard_normal(n)
    if k:
        x1[np.argsort(x2, kind="stable")[n - k:]] += shift
    return x2.reshape(n, 1), x1


def make_red_blue(n_samples=200, *, separation=2.5, random_state=0):
    """The lecture's classification problem: red and blue dots in the plane.

    Two Gaussian clouds of unit variance whose means are ``separation`` apart
    along the diagonal; ``n_samples // 2`` red dots (label 0) around
    ``-(separation / 2√2) · (1, 1)`` and the rest blue (label 1) around
    ``+(separation / 2√2) · (1, 1)``. With the default separation the clouds
    overlap a little, so no line separates them exactly and the losses'
    boundaries differ.

    Parameters
    ----------
    n_samples : int, default 200
        Number of dots (>= 2).
    separation : float, default 2.5
        Distance between the two means (>= 0).
    random_state : int, numpy.random.Generator or None, default 0
        Seed; the same seed gives the same dots.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The dots' coordinates.
    y : ndarray of shape (n_samples,), int64
        0 for red, 1 for blue.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.datasets import make_red_blue
    >>> X, y = make_red_blue(2000)
    >>> np.bincount(y)
    array([1000, 1000])
    >>> np.round(X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0), 1)
    array([1.8, 1.8])
    """
    n = check_int(n_samples, "n_samples", 2)
    sep = check_positive_float(separation, "separation", allow_zero=True)
    rng = as_generator(random_state)
    y = np.zeros(n, dtype=np.int64)
    y[n // 2:] = 1
    centre = sep / (2.0 * np.sqrt(2.0))
    X = rng.standard_normal((n, 2)) + np.where(y == 1, centre, -centre)[:, None]
    return X, y
