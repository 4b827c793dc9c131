"""The examples in the public docstrings run and print what they say."""

import doctest

import numpy as np
import pytest

import lossopt
from lossopt import _threads, functional, likelihood
from lossopt.losses import binary, cross_entropy, margin, regression


@pytest.mark.parametrize("module", [functional, cross_entropy, regression, binary, margin,
                                    _threads, likelihood])
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
