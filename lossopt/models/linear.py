"""Linear models trained by the one training loop on lossopt's losses:
linear regression (squared, absolute or Huber error), logistic regression
(Bernoulli likelihood) and softmax regression (categorical likelihood)."""

import numpy as np

from .._validation import check_bool, check_choice, check_fraction, check_positive_float
from ..functional import expit, log_expit, log_softmax, softmax
from ..losses import AbsoluteError, BinaryCrossEntropy, Huber, SoftmaxCrossEntropy, SquaredError
from ._base import BaseModel, ClassifierMixin, RegressorMixin, r2_score, standardize
from ._shared import batch_loss_and_gradient, unit_mean_weights
from ._training import common_parameters_doc

__all__ = ["LinearRegression", "LogisticRegression", "SoftmaxRegression"]

# defaults shared by the three models (chosen on scikit-learn's bundled data
# sets, see the README's Models section)
_DEFAULTS = dict(optimizer="adam", lr=0.05, lr_schedule="adaptive", batch_size=None,
                 max_epochs=2000, alpha=1e-3, n_iter_no_change=20, tol=1e-8)


class _LinearModel(BaseModel):
    """What the three linear models share: one weight matrix and one
    intercept vector in the standardised space, zeros to start with."""

    def _init_params(self, n_features, n_outputs, rng):
        return [np.zeros((n_features, n_outputs)), np.zeros(n_outputs)]

    def _penalised(self):
        return (True, False)

    def _logits(self, params, X):
        W, b = params
        z = X @ W
        z += b
        return z

    def _data_loss_and_gradient(self, params, X, Y, sample_weight, grads):
        z = self._logits(params, X)
        value, G = batch_loss_and_gradient(self._loss_object(), z, Y, sample_weight)
        k = self._loss_multiplier(z.shape[1])
        if k != 1:
            value *= k
            G *= k
        # gradients of W and b from G (n, k), the loss's gradient w.r.t. the logits
        np.matmul(X.T, G, out=grads[0])
        np.sum(G, axis=0, out=grads[1])
        return value

    def _loss_multiplier(self, n_columns):
        """The factor between the loss object's value and the model's data
        loss (1 here; LinearSVM undoes a per-class division)."""
        return 1

    def _original_scale(self, params, y_scale=1.0, y_mean=0.0):
        """(coef (k, d), intercept (k,)) of the model on unstandardised X (and y)."""
        W, b = params
        coef = (W / self.x_scale_[:, None] * y_scale).T
        intercept = (b - (self.x_mean_ / self.x_scale_) @ W) * y_scale + y_mean
        return coef, intercept


