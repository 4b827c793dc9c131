"""Multi-layer perceptrons trained by the one training loop: fully connected
hidden layers (ReLU, tanh, logistic or identity), a softmax / logistic
output with the cross-entropy (classification) or an identity output with the
squared error (regression).  Forward and backward passes are NumPy matrix
products; the output layer's loss and gradient are lossopt's fused kernels."""

import numpy as np

from .._validation import check_choice, check_int
from ..functional import expit
from ..losses import BinaryCrossEntropy, SoftmaxCrossEntropy, SquaredError
from ._base import (BaseModel, ClassifierMixin, RegressorMixin, column_magnitude,
                    fit_standardizer, r2_score,
                    standardize)
from ._shared import batch_loss_and_gradient, unit_mean_weights
from ._training import common_parameters_doc
from .linear import _LinearClassifier

__all__ = ["MLPClassifier", "MLPRegressor"]

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")

# scikit-learn's MLP defaults (see the class docstrings for alpha's meaning)
_DEFAULTS = dict(optimizer="adam", lr=1e-3, lr_schedule=None, batch_size=200, max_epochs=200,
                 alpha=1e-4, n_iter_no_change=10, tol=1e-4)
# the classifier trains until the tol rule stops it (see "Training length" in
# its docstring): 1000 epochs is only a cap
_CLASSIFIER_DEFAULTS = dict(_DEFAULTS, max_epochs=1000)


# ----------------------------------------------------------------- math --

def activate(z, activation):
    """Apply the hidden activation to `z` in place."""
    if activation == "relu":
        np.maximum(z, 0.0, out=z)
    elif activation == "tanh":
        np.tanh(z, out=z)
    elif activation == "logistic":
        expit(z, out=z)


def activation_backward(delta, a, activation):
    """``delta *= f'(z)`` in place, with f' written through the activation
    ``a = f(z)``.  ReLU's subgradient at ``z = 0`` is 0 (``a > 0`` is the
    mask): the element of [0, 1] that torch, scikit-learn and the lecture's
    exercises use."""
    if activation == "relu":
        delta *= a > 0.0
    elif activation == "tanh":
        delta *= 1.0 - a * a
    elif activation == "logistic":
        delta *= a * (1.0 - a)


def init_layers(sizes, activation, rng):
    """Xavier/Glorot-uniform weights and intercepts of the layers
    ``sizes[i] -> sizes[i + 1]``, every entry uniform on ``[-r, r]`` with
    ``r = sqrt(6 / (fan_in + fan_out))`` (the intercepts too, so the ReLU
    kinks start spread out): the list ``[W_1, ..., W_L, b_1, ..., b_L]``.
    `activation` does not change the scheme (kept for the call's shape)."""
    n_layers = len(sizes) - 1
    weights, intercepts = [], []
    for i in range(n_layers):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    return weights + intercepts


def fit_rms_scaler(X, sample_weight=None):
    """``(zeros, scale)``: each column's weighted root mean square (no
    centring), 1 for an all-zero column.  ``standardize(X, *result)`` divides
    every feature by it."""
    m = column_magnitude(X)          # squares of X / m cannot overflow
    Xm = X / m
    scale = np.sqrt(np.average(Xm * Xm, axis=0, weights=sample_weight)) * m
    scale[scale == 0.0] = 1.0
    return np.zeros(X.shape[1]), scale


def forward(params, X, activation):
    """The activations of every layer, the last one before the output
    activation (logits or predictions): list of L arrays."""
    n_layers = len(params) // 2
    a = X
    acts = []
    for i in range(n_layers):
        z = a @ params[i]
        z += params[n_layers + i]
        if i < n_layers - 1:
            activate(z, activation)
        acts.append(z)
        a = z
    return acts


def loss_and_gradient(params, X, Y, sample_weight, grads, activation, loss):
    """Backpropagation: the mean loss of the batch, its gradient written into
    `grads` (the shapes of `params`).  The output's loss and its gradient
    with respect to the last layer's pre-activations come from `loss` (a
    lossopt loss with ``reduction="mean"``), in one fused pass that
    overwrites the logits; sample weights (scaled to mean 1 over the
    training set) multiply the samples' losses (see
    ``_shared.batch_loss_and_gradient``)."""
    n_layers = len(params) // 2
    acts = forward(params, X, activation)
    value, delta = batch_loss_and_gradient(loss, acts[-1], Y, sample_weight)
    for i in range(n_layers - 1, -1, -1):
        a_prev = X if i == 0 else acts[i - 1]
        np.matmul(a_prev.T, delta, out=grads[i])
        np.sum(delta, axis=0, out=grads[n_layers + i])
        if i > 0:
            delta = delta @ params[i].T
            activation_backward(delta, a_prev, activation)
    return value


