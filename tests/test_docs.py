"""The examples in the public docstrings run and print what they say."""

import doctest
import inspect

import numpy as np
import pytest

import lossopt
from lossopt import _tabular, _threads, cli, functional, likelihood
from lossopt.losses import binary, cross_entropy, margin, regression
from lossopt.optim import adam, adaptive, clip, flat, lr_scheduler, optimizer, sgd
from lossopt.models import _base as models_base, linear as models_linear
from lossopt.models import mlp as models_mlp, perceptron as models_perceptron, svm as models_svm

OPTIM_MODULES = [lossopt.optim, optimizer, sgd, adaptive, adam, lr_scheduler, clip, flat]
MODELS_MODULES = [lossopt.models, models_base, models_linear, models_svm, models_perceptron,
                  models_mlp]


@pytest.mark.parametrize("module", [functional, cross_entropy, regression, binary, margin,
                                    _threads, likelihood, cli, _tabular]
                         + OPTIM_MODULES + MODELS_MODULES)
def test_docstring_examples(module):
    np.set_printoptions(legacy=False)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_name_has_an_example():
    for name in lossopt.__all__:
        obj = getattr(lossopt, name)
        if callable(obj) and name != "Loss":
            assert "Examples" in (obj.__doc__ or ""), name


def test_every_public_optim_name_has_an_example():
    for name in lossopt.optim.__all__:
        obj = getattr(lossopt.optim, name)
        assert "Examples" in (obj.__doc__ or ""), name
        for attr in vars(obj) if isinstance(obj, type) else ():
            member = getattr(obj, attr)
            if callable(member) and not attr.startswith("_"):
                # inspect.getdoc: an override without a docstring inherits its base's
                assert "Examples" in (inspect.getdoc(member) or ""), f"{name}.{attr}"


def test_every_public_models_name_has_an_example():
    for name in lossopt.models.__all__:
        obj = getattr(lossopt.models, name)
        if name == "NotFittedError":
            continue
        assert "Examples" in (obj.__doc__ or ""), name
        for attr in dir(obj) if isinstance(obj, type) else ():
            member = getattr(obj, attr)
            if callable(member) and not attr.startswith("_"):
                assert "Examples" in (inspect.getdoc(member) or ""), f"{name}.{attr}"
