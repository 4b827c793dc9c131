"""pytest-benchmark: one optimizer step (SGD-momentum, Adam, AdamW) over 1e7
parameters, float64 and float32, lossopt against in-place NumPy and
torch.optim foreach/fused (when installed), one thread.

    pytest bench/test_bench_optim.py --benchmark-only --benchmark-group-by=param:case

For ratios measured side by side, use ``python bench/optim_report.py``; both
use the implementations in bench/optim_cases.py.
"""

import numpy as np
import pytest

from optim_cases import ALGORITHMS, DTYPES, N_PARAMS, implementations, inputs, \
    threads_everywhere

CASES = [(algo, np.dtype(dt).name, impl) for algo in ALGORITHMS for dt in DTYPES
         for impl in implementations()]


@pytest.mark.parametrize("algo, dtype, impl", CASES,
                         ids=[f"{a}-{d}-{i}" for a, d, i in CASES])
def test_optim_step(benchmark, algo, dtype, impl):
    w, g = inputs(N_PARAMS, np.dtype(dtype))
    fn = implementations()[impl](algo, w, g)
    benchmark.group = f"{algo} {N_PARAMS:.0e} {dtype}"
    benchmark.extra_info["case"] = benchmark.group
    with threads_everywhere(1):
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