# --------------------------------------------------------------- models --

class _BaseMLP(BaseModel):
    """What the two MLPs share: the layers, their initialisation, the
    backward pass, and the network in the original feature scale."""

    def _check_architecture(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, (bool, np.bool_)):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be a tuple of positive ints, got "
                            f"{self.hidden_layer_sizes!r}") from None
        sizes = tuple(check_int(s, f"hidden_layer_sizes[{i}]", 1) for i, s in enumerate(sizes))
        check_choice(self.activation, "activation", ACTIVATIONS)
        return sizes

    def _standardizer(self, X, sw, later, enabled=True):
        """Features divided by their root mean square, not centred (see
        *Feature scaling* in the class docstrings); kept after the first
        fit / partial_fit."""
        if later:
            return self.x_mean_, self.x_scale_
        return fit_rms_scaler(X, sw)

    def _init_params(self, n_features, n_outputs, rng):
        sizes = (n_features,) + self._check_architecture() + (n_outputs,)
        return init_layers(sizes, self.activation, rng)

    def _penalised(self):
        n_layers = len(self._check_architecture()) + 1
        return (True,) * n_layers + (False,) * n_layers

    def _set_fitted(self, params):
        """The network on unscaled X (and y): the first layer absorbs the
        feature scaler, the last the target's standardiser."""
        n_layers = len(params) // 2
        weights = [w.copy() for w in params[:n_layers]]
        intercepts = [b.copy() for b in params[n_layers:]]
        intercepts[0] -= (self.x_mean_ / self.x_scale_) @ weights[0]
        weights[0] /= self.x_scale_[:, None]
        y_scale = getattr(self, "y_scale_", None)
        if y_scale is not None:
            weights[-1] *= y_scale
            intercepts[-1] *= y_scale
            intercepts[-1] += self.y_mean_
        self.layer_units_ = np.array([weights[0].shape[0]] + [w.shape[1] for w in weights],
                                     dtype=np.int64)
        self.packed_params_ = np.concatenate([a.ravel() for a in weights + intercepts])
        self.n_layers_ = n_layers + 1

    def _unpacked(self):
        """(coefs, intercepts): views into ``packed_params_``."""
        self._check_is_fitted()
        units = [int(u) for u in self.layer_units_]
        coefs, intercepts, pos = [], [], 0
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            coefs.append(self.packed_params_[pos:pos + fan_in * fan_out].reshape(fan_in, fan_out))
            pos += fan_in * fan_out
        for fan_out in units[1:]:
            intercepts.append(self.packed_params_[pos:pos + fan_out])
            pos += fan_out
        return coefs, intercepts

    @property
    def coefs_(self):
        """list of ndarray: the weight matrix of each layer, shape
        (fan_in, fan_out), for unscaled inputs (scikit-learn's layout).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import MLPRegressor
        >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0]]), np.array([1.0, 2.0, 5.0])
        >>> reg = MLPRegressor((4,), random_state=0, max_epochs=5).fit(X, y)
        >>> [w.shape for w in reg.coefs_]
        [(2, 4), (4, 1)]
        >>> h = np.maximum(X @ reg.coefs_[0] + reg.intercepts_[0], 0.0)   # the ReLU layer
        >>> np.allclose(h @ reg.coefs_[1] + reg.intercepts_[1], reg.predict(X)[:, None])
        True
        """
        return self._unpacked()[0]

    @property
    def intercepts_(self):
        """list of ndarray: the intercept vector of each layer, for unscaled
        inputs (and targets).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import MLPRegressor
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> reg = MLPRegressor((4,), activation="identity", random_state=0,
        ...                    max_epochs=5).fit(X, [1.0, 2.0, 3.0])
        >>> [b.shape for b in reg.intercepts_]
        [(4,), (1,)]
        >>> x0 = reg.intercepts_[0] @ reg.coefs_[1] + reg.intercepts_[1]   # f(0): no weights
        >>> np.allclose(x0, reg.predict([[0.0]]))
        True
        """
        return self._unpacked()[1]

    def _logits_original(self, X):
        """(n_samples, n_outputs): the last layer's pre-activation (logits or
        predictions) on checked, unscaled X."""
        coefs, intercepts = self._unpacked()
        return forward(coefs + intercepts, X, self.activation)[-1]


