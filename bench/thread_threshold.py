"""Measure where a second thread starts to pay off, for the thresholds in
src/_common.pxd (PARALLEL_MIN_EXP_ELEMS, PARALLEL_MIN_STREAM_ELEMS).

    python bench/thread_threshold.py [--threads 2]

For each input size it times the kernel on 1 thread and on `--threads`
threads with the compiled threshold switched off (the private `min_parallel=0`
argument of the kernels), interleaving the two, best of several rounds.  The
threshold belongs above the largest size where more threads are not faster:
below it a kernel stays on one thread, so small inputs are never slower.

Results on the 2-core development machine (AMD EPYC Zen 4, GCC 12, libgomp;
ratio = time on 2 threads / time on 1 thread), two runs of the same build:

    elements   cross-entropy C=10   logsumexp C=10   expit        squared error
        2048   1.02 / 0.99          1.00 / 0.83      0.98 / 0.97  0.99 / 0.99
        8192   1.14 / 0.82          1.67 / 1.21      1.06 / 0.61  0.99 / 1.00
       16384   1.05 / 1.03          1.01 / 0.74      1.00 / 0.70  0.62 / 0.72
       32768   0.61 / 0.68          0.61 / 0.58      0.53 / 0.67  0.55 / 0.62
       65536   0.56 / 0.72          0.50 / 0.84      0.56 / 0.99  0.52 / 0.59
      131072   0.73 / 0.76          0.52 / 0.52      0.57 / 1.04  0.56 / 0.53
      524288   0.44 / 0.43          0.46 / 0.65      0.93 / 0.51  0.53 / 0.52

Up to 16384 elements a second thread is as often slower as faster (the team
start-up costs as much as the work); from 32768 on it wins in every kernel,
so both thresholds are 32768 elements (the machine is shared: single cells
above are noise, e.g. expit at 131072).  Re-run this on a new machine; the
numbers move with the OpenMP runtime's thread start-up cost.
"""

import argparse
import sys

import numpy as np

from lossopt._kernels import _regression, _sigmoid, _softmax
from lossopt._bench import best_times

SIZES = [2048, 8192, 16384, 32768, 65536, 131072, 524288]


def kernels(n):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(n // 10, 10))
    labels = rng.integers(0, 10, size=n // 10)
    grad = np.empty_like(rows)
    lse = np.empty(n // 10)
    flat = rng.normal(size=n)
    flat_out = np.empty(n)
    pred = rng.normal(size=(n, 1))
    target = rng.normal(size=(n, 1))
    g = np.empty_like(pred)

    def ce(t):
        _softmax.softmax_cross_entropy_rows(
            rows, grad, labels, None, None, 10.0, None, -100, 0.0, 1.0 / len(labels), None,
            t, logits_arr=rows, grad_arr=grad, min_parallel=0)

    def logsumexp(t):
        _softmax.logsumexp_rows(rows, lse, None, None, None, t, x_arr=rows, min_parallel=0)

    def expit(t):
        _sigmoid.sigmoid(flat, flat_out, False, t, min_parallel=0)

    def squared_error(t):
        _regression.squared_error(pred, target, g, None, 1.0 / n, None, t, min_parallel=0)

    return {"cross-entropy C=10": ce, "logsumexp C=10": logsumexp, "expit": expit,
            "squared error": squared_error}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"ratio = time on {args.threads} threads / time on 1 thread")
    print_ratios(kernels, SIZES, args.threads)
    return 0


def print_ratios(kernels, sizes, threads, rounds=15, width=18):
    """One row per size: time on `threads` threads / time on 1 thread of each
    kernel that kernels(n) returns (name -> callable taking a thread count)."""
    names = list(kernels(sizes[0]))
    print(f"{'elements':>9}  " + "  ".join(f"{n:>{width}}" for n in names))
    for n in sizes:
        ks = kernels(n)
        cells = []
        for name in names:
            t = best_times({1: lambda: ks[name](1),
                            threads: lambda: ks[name](threads)}, rounds, 0.01)
            cells.append(f"{t[threads] / t[1]:{width}.2f}")
        print(f"{n:>9}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    sys.exit(main())
