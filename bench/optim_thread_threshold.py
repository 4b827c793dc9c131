"""Measure where a second thread starts to pay off for the optimizer updates,
for PARALLEL_MIN_OPTIM_ELEMS in src/_optim.pyx.

    python bench/optim_thread_threshold.py [--threads 2]

For each size it times the kernel on 1 thread and on `--threads` threads with
the compiled threshold switched off (the private `min_parallel=0` argument of
`_optim.update` / `_optim.sum_squares`), interleaving the two, best of
several rounds.  The work is cut into blocks of `_optim.BLOCK` (16384)
elements, so below two blocks (32768 elements) an update runs on one thread
whatever the threshold.

Results on the 2-core development machine (AMD EPYC Zen 4, GCC 12, libgomp;
ratio = time on 2 threads / time on 1 thread), two runs of the same build at
a quiet moment (load average 1.5; all runs, including those spoilt by other
jobs, are in bench/optim_thread_threshold.txt):

    elements   SGD-momentum   Adam          Adam float32   sum of squares
       32768   1.04 / 1.16    0.55 / 0.55   0.63 / 0.62    0.88 / 0.87
       65536   0.60 / 0.62    0.53 / 0.54   0.60 / 0.59    0.72 / 0.72
      131072   0.62 / 0.60    0.52 / 0.53   0.59 / 0.58    0.59 / 0.62
      262144   0.55 / 0.55    0.52 / 0.52   0.54 / 0.55    0.60 / 0.61
      524288   0.52 / 0.53    0.51 / 0.52   0.53 / 0.54    0.57 / 0.60
     1048576   0.48 / 0.50    0.52 / 0.52   0.53 / 0.53    0.56 / 0.55

At 32768 elements a second thread halves Adam's step but does not speed up
SGD-momentum (the cheapest update); from 65536 on it wins in every kernel, so
PARALLEL_MIN_OPTIM_ELEMS is 65536.  While other jobs load the two cores the
ratios scatter between 0.3 and 80 at every size: measure at a quiet moment.

The threshold belongs above the largest size where more threads are not
faster: below it an update stays on one thread, so small parameter arrays
are never slower.
"""

import argparse
import sys

import numpy as np

from lossopt._kernels import _optim
from thread_threshold import print_ratios

SIZES = [32768, 65536, 131072, 262144, 524288, 1048576]
ARGS = dict(sign=1.0, wd=0.0, decay=1.0, lr=1e-3, momentum=0.9, dampening=0.0, w1=0.1,
            beta2=0.999, eps=1e-8, c1=1e-3, c2=0.5, c3=0.0, wd_on=0, decay_on=0, first=0,
            nesterov=0, amsgrad=0, centered=0, with_momentum=1, rectify=0)


def kernels(n):
    rng = np.random.default_rng(0)
    arrays = {dt: [rng.normal(size=n).astype(dt) for _ in range(4)]
              for dt in (np.float64, np.float32)}
    sgd = _optim.ALGORITHMS["sgd"]
    adam = _optim.ALGORITHMS["adam"]
    w, g, m, v = arrays[np.float64]
    w32, g32, m32, v32 = arrays[np.float32]
    v[:] = np.abs(v)
    v32[:] = np.abs(v32)

    def sgd_momentum(t):
        _optim.update(sgd, w, g, m, None, None, ARGS, t, min_parallel=0)

    def adam64(t):
        _optim.update(adam, w, g, m, v, None, ARGS, t, min_parallel=0)

    def adam32(t):
        _optim.update(adam, w32, g32, m32, v32, None, ARGS, t, min_parallel=0)

    def sum_squares(t):
        _optim.sum_squares(g, t, min_parallel=0)

    return {"SGD-momentum": sgd_momentum, "Adam": adam64, "Adam float32": adam32,
            "sum of squares": sum_squares}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"ratio = time on {args.threads} threads / time on 1 thread "
          f"(compiled threshold: {_optim.PARALLEL_MIN_ELEMS} elements)")
    print_ratios(kernels, SIZES, args.threads, args.rounds, 14)
    return 0


if __name__ == "__main__":
    sys.exit(main())
