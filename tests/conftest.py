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


@pytest.fixture
def one_blas_thread():
    """NumPy's BLAS limited to one thread for the test (the model tests): on a
    machine shared with other work a multi-threaded BLAS can take 100x longer
    on the small products of these tests.  Results do not depend on it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield
