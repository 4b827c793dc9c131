"""Last activations and their logarithms: logsumexp, softmax, log_softmax,
expit (sigmoid) and log_expit.

These are drop-in replacements for the functions of the same names in
``scipy.special`` (same arguments, same results to rounding), computed by the
compiled row kernels in one pass, plus a ``where=`` mask.  Results for float32
input are float32, computed with float64 sums.  Over an axis that is not the
last of a C-contiguous array (``axis=0`` of a (C, N) batch, the channels of
(N, C, H, W) images) the values are read in place, without a transposed
copy; the results are those of the rows to rounding (the same bits below 64
classes, and for float32 up to 2048).
"""

import numpy as np

from . import _rows
from ._memory import empty
from ._kernels import _sigmoid, _softmax
from ._threads import get_num_threads
from ._validation import (as_float_array, as_mask, check_out, normalize_axes,
                          result_dtype)

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "sigmoid", "log_expit"]


def _scalar_or_array(r):
    return r[()] if r.ndim == 0 else r


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, *, where=None):
    r"""Log of the sum of exponentials, ``log(sum(b * exp(a)))``, computed stably.

    .. math::

        \operatorname{lse}(a) = m + \log \sum_j b_j e^{a_j - m},
        \qquad m = \max_j a_j

    The maxima are kept out of the sum and added back with ``log1p``, so the
    result is accurate to a few ulp even when the other terms are tiny
    (e.g. ``logsumexp([0, -40])`` gives ``4.2e-18``, not 0).

    Parameters
    ----------
    a : array_like
        Input (bool, int or float; float32 stays float32).
    axis : None or int or tuple of ints, optional
        Axes to reduce; None (default) reduces all of them.
    b : array_like, optional
        Scale factors, broadcastable with `a`.  They may be negative (use
        `return_sign`); an entry with ``b == 0`` is absent, even if `a` is
        infinite or NaN there.  When `a` and `b` are both float32, the
        result is float32 and `b` is read as it is (its values are exact in
        the float64 sums); otherwise both are taken in float64.  A `b`
        broadcast along the rows that are reduced (one scale per class,
        say) is read in place, without a copy of `a`'s size.
    keepdims : bool, optional
        Keep the reduced axes with size one.
    return_sign : bool, optional
        Return ``(log|s|, sign(s))``; otherwise a negative sum gives NaN.
    where : array_like of bool, optional
        Mask broadcastable to `a`: entries where it is False are absent (as if
        they were ``-inf``).  A reduction with nothing present gives ``-inf``.

    Returns
    -------
    res : ndarray or scalar
        The log-sum-exp over `axis`.
    sgn : ndarray or scalar
        Only with ``return_sign=True``: +1, 0 or -1.

    Notes
    -----
    Edge cases follow ``scipy.special.logsumexp``: a slice of all ``-inf``
    gives ``-inf``, ``+inf`` gives ``+inf``, NaN gives NaN, an empty slice
    gives ``-inf``.  One deliberate difference: when ``b == 0`` for every
    entry of a slice, the result is ``-inf`` (nothing is present) even if `a`
    holds ``inf`` or NaN there, where scipy's fallback computes
    ``0 * inf = NaN``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import logsumexp
    >>> float(logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    >>> logsumexp([[0.0, 0.0], [1.0, -np.inf]], axis=1)
    array([0.69314718, 1.        ])
    >>> logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    >>> float(logsumexp([0.0, 5.0], where=[True, False]))
    0.0
    """
    a = as_float_array(a, "a")
    if b is not None:
        b = as_float_array(b, "b")
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"b with shape {b.shape} cannot be broadcast against "
                             f"a with shape {a.shape}") from None
        dtype = result_dtype(a, b)
        a = np.broadcast_to(a.astype(dtype, copy=False), shape)
        # b in the data's dtype (float32 b stays float32: exact in the
        # kernel's float64 sums), so it is read, not converted
        b = np.broadcast_to(b.astype(dtype, copy=False), shape)
    if a.ndim == 0:
        a = a.reshape(1)
        b = None if b is None else b.reshape(1)
    axes = normalize_axes(axis, a.ndim)
    layout = None if (where is not None or b is not None) else _rows.cols_layout(a, axes)
    if layout is not None:
        return _logsumexp_cols(a, axes, layout, keepdims, return_sign)
    rows, batch, perm = _rows.to_rows(a, axes)
    kw = {"x_arr": rows}
    mask_rows = b_rows = None
    if where is not None:
        mask_rows = _rows.to_rows(as_mask(where, a.shape), axes)[0].view(np.uint8)
        kw["where_arr"] = mask_rows
    if b is not None:
        # a b broadcast along the rows (e.g. one scale per class, shape (C,))
        # stays a view with row stride 0: no (N, C) copy
        b_rows = _rows.to_rows(b, axes)[0]
        kw["b_arr"] = b_rows
    out = empty(rows.shape[0], np.float64)
    sign = empty(rows.shape[0], np.float64) if return_sign else None
    _softmax.logsumexp_rows(rows, out, sign, mask_rows, b_rows, get_num_threads(), **kw)
    return _lse_result(out, sign, a, axes, batch, keepdims)


