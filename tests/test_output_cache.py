"""The output cache (src/_outputs.pyx, lossopt/_memory.py): outputs of 1 MiB
or more are made over blocks that are reused once no array uses them, never
while one does, and the results are the same as without the cache."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import lossopt
from lossopt._kernels import _outputs
from lossopt._memory import empty

MIB = 1 << 20


def address(a):
    return a.__array_interface__["data"][0]


@pytest.fixture
def cache():
    """The cache at its default limit, emptied before and after the test."""
    previous = lossopt.set_output_cache(0)
    lossopt.set_output_cache(_outputs.DEFAULT_LIMIT)
    yield
    lossopt.set_output_cache(0)
    lossopt.set_output_cache(previous)


def test_small_outputs_are_plain_arrays(cache):
    a = empty((100, 10), np.float64)
    assert a.flags.owndata and a.shape == (100, 10) and a.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_large_outputs_are_aligned_writable_c_contiguous(cache, dtype):
    a = empty((1000, 1100), dtype)           # 1.1 MB of uint8 and more
    assert a.shape == (1000, 1100) and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    assert address(a) % 64 == 0
    assert isinstance(a.base, _outputs.Block)
    a[...] = 7
    assert (a == 7).all()
    big = empty(5 * MIB, np.uint8)             # 2 MiB alignment from 4 MiB on
    assert address(big) % (2 * MIB) == 0


def test_a_dropped_block_is_reused(cache):
    a = empty((1000, 200), np.float64)
    p = address(a)
    del a
    info = lossopt.output_cache_info()
    assert info["blocks"] == 1 and info["held"] >= 1000 * 200 * 8
    b = empty((1000, 200), np.float64)
    assert address(b) == p
    assert lossopt.output_cache_info()["blocks"] == 0


def test_a_block_in_use_is_never_handed_out(cache):
    a = empty((1000, 200), np.float64)
    a[...] = 1.5
    view = a[10:20]                  # keeps the block alive after a goes
    p = address(a)
    del a
    assert lossopt.output_cache_info()["blocks"] == 0
    b = empty((1000, 200), np.float64)
    b[...] = -1.0
    assert address(b) != p
    assert (view == 1.5).all()
    del view
    c = empty((1000, 200), np.float64)
    assert address(c) == p
    assert not np.shares_memory(b, c)


def test_block_sizes_that_match(cache):
    a = empty(4 * MIB, np.uint8)
    p = address(a)
    del a
    small = empty(MIB, np.uint8)                         # far smaller: a new block
    assert address(small) != p
    assert lossopt.output_cache_info()["blocks"] == 1
    large = empty(5 * MIB, np.uint8)                     # larger: a new block
    assert address(large) != p
    c = empty(4 * MIB - 100_000, np.uint8)               # a bit smaller: reused
    assert address(c) == p


def test_limit_and_block_count(cache):
    arrays = [empty(2 * MIB, np.uint8) for _ in range(10)]
    del arrays
    info = lossopt.output_cache_info()
    assert info["blocks"] == _outputs.MAX_BLOCKS
    assert info["held"] == _outputs.MAX_BLOCKS * 2 * MIB
    previous = lossopt.set_output_cache(5 * MIB)          # lowered: trimmed now
    assert previous == _outputs.DEFAULT_LIMIT
    info = lossopt.output_cache_info()
    assert info["blocks"] == 2 and info["held"] == 4 * MIB and info["limit"] == 5 * MIB
    a = empty(6 * MIB, np.uint8)                          # larger than the limit
    del a
    assert lossopt.output_cache_info()["held"] == 4 * MIB
    lossopt.set_output_cache(0)
    info = lossopt.output_cache_info()
    assert info["blocks"] == 0 and info["held"] == 0
    a = empty(2 * MIB, np.uint8)                          # off: plain arrays
    assert a.flags.owndata


def test_set_output_cache_rejects_bad_values():
    with pytest.raises(TypeError, match="max_bytes must be an integer"):
        lossopt.set_output_cache(1.5)
    with pytest.raises(TypeError, match="max_bytes must be an integer"):
        lossopt.set_output_cache(True)
    with pytest.raises(ValueError, match="max_bytes must be an integer in"):
        lossopt.set_output_cache(-1)


def test_the_losses_and_functions_reuse_their_outputs(cache, rng):
    x = rng.standard_normal((30_000, 10))
    y = rng.integers(0, 10, 30_000)
    loss = lossopt.SoftmaxCrossEntropy()
    ref_value, ref_grad = loss.loss_and_gradient(x, y)
    ref_grad = ref_grad.copy()
    value, grad = loss.loss_and_gradient(x, y)
    assert value == ref_value and np.array_equal(grad, ref_grad)
    p = address(grad)
    del grad
    value, grad = loss.loss_and_gradient(x, y)           # the same block again
    assert address(grad) == p
    assert value == ref_value and np.array_equal(grad, ref_grad)
    s = lossopt.softmax(x, axis=1)
    assert not np.shares_memory(s, grad)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-15)
    assert lossopt.output_cache_info()["reused"] >= 1


def test_results_equal_with_the_cache_off(rng):
    x = rng.standard_normal((40_000, 7)).astype(np.float32)
    t = rng.random((40_000, 7)).astype(np.float32)
    calls = [
        lambda: lossopt.softmax(x, axis=1),
        lambda: lossopt.log_softmax(x, axis=0),
        lambda: lossopt.logsumexp(x, axis=1),
        lambda: lossopt.expit(x),
        lambda: lossopt.SquaredError().loss_and_gradient(x, t),
        lambda: lossopt.BinaryCrossEntropy(reduction="none").loss_and_gradient(x, t > 0.5),
        lambda: lossopt.GaussianNLL().loss_and_gradient(x, t, t + 0.5),
    ]
    previous = lossopt.set_output_cache(0)
    try:
        ref = [c() for c in calls]
    finally:
        lossopt.set_output_cache(previous)
    for _ in range(2):                         # the second round on reused blocks
        got = [c() for c in calls]
        for g, r in zip(got, ref):
            for a, b in zip(g if isinstance(g, tuple) else (g,),
                            r if isinstance(r, tuple) else (r,)):
                if isinstance(a, tuple):
                    for u, v in zip(a, b):
                        assert np.array_equal(u, v)
                else:
                    assert np.array_equal(a, b)
        del got


def test_threads_allocating_and_dropping(cache):
    """Threads take and drop blocks at once: no block is ever held by two
    live arrays (each thread's arrays keep their own values)."""
    errors = []

    def work(k):
        try:
            for i in range(60):
                a = empty((MIB // 8 + 1000 * (i % 3),), np.float64)
                a[...] = k * 1000 + i
                b = empty((MIB // 8,), np.float64)
                b[...] = -k
                if not ((a == k * 1000 + i).all() and (b == -k).all()):
                    errors.append((k, i))
                del a, b
        except Exception as exc:              # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    info = lossopt.output_cache_info()
    assert info["blocks"] <= _outputs.MAX_BLOCKS and info["held"] <= info["limit"]


def test_pickle_and_copy_of_a_cached_array(cache):
    import pickle
    a = empty((1000, 200), np.float64)
    a[...] = np.arange(200.0)
    b = pickle.loads(pickle.dumps(a))
    assert np.array_equal(a, b) and not np.shares_memory(a, b)
    c = a.copy()
    assert np.array_equal(a, c)


@pytest.mark.parametrize("value, limit, warns", [
    ("0", 0, False), ("64", 64 * MIB, False), ("0.5", MIB // 2, False),
    ("lots", _outputs.DEFAULT_LIMIT, True), ("-3", _outputs.DEFAULT_LIMIT, True),
])
def test_environment_variable(value, limit, warns):
    code = ("import warnings, lossopt\n"
            "print(lossopt.output_cache_info()['limit'])\n")
    env = dict(os.environ, LOSSOPT_OUTPUT_CACHE_MB=value)
    res = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env,
                         capture_output=True, text=True, check=True, cwd=os.path.dirname(__file__))
    assert int(res.stdout.split()[-1]) == limit
    assert ("LOSSOPT_OUTPUT_CACHE_MB" in res.stderr) == warns


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_the_cache(cache):
    """The child gets a lock of its own (the parent's may be held by a thread
    the child lacks) and its copies of the cached blocks."""
    a = empty(2 * MIB, np.uint8)
    p = address(a)
    del a
    pid = os.fork()
    if pid == 0:                                   # pragma: no cover - the child
        ok = False
        try:
            b = empty(2 * MIB, np.uint8)
            b[...] = 3
            ok = address(b) == p and (b == 3).all()
            del b
            ok = ok and lossopt.output_cache_info()["blocks"] == 1
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert lossopt.output_cache_info()["blocks"] == 1
