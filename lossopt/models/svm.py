"""The linear support vector machine: hinge (or squared hinge) loss plus L2
regularisation, trained by the one training loop on lossopt's margin
kernels; and the linear margin classifier it shares with the perceptron."""

import numpy as np

from .._validation import as_real, check_bool, check_choice
from ..losses import Hinge, MulticlassHinge, SquaredHinge
from ._base import ClassifierMixin, standardize
from ._shared import unit_mean_weights
from ._training import common_parameters_doc
from .linear import _LinearModel

__all__ = ["LinearSVM"]


class _MarginClassifier(ClassifierMixin, _LinearModel):
    """A linear classifier trained on a margin loss: one-vs-rest on labels
    ±1 (one score column for two classes, one per class otherwise), or a
    multiclass margin loss on class indices.  Subclasses provide
    ``_margin_loss()`` -> (loss object, "ovr" or "multiclass", whether the
    loss is multiplied by the number of classes)."""

    def _encode(self, X, y, sample_weight, classes=None, partial=False):
        _, target, _ = self._margin_loss()
        standardize_on = check_bool(self.standardize, "standardize")
        X, y, sw, later = self._fit_inputs(X, y, sample_weight, partial, classifier_y=True)
        idx, classes_ = self._encode_labels(y, sw, classes, later)
        sw = self._class_sample_weight(idx, sw, classes_)
        x_mean, x_scale = self._standardizer(X, sw, later, standardize_on)
        sw, weight_total = unit_mean_weights(sw)
        n_classes = classes_.size
        if target == "multiclass":
            Y, n_out = idx, n_classes
        elif n_classes == 2:
            Y, n_out = np.where(idx == 1, 1.0, -1.0)[:, None], 1
        else:
            Y = np.full((idx.size, n_classes), -1.0)
            Y[np.arange(idx.size), idx] = 1.0
            n_out = n_classes
        enc = dict(n_features_in_=X.shape[1], n_outputs_=n_out, classes_=classes_,
                   x_mean_=x_mean, x_scale_=x_scale,
                   _weight_total=float(X.shape[0]) if weight_total is None else weight_total)
        return standardize(X, x_mean, x_scale), Y, sw, enc

    def _loss_object(self):
        return self._margin_loss()[0]

    def _loss_multiplier(self, n_columns):
        # Weston-Watkins: the kernel divides by the number of classes (torch's
        # convention); the SVM objective is the textbook sum over classes
        return n_columns if self._margin_loss()[2] else 1

    def _strata(self, Y):
        if Y.ndim == 1:
            return Y
        return (Y[:, 0] > 0).astype(np.int64) if Y.shape[1] == 1 else np.argmax(Y, axis=1)

    def _validation_score(self, params, X, Y):
        z = self._logits(params, X)
        pred = (z[:, 0] > 0).astype(np.int64) if z.shape[1] == 1 else np.argmax(z, axis=1)
        return float(np.mean(pred == self._strata(Y)))

    def _set_fitted(self, params):
        coef, intercept = self._original_scale(params)
        if coef.shape[0] == 2 and self.classes_.size == 2:
            # a multiclass loss on two classes: one score difference, as sklearn
            coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
        self.coef_, self.intercept_ = coef, intercept

    def _decision_scores(self, X):
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: shape (n_samples,) for two
        classes (positive: ``classes_[1]``), else (n_samples, n_classes).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import Perceptron
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> clf = Perceptron(random_state=0).fit(X, [0, 0, 1, 1])
        >>> (clf.decision_function(X) > 0).tolist()
        [False, False, True, True]
        """
        return self._decision_scores(self._check_X(X))


# the learned attributes of the linear margin classifiers (their docstrings)
MARGIN_ATTRIBUTES = (
    "coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)\n"
    "        The weights on the original (unstandardised) features.\n"
    "    intercept_ : ndarray of shape (1,) or (n_classes,)\n"
    "    classes_ : ndarray\n"
    "    n_features_in_, n_outputs_ : int\n"
    "        ``n_outputs_`` is the number of score columns trained.\n"
    "    x_mean_, x_scale_ : ndarray of shape (n_features,)\n"
    "        The feature standardiser (0 and 1 without `standardize`).")

_LOSSES = ("hinge", "squared_hinge")
_MULTI_CLASS = ("ovr", "crammer_singer", "weston_watkins")

# full-batch Adam with a decaying learning rate: chosen on scikit-learn's
# bundled data sets (see the README's Models section)
_DEFAULTS = dict(optimizer="adam", lr=0.1, lr_schedule="exponential", batch_size=None,
                 max_epochs=1000, alpha=None, n_iter_no_change=10, tol=1e-5)


class LinearSVM(_MarginClassifier):
    r"""Linear support vector machine: hinge loss + L2 regularisation, the
    SVM of the lecture, trained by (sub)gradient descent.

    With scores :math:`s_i = W^\top x_i + b` on the standardised features,
    sample weights :math:`c_i` (1 without, times `class_weight`) and
    :math:`h(m) = \max(0, 1 - m)` (``loss="hinge"``) or
    :math:`\max(0, 1 - m)^2` (``loss="squared_hinge"``), the objective is
    scikit-learn's ``LinearSVC``'s:

    .. math::

        \frac12 \lVert W \rVert^2 + C \sum_i c_i\, \ell_i,

    with, per `multi_class`,

    * "ovr" (one-vs-rest; the only form for two classes, with one score
      column): :math:`\ell_i = \sum_k h(y_{ik} s_{ik})` with
      :math:`y_{ik} = +1` for the sample's class and -1 for the others
      (:class:`~lossopt.Hinge` / :class:`~lossopt.SquaredHinge`): one
      binary SVM per class;
    * "crammer_singer": :math:`\ell_i = h\bigl(s_{i y_i} - \max_{j \ne y_i}
      s_{ij}\bigr)` (:class:`~lossopt.MulticlassHinge`, the max form);
    * "weston_watkins": :math:`\ell_i = \sum_{j \ne y_i} h(s_{i y_i} -
      s_{ij})` (the sum form; lossopt's kernel divides by the number of
      classes, as torch, and the model multiplies it back).

    For two classes, "crammer_singer" and "weston_watkins" train two score
    columns and report their difference (``coef_`` of shape (1, d)), as
    scikit-learn does.  The intercept :math:`b` is not penalised
    (``LinearSVC`` penalises it through ``intercept_scaling``; ``SVC`` does
    not).

    *The training loop's alpha.*  Divided by :math:`C \sum_i c_i`, the
    objective is the loop's weighted mean loss plus
    :math:`\frac{\alpha}{2}\lVert W \rVert^2` with
    :math:`\alpha = 1 / (C \sum_i c_i)` (:math:`1/(C n)` without weights),
    which is what ``fit`` passes to the loop; in ``partial_fit`` the sum
    runs over the batch given.  The model therefore has `C` and no `alpha`.

    *Subgradient.* The hinge's kink (margin exactly 1) gets the subgradient
    0 (see :class:`~lossopt.Hinge`), and Crammer-Singer ties go to the first
    maximiser; the squared hinge is differentiable.

    *Sample weights in mini-batches.*  A batch's loss is the mean over its
    samples of :math:`s_i \ell_i`, with the weights scaled to mean 1 over
    the training set: the objective above for the full batch, an unbiased
    estimate of it for a mini-batch, and, with one sample per batch, the
    weight scales that sample's step (scikit-learn's SGD semantics).

    *Likelihood.* None: the hinge is a convex upper bound of the 0-1 loss,
    not a negative log-likelihood; there is no ``predict_proba``.

    Parameters
    ----------
    loss : {"hinge", "squared_hinge"}, default "squared_hinge"
        As ``LinearSVC``'s default (the L2-SVM: smooth, so it trains
        faster and more precisely by gradient methods).
    C : float, default 1.0
        Inverse regularisation strength (> 0), as in scikit-learn.
    multi_class : {"ovr", "crammer_singer", "weston_watkins"}, default "ovr"
    class_weight : dict, "balanced" or None, default None
        Multiplies the weights :math:`c_i` of each class's samples.
    standardize : bool, default True
        Standardise the features (weighted mean 0, standard deviation 1)
        before training; the penalty then acts on the weights of the
        standardised features (as a ``StandardScaler`` + ``LinearSVC``
        pipeline); ``coef_`` and ``intercept_`` are reported on the original
        scale either way.
    {common}

    Attributes
    ----------
    {margin_attributes}
    loss_curve_ : list of float
        The objective divided by :math:`C \sum_i c_i` of each epoch.
    validation_scores_ : list of float
    n_iter_ : int

    Notes
    -----
    *Defaults.* Full-batch Adam, lr 0.1 decaying exponentially to 1% of it
    over `max_epochs` = 1000, stopping when the objective improves by less
    than `tol` = 1e-5 for 10 epochs: within a percentage point of
    ``LinearSVC()``'s accuracy on scikit-learn's bundled data sets, scaled or
    not.

    *Exact solutions.* The hinge is not smooth, so (sub)gradient methods
    with a constant step only circle its minimiser.  To reach the minimiser
    of the hinge objective to 1e-3 in the decision function (the test
    against a reference SVM solver does this), train with full-batch
    subgradient descent and a step that starts at :math:`0.3/\alpha =
    0.3\, C n` and decays geometrically to 1e-5 over 2000 epochs::

        lr = 0.3 * C * n_samples
        LinearSVM(loss="hinge", C=C, optimizer="gd", lr=lr, max_epochs=2000, tol=None,
                  lr_schedule=lambda opt: ExponentialLR(opt, gamma=(1e-5 / lr) ** (1 / 2000)))

    The penalty contracts the error by about :math:`1 - \eta_t \alpha` per
    step, so the steps must sum to many times :math:`1/\alpha`; the last
    steps must be small, as the subgradient jumps across the kinks of the
    support vectors.  On a piecewise-linear strongly convex objective the
    iterates then converge linearly.  Small `C` (strong regularisation)
    converges fastest; for `C` far above 1 use more epochs.

    Relation to scikit-learn: ``LinearSVC(C=c, loss=...)`` on standardised
    features is this model with ``C=c`` (up to the unpenalised intercept);
    ``SVC(kernel="linear", C=c)`` minimises the hinge objective above
    exactly.  ``LinearSVC`` solves the dual by coordinate descent and does
    not standardise.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import LinearSVM
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))]) * [1, 100]
    >>> y = np.repeat(["no", "yes"], 50)
    >>> svm = LinearSVM(random_state=0).fit(X, y)
    >>> svm.score(X, y)
    1.0
    >>> svm.coef_.shape, svm.decision_function(X[:2]).shape
    ((1, 2), (2,))
    """

    alpha = 0.0      # read by check_options; fit replaces it by 1 / (C·Σc_i) (see above)

    def __init__(self, loss="squared_hinge", *, C=1.0, multi_class="ovr", class_weight=None,
                 standardize=True, optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"], batch_size=_DEFAULTS["batch_size"],
                 max_epochs=_DEFAULTS["max_epochs"], early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=_DEFAULTS["n_iter_no_change"],
                 tol=_DEFAULTS["tol"], shuffle=True, random_state=None, warm_start=False,
                 verbose=False):
        self._store_params(locals())

    def _check_C(self):
        C = as_real(self.C, "C", "a float > 0")
        if not (C > 0 and np.isfinite(C)):
            raise ValueError(f"C must be a finite float > 0, got {self.C!r}")
        return C

    def _margin_loss(self):
        check_choice(self.loss, "loss", _LOSSES)
        check_choice(self.multi_class, "multi_class", _MULTI_CLASS)
        p = 2 if self.loss == "squared_hinge" else 1
        if self.multi_class == "ovr":
            return (SquaredHinge() if p == 2 else Hinge()), "ovr", False
        if self.multi_class == "crammer_singer":
            return MulticlassHinge(kind="crammer_singer", p=p), "multiclass", False
        # Weston-Watkins: the kernel's mean divides by the number of classes
        return MulticlassHinge(kind="weston_watkins", p=p), "multiclass", True

    def _train(self, X, y, sample_weight, classes, partial):
        from . import _training
        self._check_C()
        opts = dict(_training.check_options(self))
        X, Y, sw, enc = self._encode(X, y, sample_weight, classes=classes, partial=partial)
        opts["alpha"] = 1.0 / (self._check_C() * enc["_weight_total"])
        _training.fit(self, X, Y, sw, enc, opts=opts, partial=partial)
        return self

    def fit(self, X, y, sample_weight=None):
        """Train the SVM on (X, y) and return it (see the class docstring for
        the objective).  A failed fit leaves a fitted model as it was.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LinearSVM
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> LinearSVM(loss="hinge").fit(X, [0, 0, 1, 1]).predict([[0.5], [3.5]])
        array([0, 1])
        """
        return self._train(X, y, sample_weight, None, False)

    def _partial(self, X, y, sample_weight, classes=None):
        return self._train(X, y, sample_weight, classes, True)


LinearSVM.__doc__ = LinearSVM.__doc__.replace("{margin_attributes}", MARGIN_ATTRIBUTES).replace(
    "{common}", common_parameters_doc(**_DEFAULTS).replace(
        """    alpha : float, default None
        L2 penalty: the objective is the mean loss + (alpha/2)·‖w‖² over the
        weights (the intercepts are not penalised), in the standardised space.
""", ""))
