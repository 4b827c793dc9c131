"""Models trained with lossopt's losses and optimizers: scikit-learn's
estimator conventions (without importing scikit-learn), one training loop,
NumPy matrix products.

Every model's constructor only stores hyper-parameters; ``fit(X, y,
sample_weight=None)`` returns the model; learned attributes end in ``_``;
``save(path)`` writes a ``.npz`` file that :func:`load` reads back without
unpickling anything.

Examples
--------
>>> import numpy as np
>>> from lossopt.models import SoftmaxRegression
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0], [9.0, 0.0], [9.0, 1.0]])
>>> y = np.array([0, 0, 1, 1, 2, 2])
>>> model = SoftmaxRegression(random_state=0).fit(X, y)
>>> model.predict(X).tolist()
[0, 0, 1, 1, 2, 2]
>>> model.predict_proba(X).shape
(6, 3)
"""

from ._base import NotFittedError, load
from .linear import LinearRegression, LogisticRegression, SoftmaxRegression
from .mlp import MLPClassifier, MLPRegressor
from .perceptron import Perceptron
from .svm import LinearSVM

__all__ = ["LinearRegression", "LogisticRegression", "SoftmaxRegression", "LinearSVM",
           "Perceptron", "MLPClassifier", "MLPRegressor", "NotFittedError", "load"]
