"""What LinearSVM, Perceptron and the MLPs share beyond the base class:
sample weights that act as multipliers of each sample's loss in every
mini-batch."""

import copy

import numpy as np


def unit_mean_weights(sample_weight):
    """(weights scaled to mean 1, their original sum); (None, None) without."""
    if sample_weight is None:
        return None, None
    total = float(np.sum(sample_weight))
    if not total > 0:
        raise ValueError("sample_weight times class_weight sums to zero: at least one "
                         "training sample must have a positive weight")
    return sample_weight * (sample_weight.size / total), total


def batch_loss_and_gradient(loss, z, Y, sample_weight):
    r"""Loss and gradient (written over `z`) of the batch mean
    :math:`\frac1B \sum_{i \in \text{batch}} s_i \ell_i` with weights scaled
    to mean 1 over the training set (:func:`unit_mean_weights`).

    Over the full training set this is the weighted mean
    :math:`\sum_i s_i \ell_i / \sum_i s_i`; a mini-batch gives an unbiased
    estimate of it, and with one sample per batch a weight scales that
    sample's step, as in scikit-learn's SGD.  (Dividing each batch by its own
    weight sum instead would cancel the weight of a one-sample batch.)
    `loss` is a lossopt loss object with ``reduction="mean"``.
    """
    if sample_weight is None:
        return loss.loss_and_gradient(z, Y, out=z)
    summed = copy.copy(loss)      # the caller's loss object is left as it is
    summed.reduction = "sum"
    value, grad = summed.loss_and_gradient(z, Y, sample_weight, out=z)
    grad /= z.shape[0]
    return value / z.shape[0], grad
