"""Gradient clipping, in place: by the global norm and by value
(``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""

import math

import numpy as np

from .._kernels import _optim
from .._threads import get_num_threads
from .._validation import check_nonnegative, check_param_array

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grad_arrays(grads):
    """The gradient arrays (modified in place) with their names."""
    from .flat import FlatParameters
    if isinstance(grads, FlatParameters):
        grads = grads.grad
    if isinstance(grads, np.ndarray):
        items = [("grads", grads)]
    elif isinstance(grads, dict):
        items = [(f"grads[{k!r}]", g) for k, g in grads.items()]
    else:
        try:
            items = [(f"grads[{i}]", g) for i, g in enumerate(grads)]
        except TypeError:
            raise TypeError("grads must be an array, a list or dict of arrays, or a "
                            f"FlatParameters; got {type(grads).__name__}") from None
    return [check_param_array(g, name) for name, g in items if g is not None]


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Scale gradients in place so that their global norm is at most `max_norm`.

    The norm is taken over all arrays together, as if concatenated:
    :math:`\lVert g \rVert_p = (\sum_i \sum_j |g_{ij}|^p)^{1/p}` (the largest
    :math:`|g_{ij}|` for ``inf``).  Every gradient is multiplied by
    :math:`\min(1, \text{max\_norm} / (\lVert g \rVert + 10^{-6}))`, as in
    torch.

    Parameters
    ----------
    grads : array, list or dict of arrays, or FlatParameters
        Writable C-contiguous float32/float64 arrays (None entries are
        skipped).
    max_norm : float
        Non-negative.
    norm_type : float, default 2.0
        :math:`p > 0`, or ``inf``.
    error_if_nonfinite : bool, default False
        Raise if the norm is NaN or infinite (else the gradients are
        scaled by NaN or 0, as in torch).  A NaN in any gradient makes the
        norm NaN, for every `norm_type` and whatever the order of the arrays.

    Returns
    -------
    float
        The global norm before clipping (torch returns a 0-d tensor).

    Notes
    -----
    The 2-norm is one compiled pass per array: squares summed in float64 per
    fixed block, the blocks added in order, so the norm is bit-identical for
    any thread count.  torch adds the per-array norms' squares instead, which
    differs from this in the last bits only.  Scaling is skipped when the
    factor is 1 (the result is the same).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import clip_grad_norm_
    >>> g = [np.array([3.0]), np.array([4.0])]
    >>> clip_grad_norm_(g, 1.0)
    5.0
    >>> [round(float(x[0]), 6) for x in g]
    [0.6, 0.8]
    """
    arrays = _grad_arrays(grads)
    max_norm = check_nonnegative(max_norm, "max_norm")
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"norm_type must be a positive float or inf, got {norm_type!r}") \
            from None
    if not p > 0:
        raise ValueError(f"norm_type must be a positive float or inf, got {norm_type!r}")
    if not arrays:
        return 0.0
    if p == 2.0:
        n_threads = get_num_threads()
        total = math.sqrt(sum(_optim.sum_squares(g.reshape(-1), n_threads)
                              for g in arrays))
    elif math.isinf(p):
        # NaN wins over every number, whatever the order of the arrays (a
        # plain max() keeps its first argument when comparing with NaN)
        norms = [float(np.max(np.abs(g))) if g.size else 0.0 for g in arrays]
        total = math.nan if any(map(math.isnan, norms)) else max(norms)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** p)) for g in arrays) ** (1 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                           f"{total}, so they cannot be clipped; set "
                           "error_if_nonfinite=False to scale them anyway")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:     # also NaN, as in torch
        for g in arrays:
            np.multiply(g, g.dtype.type(coef), out=g)
    return total


def clip_grad_value_(grads, clip_value):
    """Clip gradients in place to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    grads : array, list or dict of arrays, or FlatParameters
        Writable C-contiguous float32/float64 arrays (None entries are skipped).
    clip_value : float
        Non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import clip_grad_value_
    >>> g = np.array([-3.0, 0.5, 2.0])
    >>> clip_grad_value_(g, 1.0); g
    array([-1. ,  0.5,  1. ])
    """
    arrays = _grad_arrays(grads)
    c = check_nonnegative(clip_value, "clip_value")
    for g in arrays:
        np.clip(g, -c, c, out=g)
