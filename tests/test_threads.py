"""Thread settings, OpenMP/threadpoolctl defaults and concurrent calls."""

import concurrent.futures

import numpy as np
import pytest
import scipy.special as sc

import lossopt
from lossopt._kernels import _runtime


def test_set_get_and_context():
    default = lossopt.get_num_threads()
    assert default >= 1
    lossopt.set_num_threads(1)
    assert lossopt.get_num_threads() == 1
    with lossopt.threads(3) as n:
        assert n == 3 and lossopt.get_num_threads() == 3
        with lossopt.threads(2):
            assert lossopt.get_num_threads() == 2
        assert lossopt.get_num_threads() == 3
    assert lossopt.get_num_threads() == 1
    lossopt.set_num_threads(None)
    assert lossopt.get_num_threads() == default


def test_restored_after_exception():
    with pytest.raises(RuntimeError):
        with lossopt.threads(1):
            raise RuntimeError
    assert lossopt.get_num_threads() == max(1, _runtime.omp_max_threads())


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      ("2", TypeError), (True, TypeError), (2**31, ValueError)])
def test_bad_thread_counts(bad, exc):
    with pytest.raises(exc, match="n must be a positive integer"):
        lossopt.set_num_threads(bad)
    with pytest.raises(exc, match="n must be a positive integer"):
        with lossopt.threads(bad):
            pass
    assert lossopt.logsumexp(np.zeros(2)) == np.log(2.0)   # nothing was left set


def test_default_follows_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _runtime.openmp_enabled():
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert lossopt.get_num_threads() == 1
    with lossopt.threads(2), threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert lossopt.get_num_threads() == 2      # an explicit setting wins


def test_concurrent_python_threads(rng):
    """The kernels release the GIL and keep no shared state: calls from many
    Python threads at once give the same answers as serial calls."""
    xs = [rng.normal(size=(5000, 20)) for _ in range(8)]
    ys = [rng.integers(0, 20, size=5000) for _ in range(8)]
    loss = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1)
    serial = [(lossopt.logsumexp(x, axis=1), loss.loss_and_gradient(x, y))
              for x, y in zip(xs, ys)]

    def work(i):
        return lossopt.logsumexp(xs[i], axis=1), loss.loss_and_gradient(xs[i], ys[i])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(work, range(8)))
    for (l1, (v1, g1)), (l2, (v2, g2)) in zip(serial, parallel):
        np.testing.assert_array_equal(l1, l2)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(parallel[0][0], sc.logsumexp(xs[0], axis=1), rtol=1e-14)


def test_default_follows_omp_num_threads():
    import os
    import subprocess
    import sys
    if not _runtime.openmp_enabled():
        pytest.skip("serial build")
    for n in ("1", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=n)
        out = subprocess.run([sys.executable, "-c",
                              "import lossopt; print(lossopt.get_num_threads())"],
                             capture_output=True, text=True, env=env, cwd="/", timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == n
