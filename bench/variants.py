"""What the options of the row kernels cost: each variant's time over the plain
call's, measured side by side (interleaved rounds, one thread).

    python bench/variants.py [--rounds 5] [--quick]

Variants: the cross-entropy with label smoothing, class weights, sample
weights, reduction="none" (all with out=), and logsumexp / softmax /
log_softmax with a `where=` mask (10 % of the entries absent) and over axis 0
of the same values stored classes first, (C, N), at the sizes of the ratio
table.  A ratio near 1 means the option rides along the plain
kernel; the plain kernels' own speed is in `python -m bench.report`.
"""

import argparse

import numpy as np

import lossopt
from lossopt._bench import best_times

SIZES = [(1_000_000, 10), (100_000, 100), (10_000, 1000)]


def cases(x, y, rng):
    n, c = x.shape
    g = np.empty_like(x)
    cw = rng.uniform(0.5, 2.0, c)
    sw = rng.uniform(0.5, 2.0, n)
    mask = rng.random(x.shape) > 0.1
    xt = np.ascontiguousarray(x.T)       # the classes first
    gt = np.empty_like(xt)
    plain_ce = lossopt.SoftmaxCrossEntropy()
    smooth = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1)
    weighted = lossopt.SoftmaxCrossEntropy(class_weight=cw)
    per_row = lossopt.SoftmaxCrossEntropy(reduction="none")
    ce = {
        "cross-entropy": lambda: plain_ce.loss_and_gradient(x, y, out=g),
        "label_smoothing=0.1": lambda: smooth.loss_and_gradient(x, y, out=g),
        "class_weight": lambda: weighted.loss_and_gradient(x, y, out=g),
        "sample_weight": lambda: plain_ce.loss_and_gradient(x, y, sw, out=g),
        'reduction="none"': lambda: per_row.loss_and_gradient(x, y, out=g),
    }
    rows = {}
    for name, f, kw in [("logsumexp", lossopt.logsumexp, {}),
                        ("softmax", lossopt.softmax, {"out": g}),
                        ("log_softmax", lossopt.log_softmax, {"out": g})]:
        kw_t = {"out": gt} if kw else {}
        rows[name] = {
            name: lambda f=f, kw=kw: f(x, axis=1, **kw),
            "where=": lambda f=f, kw=kw: f(x, axis=1, where=mask, **kw),
            "of (C, N), axis=0": lambda f=f, kw=kw_t: f(xt, axis=0, **kw),
        }
    return ce, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"lossopt {lossopt.__version__}; 1 thread; ratio = variant time / plain time "
          "(same run, best of interleaved rounds)")
    print(f"{'size':<14}{'dtype':<9}{'variant':<38}{'plain ms':>10}{'ratio':>8}")
    with lossopt.threads(1):
        for n, c in SIZES:
            n = n // 10 if args.quick else n
            for dtype in (np.float64, np.float32):
                x = (rng.normal(size=(n, c)) * 3).astype(dtype)
                y = rng.integers(0, c, n)
                ce, rows = cases(x, y, rng)
                for group in [ce, *rows.values()]:
                    t = best_times(group, args.rounds)
                    base, t0 = next(iter(t.items()))
                    for name, tv in list(t.items())[1:]:
                        print(f"{f'({n}, {c})':<14}{np.dtype(dtype).name:<9}"
                              f"{base + ' ' + name:<38}{t0 * 1e3:10.2f}{tv / t0:8.2f}",
                              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
