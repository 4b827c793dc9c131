"""One flat buffer for a whole model's parameters (and one for its
gradients), handing out views, so an optimizer step over the model is one
kernel call."""

import math

import numpy as np

from .._validation import as_float_array

__all__ = ["FlatParameters"]


class FlatParameters:
    """A model's parameters as views into one flat buffer.

    ``data`` holds every parameter back to back, ``grad`` (same layout) their
    gradients; ``params[name]`` and ``grads[name]`` are C-contiguous views of
    each array's slice.  Pass the object to an optimizer
    (``Adam(flat)``) and step with ``opt.step(flat)`` (or ``flat.grad``): the
    whole model is then updated by one kernel call over ``data``, instead of
    one call per array.

    Parameters
    ----------
    shapes : dict name -> shape, or list of shapes
        The parameter arrays (names are ``0, 1, ...`` for a list).  Names
        are kept as strings, so two keys with the same string (``1`` and
        ``"1"``) are refused.
    dtype : {np.float64, np.float32}, default np.float64

    Attributes
    ----------
    data, grad : ndarray, shape (size,)
        The flat buffers (zeros to start with).
    params, grads : dict name -> ndarray
        Views of ``data`` and ``grad`` in the given shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import FlatParameters, SGD
    >>> flat = FlatParameters({"W": (2, 3), "b": (3,)})
    >>> flat.params["W"][:] = 1.0
    >>> opt = SGD(flat, lr=0.5)
    >>> flat.grads["W"][:] = 2.0; flat.grads["b"][:] = -1.0   # e.g. out= of a loss
    >>> opt.step(flat)                                        # one kernel call
    >>> flat["W"]
    array([[0., 0., 0.],
           [0., 0., 0.]])
    >>> flat["b"]
    array([0.5, 0.5, 0.5])
    """

    def __init__(self, shapes, dtype=np.float64):
        dtype = np.dtype(dtype)
        if dtype != np.float32 and dtype != np.float64:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        if isinstance(shapes, dict):
            items = [(str(k), v) for k, v in shapes.items()]
        else:
            items = [(str(i), v) for i, v in enumerate(shapes)]
        _check_unique([name for name, _ in items], "shapes")
        layout = []
        offset = 0
        for name, shape in items:
            try:
                shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list))
                                               else (shape,)))
            except (TypeError, ValueError):
                raise TypeError(f"shapes[{name!r}] must be a tuple of integers, got "
                                f"{shape!r}") from None
            if any(s < 0 for s in shape):
                raise ValueError(f"shapes[{name!r}] has a negative dimension: {shape}")
            size = math.prod(shape)
            layout.append((name, shape, offset, size))
            offset += size
        self.dtype = dtype
        self.size = offset
        self.data = np.zeros(offset, dtype=dtype)
        self.grad = np.zeros(offset, dtype=dtype)
        self.shapes = {name: shape for name, shape, _, _ in layout}
        self.params = {name: self.data[o:o + n].reshape(shape) for name, shape, o, n in layout}
        self.grads = {name: self.grad[o:o + n].reshape(shape) for name, shape, o, n in layout}

    @classmethod
    def from_arrays(cls, arrays, dtype=None):
        """A FlatParameters holding copies of `arrays` (dict name -> array or
        list), in their dtype (float64 when they differ) or in `dtype`.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import FlatParameters
        >>> flat = FlatParameters.from_arrays({"w": np.ones(2), "b": np.zeros(1)})
        >>> flat.data
        array([1., 1., 0.])
        """
        named = arrays if isinstance(arrays, dict) else dict(enumerate(arrays))
        _check_unique([str(k) for k in named], "arrays")
        converted = {str(k): as_float_array(v, f"arrays[{k!r}]") for k, v in named.items()}
        if dtype is None:
            dtypes = {a.dtype for a in converted.values()}
            dtype = dtypes.pop() if len(dtypes) == 1 else np.float64
        flat = cls({k: a.shape for k, a in converted.items()}, dtype)
        for k, a in converted.items():
            flat.params[k][...] = a
        return flat

    def __getitem__(self, name):
        return self.params[str(name)]

    def __len__(self):
        return len(self.params)

    def __repr__(self):
        shapes = ", ".join(f"{k}: {v}" for k, v in self.shapes.items())
        return f"FlatParameters({{{shapes}}}, dtype={self.dtype.name}, size={self.size})"


def _check_unique(names, where):
    """Names are keys as strings: two keys with the same string (1 and "1")
    would be one view over two slices."""
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{where} has two keys named {name!r} (names are compared as "
                             "strings, so e.g. 1 and '1' are the same parameter)")
        seen.add(name)
