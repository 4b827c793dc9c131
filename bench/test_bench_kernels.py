"""pytest-benchmark comparisons: lossopt against NumPy, SciPy, scikit-learn and
torch (each when installed), one thread, at (N, C) = (1e6, 10), (1e5, 100),
(1e4, 1000) (the multiclass hinge at (1e6, 10) only: cases.SIZES), float64 and
float32, next to a one-call NumPy reference (np.exp, or np.add for the hinge);
the element-wise losses at N = 1e7.

    pytest bench/ --benchmark-only --benchmark-group-by=param:case

For a table of ratios measured side by side in one run, use
``python bench/report.py``; both use the implementations in bench/cases.py.
"""

import numpy as np
import pytest

from cases import (DTYPES, ELEMENTWISE, ELEMENTWISE_N, KERNELS, REFERENCE_BY_NAME,
                   elementwise_inputs, reference_of, row_inputs, single_thread, sizes_of)

CASES = [(kernel, n, c, np.dtype(dtype).name)
         for kernel in KERNELS for n, c in sizes_of(kernel) for dtype in DTYPES]


def impl_params():
    for kernel, n, c, dtype in CASES:
        impls, _ = KERNELS[kernel]
        for name in list(impls) + [reference_of(kernel)[0]]:
            yield pytest.param(kernel, n, c, dtype, name,
                               id=f"{kernel}-{n}x{c}-{dtype}-{name}")


@pytest.fixture(scope="module")
def inputs():
    cache = {}

    def get(n, c, dtype):
        key = (n, c, dtype)
        if key not in cache:
            cache.clear()
            cache[key] = row_inputs(n, c, np.dtype(dtype))
        return cache[key]
    return get


@pytest.mark.parametrize("kernel, n, c, dtype, impl", list(impl_params()))
def test_kernel(benchmark, inputs, kernel, n, c, dtype, impl):
    x, y = inputs(n, c, dtype)
    impls, args_of = KERNELS[kernel]
    ref_name, ref = reference_of(kernel)
    fn = ref(x) if impl == ref_name else impls[impl](*args_of(x, y))
    benchmark.group = f"{kernel} {n}x{c} {dtype}"
    benchmark.extra_info["case"] = f"{kernel} {n}x{c} {dtype}"
    with single_thread():
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


# element-wise losses at N = 1e7 (see ELEMENTWISE in cases.py)
ELEMENTWISE_CASES = [pytest.param(name, np.dtype(dtype).name, impl,
                                  id=f"{name}-{ELEMENTWISE_N}-{np.dtype(dtype).name}-{impl}")
                     for name, (impls, ref) in ELEMENTWISE.items() for dtype in DTYPES
                     for impl in list(impls) + [ref]]


@pytest.mark.parametrize("name, dtype, impl", ELEMENTWISE_CASES)
def test_elementwise(benchmark, name, dtype, impl):
    arrays = elementwise_inputs(name, ELEMENTWISE_N, np.dtype(dtype))
    impls, ref = ELEMENTWISE[name]
    fn = REFERENCE_BY_NAME[ref](arrays[0]) if impl == ref else impls[impl](*arrays)
    benchmark.group = f"{name} {ELEMENTWISE_N} {dtype}"
    benchmark.extra_info["case"] = benchmark.group
    with single_thread():
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
