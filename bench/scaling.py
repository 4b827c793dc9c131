"""Thread scaling and bit-for-bit determinism across thread counts.

    python bench/scaling.py [--threads 1 4 8 16] [--quick]

For each kernel and size: the time at each thread count (best of interleaved
rounds) as a speed-up over 1 thread, and whether the results (loss and
gradient / outputs) are identical, bit for bit, to the 1-thread results.
"""

import argparse
import sys

import numpy as np

import lossopt
from lossopt._bench import best_time


def cases(quick):
    rng = np.random.default_rng(0)
    scale = 10 if quick else 1
    out = []
    for (n, c) in [(1_000_000 // scale, 10), (10_000 // scale, 1000)]:
        for dtype in (np.float64, np.float32):
            x = (rng.normal(size=(n, c)) * 3).astype(dtype)
            y = rng.integers(0, c, size=n)
            tag = f"{n}x{c} {np.dtype(dtype).name}"
            ce = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1)
            out.append((f"cross-entropy {tag}", lambda x=x, y=y, ce=ce: ce.loss_and_gradient(x, y)))
            out.append((f"logsumexp {tag}", lambda x=x: lossopt.logsumexp(x, axis=1)))
            out.append((f"softmax {tag}", lambda x=x: lossopt.softmax(x, axis=1)))
    p = rng.normal(size=10_000_000 // scale)
    t = rng.normal(size=10_000_000 // scale)
    out.append(("squared error 1e7", lambda: lossopt.SquaredError().loss_and_gradient(p, t)))
    out.append(("expit 1e7", lambda: lossopt.expit(p)))
    return out


def as_bytes(result):
    parts = result if isinstance(result, tuple) else (result,)
    return b"".join(np.asarray(r).tobytes() for r in parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    counts = args.threads
    print(f"lossopt {lossopt.__version__}; speed-up over 1 thread (time_1 / time_n); "
          "'=' means bit-identical to the 1-thread result")
    print(f"{'kernel':<34}{'1 thread ms':>12}" + "".join(f"{n:>10}" for n in counts[1:]))
    all_same = True
    for name, fn in cases(args.quick):
        with lossopt.threads(1):
            ref = as_bytes(fn())
            t1 = best_time(fn, args.rounds, 0.05)
        cells = []
        for n in counts[1:]:
            with lossopt.threads(n):
                same = as_bytes(fn()) == ref
                tn = best_time(fn, args.rounds, 0.05)
            all_same &= same
            cells.append(f"{t1 / tn:8.2f}{'=' if same else '!'} ")
        print(f"{name:<34}{t1 * 1e3:12.2f}" + "".join(f"{c:>10}" for c in cells))
    print("all results bit-identical across thread counts" if all_same
          else "SOME RESULTS DIFFER ACROSS THREAD COUNTS")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
