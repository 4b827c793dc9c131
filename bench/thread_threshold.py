"""Where a second thread pays off: the measurement behind the thread thresholds
PARALLEL_MIN_EXP_ELEMS / PARALLEL_MIN_STREAM_ELEMS (src/_common.pxd; the
element-wise driver src/_elementwise.pxd picks one by loss).

    python -m bench.thread_threshold [--threads 2] [--rounds 15] [--repeat 1]
                                     [--only sweep large small]

Three measurements, each a table (interleaved best-of rounds):

* sweep: time on `--threads` threads / time on 1 thread at 2048 ... 524288
  elements, with the compiled threshold switched off (the private
  `min_parallel=0` argument of the kernels).  A threshold belongs above the
  largest size where more threads are not faster.
* large: speed-up (time on 1 thread / time on `--threads`) of the exp-bound
  kernels at issue 4's sizes, through the public API with the compiled
  thresholds (issue 4: at least 1.7x on 2 threads).
* small: time on `--threads` / time on 1 thread at N*C <= 1e4 through the
  public API (issue 4: never slower, i.e. about 1: below the threshold a
  kernel runs on the calling thread whatever the thread count).

The runs on the 2-core development machine, with the load average of each,
are in bench/thread_threshold.txt (the conclusions are at its top).  Re-run
this on a new machine: the numbers move with the OpenMP runtime's thread
start-up cost and with other jobs on the cores.
"""

import argparse
import contextlib
import os
import resource
import sys
import time

import numpy as np

import lossopt
from lossopt._bench import KERNELS, Case, best_times, elementwise_inputs, probability_targets, \
    row_inputs
from lossopt._kernels import _binary, _regression, _runtime, _sigmoid, _softmax

SIZES = [2048, 8192, 16384, 32768, 65536, 131072, 524288]
EXP_BOUND = ["softmax_cross_entropy", "logsumexp", "softmax", "kl_divergence",
             "binary_cross_entropy", "gaussian_nll", "poisson_nll"]
LARGE = {"rows": [(1_000_000, 10), (100_000, 100), (10_000, 1000)],
         "elementwise": [(10_000_000,)]}
SMALL = {"rows": [(1000, 10), (100, 100), (10, 1000)], "elementwise": [(10_000,)]}


def sweep_kernels(n):
    """{name: f(threads)} over n elements (rows of 10), the threshold off."""
    x, labels = row_inputs((n // 10, 10), np.float64)
    t = probability_targets(x.shape, np.float64)
    grad = np.empty_like(x)
    lse = np.empty(len(x))
    flat = x.reshape(-1)
    flat_out = np.empty_like(flat)
    col = {name: [a.reshape(-1, 1) for a in elementwise_inputs(name)((n,), np.float64)]
           for name in ("squared_error", "binary_cross_entropy", "gaussian_nll",
                        "poisson_nll")}
    g = np.empty((n, 1))
    gv = np.empty((n, 1))
    off = dict(min_parallel=0)

    def ce(nt, probs=None, kl=False):
        _softmax.softmax_cross_entropy_rows(
            x, grad, None if kl else labels, probs, None, 10.0, None, -100, 0.0,
            1.0 / len(x), None, nt, logits_arr=x, grad_arr=grad, probs_arr=probs, kl=kl, **off)

    def elementwise(fn, name, *extra):
        arrays = col[name]
        return lambda nt: fn(arrays[0], arrays[1], *arrays[2:], g, *extra, None, 1.0 / n,
                             None, nt, **off)

    return {
        "cross-entropy": ce,
        "logsumexp": lambda nt: _softmax.logsumexp_rows(x, lse, None, None, None, nt,
                                                        x_arr=x, **off),
        "softmax": lambda nt: _softmax.softmax_rows(x, grad, False, None, nt, x_arr=x,
                                                    out_arr=grad, **off),
        "KL": lambda nt: ce(nt, t, kl=True),
        "expit": lambda nt: _sigmoid.sigmoid(flat, flat_out, False, nt, **off),
        "BCE": elementwise(_binary.binary_cross_entropy, "binary_cross_entropy"),
        "Gaussian NLL": elementwise(_regression.gaussian_nll, "gaussian_nll", gv),
        "Poisson NLL": elementwise(_regression.poisson_nll, "poisson_nll"),
        "squared error": elementwise(_regression.squared_error, "squared_error"),
    }


def print_ratios(kernels, sizes, threads, rounds=15, width=13):
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


def public_cases(sizes, dtypes=("float64", "float32")):
    """The exp-bound kernels of lossopt._bench's table at `sizes`."""
    return [Case(k, shape, dt) for k in EXP_BOUND for shape in sizes[KERNELS[k].group]
            for dt in dtypes]


def thread_ratios(case_list, threads, rounds):
    """[(case, time on 1 thread, time on `threads`)], lossopt's public call
    (out= where it has one) with the compiled thresholds."""
    out = []
    for case in case_list:
        name = "lossopt out=" if "lossopt out=" in case.implementation_names() else "lossopt"
        fn = case.build([name])[name]

        def on(nt):
            def run():
                with lossopt.threads(nt):
                    fn()
            return run
        t = best_times({1: on(1), threads: on(threads)}, rounds, 0.02)
        out.append((case, t[1], t[threads]))
        del fn
    return out


def print_thread_table(rows, threads, speedup):
    what = (f"speed-up = time on 1 thread / time on {threads}" if speedup
            else f"ratio = time on {threads} threads / time on 1 thread")
    print(what)
    print(f"{'kernel':<44}{'1 thread ms':>12}{'ratio':>8}")
    for case, t1, tn in rows:
        print(f"{case.name:<44}{t1 * 1e3:12.3f}{(t1 / tn if speedup else tn / t1):8.2f}",
              flush=True)


def _busy_seconds():
    """CPU seconds all processors have spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def other_jobs(label):
    """Print how many cores other processes kept busy while the block ran
    (all busy time minus this process's CPU time): the noise of the table."""
    busy0, wall0 = _busy_seconds(), time.perf_counter()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    yield
    busy1, wall1 = _busy_seconds(), time.perf_counter()
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    if busy0 is None:
        return
    own = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    print(f"  ({label}: {wall1 - wall0:.0f} s; other processes kept "
          f"{max(0.0, busy1 - busy0 - own) / (wall1 - wall0):.2f} of "
          f"{os.cpu_count()} cores busy)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", nargs="+", choices=["sweep", "large", "small"],
                        default=["sweep", "large", "small"])
    args = parser.parse_args(argv)
    c = _runtime.constants()
    print(f"lossopt {lossopt.__version__} ({_runtime.simd_path()}); compiled thresholds: "
          f"exp {c['parallel_min_exp_elems']}, stream {c['parallel_min_stream_elems']} "
          f"elements; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "sweep" in args.only:
        print(f"\nsweep (threshold off; rows of 10 classes): "
              f"time on {args.threads} threads / time on 1 thread")
        with other_jobs("sweep"):
            print_ratios(sweep_kernels, SIZES, args.threads, args.rounds)
    if "large" in args.only:
        print("\nlarge inputs, compiled thresholds")
        with other_jobs("large"):
            print_thread_table(thread_ratios(public_cases(LARGE), args.threads,
                                             max(3, args.rounds // 3)), args.threads, True)
    if "small" in args.only:
        print("\nsmall inputs (N*C <= 1e4), compiled thresholds")
        with other_jobs("small"):
            print_thread_table(thread_ratios(public_cases(SMALL), args.threads, args.rounds),
                               args.threads, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
