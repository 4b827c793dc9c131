"""Side-by-side timing report: ratios of lossopt to each peer, measured in one
run on one thread (best of interleaved rounds).

    python bench/report.py [--quick] [--markdown FILE]
    python bench/report.py --optim [...]   (the optimizer steps: bench/optim_report.py)

A ratio below 1 means lossopt is faster (time of lossopt / time of the peer).
"""

import argparse
import platform
import sys

import numpy as np

import lossopt
from cases import DTYPES, KERNELS, ROW_SIZES, exp_reference, row_inputs, single_thread
from timing import best_times


def measure(sizes=ROW_SIZES, rounds=7):
    rows = []
    with single_thread():
        for kernel, (impls, args_of) in KERNELS.items():
            for n, c in sizes:
                for dtype in DTYPES:
                    x, y = row_inputs(n, c, dtype)
                    fns = {name: make(*args_of(x, y)) for name, make in impls.items()}
                    fns["np.exp"] = exp_reference(x)
                    rows.append((kernel, (n, c), np.dtype(dtype).name, best_times(fns, rounds)))
    return rows


def table(rows):
    peers = sorted({p for *_, t in rows for p in t if p not in ("lossopt", "np.exp")})
    head = ["kernel", "(N, C)", "dtype", "lossopt ms", "÷ np.exp"] + [f"÷ {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kernel, (n, c), dtype, t in rows:
        ours = t["lossopt"]
        cells = [kernel, f"({n:.0e}, {c})".replace("e+0", "e"), dtype, f"{ours * 1e3:.2f}",
                 f"{ours / t['np.exp']:.2f}"]
        cells += [f"{ours / t[p]:.3f}" if p in t else "—" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--optim" in argv:
        import optim_report
        return optim_report.main([a for a in argv if a != "--optim"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args(argv)
    sizes = [(n // 10, c) for n, c in ROW_SIZES] if args.quick else ROW_SIZES
    rows = measure(sizes, rounds=3 if args.quick else 7)
    header = (f"lossopt {lossopt.__version__}, numpy {np.__version__}, "
              f"{platform.machine()} {platform.processor() or ''}, 1 thread; "
              "ratio = lossopt time / other time (< 1: lossopt faster)")
    publish(header + "\n\n" + table(rows), args.markdown)
    return 0


def publish(text, markdown=None):
    """Print a report, and write it to the file `markdown` when given."""
    print(text)
    if markdown:
        with open(markdown, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
