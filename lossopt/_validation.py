"""The one validation layer of lossopt.

Every public function turns its arguments into what the kernels expect here,
before any output is written.  Errors name the argument and say what was
expected.  Inputs are never modified: conversions copy, and outputs are
checked for overlap with the inputs.

dtype rule (one rule for every function): float32 and float64 are kept;
float16 becomes float32; bool and integer data become float64.  Complex,
long double, object and string data are refused with a TypeError.
"""

import numbers
import operator

import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def as_float_array(x, name, dtype=None):
    """`x` as an ndarray of float32/float64 (see the module's dtype rule).

    With `dtype` given, the array is converted to that float dtype instead.
    The result may share memory with `x`; it is never written to.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular numeric array ({exc})") from None
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype.itemsize > 8:
        raise TypeError(f"{name} has dtype {arr.dtype}; lossopt computes in float32 "
                        "or float64: convert it with .astype(np.float64)")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array (bool, int or float), "
                        f"got dtype {arr.dtype}")
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        return arr
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr.astype(np.float64)


def result_dtype(*arrays):
    """float32 when every array is float32, else float64."""
    if all(a.dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def as_real(value, name, expected="a float"):
    """A real-valued scalar argument as a float: a Python or NumPy real number
    or a 0-d real array; strings, bytes and bools are refused (TypeError)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or not (
            isinstance(value, numbers.Real)
            or (isinstance(value, np.ndarray) and value.ndim == 0
                and value.dtype.kind in "iuf")):
        raise TypeError(f"{name} must be {expected}, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def check_fraction(value, name):
    """A float in [0, 1]."""
    v = as_real(value, name, "a float in [0, 1]")
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v


INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def check_int(value, name, low=INT64_MIN, high=INT64_MAX):
    """An integer in [low, high] (by default one a 64-bit index holds)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value}")
    return value


def normalize_axes(axis, ndim, name="axis"):
    """`axis` (None, an int or a tuple of ints) as a sorted tuple of
    non-negative axes of an array with `ndim` dimensions."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in items:
        ax = check_int(ax, name)
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name} {ax} is out of bounds for an array of dimension {ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} contains a repeated axis: {axis!r}")
    return tuple(sorted(out))


def as_mask(where, shape, name="where"):
    """A boolean mask broadcast to `shape`."""
    arr = np.asarray(where)
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} with shape {arr.shape} cannot be broadcast to the "
                         f"input's shape {shape}") from None


def least_value(arr):
    """The least value of a float array with its NaNs left out (0.0 for an
    empty array, NaN when every value is NaN): for the checks of
    non-negative inputs, where NaN
    propagates but must not hide a negative value beside it (np.min would
    return NaN, which no comparison rejects).  One pass, as fast as np.min."""
    return np.fmin.reduce(arr, axis=None) if arr.size else 0.0


def as_weights(w, shape, name):
    """Non-negative float64 weights of exactly `shape` (NaN propagates; it
    does not hide a negative weight beside it: see least_value)."""
    arr = as_float_array(w, name, dtype=np.float64)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    least = least_value(arr)
    if least < 0:
        raise ValueError(f"{name} must be non-negative, got a minimum of {least}")
    return np.ascontiguousarray(arr)


