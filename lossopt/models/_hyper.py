"""Storing a model's hyper-parameters: the whole body of the constructors of
LinearSVM, Perceptron and the MLPs."""


def store_hyper_parameters(model, values):
    """Set every constructor argument in `values` (the constructor's
    ``locals()``) as an attribute of `model`, unchanged: scikit-learn's
    convention that a constructor stores its arguments and does nothing else
    (they are checked in ``fit``)."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(model, name, value)