class LinearRegression(RegressorMixin, _LinearModel):
    r"""Linear regression trained by gradient-based optimisation.

    Predicts :math:`\hat y = X w + b` (one column of `w` per output) and
    minimises, on standardised features and targets,

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i\, \ell(\hat y_i, y_i)
        + \frac{\alpha}{2} \lVert w \rVert^2,

    with sample weights :math:`s_i` (1 without) and, per `loss`,

    * "squared_error": :math:`\ell = \frac12 \lVert \hat y - y \rVert^2`
      (:class:`~lossopt.SquaredError`), the Gaussian likelihood: without
      penalty the minimiser is the least-squares solution;
    * "absolute_error": :math:`\ell = \lVert \hat y - y \rVert_1`
      (:class:`~lossopt.AbsoluteError`), the Laplace likelihood (median
      regression; subgradient 0 at a zero residual);
    * "huber": :class:`~lossopt.Huber` with threshold `delta`, quadratic
      near 0 and linear beyond.

    The intercept :math:`b` is not penalised.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber"}, default "squared_error"
    delta : float, default 1.0
        Huber's threshold, in units of the target's standard deviation
        (the loss sees the standardised target).
    standardize : bool, default True
        Standardise features and targets (weighted mean 0, standard
        deviation 1) before training; ``coef_`` and ``intercept_`` are
        reported on the original scale either way.  `alpha` and `delta`
        apply in the space the model is trained in.
    {common}

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,), or (n_outputs, n_features) for 2-D y
    intercept_ : float, or ndarray of shape (n_outputs,) for 2-D y
    n_features_in_, n_outputs_ : int
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        The standardiser of the features (0 and 1 without `standardize`).
    y_mean_, y_scale_ : ndarray of shape (n_outputs,)
        The standardiser of the targets.
    loss_curve_ : list of float
        The training objective (penalty included) of each epoch: the
        weighted mean over the epoch's mini-batches, each computed before
        its step.
    validation_scores_ : list of float
        R² on the held-out data of each epoch (early stopping only).
    n_iter_ : int
        Epochs run (over all ``warm_start`` / ``partial_fit`` calls).

    Notes
    -----
    Relation to scikit-learn: ``Ridge(alpha=a)`` minimises
    :math:`\lVert y - Xw \rVert^2 + a \lVert w \rVert^2`, i.e. this model's
    objective with ``alpha = a / n_samples`` (unweighted, on the same
    standardised data, ``standardize=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)) * [1.0, 10.0, 100.0]
    >>> y = X @ [2.0, -1.0, 0.01] + 5.0
    >>> m = LinearRegression(optimizer="gd", lr=0.5, alpha=0.0, tol=None,
    ...                      max_epochs=300).fit(X, y)
    >>> m.coef_.round(4), round(m.intercept_, 4)
    (array([ 2.  , -1.  ,  0.01]), 5.0)
    >>> round(m.score(X, y), 6)
    1.0
    """

    _multi_output = True

    def __init__(self, loss="squared_error", *, delta=1.0, standardize=True,
                 optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"],
                 batch_size=_DEFAULTS["batch_size"], max_epochs=_DEFAULTS["max_epochs"],
                 alpha=0.0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=_DEFAULTS["n_iter_no_change"], tol=_DEFAULTS["tol"],
                 shuffle=True, random_state=None, warm_start=False, verbose=False):
        self._store_params(locals())

    def _loss_object(self):
        check_choice(self.loss, "loss", ("squared_error", "absolute_error", "huber"))
        if self.loss == "squared_error":
            return SquaredError()
        if self.loss == "absolute_error":
            return AbsoluteError()
        return Huber(delta=check_positive_float(self.delta, "delta"))

    def _encode(self, X, y, sample_weight, classes=None, partial=False):
        self._loss_object()
        standardize_on = check_bool(self.standardize, "standardize")
        X, y, sw, later = self._fit_inputs(X, y, sample_weight, partial)
        Y = y.reshape(y.shape[0], -1)
        x_mean, x_scale = self._standardizer(X, sw, later, standardize_on)
        if later:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {Y.shape[1]} outputs; the model was fitted with "
                                 f"{self.n_outputs_}")
            y_mean, y_scale = self.y_mean_, self.y_scale_
        elif standardize_on:
            from ._base import fit_standardizer
            y_mean, y_scale = fit_standardizer(Y, sw)
        else:
            y_mean, y_scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        enc = dict(n_features_in_=X.shape[1], n_outputs_=Y.shape[1], x_mean_=x_mean,
                   x_scale_=x_scale, y_mean_=y_mean, y_scale_=y_scale,
                   _y_ndim=y.ndim)
        return (standardize(X, x_mean, x_scale), standardize(Y, y_mean, y_scale),
                unit_mean_weights(sw)[0], enc)

    def _validation_score(self, params, X, Y):
        return r2_score(Y, self._logits(params, X))

    def _set_fitted(self, params):
        coef, intercept = self._original_scale(params, self.y_scale_, self.y_mean_)
        if self._y_ndim == 1:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept

    def predict(self, X):
        """Predicted targets, ``X @ coef_.T + intercept_``.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LinearRegression
        >>> X = np.arange(8.0).reshape(4, 2); y = X @ [1.0, -2.0] + 3.0
        >>> LinearRegression(optimizer="gd", lr=0.5, tol=None).fit(X, y).predict(X).round(4)
        array([ 1., -1., -3., -5.])
        """
        X = self._check_X(X)
        return X @ self.coef_.T + self.intercept_


