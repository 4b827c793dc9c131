"""pytest-benchmark: time-to-fit of lossopt's models against their peers
(issue 6), one thread; the cases and the peers are in model_cases.py.

    pytest bench/test_bench_models.py --benchmark-only --benchmark-group-by=group

For ratios measured side by side, use ``python bench/models_report.py``.
"""

import pytest

from model_cases import (digits_data, mlp_implementations, single_thread, softmax_data,
                         softmax_implementations)

_cache = {}


def _softmax():
    if "softmax" not in _cache:
        X, y = softmax_data()
        with single_thread():
            _cache["softmax"] = softmax_implementations(X, y)[0]
    return _cache["softmax"]


def _mlp():
    if "mlp" not in _cache:
        _cache["mlp"] = mlp_implementations(*digits_data())
    return _cache["mlp"]


def _run(benchmark, impls, impl, group):
    if impl not in impls:
        pytest.skip(f"{impl}: not installed, or does not reach the target loss")
    fn, budget = impls[impl]
    benchmark.group = group
    benchmark.extra_info["budget"] = budget
    with single_thread():
        benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("impl", ["lossopt", "torch loop", "sklearn SGD", "sklearn lbfgs"])
def test_softmax_regression_fit(benchmark, impl):
    _run(benchmark, _softmax(), impl, "softmax regression (1e5, 100), 10 classes")


@pytest.mark.parametrize("impl", ["lossopt", "sklearn MLP"])
def test_mlp_fit_digits(benchmark, impl):
    _run(benchmark, _mlp(), impl, "MLP (100,) on digits")
