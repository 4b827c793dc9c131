"""What every loss object shares: hyper-parameters in the constructor, three
calls, and one way of turning a weighted sum into the requested reduction."""

import inspect


from .._validation import check_reduction


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
    """

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    # subclasses implement: _evaluate(pred, target, sample_weight, want_grad, out)
    # -> (loss value, gradient or None)

    def __call__(self, pred, target, sample_weight=None):
        return self._evaluate(pred, target, sample_weight, False, None)[0]

    def gradient(self, pred, target, sample_weight=None, out=None):
        return self._evaluate(pred, target, sample_weight, True, out)[1]

    def loss_and_gradient(self, pred, target, sample_weight=None, out=None):
        return self._evaluate(pred, target, sample_weight, True, out)

    def _check_reduction(self):
        return check_reduction(self.reduction)

    def get_params(self):
        """The constructor's arguments, as a dict."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