LinearRegression.__doc__ = LinearRegression.__doc__.replace(
    "{common}", common_parameters_doc(**dict(_DEFAULTS, alpha=0.0)))


class _LinearClassifier(ClassifierMixin, _LinearModel):
    """What logistic and softmax regression share: the hyper-parameters,
    label and class-weight encoding, standardised features, and the
    probability methods."""

    def __init__(self, *, label_smoothing=0.0, class_weight=None, standardize=True,
                 optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"],
                 batch_size=_DEFAULTS["batch_size"], max_epochs=_DEFAULTS["max_epochs"],
                 alpha=_DEFAULTS["alpha"], early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=_DEFAULTS["n_iter_no_change"], tol=_DEFAULTS["tol"],
                 shuffle=True, random_state=None, warm_start=False, verbose=False):
        self._store_params(locals())

    def _check_model_params(self):
        check_fraction(self.label_smoothing, "label_smoothing")


    def _encode(self, X, y, sample_weight, classes=None, partial=False):
        self._check_model_params()
        standardize_on = check_bool(self.standardize, "standardize")
        X, y, sw, later = self._fit_inputs(X, y, sample_weight, partial, classifier_y=True)
        idx, classes_ = self._encode_labels(y, sw, classes, later)
        self._check_n_classes(classes_)
        sw_eff = self._class_sample_weight(idx, sw, classes_)
        x_mean, x_scale = self._standardizer(X, sw, later, standardize_on)
        enc = dict(n_features_in_=X.shape[1], n_outputs_=self._n_outputs(classes_.size),
                   classes_=classes_, x_mean_=x_mean, x_scale_=x_scale)
        return (standardize(X, x_mean, x_scale), self._targets(idx),
                unit_mean_weights(sw_eff)[0], enc)

    def _check_n_classes(self, classes):
        pass

    def _set_fitted(self, params):
        self.coef_, self.intercept_ = self._original_scale(params)

    def _validation_score(self, params, X, Y):
        z = self._logits(params, X)
        pred = (z[:, 0] > 0) if z.shape[1] == 1 else np.argmax(z, axis=1)
        truth = Y[:, 0] > 0.5 if z.shape[1] == 1 else Y
        return float(np.mean(pred == truth))

    def decision_function(self, X):
        """The logits: ``X @ coef_.T + intercept_``, shape (n_samples,) for two
        classes (positive favours ``classes_[1]``), else (n_samples, n_classes).

        Examples
        --------
        >>> from lossopt.models import SoftmaxRegression
        >>> m = SoftmaxRegression().fit([[0.0], [1.0], [5.0], [6.0]], ["a", "a", "b", "b"])
        >>> z = m.decision_function([[0.0], [6.0]])
        >>> z.shape, bool(z[0] < 0 < z[1])
        ((2,), True)
        >>> m.fit([[0.0], [1.0], [5.0], [6.0]], ["a", "b", "c", "c"])
        SoftmaxRegression()
        >>> m.decision_function([[0.0], [6.0]]).shape
        (2, 3)
        """
        return self._decision_scores(self._check_X(X))

    def _decision_scores(self, X):
        z = self._logits_original(X)
        if z.shape[1] == 1:
            return z[:, 0]
        if z.shape[1] == 2:
            return z[:, 1] - z[:, 0]
        return z

    def _logits_original(self, X):
        """(n_samples, k) logits on checked, unstandardised X."""
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X):
        """Probability of each class, shape (n_samples, n_classes), columns in
        the order of ``classes_``.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LogisticRegression
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> p = LogisticRegression().fit(X, [0, 0, 1, 1]).predict_proba(X)
        >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
        ((4, 2), True)
        """
        z = self._logits_original(self._check_X(X))
        if z.shape[1] == 1:
            return np.column_stack([expit(-z[:, 0]), expit(z[:, 0])])
        return softmax(z, axis=1)

    def predict_log_proba(self, X):
        """Natural log of :meth:`predict_proba`, computed stably from the logits.

        No probability is rounded to 0 first: far from the boundary the log
        of the smaller one is still finite.

        Examples
        --------
        >>> from lossopt.models import LogisticRegression
        >>> m = LogisticRegression(standardize=False).fit([[0.0], [1.0]], [0, 1])
        >>> lp = m.predict_log_proba([[1e4]])
        >>> bool(-1e5 < lp[0, 0] < -1e3), float(lp[0, 1])
        (True, 0.0)
        """
        z = self._logits_original(self._check_X(X))
        if z.shape[1] == 1:
            return np.column_stack([log_expit(-z[:, 0]), log_expit(z[:, 0])])
        return log_softmax(z, axis=1)


