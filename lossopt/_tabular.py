"""Tables from files, for the ``lossopt fit`` / ``lossopt predict`` commands:
CSV, ``.npz`` and ``.npy``, read with the standard library and NumPy only.

Every check of a data file is made here, in one place, and a file that cannot
be used raises :class:`DataError`, whose message names the file and, where
there is one, the column and row.

Formats
-------
CSV (``.csv``, any other suffix; ``.tsv`` / ``.tab`` are tab-separated)
    A header row of column names, then one row per sample (the ``csv``
    module: quoted fields, a UTF-8 byte-order mark and blank lines are fine).
    Feature columns must hold finite numbers; the target column may hold
    numbers or any text (class labels).
``.npz``
    Either ``X`` (a 2-D array) plus 1-D arrays of the same length, the target
    among them; the features are named by an optional ``feature_names``
    array of strings, else ``x0, x1, ...`` -- or only 1-D arrays of one length,
    each a column named by its key.
``.npy``
    A 2-D numeric array; its columns are named by their index (``"0"``,
    ``"1"``, ...), so the target is given as a column index (negative counts
    from the end).
"""

import csv
import os
from typing import NamedTuple

import numpy as np

__all__ = ["DataError", "Table", "read_table", "labels_are_classes", "first_non_numeric"]


class DataError(ValueError):
    """A data file that cannot be used as a table (the message says why)."""


class Table(NamedTuple):
    """What :func:`read_table` returns."""

    X: np.ndarray            # (n_samples, n_features) float64, finite
    y: object                # (n_samples,) array, or None without a target
    feature_names: list      # the names of X's columns
    target_name: object      # str, or None


