"""Row layout for the row-wise kernels.

The kernels see a 2-D array whose rows are the slices being reduced (the
reduced axes moved last and flattened) with unit stride along a row.  These
helpers build that view (copying only when the layout needs it) and map a
result back to the caller's layout, writing into a caller's `out` directly when
it can be viewed as rows and does not overlap what the kernel reads.
"""

import math

import numpy as np

from ._memory import empty
from ._validation import overlaps


def _unit_stride_rows(r):
    return not ((r.shape[1] > 1 and r.strides[1] != r.itemsize) or r.strides[0] % r.itemsize)


def _rows_view(moved, n, k):
    """`moved` viewed as (n, k) rows of unit stride, or None where that takes
    a copy."""
    if moved.flags.c_contiguous:
        return moved.reshape(n, k)
    try:
        r = np.reshape(moved, (n, k), copy=False)
    except TypeError:                  # NumPy < 2.1: no copy= (reshape may copy)
        r = moved.reshape(n, k)
        if not np.may_share_memory(r, moved):
            return r                   # already a contiguous copy
    except ValueError:                 # a view cannot hold that shape
        return None
    return r if _unit_stride_rows(r) else None


def permutation(ndim, axes):
    """Axis order that puts `axes` last, the others first in their order."""
    return [i for i in range(ndim) if i not in axes] + list(axes)


def to_rows(a, axes):
    """Return (rows, batch_shape, perm) for reducing `a` over `axes`."""
    perm = permutation(a.ndim, axes)
    moved = a.transpose(perm)
    n_batch = a.ndim - len(axes)
    batch = moved.shape[:n_batch]
    n, k = math.prod(batch), math.prod(moved.shape[n_batch:])
    rows = _rows_view(moved, n, k)
    if rows is None:
        # a C-contiguous copy, over the output cache's memory (the copy of a
        # large transposed or strided input is dropped after the call, so
        # the next call's copy reuses its block)
        rows = empty(moved.shape, moved.dtype)
        np.copyto(rows, moved)
        rows = rows.reshape(n, k)
    return rows, batch, perm


def _same_layout(a, b):
    return (a.shape == b.shape and a.strides == b.strides and
            a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def out_rows(out, perm, x_rows, others=()):
    """A row view of `out` the kernel may write into, or None.

    None when `out` cannot be viewed as unit-stride rows, or when it overlaps
    an input other than being exactly `x_rows` (writing in place over the
    input being read row by row is safe; any other overlap is not).
    """
    n, k = x_rows.shape
    if out.size == 0:
        return None
    r = out.transpose(perm).reshape(n, k)
    if not np.may_share_memory(r, out):
        return None
    if not _unit_stride_rows(r):
        return None
    if any(overlaps(r, o) for o in others):
        return None
    if overlaps(r, x_rows) and not _same_layout(r, x_rows):
        return None
    return r


def from_rows(rows, shape, perm):
    """Inverse of `to_rows` for an output of the input's full `shape`."""
    if all(p == i for i, p in enumerate(perm)):
        return rows.reshape(shape)
    moved_shape = tuple(shape[p] for p in perm)
    return rows.reshape(moved_shape).transpose(np.argsort(perm))


# The samples of an axis that is not the last, in place (src/lossopt_cols.h)
COLS_MIN_INNER = 8   # below 8 samples side by side a tile is mostly empty lanes


def cols_layout(a, axes):
    """(A, C, B) where reducing C-contiguous `a` over its one axis `axes`
    that is not the last can run in place: `a` viewed as (A, C, B), the
    samples B side by side (lossopt_cols.h); else None (the rows' way)."""
    from ._kernels import _softmax
    if (len(axes) != 1 or a.ndim < 2 or axes[0] == a.ndim - 1 or a.size == 0 or
            not a.flags.c_contiguous or not _softmax.cols_available()):
        return None
    ax = axes[0]
    inner = math.prod(a.shape[ax + 1:])
    if inner < COLS_MIN_INNER:
        return None
    return math.prod(a.shape[:ax]), a.shape[ax], inner


def special_samples(x, layout, special):
    """The samples the column kernels left (special != 0): their indices
    (a, i) into the (A, C, B) view and their values as (k, C) rows."""
    A, C, B = layout
    k = np.flatnonzero(special)
    a, i = np.divmod(k, B)
    return a, i, np.ascontiguousarray(x.reshape(A, C, B)[a, :, i])
