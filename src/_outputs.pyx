# cython: language_level=3
"""The output cache: memory for the arrays lossopt returns, reused.

A call that returns a new array (a gradient, a softmax, a per-sample loss)
needs fresh memory.  Memory fresh from the operating system is zeroed by it
page by page on first touch: for an 80 MB gradient about 6 ms, a third to
a half of the time the cross-entropy of that size takes to compute (1e6 x 10
or 1e5 x 100 float64 logits: 20 and 12 ms, one thread).  In a training
loop the previous step's gradient has usually been dropped by then, so its
block is kept here and handed to the next call of about the same size.

Rules:

* only arrays of at least ``MIN_BYTES`` (1 MiB) come from here; smaller ones
  are plain ``np.empty`` (malloc's own free lists serve them fast);
* a block returns to the cache when the last array (or view) using it is
  gone, never earlier: an array you hold is never handed out again;
* the cache holds at most ``MAX_BLOCKS`` blocks and ``limit`` bytes in all
  (default 256 MiB, ``LOSSOPT_OUTPUT_CACHE_MB`` in the environment, or
  ``lossopt.set_output_cache``); over the limit the oldest blocks are freed;
  0 turns the cache off (every block freed when its array goes);
* a block is reused for a request of between 4/5 and all of its size;
* the arrays are C-contiguous, writable, aligned to 64 bytes (2 MiB from
  4 MiB on, with transparent huge pages asked for on Linux:
  src/lossopt_blocks.h); their ``base`` chain leads to the block object, as
  for any array made over a buffer (``flags.owndata`` is False).

The cache's state is guarded by a lock, so threads may allocate and drop
arrays concurrently.  Nothing between acquire() and release() calls into
Python or allocates a Python object: that could run the garbage collector,
whose freeing of a cached array would take the lock again (a deadlock), or
give the GIL to a thread waiting for the lock.
"""

import os
import warnings

import numpy as np

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from libc.stdint cimport SIZE_MAX


cdef extern from "lossopt_blocks.h":
    void *lossopt_block_new(size_t nbytes, void **raw) nogil
    void lossopt_block_free(void *raw) nogil


cdef extern from "pythread.h":
    ctypedef void *PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    int PyThread_acquire_lock(PyThread_type_lock lock, int waitflag) nogil
    void PyThread_release_lock(PyThread_type_lock lock) nogil


MIN_BYTES = 1 << 20
MAX_BLOCKS = 8
DEFAULT_LIMIT = 256 << 20
ENV = "LOSSOPT_OUTPUT_CACHE_MB"
MAX_LIMIT = min(SIZE_MAX, 2 ** 62)

cdef enum:
    N_SLOTS = 8                    # = MAX_BLOCKS
cdef size_t PAGE = 4096

# the cached blocks, oldest first: raw pointer (for free), data, capacity
cdef void *slot_raw[N_SLOTS]
cdef char *slot_data[N_SLOTS]
cdef size_t slot_cap[N_SLOTS]
cdef int n_slots = 0
cdef size_t held_bytes = 0
cdef size_t limit_bytes = DEFAULT_LIMIT
cdef Py_ssize_t n_reused = 0
cdef Py_ssize_t n_new = 0
cdef PyThread_type_lock lock = PyThread_allocate_lock()
if lock == NULL:
    raise MemoryError("lossopt: cannot allocate the output cache's lock")


cdef inline void acquire() noexcept nogil:
    PyThread_acquire_lock(lock, 1)


cdef inline void release() noexcept nogil:
    PyThread_release_lock(lock)


cdef void drop_slot(int i) noexcept nogil:
    """Remove slot i (the lock held), keeping the order of the others."""
    global n_slots, held_bytes
    cdef int k
    held_bytes -= slot_cap[i]
    for k in range(i, n_slots - 1):
        slot_raw[k] = slot_raw[k + 1]
        slot_data[k] = slot_data[k + 1]
        slot_cap[k] = slot_cap[k + 1]
    n_slots -= 1


cdef int trim(size_t room, void **freed) noexcept nogil:
    """Drop the oldest blocks (the lock held) until `room` more bytes and
    one more block fit (room = 0, no block to add: until the cache is within
    its limit); their raw pointers go to `freed` (freed after the lock is
    released); returns how many."""
    cdef int n = 0
    while n_slots > 0 and (held_bytes + room > limit_bytes or
                           (room > 0 and n_slots >= N_SLOTS)):
        freed[n] = slot_raw[0]
        n += 1
        drop_slot(0)
    return n