def check_out(out, shape, dtype, name="out"):
    """`out` must be a writable ndarray of exactly `shape` and `dtype`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writable array")
    return out


def overlaps(a, b):
    """True when arrays `a` and `b` may share memory."""
    return a is not None and b is not None and np.may_share_memory(a, b)


# ----------------------------------------------------------------- losses --

def check_positive_float(value, name, allow_zero=False):
    """A finite float > 0 (>= 0 with allow_zero)."""
    v = as_real(value, name)
    if not (v >= 0.0 if allow_zero else v > 0.0) or v == float("inf"):
        raise ValueError(f"{name} must be a finite float {'>= 0' if allow_zero else '> 0'}, "
                         f"got {value!r}")
    return v


def check_finite_float(value, name):
    """A finite float."""
    v = as_real(value, name)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _first_bad(arr, bad):
    return float(arr.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])


def check_binary_labels(target, name="target"):
    """Labels of a binary margin loss: -1/+1 or 0/1 (NaN propagates)."""
    t = np.asarray(target)
    bad = ~((t == 1) | (t == 0) | (t == -1) | np.isnan(t))
    if bad.any():
        raise ValueError(f"{name} must hold binary labels, -1/+1 or 0/1; got "
                         f"{_first_bad(t, bad)!r}")


def check_unit_interval(target, name="target", what="probabilities of the positive class"):
    """Probabilities in [0, 1] (NaN propagates); returns `target`."""
    t = np.asarray(target)
    bad = (t < 0) | (t > 1)
    if bad.any():
        raise ValueError(f"{name} must hold {what}, in [0, 1]; got {_first_bad(t, bad)!r}")
    return target


def check_nonnegative_array(values, name):
    """Array values >= 0 (NaN propagates)."""
    t = np.asarray(values)
    bad = t < 0
    if bad.any():
        raise ValueError(f"{name} must be non-negative; got {_first_bad(t, bad)!r}")


# ------------------------------------------------------------ optimizers --

def check_nonnegative(value, name, upper=None, upper_open=False):
    """A real number >= 0 (and <= upper, or < upper when upper_open), as a float."""
    v = as_real(value, name, "a non-negative float")
    if not v >= 0.0:   # also refuses NaN
        raise ValueError(f"{name} must be a non-negative float, got {value!r}")
    if upper is not None and (v >= upper if upper_open else v > upper):
        bound = f"< {upper}" if upper_open else f"<= {upper}"
        raise ValueError(f"{name} must be >= 0 and {bound}, got {value!r}")
    return v


def check_param_array(p, name):
    """An array updated in place (an optimizer's parameter, a gradient being
    clipped): a writable, C-contiguous float32/float64 ndarray, since no copy
    may stand in for it."""
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray (it is updated in place), "
                        f"got {type(p).__name__}")
    if p.dtype != np.float32 and p.dtype != np.float64:
        raise TypeError(f"{name} has dtype {p.dtype}; it must be a float32 or float64 "
                        "array")
    if not p.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place and must be "
                         "writable")
    if not p.flags.c_contiguous:
        raise ValueError(f"{name} is not C-contiguous; it is updated in place, so pass "
                         "np.ascontiguousarray(...) and keep that array")
    return p


def as_grad_array(g, param, name, spans=None):
    """A gradient for `param`: an array of param's shape and dtype, C-contiguous
    and not sharing memory with param (copied when it is not).

    `spans`, when given, is ``(starts, stops, owners)``: the sorted byte
    ranges of every parameter updated in the same step (disjoint, as the
    optimizer guarantees) and, when each of them is a view of (or is) an
    array that owns its memory, the set of ids of those owners, else None.
    The gradient is then copied when it overlaps any of them, so it is read
    as it was before the step whatever the update order (a gradient may be
    another parameter's array).  A gradient that owns its memory and is none
    of the owners cannot overlap them: that common case costs no address
    look-up."""
    try:
        arr = np.asarray(g)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular numeric array ({exc})") from None
    if arr.dtype != param.dtype:
        raise TypeError(f"{name} has dtype {arr.dtype} but its parameter is {param.dtype}; "
                        f"pass gradients in the parameter's dtype (.astype(np.{param.dtype}))")
    if arr.shape != param.shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected {param.shape}, the shape "
                         "of its parameter")
    if not arr.flags.c_contiguous:
        return np.array(arr, order="C")
    if spans is None:
        shared = np.may_share_memory(arr, param)
    elif not arr.nbytes or (spans[2] is not None and arr.base is None
                            and arr.flags.owndata and id(arr) not in spans[2]):
        shared = False
    else:
        from bisect import bisect_left
        starts, stops, _ = spans
        lo = arr.__array_interface__["data"][0]
        # the last parameter starting before arr ends is the only one that can
        # overlap it (the spans are disjoint and sorted)
        k = bisect_left(starts, lo + arr.nbytes) - 1
        shared = k >= 0 and stops[k] > lo
    if shared:
        arr = np.array(arr, order="C")
    return arr


# an optimizer's or a schedule's real-valued hyper-parameter (>= 0)
check_hyper_float = check_nonnegative


# ---------------------------------------------------------------- models --

class DataConversionWarning(UserWarning):
    """A model converted its input in a way the caller may not expect (a
    column-vector ``y`` flattened to 1-D)."""


def _is_sparse(x):
    return type(x).__module__.startswith("scipy.sparse") or hasattr(x, "tocsr")


def check_model_X(X, name="X", n_features=None, owner=None):
    """A model's feature matrix as a C-contiguous float64 array of shape
    (n_samples, n_features) with finite values, at least one sample and one
    feature.  With `n_features` given (a fitted model), the column count must
    match it; `owner` (the model's class name) is then named in the error."""
    if X is None:
        raise ValueError(f"{name} is None; expected an array of shape (n_samples, n_features)")
    if _is_sparse(X):
        raise TypeError(f"{name} is a sparse matrix; lossopt's models take dense arrays: "
                        f"pass {name}.toarray()")
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular numeric array ({exc})") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}; "
                         "pass real numbers")
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold numbers: {exc}") from None
    elif kind not in "biuf" or (kind == "f" and arr.dtype.itemsize > 8):
        raise TypeError(f"{name} must be a real numeric array (bool, int, float32 or "
                        f"float64), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}. "
                         f"Reshape your data with {name}.reshape(-1, 1) for a single feature "
                         f"or {name}.reshape(1, -1) for a single sample.")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has 0 sample(s) (shape={arr.shape}) while a minimum of 1 "
                         "is required.")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
                         "is required.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but {owner or 'the model'} is "
                         f"expecting {n_features} features as input")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    _check_finite(arr, name)
    return arr


