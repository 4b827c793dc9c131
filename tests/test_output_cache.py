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


def test_layout_copies_come_from_the_cache(cache, rng):
    """A reduction over axes that need a copy into rows (here the channels of a
    non-contiguous (N, C, H, W) slice) copies into cached memory, reused by
    the next call; the results match scipy's."""
    from scipy import special
    x = rng.standard_normal((16, 10, 128, 192))[:, :, :, ::2]   # strided: no view
    assert x.size * 8 > 8 * MIB and x[:, 0].size * 8 > MIB
    ref = special.logsumexp(x, axis=1)
    ref_sm = special.softmax(x, axis=(1, 2))
    loss = lossopt.SoftmaxCrossEntropy(reduction="none", axis=1)
    y = rng.integers(0, 10, (16, 128, 96))
    ref_ce = -np.take_along_axis(special.log_softmax(x, axis=1), y[:, None], axis=1)[:, 0]
    for _ in range(3):
        before = lossopt.output_cache_info()
        np.testing.assert_allclose(lossopt.logsumexp(x, axis=1), ref, rtol=1e-14)
        np.testing.assert_allclose(lossopt.softmax(x, axis=(1, 2)), ref_sm, rtol=1e-13)
        np.testing.assert_allclose(loss(x, y), ref_ce, rtol=1e-13, atol=1e-15)
        after = lossopt.output_cache_info()
    assert after["reused"] >= before["reused"] + 4     # copies and outputs
    assert after["new"] == before["new"]          # the third round made nothing new


def _arrays(result):
    """The arrays of a result (nested tuples), in order."""
    if isinstance(result, tuple):
        return [a for r in result for a in _arrays(r)]
    return [np.asarray(result)]


def _poison(arrays, keep=None):
    for a in arrays:
        if a.nbytes >= MIB and a.flags.writeable and not np.shares_memory(a, keep):
            a.view(np.uint8)[...] = 0xFF


def test_every_output_site_on_poisoned_blocks(cache, rng):
    """Every kind of output lossopt allocates, at sizes that go through the
    cache (per-sample arrays of 150000 values: 1.2 MB), computed on blocks
    that held garbage (the previous call's outputs, overwritten with 0xFF
    bytes: NaN in floats), equals the result with the cache off, dtype
    included."""
    n = 150_000
    x = rng.standard_normal((n, 7))
    x32 = x.astype(np.float32)
    t = rng.random((n, 7))
    y = rng.integers(0, 7, n)
    xc = np.ascontiguousarray(x.T)                 # (C, N): axis 0 in place
    var = rng.random((n, 1)) + 0.5
    f_out = np.empty((7, n)).T                     # F-ordered: computed elsewhere, copied
    calls = {
        "logsumexp sign": lambda: lossopt.logsumexp(x, axis=1, return_sign=True),
        "logsumexp (C, N)": lambda: lossopt.logsumexp(xc, axis=0),
        "softmax (C, N)": lambda: lossopt.softmax(xc, axis=0),
        "log_softmax (C, N) float32": lambda: lossopt.log_softmax(xc.astype(np.float32), axis=0),
        "log_softmax where": lambda: lossopt.log_softmax(x, axis=1, where=x > -1.0),
        "expit": lambda: lossopt.expit(x32),
        "CE none": lambda: lossopt.SoftmaxCrossEntropy(reduction="none").loss_and_gradient(x, y),
        "CE none float32": lambda: lossopt.SoftmaxCrossEntropy(
            reduction="none").loss_and_gradient(x32, y),
        "CE probs none": lambda: lossopt.SoftmaxCrossEntropy(
            reduction="none").loss_and_gradient(x, t / t.sum(axis=1, keepdims=True)),
        "KL none": lambda: lossopt.KLDivergence(reduction="none").loss_and_gradient(x, t),
        "hinge none": lambda: lossopt.MulticlassHinge(reduction="none").loss_and_gradient(x, y),
        "squared error none": lambda: lossopt.SquaredError(reduction="none").loss_and_gradient(x, t),
        "squared error, F-ordered out": lambda: lossopt.SquaredError().loss_and_gradient(
            x, t, out=f_out),
        "Gaussian NLL, broadcast var": lambda: lossopt.GaussianNLL(
            reduction="none").loss_and_gradient(x, t, var),
        "BCE none float32": lambda: lossopt.BinaryCrossEntropy(
            reduction="none").loss_and_gradient(x32, (t > 0.5).astype(np.float32)),
    }
    previous = lossopt.set_output_cache(0)
    try:
        ref = {k: [a.copy() for a in _arrays(c())] for k, c in calls.items()}
    finally:
        lossopt.set_output_cache(previous)
    for name, call in calls.items():
        first = _arrays(call())
        # (the F-ordered out= is the caller's array: the cache holds the
        # internal gradient, copied into it, and that one is not poisoned)
        assert name == "squared error, F-ordered out" or any(
            isinstance(a.base, _outputs.Block) or
            isinstance(getattr(a.base, "base", None), _outputs.Block)
            for a in first if a.nbytes >= MIB), name
        _poison(first, keep=f_out)                 # garbage in the blocks ...
        del first
        reused = lossopt.output_cache_info()["reused"]
        got = _arrays(call())                      # ... that this call reuses
        assert lossopt.output_cache_info()["reused"] > reused, name
        assert len(got) == len(ref[name]), name
        for g, r in zip(got, ref[name]):
            assert g.dtype == r.dtype and g.shape == r.shape, name
            np.testing.assert_array_equal(g, r, err_msg=name)
        del got