_MODEL_DOC = r"""

    The network: hidden layers :math:`a_l = f(a_{l-1} W_l + b_l)`,
    :math:`a_0 = x` (the scaled features, below), one per entry of
    `hidden_layer_sizes`, with the activation :math:`f` ("relu":
    :math:`\max(0, z)`; "tanh"; "logistic": :math:`1/(1 + e^{-z})`;
    "identity"), and a last layer :math:`z = a_{L-1} W_L + b_L` without
    hidden activation.

    *Subgradient.* ReLU is not differentiable at 0; backpropagation uses the
    subgradient 0 there (the mask :math:`z > 0`), an element of its
    subdifferential [0, 1], as torch and scikit-learn do.

    *Initialisation.* Xavier/Glorot uniform for every layer and activation,
    intercepts included: every weight and intercept is uniform on
    :math:`[-r, r]`, :math:`r = \sqrt{6/(\text{fan\_in} + \text{fan\_out})}`
    (scikit-learn's scheme for ReLU).  `random_state` seeds it.  Not He's
    :math:`\sqrt{2/\text{fan\_in}}` with zero intercepts: on iris (10
    stratified splits, defaults otherwise) He-normal weights score 0.955
    (0.955 with random intercepts too) against 0.974 with this scheme;
    the smaller first-layer weights of Glorot's scheme (4 inputs, 100
    units: standard deviation 0.14 against He's 0.71) start from a smoother
    function, and random intercepts spread the ReLU kinks over the
    uncentred inputs.

    *Sample weights in mini-batches.*  A batch's loss is the mean over its
    samples of :math:`s_i \ell_i`, with the weights scaled to mean 1 over
    the training set: the objective above for the full batch, an unbiased
    estimate of it for a mini-batch, and, with one sample per batch, the
    weight scales that sample's step (scikit-learn's SGD semantics).

    *Feature scaling.* Each feature is divided by its (weighted) root mean
    square :math:`\sqrt{\operatorname{mean}_i x_{ij}^2}` and not centred
    (an all-zero column is left as is; ``x_mean_`` is 0, ``x_scale_`` the
    root mean squares): a feature's unit does not matter, as with a
    StandardScaler, but the offset of a positive feature relative to its
    spread stays what the network sees, as in scikit-learn's MLP on raw
    data, and zeros stay zeros.  Why not standardise: on iris, centring
    costs scikit-learn's MLP 2 points and standardising 4 (0.982 raw, 0.963
    centred, 0.939 standardised, mean over 10 splits), and lossopt's the
    same (standardised 0.939 to 0.947 with this initialisation, RMS-scaled
    0.974), while on breast_cancer (feature scales 1e-3 to 1e3) and digits
    a per-feature scale is kept (0.966 and 0.972, mean over 5 and 2 splits,
    against scikit-learn's raw 0.924 and 0.964).  The cost: a feature with
    a large offset and a small spread (a calendar year, say) is nearly
    constant after the division; centre such features before fitting.
    The regressor's targets are standardised (mean 0, standard deviation
    1).  ``coefs_`` and ``intercepts_`` are reported for the original scale
    (the first layer absorbs the feature scaling, the last the target's
    standardiser).
"""