def _check_finite(arr, name):
    if not np.isfinite(arr).all():
        what = "NaN" if np.isnan(arr).any() else "infinity"
        raise ValueError(f"{name} contains {what}; every value must be finite (remove or "
                         "impute the missing values)")


def _as_1d_target(y, n_samples, name):
    """`y` as a 1-D array of n_samples entries (a column vector is flattened,
    with a DataConversionWarning)."""
    import warnings
    if y is None:
        raise ValueError(f"this model requires {name} to be passed, but the target {name} "
                         "is None")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(DataConversionWarning(
            f"A column-vector {name} was passed when a 1d array was expected; it is "
            f"flattened ({name}.ravel())"), stacklevel=4)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"X and {name} have inconsistent numbers of samples: X has "
                         f"{n_samples}, {name} has {arr.shape[0]}")
    return arr


def check_regression_target(y, n_samples, name="y", multi_output=False):
    """Regression targets as a C-contiguous finite float64 array of shape
    (n_samples,) or, with `multi_output`, (n_samples, n_outputs)."""
    if multi_output and y is not None and np.asarray(y).ndim == 2:
        arr = np.asarray(y)
        if arr.shape[0] != n_samples:
            raise ValueError(f"X and {name} have inconsistent numbers of samples: X has "
                             f"{n_samples}, {name} has {arr.shape[0]}")
        if arr.shape[1] < 1:
            raise ValueError(f"{name} has 0 outputs (shape {arr.shape})")
    else:
        arr = _as_1d_target(y, n_samples, name)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold real numbers: {exc}") from None
    if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and arr.dtype.itemsize > 8):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    _check_finite(arr, name)
    return arr


def check_class_labels(y, n_samples, name="y"):
    """Class labels as a 1-D array (any dtype np.unique can sort: integers,
    strings, integral floats).  Continuous values, NaN and None are refused."""
    arr = _as_1d_target(y, n_samples, name)
    if arr.dtype.kind == "f":
        _check_finite(arr, name)
        if np.any(arr != np.round(arr)):
            raise ValueError(f"Unknown label type: continuous. {name} holds non-integer "
                             "floats; a classifier needs class labels (for a regression "
                             "target use a regressor)")
    elif arr.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and v != v) for v in arr):
            raise ValueError(f"{name} contains None or NaN; every sample needs a label")
    elif arr.dtype.kind == "c":
        raise ValueError(f"Unknown label type: complex. {name} has dtype {arr.dtype}")
    return arr


def encode_class_labels(y, classes, name="y"):
    """Indices (int64) of the labels `y` in the sorted array `classes`;
    a label not in `classes` raises ValueError naming it."""
    idx = np.searchsorted(classes, y)
    idx = np.minimum(idx, len(classes) - 1)
    bad = classes[idx] != y
    if np.any(bad):
        unseen = np.unique(y[bad])
        raise ValueError(f"{name} holds label(s) {unseen.tolist()[:10]} not in classes "
                         f"{classes.tolist()[:20]}; pass every label in `classes` at the "
                         "first partial_fit call")
    return idx.astype(np.int64)


def check_classes_argument(classes, name="classes"):
    """The `classes` of a first partial_fit call: a 1-D array of distinct labels,
    returned sorted."""
    arr = np.asarray(classes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class labels, got "
                         f"shape {arr.shape}")
    u = np.unique(arr)
    if u.size != arr.size:
        raise ValueError(f"{name} holds repeated labels: {arr.tolist()[:20]}")
    return u


def check_model_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """None, or a C-contiguous float64 (n_samples,) array of finite, non-negative
    weights with a positive sum."""
    if sample_weight is None:
        return None
    arr = as_weights(sample_weight, (n_samples,), name)
    _check_finite(arr, name)
    if not arr.sum() > 0:
        raise ValueError(f"{name} sums to zero: at least one weight must be positive "
                         "(sample weights must contain a non-zero number)")
    return arr


def check_choice(value, name, choices):
    """One of the strings `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_bool(value, name):
    """True or False (NumPy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_generator(random_state, name="random_state"):
    """A numpy Generator from None, an integer seed >= 0 or a Generator (used as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    return np.random.default_rng(check_int(random_state, name, 0))
