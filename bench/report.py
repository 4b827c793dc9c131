"""Side-by-side timing report: ratios of lossopt to each peer, measured in one
run on one thread (best of interleaved rounds).

    python bench/report.py [--quick] [--only rows|elementwise] [--kernels NAME ...]
                           [--markdown FILE]
    python bench/report.py --optim [...]   (the optimizer steps: bench/optim_report.py)

A ratio below 1 means lossopt is faster (time of lossopt / time of the peer).
The reference column is one NumPy call over the same N*C elements: np.exp for
the softmax family (exp-bound), np.add for the multiclass hinge; for the
element-wise losses at N = 1e7, np.exp or np.add by whether the loss has a
transcendental.
"""

import argparse
import platform
import sys

import numpy as np

import lossopt
from cases import (DTYPES, ELEMENTWISE, ELEMENTWISE_N, KERNELS, REFERENCE_BY_NAME,
                   elementwise_inputs, reference_of, row_inputs, single_thread, sizes_of)
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


def measure_elementwise(n=ELEMENTWISE_N, rounds=7):
    """Element-wise losses over n elements; the reference of each is np.exp
    (transcendental) or np.add (bandwidth-bound)."""
    rows = []
    with single_thread():
        for name, (impls, ref) in ELEMENTWISE.items():
            for dtype in DTYPES:
                arrays = elementwise_inputs(name, n, dtype)
                fns = {peer: make(*arrays) for peer, make in impls.items()}
                fns[ref] = REFERENCE_BY_NAME[ref](arrays[0])
                rows.append((name, n, np.dtype(dtype).name, ref, best_times(fns, rounds)))
    return rows


def elementwise_table(rows):
    """Peers are compared with lossopt allocating its gradient, as they do;
    the np.add / np.exp reference, which writes into out=, with lossopt
    writing into out= too."""
    peers = sorted({p for *_, t in rows for p in t
                    if p not in ("lossopt", "lossopt out=") + tuple(REFERENCE_BY_NAME)})
    head = ["loss", "N", "dtype", "lossopt ms", "reference", "out= ÷ reference"] + [
        f"÷ {p}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, n, dtype, ref, t in rows:
        ours = t["lossopt"]
        cells = [name, f"{n:.0e}".replace("e+0", "e"), dtype, f"{ours * 1e3:.2f}", ref,
                 f"{t['lossopt out='] / t[ref]:.2f}"]
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
    parser.add_argument("--only", choices=["rows", "elementwise"],
                        help="only the row kernels, or only the element-wise losses")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS),
                        help="time only these row kernels")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 7
    header = (f"lossopt {lossopt.__version__}, numpy {np.__version__}, "
              f"{platform.machine()} {platform.processor() or ''}, 1 thread; "
              "ratio = lossopt time / other time (< 1: lossopt faster)")
    text = header
    if args.only != "elementwise":
        text += "\n\n" + table(measure(args.kernels, quick=args.quick, rounds=rounds))
    if args.only != "rows":
        n = ELEMENTWISE_N // 10 if args.quick else ELEMENTWISE_N
        text += "\n\n" + elementwise_table(measure_elementwise(n, rounds=rounds))
    publish(text, args.markdown)
    return 0


def publish(text, markdown=None):
    """Print a report, and write it to the file `markdown` when given."""
    print(text)
    if markdown:
        with open(markdown, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