class LogisticRegression(_LinearClassifier):
    r"""Binary logistic regression: the Bernoulli likelihood with a sigmoid.

    :math:`P(y = \text{classes\_}[1] \mid x) = \sigma(x^\top w + b)`; the
    model minimises, on standardised features,

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i\,
        \bigl[-t_i \ln \sigma(z_i) - (1 - t_i) \ln (1 - \sigma(z_i))\bigr]
        + \frac{\alpha}{2} \lVert w \rVert^2,
        \qquad z_i = x_i^\top w + b,

    the mean negative log-likelihood of the labels :math:`t_i \in \{0, 1\}`
    (:class:`~lossopt.BinaryCrossEntropy`; with label smoothing
    :math:`\varepsilon` the targets are :math:`(1 - \varepsilon) t_i + \varepsilon / 2`)
    plus the L2 penalty; the intercept :math:`b` is not penalised.  :math:`s_i` is the sample weight
    times the class weight of the sample's label.

    Parameters
    ----------
    label_smoothing : float in [0, 1], default 0.0
        :math:`\varepsilon` above (targets smoothed toward 1/2).
    class_weight : None, "balanced" or dict label -> float, default None
        Multiplies each sample's weight by the weight of its class;
        "balanced" uses ``n_samples / (n_classes * count(class))``.
    standardize : bool, default True
        Standardise the features (weighted mean 0, standard deviation 1)
        before training; ``coef_`` and ``intercept_`` are reported on the
        original scale either way.  `alpha` penalises the weights of the
        space the model is trained in.
    {common}

    {attributes}

    Notes
    -----
    Relation to scikit-learn: ``sklearn.linear_model.LogisticRegression(C)``
    minimises :math:`C \sum_i s_i \ell_i + \tfrac12 \lVert w \rVert^2`;
    dividing by :math:`C \sum_i s_i` gives this objective with
    ``alpha = 1 / (C * sum(sample_weight))`` (``1 / (C * n_samples)``
    without weights), on the same features (``standardize=False``, or
    scikit-learn on standardised features).

    Only two classes: for more, use :class:`SoftmaxRegression`.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)) * [1.0, 1000.0]
    >>> y = np.where(X[:, 0] + X[:, 1] / 1000.0 > 0, "yes", "no")
    >>> m = LogisticRegression(random_state=0).fit(X, y)
    >>> m.classes_.tolist(), m.score(X, y) > 0.97
    (['no', 'yes'], True)
    >>> m.predict_proba(X[:2]).shape
    (2, 2)
    """

    def _loss_object(self):
        return BinaryCrossEntropy(label_smoothing=self.label_smoothing)

    def _adjust_tags(self, tags):
        tags.classifier_tags.multi_class = False

    def _check_n_classes(self, classes):
        if classes.size != 2:
            raise ValueError(f"Only binary classification is supported. y holds "
                             f"{classes.size} classes; use SoftmaxRegression for more")

    @staticmethod
    def _n_outputs(n_classes):
        return 1

    @staticmethod
    def _targets(idx):
        return idx.astype(np.float64).reshape(-1, 1)



