"""Optimizer steps side by side: lossopt.optim against in-place NumPy and
torch.optim (foreach and fused), at 1 and 2 threads, best of interleaved
rounds.

    python bench/optim_report.py [--quick] [--threads 1 2] [--markdown FILE]

ratio = lossopt's time / the peer's time (< 1: lossopt faster).  Targets
(issue 5): <= 1.05 against torch-fused Adam at 1 thread; <= 1/3 against
NumPy.
"""

import argparse
import platform
import sys

import numpy as np

import lossopt
from optim_cases import ALGORITHMS, DTYPES, N_PARAMS, implementations, inputs, \
    threads_everywhere
from lossopt._bench import best_times, publish


def measure(n, threads, rounds):
    rows = []
    for algo in ALGORITHMS:
        for dtype in DTYPES:
            w, g = inputs(n, dtype)
            for nt in threads:
                fns = {name: make(algo, w, g) for name, make in implementations().items()}
                with threads_everywhere(nt):
                    t = best_times(fns, rounds, min_time=0.05)
                rows.append((algo, np.dtype(dtype).name, nt, t))
                del fns
    return rows


def table(rows, n):
    peers = [p for p in ("numpy", "numpy-plain", "torch-foreach", "torch-fused")
             if any(p in t for *_, t in rows)]
    head = ["step", "dtype", "threads", f"lossopt ms ({n:.0e} params)"] + [f"÷ {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for algo, dtype, nt, t in rows:
        ours = t["lossopt"]
        cells = [algo, dtype, str(nt), f"{ours * 1e3:.2f}"]
        cells += [f"{ours / t[p]:.3f}" if p in t else "—" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e6 parameters, 3 rounds")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args(argv)
    n = N_PARAMS // 10 if args.quick else N_PARAMS
    rows = measure(n, args.threads, 3 if args.quick else args.rounds)
    header = (f"lossopt {lossopt.__version__}, numpy {np.__version__}, "
              f"{platform.machine()} {platform.processor() or ''}; "
              "ratio = lossopt time / other time (< 1: lossopt faster)")
    publish(header + "\n\n" + table(rows, n), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
