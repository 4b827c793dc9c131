"""lossopt's benchmark suite, run from a checkout (the sdist leaves bench/ out).

    python -m bench.report [--quick] [--markdown FILE] [--png FILE]   the ratio table
    pytest bench/ --benchmark-only                                    pytest-benchmark
    python -m bench.thread_threshold                                  1 vs 2 threads

The cases, peers, timing and table live in the package (lossopt/_bench.py),
so that an installed lossopt can run the same code; the files here are thin
wrappers and the developer-only measurements.

`python -m bench.x` and pytest put the checkout first on sys.path, where
lossopt/ is the source folder without its compiled kernels: this package
takes the checkout off sys.path again (so `import lossopt` finds the
installed package) and puts bench/ on it, so that its modules import each
other by plain name however they are started (also `python bench/x.py`).
"""

import os
import sys

_bench = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(_bench)
if "lossopt" in sys.modules and os.path.dirname(os.path.dirname(
        os.path.abspath(sys.modules["lossopt"].__file__))) == _root:
    raise RuntimeError("lossopt was imported from the source folder; install it "
                       "(pip install .) and run the benchmarks from the checkout root")
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]
if _bench not in sys.path:
    sys.path.insert(0, _bench)
