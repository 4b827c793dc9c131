"""What every loss object shares: hyper-parameters in the constructor, three
calls, and one way of turning a weighted sum into the requested reduction."""

import inspect

from .._validation import check_reduction

__all__ = ["Loss"]


def reduce_loss(total, row_loss, denominator, reduction, batch_shape, dtype):
    """The value a loss call returns.

    ``total`` is the sum of the weighted per-sample losses, ``row_loss`` the
    per-sample array (reduction "none" only).  A mean over a zero denominator
    (every sample ignored or weighted 0) is 0 by lossopt's convention.
    """
    if reduction == "none":
        return row_loss.astype(dtype, copy=False).reshape(batch_shape)
    if reduction == "sum":
        return float(total)
    return float(total / denominator) if denominator != 0 else 0.0


def grad_scale(reduction, denominator):
    """Factor the per-sample gradients are multiplied by."""
    if reduction == "mean":
        return 1.0 / denominator if denominator != 0 else 0.0
    return 1.0


class Loss:
    """Base class of the loss objects.

    A loss object holds hyper-parameters only.  Each loss has three calls:

    * ``loss(pred, target, sample_weight=None)``: the loss (a float, or the
      per-sample array with ``reduction="none"``);
    * ``loss.gradient(pred, target, sample_weight=None, out=None)``: the
      gradient with respect to `pred`, including the reduction (the mean
      divides by its denominator).  With ``reduction="none"`` it holds each
      sample's gradient of its own loss, i.e. the gradient of the sum;
    * ``loss.loss_and_gradient(...)``: both, from one pass over the data.

    Every loss of lossopt (:class:`~lossopt.SoftmaxCrossEntropy`,
    :class:`~lossopt.SquaredError`, ...) is a ``Loss``; the methods below
    are theirs (:class:`~lossopt.GaussianNLL` takes the variance as a third
    argument).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the (weighted) sum of the per-sample losses by its
        denominator (each loss's docstring says which: the number of samples,
        the sum of ``sample_weight``, or torch's rule for cross-entropy);
        "sum" is the plain sum; "none" returns the per-sample losses.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import Loss, SquaredError
    >>> loss = SquaredError()
    >>> isinstance(loss, Loss)
    True
    >>> pred, target = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 2.0])
    >>> loss(pred, target)                       # (1/2 + 0 + 2) / 3
    0.8333333333333334
    >>> loss(pred, target, sample_weight=[1.0, 1.0, 0.0])   # (1/2 + 0) / 2
    0.25
    >>> SquaredError(reduction="none")(pred, target)
    array([0.5, 0. , 2. ])
    >>> SquaredError(reduction="sum").loss_and_gradient(pred, target)
    (2.5, array([1., 0., 2.]))
    """

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    # subclasses implement: _evaluate(pred, target, sample_weight, want_grad, out)
    # -> (loss value, gradient or None)

    def __call__(self, pred, target, sample_weight=None):
        """The loss of `pred` against `target`.

        Parameters
        ----------
        pred : array_like
            The raw prediction (outputs, scores or logits: the loss's
            docstring says which, and its shape).
        target : array_like
            Targets or labels, as the loss's docstring says.
        sample_weight : array_like of shape (N,), optional
            Non-negative weight of each sample.

        Returns
        -------
        float, or ndarray of shape (N,) with ``reduction="none"``

        Examples
        --------
        >>> from lossopt import AbsoluteError
        >>> AbsoluteError()([1.0, -2.0], [0.0, 0.0])           # (1 + 2) / 2
        1.5
        >>> AbsoluteError(reduction="none")([1.0, -2.0], [0.0, 0.0])
        array([1., 2.])
        """
        return self._evaluate(pred, target, sample_weight, False, None)[0]

    def gradient(self, pred, target, sample_weight=None, out=None):
        """The gradient of the loss with respect to `pred`, reduction included.

        Parameters
        ----------
        pred, target, sample_weight
            As for calling the loss.
        out : ndarray of `pred`'s shape and float dtype, optional
            Written with the gradient and returned; may be `pred` itself.

        Returns
        -------
        ndarray of `pred`'s shape (`pred`'s float dtype)
            With ``reduction="mean"`` the per-sample gradients divided by the
            mean's denominator; with "none", each sample's gradient of its own
            loss (the gradient of the sum).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt import SquaredError
        >>> pred = np.array([1.0, 2.0, 4.0])
        >>> SquaredError().gradient(pred, [0.0, 2.0, 2.0])     # (pred - target) / 3
        array([0.33333333, 0.        , 0.66666667])
        >>> out = np.empty(3)
        >>> _ = SquaredError(reduction="sum").gradient(pred, [0.0, 2.0, 2.0], out=out)
        >>> out
        array([1., 0., 2.])
        """
        return self._evaluate(pred, target, sample_weight, True, out)[1]

    def loss_and_gradient(self, pred, target, sample_weight=None, out=None):
        """The loss and its gradient with respect to `pred`, from one pass.

        Parameters
        ----------
        pred, target, sample_weight, out
            As for :meth:`gradient`.

        Returns
        -------
        value : float, or ndarray of shape (N,) with ``reduction="none"``
        gradient : ndarray of `pred`'s shape (`out` when given)

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt import SoftmaxCrossEntropy
        >>> logits = np.array([[0.0, 0.0], [2.0, 0.0]])
        >>> value, grad = SoftmaxCrossEntropy().loss_and_gradient(logits, [0, 0])
        >>> round(value, 6)                      # (ln 2 + ln(1 + e^-2)) / 2
        0.410038
        >>> grad                                 # (softmax - one-hot) / 2
        array([[-0.25      ,  0.25      ],
               [-0.05960146,  0.05960146]])
        """
        return self._evaluate(pred, target, sample_weight, True, out)

    def _check_reduction(self):
        return check_reduction(self.reduction)

    def get_params(self):
        """The constructor's arguments, as a dict.

        Examples
        --------
        >>> from lossopt import Huber
        >>> Huber(delta=0.5).get_params()
        {'delta': 0.5, 'reduction': 'mean'}
        """
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