def read_table(path, target=None, features=None):
    """Read a data file into a :class:`Table` ``(X, y, feature_names, target_name)``.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV, ``.npz`` or ``.npy`` file (the module's docstring gives the
        layouts); the format follows the suffix.
    target : str or None
        The target column (for ``.npy`` its index, as text or int).  None:
        no target (``y`` is None).
    features : list of str or None
        The feature columns, in this order (more columns in the file are
        ignored).  None: every column but the target, in file order.

    Returns
    -------
    Table
        ``X`` is a float64 array (n_samples, n_features) of finite values.
        ``y`` is int64 when every target value is an integer, float64 when
        every value is a (finite) number, else an array of strings (class
        labels).

    Raises
    ------
    DataError
        A missing or unreadable file, a missing column, a non-numeric or
        non-finite feature value, an empty target value, ragged rows, no rows.

    Examples
    --------
    >>> import os, tempfile
    >>> from lossopt._tabular import read_table
    >>> path = os.path.join(tempfile.mkdtemp(), "flowers.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('width,length,"kind"\\n1.5,2,red\\n0.5,3.25,blue\\n')
    >>> t = read_table(path, target="kind")
    >>> t.X
    array([[1.5 , 2.  ],
           [0.5 , 3.25]])
    >>> t.y.tolist(), t.feature_names, t.target_name
    (['red', 'blue'], ['width', 'length'], 'kind')
    >>> read_table(path, features=["length"]).X.ravel().tolist()
    [2.0, 3.25]
    >>> read_table(path, target="colour")
    Traceback (most recent call last):
        ...
    lossopt._tabular.DataError: flowers.csv has no column 'colour' (columns: width, length, kind)
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not a data file")
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npz":
            columns, order = _npz_columns(path)
        elif suffix == ".npy":
            columns, order = _npy_columns(path)
            if target is not None:
                target = _npy_index(target, len(order), path)
        else:
            return _read_csv(path, target, features, "\t" if suffix in (".tsv", ".tab")
                             else ",")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _from_columns(columns, order, target, features, name)


# -------------------------------------------------------------------- CSV --

def _read_csv(path, target, features, delimiter):
    name = os.path.basename(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, skipinitialspace=True)
            header, rows, lines = None, [], []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()
                               and (header is None or len(header) > 1)):
                    continue                      # blank line
                # (in a one-column file a line '""' is an empty value, which
                # is refused below, not a blank line dropped: the predictions
                # would no longer line up with the rows)
                if header is None:
                    header = [h.strip() for h in row]
                    continue
                if len(row) != len(header):
                    raise DataError(f"{name}, line {reader.line_num}: {len(row)} fields, "
                                    f"but the header has {len(header)}")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise DataError(f"{name} is not a UTF-8 text file (a CSV with a header row was "
                        "expected)") from None
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV file ({exc})") from None
    if header is None:
        raise DataError(f"{name} is empty (a header row of column names was expected)")
    _check_names(header, name)
    if not rows:
        raise DataError(f"{name} has a header but no data rows")
    order = list(header)
    feats, target = _select(order, target, features, name)
    # every column but the target is a feature unless they were chosen
    hint = "; choose the feature columns with --features" if features is None else ""
    X = np.empty((len(rows), len(feats)))
    for j, col in enumerate(feats):
        k = order.index(col)
        for i, row in enumerate(rows):
            X[i, j] = _number(row[k], col, i, lines[i], name, hint)
    y = None
    if target is not None:
        k = order.index(target)
        y = _target_values([row[k] for row in rows], target, lines, name)
    return Table(X, y, feats, target)


def _number(text, column, i, line, name, hint=""):
    where = f"column {column!r}, row {i + 1} (line {line}) of {name}"
    try:
        v = float(text)
    except ValueError:
        if not text.strip():
            raise DataError(f"{where} is empty: every feature value must be a number "
                            "(fill in or remove the missing values)") from None
        raise DataError(f"{where} is not a number: {text!r} (feature columns must hold "
                        f"numbers{hint})") from None
    if not np.isfinite(v):
        raise DataError(f"{where} is {text!r}: every feature value must be a finite number")
    return v


def _target_values(texts, column, lines, name):
    """Target values: int64, float64 or strings (see read_table)."""
    stripped = [t.strip() for t in texts]
    for i, t in enumerate(stripped):
        if not t:
            raise DataError(f"column {column!r}, row {i + 1} (line {lines[i]}) of {name} "
                            "is empty: every sample needs a target value")
    try:
        values = np.array([float(t) for t in stripped])
    except ValueError:
        return np.array(stripped)
    return _numeric_target(values, column, name)


def _numeric_target(values, column, name):
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"column {column!r}, row {bad[0] + 1} of {name} is {values[bad[0]]}: "
                        "every target value must be finite")
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2.0**53):
        return values.astype(np.int64)
    return values


# ------------------------------------------------------------ .npz / .npy --

def _load_npy(path):
    try:
        return np.load(path, allow_pickle=False)
    except OSError:
        raise
    except Exception as exc:            # not a NumPy file, or one holding objects
        raise DataError(f"{os.path.basename(path)} is not a readable NumPy file "
                        f"({type(exc).__name__}: {exc})") from None


def _npz_columns(path):
    name = os.path.basename(path)
    f = _load_npy(path)
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(f"{name} is not a .npz archive")
    try:
        arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise DataError(f"{name}: an array cannot be read ({type(exc).__name__}: "
                        f"{exc})") from None
    finally:
        f.close()
    if not arrays:
        raise DataError(f"{name} holds no arrays")
    columns, order = {}, []
    X = arrays.pop("X", None)
    names = arrays.pop("feature_names", None) if X is not None else None
    if X is not None:
        if X.ndim != 2:
            raise DataError(f"{name}: X must be 2-D (n_samples, n_features), got shape "
                            f"{X.shape}")
        if names is None:
            names = [f"x{j}" for j in range(X.shape[1])]
        else:
            if names.ndim != 1 or names.shape[0] != X.shape[1] or names.dtype.kind not in "US":
                raise DataError(f"{name}: feature_names must be {X.shape[1]} strings, one "
                                f"per column of X; got {names.dtype} of shape {names.shape}")
            names = [str(v) for v in names]
        for j, col in enumerate(names):
            columns[col] = X[:, j]
            order.append(col)
    n = X.shape[0] if X is not None else None
    for key, arr in arrays.items():
        if arr.ndim != 1:
            raise DataError(f"{name}: array {key!r} has shape {arr.shape}; every array but X "
                            "must be 1-D (a column)")
        if n is None:
            n = arr.shape[0]
        if arr.shape[0] != n:
            raise DataError(f"{name}: array {key!r} has {arr.shape[0]} rows, the others {n}")
        columns[key] = arr
        order.append(key)
    _check_names(order, name)
    return columns, order


def _npy_columns(path):
    name = os.path.basename(path)
    A = _load_npy(path)
    if not isinstance(A, np.ndarray) or A.ndim != 2:
        raise DataError(f"{name} must hold a 2-D array (rows = samples, columns = features "
                        f"and target), got shape {getattr(A, 'shape', None)}")
    order = [str(j) for j in range(A.shape[1])]
    return {c: A[:, j] for j, c in enumerate(order)}, order


def _npy_index(target, n_columns, path):
    try:
        j = int(target)
    except (TypeError, ValueError):
        raise DataError(f"{os.path.basename(path)} is a .npy array: its target is a column "
                        f"index (0 to {n_columns - 1}, or negative from the end), got "
                        f"{target!r}") from None
    if not -n_columns <= j < n_columns:
        raise DataError(f"{os.path.basename(path)} has {n_columns} columns; target column "
                        f"{j} is out of range")
    return str(j % n_columns)


def _from_columns(columns, order, target, features, name):
    feats, target = _select(order, target, features, name)
    n = len(columns[order[0]])
    if n == 0:
        raise DataError(f"{name} has no rows")
    X = np.empty((n, len(feats)))
    for j, col in enumerate(feats):
        a = columns[col]
        if a.dtype.kind not in "biuf" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
            raise DataError(f"column {col!r} of {name} is not numeric (dtype {a.dtype})")
        X[:, j] = a
        bad = np.flatnonzero(~np.isfinite(X[:, j]))
        if bad.size:
            raise DataError(f"column {col!r}, row {bad[0] + 1} of {name} is {X[bad[0], j]}: "
                            "every feature value must be a finite number")
    y = None
    if target is not None:
        y = columns[target]
        if y.dtype.kind in "US":
            y = np.array([str(v).strip() for v in y])
            empty = np.flatnonzero(y == "")
            if empty.size:
                raise DataError(f"column {target!r}, row {empty[0] + 1} of {name} is empty: "
                                "every sample needs a target value")
        elif y.dtype.kind in "biuf" and y.dtype.itemsize <= 8:
            y = _numeric_target(y.astype(np.float64), target, name)
        else:
            raise DataError(f"column {target!r} of {name} has dtype {y.dtype}; a target "
                            "holds numbers or strings")
    return Table(X, y, feats, target)


# ---------------------------------------------------------------- shared --

def _check_names(names, name):
    seen = set()
    for j, col in enumerate(names):
        if not col:
            raise DataError(f"{name}: column {j + 1} has an empty name")
        if col in seen:
            raise DataError(f"{name}: the column name {col!r} appears twice")
        seen.add(col)


def _select(order, target, features, name):
    """(feature names, target name) checked against the file's columns."""
    def missing(cols, what):
        import difflib
        hint = ""
        if len(cols) == 1:
            close = difflib.get_close_matches(cols[0], order, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(order[:30]) + (", ..." if len(order) > 30 else "")
        listed = ", ".join(repr(c) for c in cols)
        return DataError(f"{name} has no {what} {listed} (columns: {shown}){hint}")

    if target is not None:
        target = str(target)
        if target not in order:
            raise missing([target], "column")
    if features is None:
        feats = [c for c in order if c != target]
        if not feats:
            raise DataError(f"{name} has no feature column besides the target {target!r}")
    else:
        feats = [str(c) for c in features]
        absent = [c for c in feats if c not in order]
        if absent:
            raise missing(absent, "column" if len(absent) == 1 else "columns")
        if target is not None and target in feats:
            raise DataError(f"the target {target!r} cannot also be a feature")
        if len(set(feats)) != len(feats):
            raise DataError(f"a feature column is named twice in {feats}")
    return feats, target


def labels_are_classes(y, max_classes=20):
    """Whether a target looks like class labels rather than a quantity.

    Text labels are classes; integers are classes when there are at most
    `max_classes` distinct values and at most half as many as samples;
    anything else is a regression target.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt._tabular import labels_are_classes
    >>> labels_are_classes(np.array(["a", "b", "a"]))
    True
    >>> labels_are_classes(np.array([0, 1, 1, 0, 2, 2]))
    True
    >>> labels_are_classes(np.array([0.5, 1.25, 3.0]))
    False
    """
    y = np.asarray(y)
    if y.dtype.kind in "USOb":
        return True
    if y.dtype.kind in "iu":
        k = np.unique(y).size
        return k <= max_classes and k <= y.size / 2
    return False


def first_non_numeric(values):
    """(row index, value) of the first entry that is not a number, or None.

    Examples
    --------
    >>> from lossopt._tabular import first_non_numeric
    >>> first_non_numeric(["1.5", "2", "setosa", "x"])
    (2, 'setosa')
    >>> first_non_numeric(["1", "2e3"]) is None
    True
    """
    for i, v in enumerate(values):
        try:
            float(v)
        except (TypeError, ValueError):
            return i, v
    return None
