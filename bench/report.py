"""Side-by-side timing report: ratios of lossopt to each peer, measured in one
run on one thread (best of interleaved rounds).

    python bench/report.py [--quick] [--markdown FILE] [--kernels NAME ...]

A ratio below 1 means lossopt is faster (time of lossopt / time of the peer).
The reference column is one NumPy call over the same N*C elements: np.exp for
the softmax family (exp-bound), np.add for the multiclass hinge.
"""

import argparse
import platform
import sys

import numpy as np

import lossopt
from cases import DTYPES, KERNELS, reference_of, row_inputs, single_thread, sizes_of
from timing import best_times


def measure(kernels=tuple(KERNELS), quick=False, rounds=7):
    rows = []
    with single_thread():
        for kernel in kernels:
            impls, args_of = KERNELS[kernel]
            ref_name, ref = reference_of(kernel)
            for n, c in sizes_of(kernel):
                n = n // 10 if quick else n
                for dtype in DTYPES:
                    x, y = row_inputs(n, c, dtype)
                    fns = {name: make(*args_of(x, y)) for name, make in impls.items()}
                    fns[ref_name] = ref(x)
                    rows.append((kernel, (n, c), np.dtype(dtype).name, ref_name,
                                 best_times(fns, rounds)))
    return rows


def table(rows):
    peers = sorted({p for *_, ref, t in rows for p in t if p not in ("lossopt", ref)})
    head = ["kernel", "(N, C)", "dtype", "lossopt ms", "÷ reference"]
    head += [f"÷ {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kernel, (n, c), dtype, ref, t in rows:
        ours = t["lossopt"]
        cells = [kernel, f"({n:.0e}, {c})".replace("e+0", "e"), dtype, f"{ours * 1e3:.2f}",
                 f"{ours / t[ref]:.2f} ({ref})"]
        cells += [f"{ours / t[p]:.3f}" if p in t else "—" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS),
                        help="time only these kernels")
    args = parser.parse_args(argv)
    rows = measure(args.kernels, quick=args.quick, rounds=3 if args.quick else 7)
    header = (f"lossopt {lossopt.__version__}, numpy {np.__version__}, "
              f"{platform.machine()} {platform.processor() or ''}, 1 thread; "
              "ratio = lossopt time / other time (< 1: lossopt faster)")
    text = header + "\n\n" + table(rows)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