def _lse_result(out, sign, a, axes, batch, keepdims):
    """logsumexp's float64 results per sample (and signs, None without
    return_sign) in a's dtype and the reduced shape."""
    def shaped(r):
        r = r.astype(a.dtype, copy=False).reshape(batch)
        if keepdims:
            r = r.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])
        return _scalar_or_array(r)

    return shaped(out) if sign is None else (shaped(out), shaped(sign))


def _logsumexp_cols(a, axes, layout, keepdims, return_sign):
    """logsumexp over one axis that is not the last of a C-contiguous `a`,
    in place (lossopt_cols.h); the samples it leaves by the row engine."""
    A, C, B = layout
    out = empty(A * B, np.float64)
    special = np.empty(A * B, dtype=np.uint8)
    flat = a.reshape(-1)
    _softmax.cols_rows(flat, flat[:0].copy(), out, special, 0, A, C, B, get_num_threads())
    sign = np.ones(A * B) if return_sign else None
    if special.any():
        ai, ii, rows = _rows.special_samples(a, layout, special)
        r = np.empty(len(rows))
        rs = np.empty(len(rows)) if return_sign else None
        _softmax.logsumexp_rows(rows, r, rs, None, None, get_num_threads(), x_arr=rows)
        out[ai * B + ii] = r
        if return_sign:
            sign[ai * B + ii] = rs
    batch = [n for i, n in enumerate(a.shape) if i not in axes]
    return _lse_result(out, sign, a, axes, batch, keepdims)


def _softmax_cols(x, layout, out, log):
    """softmax / log_softmax over one axis that is not the last of a
    C-contiguous `x`, in place (lossopt_cols.h), into `out` (C-contiguous,
    not overlapping x) or a new array; the samples it leaves by the row
    engine."""
    A, C, B = layout
    target = empty(x.shape, x.dtype) if out is None else out
    special = np.empty(A * B, dtype=np.uint8)
    _softmax.cols_rows(x.reshape(-1), target.reshape(-1), np.empty(0), special,
                       2 if log else 1, A, C, B, get_num_threads())
    if special.any():
        ai, ii, rows = _rows.special_samples(x, layout, special)
        res = np.empty_like(rows)
        _softmax.softmax_rows(rows, res, log, None, get_num_threads(), x_arr=rows,
                              out_arr=res)
        target.reshape(A, C, B)[ai, :, ii] = res
    return target


def _softmax_family(x, axis, where, out, log):
    x = as_float_array(x, "x")
    scalar = x.ndim == 0
    if scalar:
        x = x.reshape(1)
    if out is not None:
        check_out(out, () if scalar else x.shape, x.dtype)
        out_full = out.reshape(x.shape)
    axes = normalize_axes(axis, x.ndim)
    layout = None if where is not None else _rows.cols_layout(x, axes)
    if layout is not None and (out is None or (
            out.flags.c_contiguous and not np.may_share_memory(out, x))):
        res = _softmax_cols(x, layout, out_full if out is not None else None, log)
        return res if out is None else out
    rows, _, perm = _rows.to_rows(x, axes)
    kw = {"x_arr": rows}
    mask_rows = None
    if where is not None:
        mask_rows = _rows.to_rows(as_mask(where, x.shape), axes)[0].view(np.uint8)
        kw["where_arr"] = mask_rows
    target = None
    if out is not None:
        target = _rows.out_rows(out_full, perm, rows, others=(mask_rows,))
    if target is None:
        target = empty(rows.shape, x.dtype)
    kw["out_arr"] = target
    _softmax.softmax_rows(rows, target, log, mask_rows, get_num_threads(), **kw)
    if out is None:
        res = _rows.from_rows(target, x.shape, perm)
        return res.reshape(())[()] if scalar else res
    if not np.may_share_memory(target, out):
        np.copyto(out_full, _rows.from_rows(target, x.shape, perm))
    return out