_ALPHA_NOTE = r"""
    Relation to scikit-learn: same names where they exist (``max_iter`` is
    `max_epochs`, ``learning_rate_init`` is `lr`, ``solver`` is
    `optimizer`).  scikit-learn's MLPs penalise
    :math:`\frac{\alpha}{2 B} \lVert W \rVert^2` per mini-batch of B samples,
    i.e. its ``alpha = a`` is this model's ``alpha = a / B`` with
    ``batch_size=B``; the default here keeps the number 1e-4 in lossopt's
    convention (a penalty 200 times stronger at B = 200, still small on
    features of unit root mean square).  The initialisation is
    scikit-learn's for ReLU (for logistic units scikit-learn narrows it to
    :math:`\sqrt{2/(\text{fan\_in} + \text{fan\_out})}`); scikit-learn's
    MLPs do not scale their inputs (divide each feature by its root mean
    square for the same model).  ``loss_curve_`` holds the objective with
    the penalty, as scikit-learn's.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = r"""Multi-layer perceptron classifier: ReLU (or tanh, logistic,
    identity) hidden layers, softmax output, cross-entropy loss.
    """ + _MODEL_DOC + r"""
    The output: with :math:`K \ge 3` classes, :math:`K` logits and the
    softmax :math:`\hat p = \operatorname{softmax}(z)`, trained on the
    categorical negative log-likelihood (cross-entropy,
    :class:`~lossopt.SoftmaxCrossEntropy`); with 2 classes, one logit and the
    logistic function, :math:`\hat p_1 = \sigma(z)`, trained on the Bernoulli
    negative log-likelihood (:class:`~lossopt.BinaryCrossEntropy`), as
    scikit-learn.  The objective is

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i\, \bigl(-\log \hat p_{i, y_i}\bigr)
        + \frac{\alpha}{2} \sum_l \lVert W_l \rVert^2,

    with sample weights :math:`s_i` (1 without, times `class_weight`): the
    weighted mean over each mini-batch, intercepts not penalised.

    *Training length.* `max_epochs` defaults to 1000, not scikit-learn's
    200, as a cap: training stops when the training loss has not improved
    by `tol` for `n_iter_no_change` epochs (scikit-learn's rule).  A
    training set under `batch_size` samples makes one step per epoch, and
    200 steps leave it short of that rule: on iris (112 training samples)
    the rule stops after 570 to 740 epochs, and the converged network
    scores 0.974 against 0.966 after 200 (scikit-learn's converged raw
    network: 0.976).  breast_cancer stops after 270 to 470 epochs, digits
    after about 220.  The regressor keeps 200: on diabetes it overfits when
    trained to convergence (R² 0.25 after 200 epochs, -0.06 converged).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
    class_weight : dict, "balanced" or None, default None
        Multiplies each sample's weight by its class's weight.
    {common}

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and intercepts of each layer, for
        unscaled inputs.
    packed_params_ : ndarray
        Every weight then every intercept, flattened (``coefs_`` and
        ``intercepts_`` are views into it).
    layer_units_ : ndarray of int
        Inputs, hidden widths and outputs.
    n_features_in_, n_outputs_, n_layers_ : int
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        The feature scaling: zeros and the features' root mean squares.
    out_activation_ : str
        "softmax" or "logistic".
    loss_curve_, validation_scores_ : list of float
    n_iter_ : int

    Notes
    -----""" + _ALPHA_NOTE + r"""
    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)         # XOR: not linear
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.95)
    True
    >>> [w.shape for w in clf.coefs_], clf.out_activation_
    ([(2, 16), (16, 1)], 'logistic')
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6)
    array([1., 1.])
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, class_weight=None,
                 optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"],
                 batch_size=_DEFAULTS["batch_size"],
                 max_epochs=_CLASSIFIER_DEFAULTS["max_epochs"],
                 alpha=_DEFAULTS["alpha"], early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=_DEFAULTS["n_iter_no_change"], tol=_DEFAULTS["tol"],
                 shuffle=True, random_state=None, warm_start=False, verbose=False):
        self._store_params(locals())

    def _encode(self, X, y, sample_weight, classes=None, partial=False):
        self._check_architecture()
        X, y, sw, later = self._fit_inputs(X, y, sample_weight, partial, classifier_y=True)
        idx, classes_ = self._encode_labels(y, sw, classes, later)
        sw = self._class_sample_weight(idx, sw, classes_)
        x_mean, x_scale = self._standardizer(X, sw, later)
        sw = unit_mean_weights(sw)[0]
        n_out = 1 if classes_.size == 2 else classes_.size
        Y = idx.astype(np.float64)[:, None] if n_out == 1 else idx
        enc = dict(n_features_in_=X.shape[1], n_outputs_=n_out, classes_=classes_,
                   x_mean_=x_mean, x_scale_=x_scale)
        return standardize(X, x_mean, x_scale), Y, sw, enc

    @property
    def out_activation_(self):
        """str: "logistic" (two classes, one output) or "softmax".

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import MLPClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> MLPClassifier((2,), max_epochs=1, random_state=0).fit(X, [0, 0, 1, 1]).out_activation_
        'logistic'
        >>> MLPClassifier((2,), max_epochs=1, random_state=0).fit(X, [0, 1, 2, 2]).out_activation_
        'softmax'
        """
        self._check_is_fitted()
        return "logistic" if self.n_outputs_ == 1 else "softmax"

    def _data_loss_and_gradient(self, params, X, Y, sample_weight, grads):
        loss = BinaryCrossEntropy() if Y.ndim == 2 else SoftmaxCrossEntropy()
        return loss_and_gradient(params, X, Y, sample_weight, grads, self.activation, loss)

    def _strata(self, Y):
        return Y.ravel().astype(np.int64) if Y.ndim == 2 else Y

    def _validation_score(self, params, X, Y):
        z = forward(params, X, self.activation)[-1]
        pred = (z[:, 0] > 0).astype(np.int64) if Y.ndim == 2 else np.argmax(z, axis=1)
        return float(np.mean(pred == Y.ravel()))

    def _decision_scores(self, X):
        z = self._logits_original(X)
        return z[:, 0] if z.shape[1] == 1 else z

    # the probability methods of logistic / softmax regression, on the
    # network's logits (one logit: the logistic unit; else the softmax)
    predict_proba = _LinearClassifier.predict_proba
    predict_log_proba = _LinearClassifier.predict_log_proba


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = r"""Multi-layer perceptron regressor: ReLU (or tanh, logistic, identity)
    hidden layers, identity output, squared error.
    """ + _MODEL_DOC + r"""
    The output is the identity, :math:`\hat y = z` (one unit per target),
    trained on the Gaussian negative log-likelihood with unit variance, the
    squared error :math:`\ell = \frac12 \lVert \hat y - y \rVert^2`
    (:class:`~lossopt.SquaredError`) on the standardised targets:

    .. math::

        \frac{1}{\sum_i s_i} \sum_i s_i\, \tfrac12 \lVert \hat y_i - y_i \rVert^2
        + \frac{\alpha}{2} \sum_l \lVert W_l \rVert^2,

    with sample weights :math:`s_i` (1 without), intercepts not penalised.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
    {common}

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and intercepts of each layer, for
        unscaled inputs and targets.
    packed_params_ : ndarray
        Every weight then every intercept, flattened (``coefs_`` and
        ``intercepts_`` are views into it).
    layer_units_ : ndarray of int
    n_features_in_, n_outputs_, n_layers_ : int
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        The feature scaling: zeros and the features' root mean squares.
    y_mean_, y_scale_ : ndarray of shape (n_outputs,)
        The standardiser of the targets.
    out_activation_ : str
        "identity".
    loss_curve_, validation_scores_ : list of float
    n_iter_ : int

    Notes
    -----""" + _ALPHA_NOTE + r"""
    The loss is computed on standardised targets, so ``loss_curve_`` is in
    units of the targets' variance.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(400, 1))
    >>> y = 100 * np.sin(X[:, 0]) + 50                  # unscaled target
    >>> reg = MLPRegressor((32,), lr=0.01, random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.98)
    True
    >>> [w.shape for w in reg.coefs_]
    [(1, 32), (32, 1)]
    """

    _multi_output = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *,
                 optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"],
                 batch_size=_DEFAULTS["batch_size"], max_epochs=_DEFAULTS["max_epochs"],
                 alpha=_DEFAULTS["alpha"], early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=_DEFAULTS["n_iter_no_change"], tol=_DEFAULTS["tol"],
                 shuffle=True, random_state=None, warm_start=False, verbose=False):
        self._store_params(locals())

    def _encode(self, X, y, sample_weight, classes=None, partial=False):
        self._check_architecture()
        X, y, sw, later = self._fit_inputs(X, y, sample_weight, partial)
        Y = y.reshape(y.shape[0], -1)
        x_mean, x_scale = self._standardizer(X, sw, later)
        if later:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {Y.shape[1]} outputs; the model was fitted with "
                                 f"{self.n_outputs_}")
            y_mean, y_scale = self.y_mean_, self.y_scale_
        else:
            y_mean, y_scale = fit_standardizer(Y, sw)
        enc = dict(n_features_in_=X.shape[1], n_outputs_=Y.shape[1], x_mean_=x_mean,
                   x_scale_=x_scale, y_mean_=y_mean, y_scale_=y_scale)
        return (standardize(X, x_mean, x_scale), standardize(Y, y_mean, y_scale),
                unit_mean_weights(sw)[0], enc)

    def _data_loss_and_gradient(self, params, X, Y, sample_weight, grads):
        return loss_and_gradient(params, X, Y, sample_weight, grads, self.activation,
                                 SquaredError())

    out_activation_ = "identity"

    def _validation_score(self, params, X, Y):
        return r2_score(Y, forward(params, X, self.activation)[-1])

    def predict(self, X):
        """Predicted targets, shape (n_samples,) for one output, else
        (n_samples, n_outputs) (as scikit-learn's MLPRegressor).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import MLPRegressor
        >>> X = np.arange(10.0).reshape(5, 2)
        >>> MLPRegressor((3,), random_state=0, max_epochs=2).fit(X, X[:, 0]).predict(X).shape
        (5,)
        """
        z = self._logits_original(self._check_X(X))
        return z[:, 0] if z.shape[1] == 1 else z


MLPClassifier.__doc__ = MLPClassifier.__doc__.replace(
    "{common}", common_parameters_doc(**_CLASSIFIER_DEFAULTS))
MLPRegressor.__doc__ = MLPRegressor.__doc__.replace(
    "{common}", common_parameters_doc(**_DEFAULTS))