cdef class Block:
    """A block of memory an array of lossopt's is made over (at the end of
    its ``base`` chain); back to the cache when the last array using it is
    gone."""
    cdef void *raw
    cdef char *data
    cdef size_t cap
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __cinit__(self):
        self.raw = NULL
        self.data = NULL

    def __getbuffer__(self, Py_buffer *buf, int flags):
        buf.buf = self.data
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 0
        buf.itemsize = 1
        if flags & PyBUF_FORMAT:
            buf.format = b"B"
        else:
            buf.format = NULL
        buf.ndim = 1
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        buf.shape = self.shape if flags & PyBUF_ND == PyBUF_ND else NULL
        buf.strides = self.strides if flags & PyBUF_STRIDES == PyBUF_STRIDES else NULL
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer *buf):
        pass

    def __dealloc__(self):
        global n_slots, held_bytes
        cdef void *freed[N_SLOTS + 1]
        cdef int n = 0, k
        if self.raw == NULL:
            return
        acquire()
        if self.cap <= limit_bytes:
            n = trim(self.cap, freed)
            slot_raw[n_slots] = self.raw
            slot_data[n_slots] = self.data
            slot_cap[n_slots] = self.cap
            n_slots += 1
            held_bytes += self.cap
        else:
            freed[0] = self.raw
            n = 1
        release()
        for k in range(n):
            lossopt_block_free(freed[k])
        self.raw = NULL


cdef Block take(size_t nbytes):
    """A block of at least nbytes: the smallest cached one that fits (and is
    at most 5/4 of nbytes), else a new one."""
    global n_reused, n_new
    cdef Block b = Block.__new__(Block)
    cdef int best = -1, i
    cdef size_t cap = (nbytes + PAGE - 1) // PAGE * PAGE
    acquire()
    for i in range(n_slots):
        if slot_cap[i] >= nbytes and slot_cap[i] - nbytes <= nbytes // 4 and (
                best < 0 or slot_cap[i] < slot_cap[best]):
            best = i
    if best >= 0:
        b.raw = slot_raw[best]
        b.data = slot_data[best]
        b.cap = slot_cap[best]
        drop_slot(best)
        n_reused += 1
    release()
    if best < 0:
        b.data = <char *>lossopt_block_new(cap, &b.raw)
        if b.raw == NULL:
            raise MemoryError(f"lossopt: cannot allocate an output of {nbytes} bytes")
        b.cap = cap
        n_new += 1
    b.nbytes = <Py_ssize_t>nbytes
    return b


def empty(shape, dtype):
    """A new C-contiguous array of `shape` and `dtype` (as ``np.empty``),
    whose memory comes from the output cache when it is MIN_BYTES or more."""
    dtype = np.dtype(dtype)
    if not isinstance(shape, tuple):
        shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    n = 1
    for d in shape:
        if d < 0:
            return np.empty(shape, dtype)     # (its error)
        n *= d
    nbytes = n * dtype.itemsize
    # object arrays are filled with None by np.empty: never over a block
    if nbytes < MIN_BYTES or limit_bytes == 0 or nbytes > SIZE_MAX // 2 or dtype.hasobject:
        return np.empty(shape, dtype)
    return np.ndarray(shape, dtype, buffer=take(<size_t>nbytes))


def set_limit(max_bytes):
    """Set the cache's limit in bytes (0: off; blocks beyond it are freed
    now); returns the previous limit."""
    global limit_bytes
    cdef void *freed[N_SLOTS + 1]
    cdef int n, k
    cdef size_t value = max_bytes, previous
    acquire()
    previous = limit_bytes
    limit_bytes = value
    n = trim(0, freed)
    release()
    for k in range(n):
        lossopt_block_free(freed[k])
    return previous


def info():
    """The cache's state: limit, bytes and blocks held, blocks reused and
    made new (since the module was loaded)."""
    cdef size_t limit, held
    cdef int blocks
    cdef Py_ssize_t reused, new
    acquire()
    limit = limit_bytes
    held = held_bytes
    blocks = n_slots
    reused = n_reused
    new = n_new
    release()
    return {"limit": limit, "held": held, "blocks": blocks, "reused": reused, "new": new}


def _limit_from_environment():
    value = os.environ.get(ENV, "").strip()
    if not value:
        return DEFAULT_LIMIT
    try:
        mb = float(value)
        if not (0 <= mb < 2 ** 40):
            raise ValueError
    except ValueError:
        warnings.warn(f"{ENV}={value!r} is not a size in MiB (a number from 0 to 2**40); "
                      f"the output "
                      f"cache keeps its default of {DEFAULT_LIMIT >> 20} MiB",
                      RuntimeWarning, stacklevel=2)
        return DEFAULT_LIMIT
    return int(mb * (1 << 20))


def _lock_after_fork():
    """A new lock in a forked child: the parent's may have been held by a
    thread the child does not have.  (The cached blocks are the child's own
    copies and stay valid.)"""
    global lock
    cdef PyThread_type_lock fresh = PyThread_allocate_lock()
    if fresh == NULL:
        raise MemoryError("lossopt: cannot allocate the output cache's lock")
    lock = fresh


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lock_after_fork)
set_limit(_limit_from_environment())