def test_object_dtypes_never_come_from_the_cache(cache):
    a = empty(2 * MIB, np.uint8)
    a[...] = 0x41
    del a                                           # a cached block full of 0x41
    o = empty((MIB // 4,), object)
    assert o.flags.owndata and o[0] is None and o[-1] is None
    s = empty((MIB // 4,), np.dtype([("a", "f8"), ("b", "O")]))
    assert s.flags.owndata and s[0]["b"] is None
    assert lossopt.output_cache_info()["blocks"] == 1


def test_info_under_garbage_collection_does_not_deadlock(cache):
    """output_cache_info builds its dict outside the lock: the allocation
    may run the garbage collector, which may free a cached array, whose
    block then takes the lock (before: the thread waited on itself)."""
    import gc

    class Holder:
        pass

    threshold = gc.get_threshold()
    keep = []
    try:
        for _ in range(20):
            h = Holder()
            h.self = h                  # a cycle: freed by the collector only
            h.array = empty(2 * MIB, np.uint8)
            del h
            keep.append([{} for _ in range(200)])
            gc.set_threshold(1)
            lossopt.output_cache_info()
            gc.set_threshold(*threshold)
    finally:
        gc.set_threshold(*threshold)
    gc.collect()
    assert lossopt.output_cache_info()["blocks"] >= 1


def test_reuse_boundary_and_eviction_order(cache):
    a = empty(5 * MIB, np.uint8)
    p = address(a)
    del a
    small = empty(4 * MIB - 1, np.uint8)            # below 4/5 of the block: new
    assert address(small) != p
    exact = empty(4 * MIB, np.uint8)                # 4/5 of it: reused
    assert address(exact) == p
    del small, exact
    lossopt.set_output_cache(0)
    lossopt.set_output_cache(_outputs.DEFAULT_LIMIT)
    arrays = [empty(2 * MIB + k * 4096, np.uint8) for k in range(_outputs.MAX_BLOCKS + 1)]
    addresses = [address(a) for a in arrays]
    for k in range(len(arrays)):                    # freed in order: the first is evicted
        arrays[k] = None
    assert lossopt.output_cache_info()["blocks"] == _outputs.MAX_BLOCKS
    made = lossopt.output_cache_info()["new"]
    smallest = empty(2 * MIB, np.uint8)             # every cached block fits: the smallest
    assert address(smallest) == addresses[1]        # (the first one was evicted)
    assert lossopt.output_cache_info()["new"] == made


def test_set_output_cache_upper_bound(cache):
    lossopt.set_output_cache(_outputs.MAX_LIMIT)
    assert lossopt.output_cache_info()["limit"] == _outputs.MAX_LIMIT
    with pytest.raises(ValueError, match="max_bytes must be an integer in"):
        lossopt.set_output_cache(_outputs.MAX_LIMIT + 1)
