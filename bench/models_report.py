"""Models: time to fit to the same final training loss, lossopt against its
peers, best of interleaved rounds, one thread.

    python bench/models_report.py [--rounds 3] [--markdown FILE]

(a) SoftmaxRegression on a synthetic (1e5, 100) 10-class problem against a
plain torch loop (same optimizer, batch size, epochs), scikit-learn's
SGDClassifier(loss="log_loss") and LogisticRegression(solver="lbfgs") (each
run for the fewest epochs / iterations that reach lossopt's training loss);
(b) MLPClassifier on digits against scikit-learn's MLPClassifier (same
settings; lossopt runs the fewest epochs that reach scikit-learn's loss after
50).  See model_cases.py.  ratio = lossopt's time / the peer's time
(< 1: lossopt faster).
"""

import argparse
import platform
import sys

import numpy as np

import lossopt
from model_cases import (MLP, SOFTMAX, cross_entropy, digits_data, mlp_implementations,
                         single_thread, softmax_data, softmax_implementations)
from lossopt._bench import best_times, publish


def measure(impls, y, rounds):
    """{name: (seconds, training loss, budget)}."""
    fns = {name: fn for name, (fn, _) in impls.items()}
    losses = {name: cross_entropy(fn(), y) for name, fn in fns.items()}
    times = best_times(fns, rounds, min_time=0.0)
    return {name: (times[name], losses[name], impls[name][1]) for name in fns}


def table(title, rows):
    ours = rows["lossopt"][0]
    lines = [f"**{title}**", "", "| implementation | budget | seconds | training loss | "
             "lossopt ÷ it |", "|---|---|---|---|---|"]
    for name, (t, loss, budget) in rows.items():
        lines.append(f"| {name} | {budget} | {t:.3f} | {loss:.5f} | {ours / t:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", metavar="FILE")
    args = parser.parse_args(argv)
    header = (f"lossopt {lossopt.__version__}, numpy {np.__version__}, "
              f"{platform.machine()}, 1 thread, best of {args.rounds} interleaved rounds; "
              "ratio = lossopt time / peer time (< 1: lossopt faster)")
    with single_thread():
        X, y = softmax_data()
        impls, target = softmax_implementations(X, y)
        a = measure(impls, y, args.rounds)
        Xd, yd = digits_data()
        impls_b = mlp_implementations(Xd, yd)
        b = measure(impls_b, yd, args.rounds)
    text = "\n\n".join([
        header,
        table(f"(a) softmax regression, {X.shape[0]:.0e} x {X.shape[1]}, 10 classes "
              f"(Adam lr {SOFTMAX['lr']}, batch {SOFTMAX['batch_size']}; target loss "
              f"{target:.5f}; sklearn peers run to within 0.1% of it)", a),
        table(f"(b) MLP ({MLP['hidden']},) ReLU on digits (Adam lr {MLP['lr']}, batch "
              f"{MLP['batch_size']}; target: scikit-learn's loss after {MLP['epochs']} "
              "epochs)", b)])
    publish(text, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
