"""pytest-benchmark: every kernel against its peers (each when installed:
NumPy, SciPy, scikit-learn's private _loss, torch, jax) and the np.exp /
np.add reference over the same number of elements, one thread, float64 and
float32, at issue 4's sizes: the row kernels at (N, C) = (1e6, 10),
(1e5, 100), (1e4, 1000), the element-wise losses at N = 1e7.

    pytest bench/ --benchmark-only --benchmark-group-by=group

The cases are lossopt._bench's table, the one `python -m bench.report` times
side by side (ratios from one run: use that for comparisons).
"""

import pytest

from lossopt._bench import cases, single_thread

PARAMS = [pytest.param(case, impl, id=f"{case.name.replace(' ', '-')}-{impl.replace(' ', '')}")
          for case in cases() for impl in case.implementation_names()]


@pytest.fixture(scope="module")
def built():
    """The implementations of the current case (built once per case; the
    parameters come case by case, so one case's inputs are held at a time)."""
    cache = {}

    def get(case):
        if case.name not in cache:
            cache.clear()
            cache[case.name] = case.build()
        return cache[case.name]
    return get


@pytest.mark.parametrize("case, impl", PARAMS)
def test_kernel(benchmark, built, case, impl):
    fn = built(case)[impl]
    benchmark.group = case.name
    benchmark.extra_info["reference"] = case.reference
    with single_thread():
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
