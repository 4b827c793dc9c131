"""The ratio table: lossopt against np.exp / np.add and the installed peers,
from one run on one thread (best of interleaved rounds).

    python -m bench.report [--quick] [--only rows|elementwise] [--kernels NAME ...]
                           [--dtypes float64 float32] [--rounds R]
                           [--markdown FILE] [--png FILE]
    python -m bench.report --optim [...]   the optimizer steps (bench/optim_report.py)

`python bench/report.py ...` works too.  The code is lossopt._bench.main
(the case table, runner and table), which the pytest-benchmark suite
(bench/test_bench_kernels.py) shares.
"""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--optim" in argv:
        import optim_report
        return optim_report.main([a for a in argv if a != "--optim"])
    from lossopt._bench import main as run
    return run(argv, prog="python -m bench.report")


if __name__ == "__main__":
    sys.exit(main())
