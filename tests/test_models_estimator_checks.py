"""scikit-learn's estimator checks (``sklearn.utils.estimator_checks``) for
every model of lossopt.models.

ESTIMATORS lists one instance per model (small max_epochs keep the checks
fast); add new models to it.  WAIVED maps a check that is deliberately
expected to fail to its reason; the same list is in the README's Models
section.
"""

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from lossopt.models import LinearRegression, LogisticRegression, SoftmaxRegression  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

ESTIMATORS = [
    LinearRegression(max_epochs=100),
    LinearRegression(loss="huber", max_epochs=100),
    LogisticRegression(max_epochs=100),
    SoftmaxRegression(max_epochs=100),
]

WAIVED = [
    (lambda est: isinstance(est, LinearRegression) and est.loss == "squared_error",
     "check_sample_weight_equivalence_on_dense_data",
     "Adam (the default optimizer) divides each step by the gradient's running RMS, so "
     "a gradient at rounding level -- the intercept's, on centred features and target -- "
     "still makes steps of about lr; the weighted and the repeated data sets sum in "
     "another order and their rounding differs, so predictions agree only as far as "
     "training has converged (~1e-6), not to the check's rtol=1e-7. With optimizer='gd' "
     "the check passes; tests/test_models_linear.py shows weighted = repeated to 1e-10"),
]


def expected_failed_checks(estimator):
    return {name: reason for applies, name, reason in WAIVED if applies(estimator)}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