class SoftmaxRegression(_LinearClassifier):
    r"""Multinomial logistic (softmax) regression: the categorical likelihood.

    :math:`P(y = \text{classes\_}[k] \mid x) = \operatorname{softmax}(z)_k`
    with logits :math:`z = W^\top x + b`; the model minimises, on
    standardised features,

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i
        \Bigl[-\sum_k y'_{ik} \ln \operatorname{softmax}(z_i)_k\Bigr]
        + \frac{\alpha}{2} \lVert W \rVert_F^2,
        \qquad y' = (1 - \varepsilon)\,\text{onehot}(y) + \varepsilon / C,

    the mean cross-entropy (:class:`~lossopt.SoftmaxCrossEntropy`, label
    smoothing :math:`\varepsilon`, :math:`C` classes) plus the L2 penalty;
    the intercepts :math:`b` are not penalised.  :math:`s_i` is the sample
    weight times the class weight of the sample's label, so the mean
    divides by the summed class-weighted sample weights (as torch's
    ``cross_entropy`` with ``weight``).

    Parameters
    ----------
    label_smoothing : float in [0, 1], default 0.0
        :math:`\varepsilon` above (torch's ``label_smoothing``).
    class_weight : None, "balanced" or dict label -> float, default None
        Multiplies each sample's weight by the weight of its class;
        "balanced" uses ``n_samples / (n_classes * count(class))``.
    standardize : bool, default True
        Standardise the features before training; ``coef_`` and
        ``intercept_`` are reported on the original scale either way.
    {common}

    {attributes}

    Notes
    -----
    Relation to scikit-learn: the multinomial
    ``sklearn.linear_model.LogisticRegression(C)`` minimises
    :math:`C \sum_i s_i \ell_i + \tfrac12 \lVert W \rVert_F^2`, this
    objective with ``alpha = 1 / (C * sum(sample_weight))``
    (``1 / (C * n_samples)`` without weights), on the same features.

    With two classes, :meth:`decision_function` returns ``z_1 - z_0``, shape
    (n_samples,), as scikit-learn's binary classifiers.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import SoftmaxRegression
    >>> rng = np.random.default_rng(0)
    >>> centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 400.0]])
    >>> y = rng.integers(0, 3, size=300)
    >>> X = centers[y] + rng.normal(size=(300, 2)) * [1.0, 100.0]
    >>> m = SoftmaxRegression(label_smoothing=0.05, class_weight="balanced",
    ...                       random_state=0).fit(X, y)
    >>> m.coef_.shape, m.score(X, y) > 0.9
    ((3, 2), True)
    """

    @staticmethod
    def _n_outputs(n_classes):
        return n_classes

    @staticmethod
    def _targets(idx):
        return idx

    def _loss_object(self):
        return SoftmaxCrossEntropy(label_smoothing=self.label_smoothing)


_CLASSIFIER_ATTRIBUTES = """Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted.
    coef_ : ndarray of shape (n_outputs_, n_features)
        On the original features; ``n_outputs_`` is 1 for
        LogisticRegression, n_classes for SoftmaxRegression.
    intercept_ : ndarray of shape (n_outputs_,)
    n_features_in_, n_outputs_ : int
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        The standardiser of the features (0 and 1 without `standardize`).
    loss_curve_, validation_scores_, n_iter_
        History, as in :class:`LinearRegression` (validation score: accuracy)."""

for _cls in (LogisticRegression, SoftmaxRegression):
    _cls.__doc__ = (_cls.__doc__.replace("{common}", common_parameters_doc(**_DEFAULTS))
                    .replace("{attributes}", _CLASSIFIER_ATTRIBUTES))
