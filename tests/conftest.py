import os
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import lossopt

# The tests must exercise the installed package (with its compiled kernels),
# never the source folder of a checkout.
_here = pathlib.Path(__file__).resolve().parents[1]
if pathlib.Path(lossopt.__file__).resolve().parent == _here / "lossopt":
    raise RuntimeError("tests imported lossopt from the source tree; install it "
                       "(pip install .[test]) and run pytest from the checkout root")

settings.register_profile(
    "ci", max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
