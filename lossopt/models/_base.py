"""What every model shares: hyper-parameters (get_params / set_params without
scikit-learn), the standardiser, label encoding, scores, ``fit`` /
``partial_fit`` through the one training loop, and ``.npz`` files."""

import inspect
import json
import sys

import numpy as np

from .._validation import (check_class_labels, check_classes_argument, check_model_X,
                           check_model_sample_weight, check_regression_target,
                           encode_class_labels)

__all__ = ["BaseModel", "ClassifierMixin", "RegressorMixin", "NotFittedError", "load",
           "fit_standardizer", "standardize"]

_FORMAT = "lossopt.models/1"
_REGISTRY = {}


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    Both a ValueError and an AttributeError, as scikit-learn's class of the
    same name.

    Examples
    --------
    >>> from lossopt.models import LinearRegression, NotFittedError
    >>> try:
    ...     LinearRegression().predict([[1.0]])
    ... except NotFittedError as exc:
    ...     print(isinstance(exc, ValueError), isinstance(exc, AttributeError))
    True True
    """


def not_fitted_error(message):
    """A NotFittedError to raise.  When scikit-learn is already imported, it is
    also an instance of ``sklearn.exceptions.NotFittedError`` (a subclass of
    both), so scikit-learn's tools recognise it; lossopt never imports
    scikit-learn for this."""
    global _SK_NOT_FITTED
    sk = sys.modules.get("sklearn.exceptions")
    if sk is None:
        return NotFittedError(message)
    if _SK_NOT_FITTED is None:
        _SK_NOT_FITTED = type("NotFittedError", (NotFittedError, sk.NotFittedError),
                              {"__module__": __name__, "__doc__": NotFittedError.__doc__})
    return _SK_NOT_FITTED(message)


_SK_NOT_FITTED = None


# ------------------------------------------------------------ standardiser --

def column_magnitude(X):
    """max |x| of each column, 1 for an all-zero column (a divisor that keeps
    squares of the scaled values finite)."""
    m = np.max(np.abs(X), axis=0) if X.shape[0] else np.ones(X.shape[1])
    m[m == 0] = 1.0
    return m


def fit_standardizer(X, sample_weight=None):
    """Weighted column means and scales of `X`: ``(mean, scale)``.

    ``scale`` is the weighted standard deviation (the mean of squared
    deviations, weights ``sample_weight``); a column whose deviation is 0,
    or below 1e-12 times its magnitude (a constant column up to rounding),
    gets scale 1, so it is only centred.
    """
    # moments of X / m, m = max |x| per column, so squares cannot overflow
    m = column_magnitude(X)
    Xm = X / m
    mean = np.average(Xm, axis=0, weights=sample_weight)
    scale = np.sqrt(np.average((Xm - mean) ** 2, axis=0, weights=sample_weight)) * m
    mean *= m
    tiny = (scale == 0) | (scale <= 1e-12 * np.abs(mean))   # relative: any unit works
    scale[tiny] = 1.0
    return mean, scale


def standardize(X, mean, scale):
    """``(X - mean) / scale`` as a new C-contiguous float64 array."""
    out = np.subtract(X, mean)
    out /= scale
    return out


# ------------------------------------------------------------------ models --

class BaseModel:
    """Base of lossopt's models: scikit-learn's estimator conventions without
    importing scikit-learn.

    The constructor of a model only stores its hyper-parameters;
    :meth:`fit` validates them and the data, trains with the one training
    loop (``lossopt.models._training``) and returns the model; learned
    attributes end in ``_``.  A model implements, for the loop,
    ``_encode``, ``_init_params``, ``_penalised``,
    ``_data_loss_and_gradient``, ``_validation_score`` and ``_set_fitted``
    (see ``_training.fit``).
    """

    _estimator_type = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("lossopt.models") and not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    # ------------------------------------------------------ parameters --
    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD
                      and p.kind != p.VAR_POSITIONAL)

    def _store_params(self, values):
        """Store the constructor's arguments (``locals()`` of ``__init__``)."""
        for name in self._get_param_names():
            setattr(self, name, values[name])

    def get_params(self, deep=True):
        """The hyper-parameters, as a dict name -> value (`deep` is accepted
        for scikit-learn and has no effect: a model holds no sub-estimators).

        Examples
        --------
        >>> from lossopt.models import LinearRegression
        >>> LinearRegression(alpha=0.1).get_params()["alpha"]
        0.1
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set hyper-parameters by name and return the model.  Values are
        checked when the model is fitted, not here.

        Examples
        --------
        >>> from lossopt.models import LinearRegression
        >>> LinearRegression().set_params(lr=0.5).lr
        0.5
        """
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for model {type(self).__name__}"
                                 f"; valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = sig.parameters[name].default
            try:
                same = value is default or bool(value == default)
            except Exception:
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        # only scikit-learn calls this, so importing it here costs nothing else
        from sklearn.utils import (ClassifierTags, InputTags, RegressorTags, TargetTags,
                                   Tags)
        tags = Tags(estimator_type=self._estimator_type,
                    target_tags=TargetTags(required=True, multi_output=self._multi_output,
                                           single_output=True),
                    input_tags=InputTags(),
                    classifier_tags=(ClassifierTags() if self._estimator_type == "classifier"
                                     else None),
                    regressor_tags=(RegressorTags() if self._estimator_type == "regressor"
                                    else None))
        self._adjust_tags(tags)
        return tags

    def _adjust_tags(self, tags):
        """Adjust scikit-learn's tags (subclasses)."""

    # ------------------------------------------------------------ fitting --
    def fit(self, X, y, sample_weight=None):
        """Train the model on (X, y) and return it.

        Hyper-parameters and data are validated first; a failed fit leaves a
        previously fitted model as it was.  With ``warm_start=True`` a fitted
        model continues from its parameters (and optimizer state).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LinearRegression
        >>> X = np.arange(6.0).reshape(3, 2)
        >>> m = LinearRegression(optimizer="gd", lr=0.5, tol=None).fit(X, X.sum(axis=1))
        >>> m.predict([[1.0, 1.0]]).round(6)
        array([2.])
        """
        from . import _training
        opts = _training.check_options(self)
        data = self._encode(X, y, sample_weight, partial=False)
        _training.fit(self, *data, opts=opts, partial=False)
        return self

    def _partial(self, X, y, sample_weight, classes=None):
        from . import _training
        opts = _training.check_options(self)
        data = self._encode(X, y, sample_weight, classes=classes, partial=True)
        _training.fit(self, *data, opts=opts, partial=True)
        return self

    def _check_is_fitted(self):
        if "n_features_in_" not in self.__dict__:
            raise not_fitted_error(f"This {type(self).__name__} instance is not fitted yet; "
                                   "call fit before using it")

    def _check_X(self, X):
        """X for a fitted model: checked and standardised."""
        self._check_is_fitted()
        X = check_model_X(X, n_features=self.n_features_in_, owner=type(self).__name__)
        return X

    def _fit_inputs(self, X, y, sample_weight, partial, classifier_y=False):
        """Validated (X, y, sample_weight) for fit / partial_fit; a later
        partial_fit must have the fitted number of features."""
        # a later partial_fit, or a warm-started fit, continues the fitted
        # model: same features, standardisation and classes
        # (`later` is "partial", "warm" or False)
        later = False
        if "n_features_in_" in self.__dict__:
            if partial:
                later = "partial"
            elif getattr(self, "warm_start", False):
                later = "warm"
        X = check_model_X(X, n_features=self.n_features_in_ if later else None,
                          owner=type(self).__name__)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None")
        y = (check_class_labels(y, X.shape[0]) if classifier_y
             else check_regression_target(y, X.shape[0], multi_output=self._multi_output))
        sw = check_model_sample_weight(sample_weight, X.shape[0])
        return X, y, sw, later

    def _standardizer(self, X, sw, later, enabled=True):
        """(mean, scale) to standardise X with: fitted here on fit and on the
        first partial_fit, kept afterwards."""
        if later:
            return self.x_mean_, self.x_scale_
        if not enabled:
            return np.zeros(X.shape[1]), np.ones(X.shape[1])
        return fit_standardizer(X, sw)

    _multi_output = False

    # ---------------------------------------------------------------- files --
    def save(self, path):
        """Save the fitted model to a ``.npz`` file (no pickles).

        The file holds the class name, the hyper-parameters (as JSON; a
        callable hyper-parameter such as an optimizer factory is code, which
        such a file cannot hold, and is saved as None) and every learned
        attribute, plus the parameters in the training space so a
        ``warm_start`` fit continues from them.  :func:`load` restores it.

        Learned attributes include, when set, ``feature_names_in_`` (the
        names of the feature columns, scikit-learn's attribute: an array of
        strings) and ``target_name_`` (the name of the target column, a
        str): ``lossopt fit`` sets both, and ``lossopt predict`` selects the
        columns of new data by these names.  A new ``fit`` that does not
        continue the model (no ``warm_start``) removes them.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from lossopt.models import LinearRegression, load
        >>> X = np.arange(8.0).reshape(4, 2); y = X @ [1.0, -2.0] + 3.0
        >>> m = LinearRegression().fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> m.save(path)
        >>> bool(np.array_equal(load(path).predict(X), m.predict(X)))
        True
        """
        self._check_is_fitted()
        params = {}
        for name, value in self.get_params().items():
            params[name] = _to_json(value, name)
        arrays, kinds = {}, {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            kinds[name], arrays["attr:" + name] = _to_array(value, name)
        state = getattr(self, "_train_state", None)
        n_params = 0
        if state is not None:
            for i, p in enumerate(state["params"]):
                arrays[f"param:{i}"] = p
            n_params = len(state["params"])
        meta = dict(format=_FORMAT, cls=type(self).__name__, params=params, kinds=kinds,
                    n_params=n_params)
        with open(path, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)


def _to_json(value, name):
    if callable(value):
        return None
    if isinstance(value, dict):
        # class_weight: label -> weight; labels kept with their JSON type
        return {"__dict__": [[_scalar(k, name), _scalar(v, name)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, name) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, name) for v in value]
    if isinstance(value, np.random.Generator):
        return None
    return _scalar(value, name)


def _scalar(value, name):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(f"save cannot store the hyper-parameter {name}={value!r} "
                    f"({type(value).__name__}) in a .npz file without pickles")


def _from_json(value):
    if isinstance(value, dict):
        if "__dict__" in value:
            return {k: v for k, v in value["__dict__"]}
        if "__tuple__" in value:
            return tuple(_from_json(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _to_array(value, name):
    """(kind, array) for a learned attribute."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            if all(isinstance(v, str) for v in value.ravel()):
                return "object_str", value.astype(str)
            raise TypeError(f"save cannot store {name}: an object array that does not hold "
                            "only strings")
        return "array", value
    if isinstance(value, list):
        return "list", np.asarray(value, dtype=np.float64)
    if isinstance(value, str):
        return "str", np.asarray(value)
    if isinstance(value, (bool, np.bool_)):
        return "bool", np.asarray(bool(value))
    if isinstance(value, (int, np.integer)):
        return "int", np.asarray(int(value), dtype=np.int64)
    if isinstance(value, (float, np.floating)):
        return "float", np.asarray(float(value))
    if value is None:
        return "none", np.zeros(0)
    raise TypeError(f"save cannot store {name} of type {type(value).__name__}")


def _from_array(kind, arr):
    if kind == "object_str":
        return arr.astype(object)
    if kind == "list":
        return arr.tolist()
    if kind == "str":
        return str(arr)
    if kind == "bool":
        return bool(arr)
    if kind == "int":
        return int(arr)
    if kind == "float":
        return float(arr)
    if kind == "none":
        return None
    return arr


def load(path):
    """Load a model saved with ``model.save(path)``.

    The file is read with ``allow_pickle=False``: it never unpickles
    objects, and the class is looked up by name among lossopt's models, so a
    file naming any other class is refused (ValueError).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from lossopt.models import SoftmaxRegression, load
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = ["a", "a", "b", "b"]
    >>> m = SoftmaxRegression().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "clf.npz")
    >>> m.save(path)
    >>> load(path).predict(X).tolist()
    ['a', 'a', 'b', 'b']
    """
    with np.load(path, allow_pickle=False) as f:
        if "__meta__" not in f.files:
            raise ValueError(f"{path!s} is not a lossopt model file (no __meta__ entry)")
        try:
            meta = json.loads(str(f["__meta__"]))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path!s} has an unreadable __meta__ entry ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError(f"{path!s} is not a {_FORMAT} file")
        cls = _REGISTRY.get(meta.get("cls"))
        if cls is None:
            raise ValueError(f"{path!s} holds a model of class {meta.get('cls')!r}, which is "
                             f"not one of lossopt's models {sorted(_REGISTRY)}")
        model = cls(**{k: _from_json(v) for k, v in meta["params"].items()
                       if k in cls._get_param_names()})
        for name, kind in meta["kinds"].items():
            setattr(model, name, _from_array(kind, f["attr:" + name]))
        n_params = int(meta.get("n_params", 0))
        if n_params:
            params = [np.array(f[f"param:{i}"]) for i in range(n_params)]
            model._train_state = dict(params=params, optimizer=None, scheduler=None,
                                      rng=None)
    return model


# ----------------------------------------------------------------- mixins --

class ClassifierMixin:
    """Classifiers: labels encoded through ``classes_`` (any labels NumPy can
    sort), ``class_weight`` folded into the sample weights, score = accuracy."""

    _estimator_type = "classifier"

    def _encode_labels(self, y, sw, classes, later):
        """(indices, classes_) of the labels; refuses a single class."""
        if later:
            cls_ = self.classes_
            if classes is not None and not np.array_equal(
                    check_classes_argument(classes), cls_):
                raise ValueError(f"classes={np.asarray(classes).tolist()[:20]} is not the "
                                 f"classes of the fitted model {cls_.tolist()[:20]}")
        elif classes is not None:
            cls_ = check_classes_argument(classes)
        else:
            cls_ = np.unique(y)
        if later == "warm" and not np.array_equal(np.unique(y), cls_):
            raise ValueError(f"warm_start: y holds the classes {np.unique(y).tolist()[:20]}, "
                             f"the fitted model {cls_.tolist()[:20]}; fit afresh with "
                             "warm_start=False")
        try:
            idx = encode_class_labels(y, cls_)
        except TypeError:
            raise ValueError(f"y holds labels of another type ({np.asarray(y).dtype}) than "
                             f"classes {cls_.tolist()[:20]}") from None
        if not later:
            present = np.unique(idx if sw is None else idx[sw > 0])
            if cls_.size < 2 or (classes is None and present.size < 2):
                what = "with a positive sample_weight " if sw is not None else ""
                raise ValueError(f"y holds 1 class {what}({cls_[present].tolist()[:1]}); a "
                                 "classifier needs at least 2 classes")
        return idx, cls_

    def _class_sample_weight(self, idx, sw, classes):
        """sample_weight times class_weight[label] (None when both are absent)."""
        cw = self.class_weight
        if cw is None:
            return sw
        n_classes = classes.size
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be None, 'balanced' or a dict label -> "
                                 f"weight, got {cw!r}")
            counts = np.bincount(idx, weights=sw, minlength=n_classes)
            total = counts.sum()
            weights = np.where(counts > 0, total / (n_classes * np.maximum(counts, 1e-300)),
                               0.0)
        elif isinstance(cw, dict):
            weights = np.ones(n_classes)
            for label, w in cw.items():
                pos = np.flatnonzero(classes == label)
                if pos.size == 0:
                    raise ValueError(f"class_weight has label {label!r}, which is not in "
                                     f"classes {classes.tolist()[:20]}")
                w = float(w)
                if not (w >= 0 and np.isfinite(w)):
                    raise ValueError(f"class_weight[{label!r}] must be a finite float >= 0, "
                                     f"got {w!r}")
                weights[pos[0]] = w
        else:
            raise TypeError(f"class_weight must be None, 'balanced' or a dict label -> "
                            f"weight, got {type(cw).__name__}")
        out = weights[idx]
        if sw is not None:
            out = out * sw
        if not out.sum() > 0:
            raise ValueError("class_weight times sample_weight sums to zero: at least one "
                             "weight must be positive")
        return np.ascontiguousarray(out)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of training on (X, y), continuing from the current state.

        The first call needs `classes`, every label that will ever be seen
        (later labels outside it are refused); it also fits the
        standardiser, which later calls keep.  ``k`` calls on the same data
        give bit for bit the parameters of ``fit`` with ``max_epochs=k`` and
        ``tol=None`` (same ``random_state``, no early stopping).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import SoftmaxRegression
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> m = SoftmaxRegression()
        >>> m = m.partial_fit(X[:2], [0, 0], classes=[0, 1]).partial_fit(X[2:], [1, 1])
        >>> m.n_iter_, m.classes_.tolist()
        (2, [0, 1])
        """
        if "n_features_in_" not in self.__dict__ and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit "
                             "(every label that will be seen)")
        if getattr(self, "class_weight", None) == "balanced":
            raise ValueError("class_weight='balanced' needs every label at once, which "
                             "partial_fit does not see; pass a dict of class weights")
        return self._partial(X, y, sample_weight, classes=classes)

    def _strata(self, Y):
        """Class index of each encoded target (for a stratified validation split)."""
        if Y.ndim == 2 and Y.shape[1] > 1:
            return Y.argmax(axis=1)                 # one-hot rows
        return np.unique(Y.ravel(), return_inverse=True)[1]

    def predict(self, X):
        """The most probable class of each sample.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LogisticRegression
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> LogisticRegression().fit(X, [0, 0, 1, 1]).predict([[0.5], [3.5]])
        array([0, 1])
        """
        scores = self._decision_scores(self._check_X(X))
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy: the (weighted) fraction of samples predicted right.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LogisticRegression
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> LogisticRegression().fit(X, [0, 0, 1, 1]).score(X, [0, 0, 1, 0])
        0.75
        """
        pred = self.predict(X)
        y = check_class_labels(y, pred.shape[0])
        sw = check_model_sample_weight(sample_weight, pred.shape[0])
        return float(np.average(pred == y, weights=sw))


def r2_score(y, pred, sample_weight=None):
    """R², scikit-learn's ``r2_score`` semantics: 1 - SS_res / SS_tot per output
    (weighted), averaged over outputs; an output with SS_tot = 0 scores 1 when
    predicted exactly, else 0."""
    y = y.reshape(y.shape[0], -1)
    pred = pred.reshape(pred.shape[0], -1)
    # the ratio does not depend on the unit: scaled by max |value| per output,
    # squares of values near 1e300 stay finite
    scale = column_magnitude(np.concatenate([np.abs(y), np.abs(pred)]))
    scale[~np.isfinite(scale)] = 1.0
    y, pred = y / scale, pred / scale
    w = np.ones(y.shape[0]) if sample_weight is None else sample_weight
    ss_res = np.einsum("i,ik->k", w, (y - pred) ** 2)
    mean = np.average(y, axis=0, weights=w)
    ss_tot = np.einsum("i,ik->k", w, (y - mean) ** 2)
    r2 = np.where(ss_tot != 0, 1.0 - ss_res / np.where(ss_tot != 0, ss_tot, 1.0),
                  np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(r2))


class RegressorMixin:
    """Regressors: score = R² (scikit-learn's ``r2_score``, with sample_weight)."""

    _estimator_type = "regressor"

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of training on (X, y), continuing from the current state.

        The first call fits the standardiser, which later calls keep.  ``k``
        calls on the same data give bit for bit the parameters of ``fit``
        with ``max_epochs=k`` and ``tol=None`` (same ``random_state``).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LinearRegression
        >>> X = np.arange(8.0).reshape(4, 2)
        >>> m = LinearRegression().partial_fit(X, X[:, 0]).partial_fit(X, X[:, 0])
        >>> m.n_iter_
        2
        """
        return self._partial(X, y, sample_weight)

    def score(self, X, y, sample_weight=None):
        """R² of the predictions, ``1 - SS_res / SS_tot`` (weighted), as
        scikit-learn's ``r2_score`` (averaged over outputs).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.models import LinearRegression
        >>> X = np.arange(8.0).reshape(4, 2); y = X @ [1.0, -2.0] + 3.0
        >>> m = LinearRegression(optimizer="gd", lr=0.5, tol=None).fit(X, y)
        >>> round(m.score(X, y), 6)
        1.0
        """
        pred = self.predict(X)
        y = check_regression_target(y, pred.shape[0], multi_output=pred.ndim == 2)
        sw = check_model_sample_weight(sample_weight, pred.shape[0])
        return r2_score(y, pred, sw)
