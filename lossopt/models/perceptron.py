"""The perceptron: a linear classifier trained on the perceptron criterion
(lossopt's ``Perceptron`` loss) by the one training loop."""

from ..losses import Perceptron as PerceptronCriterion
from ._training import common_parameters_doc
from .svm import MARGIN_ATTRIBUTES, _MarginClassifier

__all__ = ["Perceptron"]

# scikit-learn's scheme: one sample per step of size 1 from zero weights, no
# penalty, stopping after 5 epochs without improvement by 1e-3
_DEFAULTS = dict(optimizer="sgd", lr=1.0, lr_schedule=None, batch_size=1, max_epochs=1000,
                 alpha=0.0, n_iter_no_change=5, tol=1e-3)


class Perceptron(_MarginClassifier):
    r"""The perceptron: a linear classifier trained on the perceptron criterion.

    With scores :math:`s_i = w^\top x_i + b` on the standardised features,
    labels :math:`y_i \in \{-1, +1\}` and sample weights :math:`c_i` (1
    without, times `class_weight`), the objective is the lecture's
    perceptron criterion, the summed violation of the misclassified samples,
    as a weighted mean, plus an optional L2 penalty:

    .. math::

        \frac{1}{\sum_i c_i} \sum_i c_i \max(0, -y_i s_i)
        + \frac{\alpha}{2} \lVert w \rVert^2
        = -\frac{1}{\sum_i c_i} \sum_{i \text{ misclassified}} c_i\, y_i s_i
        + \frac{\alpha}{2} \lVert w \rVert^2

    (:class:`lossopt.Perceptron`).  More than two classes are trained one
    versus rest: one score column per class, :math:`y_{ik} = +1` for the
    sample's class and -1 otherwise, the criterion summed over the columns;
    the prediction is the class of the largest score.

    *Subgradient.* At :math:`y_i s_i = 0` the criterion's subgradient is
    :math:`-y_i` (a score of 0 counts as misclassified): training starts at
    zero weights and must move.  Gradient descent with step ``lr`` on this
    criterion is the perceptron's update rule :math:`w \leftarrow w +
    \eta\, y_i x_i` summed over the misclassified samples of a batch (and
    divided by the batch's weight).

    *Sample weights in mini-batches.*  A batch's loss is the mean over its
    samples of :math:`s_i \ell_i`, with the weights scaled to mean 1 over
    the training set: the objective above for the full batch, an unbiased
    estimate of it for a mini-batch, and, with one sample per batch, the
    weight scales that sample's step (scikit-learn's SGD semantics).

    *Likelihood.* None: the criterion is the hinge loss with margin 0, not a
    negative log-likelihood; there is no ``predict_proba``.

    Parameters
    ----------
    class_weight : dict, "balanced" or None, default None
        Multiplies the weights :math:`c_i` of each class's samples.
    standardize : bool, default True
        Standardise the features (weighted mean 0, standard deviation 1)
        before training; ``coef_`` and ``intercept_`` are reported on the
        original scale either way.
    {common}

    Attributes
    ----------
    {margin_attributes}
    loss_curve_, validation_scores_ : list of float
    n_iter_ : int

    Notes
    -----
    Relation to scikit-learn's ``Perceptron``: the same criterion, one
    versus rest, no penalty by default (``penalty="l2", alpha=a`` there is
    ``alpha=a`` here: both penalise :math:`\frac a2 \lVert w \rVert^2` next
    to the mean loss), step 1 (``eta0``), ``tol`` 1e-3 and
    ``n_iter_no_change`` 5, one sample per step (``batch_size=1``, the
    classic perceptron; larger batches are faster per epoch but, on data
    that are not separable, land further from scikit-learn's accuracy).
    The one deliberate difference: the features are standardised.  With
    zero initial weights and no penalty, the step size only scales
    :math:`w` and :math:`b` together, so ``lr`` does not change the
    predictions.  On data that are not linearly separable the perceptron
    does not converge, and its accuracy depends on the order of the samples
    (``random_state``) by several percentage points, in scikit-learn as
    here.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.models import Perceptron
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-3, 1, (40, 2)), rng.normal(3, 1, (40, 2))])
    >>> y = np.repeat([0, 1], 40)
    >>> clf = Perceptron(random_state=0).fit(X, y)
    >>> clf.score(X, y)
    1.0
    >>> clf.coef_.shape, clf.intercept_.shape
    ((1, 2), (1,))
    """

    def __init__(self, *, class_weight=None, standardize=True,
                 optimizer=_DEFAULTS["optimizer"], lr=_DEFAULTS["lr"],
                 lr_schedule=_DEFAULTS["lr_schedule"],
                 batch_size=_DEFAULTS["batch_size"], max_epochs=_DEFAULTS["max_epochs"],
                 alpha=_DEFAULTS["alpha"], early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=_DEFAULTS["n_iter_no_change"], tol=_DEFAULTS["tol"],
                 shuffle=True, random_state=None, warm_start=False, verbose=False):
        self._store_params(locals())

    def _margin_loss(self):
        return PerceptronCriterion(), "ovr", False


Perceptron.__doc__ = Perceptron.__doc__.replace("{margin_attributes}", MARGIN_ATTRIBUTES).replace(
    "{common}", common_parameters_doc(**_DEFAULTS))
