"""lossopt under threadpoolctl.

threadpoolctl finds the OpenMP runtime the compiled kernels are linked to (the
one vendored into a repaired wheel: lossopt.libs/ on Linux, lossopt/.dylibs/ on
macOS, a mangled vcomp140 on Windows), and `threadpool_limits(1)` makes the
kernels run on one thread: lossopt's default thread count is OpenMP's
omp_get_max_threads() in the calling thread (lossopt/_threads.py), which is
what threadpoolctl sets.

On a serial build (-Dopenmp=disabled, or no OpenMP in the compiler) these tests
skip -- unless LOSSOPT_EXPECT_OPENMP=1 (set by the wheel builds and
tools/check_wheel.sh), where a serial build is a failure.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import lossopt
from lossopt import functional
from lossopt._kernels import _runtime

threadpoolctl = pytest.importorskip("threadpoolctl")

OMP_RUNTIMES = ("libgomp", "libomp", "libiomp", "vcomp")


@pytest.fixture(autouse=True)
def openmp_build():
    if not _runtime.openmp_enabled():
        if os.environ.get("LOSSOPT_EXPECT_OPENMP") == "1":
            pytest.fail("LOSSOPT_EXPECT_OPENMP=1 but this lossopt was built without OpenMP")
        pytest.skip("serial build")


def _fresh_env():
    """The environment minus anything that would preset OpenMP's thread count."""
    return {k: v for k, v in os.environ.items()
            if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OMP_DYNAMIC")}


def _run(code, tmp_path):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=_fresh_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _vendored_runtimes():
    """OpenMP runtimes shipped inside the installed package (a repaired wheel)."""
    pkg = pathlib.Path(lossopt.__file__).resolve().parent
    found = []
    for folder in (pkg.parent / "lossopt.libs", pkg / ".dylibs"):
        if folder.is_dir():
            found += [p.resolve() for p in folder.iterdir()
                      if p.name.lower().startswith(OMP_RUNTIMES)]
    return found


def test_threadpool_info_shows_lossopt_openmp_runtime(tmp_path):
    # In a fresh interpreter: the runtimes loaded by numpy, then by lossopt.
    code = """
import json, numpy, threadpoolctl
before = [m["filepath"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "openmp"]
import lossopt
after = [m for m in threadpoolctl.threadpool_info() if m["user_api"] == "openmp"]
print(json.dumps({"before": before, "after": after}))
"""
    info = _run(code, tmp_path)
    after = info["after"]
    assert after, "threadpoolctl sees no OpenMP runtime after `import lossopt`"
    new = [m for m in after if m["filepath"] not in info["before"]]
    if not info["before"]:
        # numpy loaded no OpenMP runtime: the new one is lossopt's
        assert len(new) == 1, after
        assert new[0]["prefix"].lower().startswith(OMP_RUNTIMES), new
        assert new[0]["num_threads"] >= 1
    vendored = _vendored_runtimes()
    if vendored:
        # a repaired wheel: the runtime in use is the one it ships
        paths = [pathlib.Path(m["filepath"]).resolve() for m in after]
        assert any(p in vendored for p in paths), (paths, vendored)


def test_threadpool_limits_one_thread(monkeypatch, rng):
    x = rng.normal(size=(4096, 64))          # 262144 elements: above every threshold
    calls = []
    kernel = functional._softmax.logsumexp_rows

    def spy(*args, **kwargs):
        calls.append(args[5])                # the n_threads argument
        return kernel(*args, **kwargs)

    monkeypatch.setattr(functional._softmax, "logsumexp_rows", spy)
    default = lossopt.get_num_threads()
    with lossopt.threads(2):
        free = lossopt.logsumexp(x, axis=1)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _runtime.omp_max_threads() == 1
        assert lossopt.get_num_threads() == 1
        limited = lossopt.logsumexp(x, axis=1)
        info = [m for m in threadpoolctl.threadpool_info() if m["user_api"] == "openmp"]
        assert info and all(m["num_threads"] == 1 for m in info)
    assert calls == [2, 1]
    assert lossopt.get_num_threads() == default       # the limit is lifted on exit
    # same bits whatever the thread count, and the right values
    np.testing.assert_array_equal(limited, free)
    m = x.max(axis=1)
    np.testing.assert_allclose(limited, m + np.log(np.exp(x - m[:, None]).sum(axis=1)),
                               rtol=1e-14)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                    reason="counts OS threads through /proc (Linux)")
def test_limited_kernel_starts_no_thread(tmp_path):
    """Under threadpool_limits(1) a kernel big enough to go parallel starts no
    OpenMP thread; the same call with 2 threads does (the control: OpenMP keeps
    its worker threads alive after a parallel region)."""
    code = """
import json, os, numpy as np, threadpoolctl, lossopt
def n_threads():
    return len(os.listdir("/proc/self/task"))
x = np.random.default_rng(0).normal(size=(4096, 64))
ce = lossopt.SoftmaxCrossEntropy()
y = np.arange(4096) % 64
start = n_threads()
with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
    a = lossopt.logsumexp(x, axis=1)
    v1, g1 = ce.loss_and_gradient(x, y)
    e1 = lossopt.expit(x)
limited = n_threads()
with lossopt.threads(2):
    b = lossopt.logsumexp(x, axis=1)
    v2, g2 = ce.loss_and_gradient(x, y)
    e2 = lossopt.expit(x)
parallel = n_threads()
same = bool((a == b).all() and v1 == v2 and (g1 == g2).all() and (e1 == e2).all())
print(json.dumps([start, limited, parallel, same]))
"""
    start, limited, parallel, same = _run(code, tmp_path)
    assert limited == start, "a kernel under threadpool_limits(1) started threads"
    assert parallel > limited, "control failed: 2 threads started no OpenMP worker"
    assert same