def softmax(x, axis=None, *, where=None, out=None):
    r"""Softmax, ``exp(x) / sum(exp(x))`` along `axis`: the categorical last activation.

    .. math:: \sigma(x)_j = \frac{e^{x_j - m}}{\sum_k e^{x_k - m}}, \qquad m = \max_k x_k

    Parameters
    ----------
    x : array_like
        Input (bool, int or float; float32 stays float32).
    axis : None or int or tuple of ints, optional
        Axes along which the result sums to 1; None (default, as scipy) means
        the whole array.
    where : array_like of bool, optional
        Mask broadcastable to `x`: masked entries get probability 0 and take no
        part in the normalisation.
    out : ndarray, optional
        Where to write the result (same shape and dtype as the result).  It
        may be `x` itself.

    Returns
    -------
    ndarray
        Probabilities, the shape of `x`.

    Notes
    -----
    Same results as ``scipy.special.softmax``, except that a slice whose
    entries are all ``-inf`` or all masked gives zeros where scipy gives NaN
    (a ``-inf`` logit is a masked class).  A ``+inf`` or NaN in a slice makes
    that slice NaN, as in scipy.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import softmax
    >>> softmax([[1.0, 1.0], [0.0, np.log(3.0)]], axis=1)
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    >>> softmax([10000.0, 10000.0])
    array([0.5, 0.5])
    >>> softmax([1.0, 2.0, 3.0], where=[True, False, True])
    array([0.11920292, 0.        , 0.88079708])
    """
    return _softmax_family(x, axis, where, out, False)


def log_softmax(x, axis=None, *, where=None, out=None):
    r"""Log of the softmax along `axis`, computed without forming the softmax.

    .. math:: \log \sigma(x)_j = (x_j - m) - \log \sum_k e^{x_k - m}

    Parameters
    ----------
    x : array_like
        Input (bool, int or float; float32 stays float32).
    axis : None or int or tuple of ints, optional
        Axes to normalise over; None (default, as scipy) means the whole array.
    where : array_like of bool, optional
        Mask broadcastable to `x`: masked entries give ``-inf``.
    out : ndarray, optional
        Where to write the result; it may be `x` itself.

    Returns
    -------
    ndarray
        Log-probabilities, the shape of `x`.

    Notes
    -----
    Same results as ``scipy.special.log_softmax``, except that a slice whose
    entries are all ``-inf`` or all masked gives ``-inf`` where scipy gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt import log_softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    >>> log_softmax([0.0, 0.0, 7.0], where=[True, True, False])
    array([-0.69314718, -0.69314718,        -inf])
    """
    return _softmax_family(x, axis, where, out, True)


def _elementwise(x, out, log):
    x = as_float_array(x, "x")
    if out is not None:
        check_out(out, x.shape, x.dtype)
    flat_in = np.ascontiguousarray(x).reshape(-1)
    if out is not None and out.flags.c_contiguous and (
            not np.may_share_memory(out, x) or
            (x.flags.c_contiguous and
             out.__array_interface__["data"][0] == x.__array_interface__["data"][0])):
        flat_out = out.reshape(-1)
    else:
        flat_out = empty(x.size, x.dtype)
    _sigmoid.sigmoid(flat_in, flat_out, log, get_num_threads())
    if out is None:
        res = flat_out.reshape(x.shape)
        return res[()] if res.ndim == 0 else res
    if not np.may_share_memory(flat_out, out):
        np.copyto(out, flat_out.reshape(x.shape))
    return out


def expit(x, out=None):
    r"""Logistic sigmoid ``1 / (1 + exp(-x))``: the Bernoulli last activation.

    Computed from ``e = exp(-|x|)`` so it never overflows: exact to rounding
    for every `x`, 1 at ``x = 1e3`` and 0 at ``x = -1e3`` (no warnings).

    Parameters
    ----------
    x : array_like
        Input (bool, int or float; float32 stays float32).
    out : ndarray, optional
        Where to write the result (same shape and dtype); it may be `x`.

    Returns
    -------
    ndarray or scalar
        ``expit(x)``, the shape of `x`.

    Examples
    --------
    >>> from lossopt import expit
    >>> expit([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    return _elementwise(x, out, False)


sigmoid = expit


def log_expit(x, out=None):
    r"""Log of the logistic sigmoid, ``-log1p(exp(-x))``, computed stably.

    .. math:: \log \operatorname{expit}(x) = \min(x, 0) - \log(1 + e^{-|x|})

    Parameters
    ----------
    x : array_like
        Input (bool, int or float; float32 stays float32).
    out : ndarray, optional
        Where to write the result (same shape and dtype); it may be `x`.

    Returns
    -------
    ndarray or scalar
        ``log(expit(x))``, the shape of `x`.

    Examples
    --------
    >>> from lossopt import log_expit
    >>> log_expit([-1000.0, 0.0, 1000.0])
    array([-1.00000000e+03, -6.93147181e-01,  0.00000000e+00])
    """
    return _elementwise(x, out, True)
