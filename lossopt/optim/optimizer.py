"""The machinery every optimizer shares: parameters and param groups, matching
gradients to parameters, per-parameter state, ``state_dict`` and ``.npz``
files.  The updates themselves are compiled kernels (``src/_optim.pyx``,
``src/lossopt_optim.h``), one fused in-place pass per parameter array."""

import json

import numpy as np

from .._kernels import _optim
from .._threads import get_num_threads
from .._validation import as_grad_array, check_nonnegative, check_param_array

__all__ = ["Optimizer"]

# Every field of the kernels' lossopt_optim_args, with its "off" value.
_ARGS = dict(sign=1.0, wd=0.0, decay=1.0, lr=0.0, momentum=0.0, dampening=0.0, w1=0.0,
             beta2=0.0, eps=0.0, c1=0.0, c2=0.0, c3=0.0, wd_on=0, decay_on=0, first=0,
             nesterov=0, amsgrad=0, centered=0, with_momentum=0, rectify=0)


def check_betas(betas, name="betas"):
    """(beta1, beta2), each in [0, 1)."""
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of floats in [0, 1), got {betas!r}") from None
    return (check_nonnegative(b1, f"{name}[0]", 1.0, True),
            check_nonnegative(b2, f"{name}[1]", 1.0, True))


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class Optimizer:
    """Base class of the optimizers: param groups, per-parameter state and
    saved state, with the semantics of ``torch.optim.Optimizer``.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of dicts, or FlatParameters
        The arrays the optimizer updates in place: writable, C-contiguous
        float32/float64 NumPy arrays (any shape).  A list of dicts makes one
        param group per dict, each with a ``"params"`` entry (a list or a
        dict name -> array) and any hyper-parameters that differ from the
        constructor's.
    defaults : dict
        The hyper-parameters of groups that do not set their own.

    Notes
    -----
    ``step(grads)`` takes the gradients in the structure the parameters came
    in: a list in parameter order (over all groups), a dict name -> array,
    one list or dict per param group, or, for a single parameter array
    (e.g. ``FlatParameters.data``), the array itself or the
    ``FlatParameters``.  A gradient may be None: its parameter is skipped
    and its state does not advance, as in torch for a parameter whose
    ``.grad`` is None.  Gradients must have the parameter's shape and dtype;
    they are never modified.

    Every gradient is checked before any parameter changes, so a bad call
    leaves the model untouched.

    Each update is one compiled pass per parameter array (pass a
    :class:`FlatParameters` to make it one pass for the whole model),
    computed in the data's precision like torch's CPU kernels; above 65536
    elements it is shared among threads (``lossopt.threads``) with results
    that do not depend on the thread count.

    The state of parameter ``i`` (its position over all groups) is
    ``opt.state[i]``, a dict of arrays of the parameter's shape and dtype and
    of numbers (``"step"``, NAdam's ``"mu_product"``).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD
    >>> w = np.array([1.0])
    >>> opt = SGD([w], lr=1.0, momentum=0.9)
    >>> opt.step([np.array([1.0])]); w
    array([0.])
    >>> opt.step([np.array([1.0])]); w
    array([-1.9])
    """

    _algorithm = None      # key of _optim.ALGORITHMS
    _state_arrays = ()     # names of the state arrays, in kernel order s0, s1, s2

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        self._params = []       # (group index, array, label) over all groups
        self._structure, groups = self._as_groups(params)
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ params --
    @staticmethod
    def _as_groups(params):
        from .flat import FlatParameters
        if isinstance(params, FlatParameters):
            return "flat", [{"params": [params.data]}]
        if isinstance(params, np.ndarray):
            raise TypeError("params must be a list of arrays, a dict name -> array or a "
                            "list of param-group dicts, not a single array; wrap it: [w]")
        if isinstance(params, dict):
            return "dict", [{"params": params}]
        try:
            items = list(params)
        except TypeError:
            raise TypeError("params must be a list of arrays, a dict name -> array or a "
                            f"list of param-group dicts, got {type(params).__name__}") from None
        if not items:
            raise ValueError("params is an empty list: the optimizer got no parameters")
        if all(isinstance(g, dict) for g in items):
            return "groups", items
        return "list", [{"params": items}]

    def add_param_group(self, param_group):
        """Add a param group: a dict with ``"params"`` (a list of arrays or a
        dict name -> array) and optional hyper-parameters; the others come
        from the constructor's defaults.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD
        >>> w, b = np.zeros(3), np.zeros(1)
        >>> opt = SGD([w], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        gi = len(self.param_groups)
        where = "params" if self._structure != "groups" else f"param_groups[{gi}]['params']"
        if "params" not in param_group:
            raise ValueError(f"param_groups[{gi}] has no 'params' entry")
        raw = param_group["params"]
        if isinstance(raw, np.ndarray):
            raise TypeError(f"{where} must be a list of arrays or a dict name -> array, "
                            "not a single array; wrap it: [w]")
        if isinstance(raw, dict):
            names = [str(k) for k in raw]
            arrays = list(raw.values())
            labels = [f"{where}[{k!r}]" for k in raw]
        else:
            arrays = list(raw)
            names = None
            labels = [f"{where}[{i}]" for i in range(len(arrays))]
        for a, label in zip(arrays, labels):
            check_param_array(a, label)
        unknown = set(param_group) - set(self.defaults) - {"params", "param_names",
                                                          "initial_lr"}
        if unknown:
            raise ValueError(f"param_groups[{gi}] has unknown hyper-parameters "
                             f"{sorted(unknown)}; {type(self).__name__} takes "
                             f"{sorted(self.defaults)}")
        group = {k: v for k, v in param_group.items() if k not in ("params", "param_names")}
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_group(group)
        self._check_disjoint(arrays, labels)
        group["params"] = arrays
        if names is not None:
            group["param_names"] = names
        self.param_groups.append(group)
        self._params.extend((gi, a, label) for a, label in zip(arrays, labels))

    def _check_disjoint(self, new, labels):
        """No two parameters may share memory (a step would update it twice)."""
        spans = [(a.__array_interface__["data"][0], a.nbytes, label)
                 for a, label in [(p, lab) for _, p, lab in self._params] + list(zip(new, labels))
                 if a.nbytes]
        spans.sort()
        for (s0, n0, l0), (s1, _, l1) in zip(spans, spans[1:]):
            if s1 < s0 + n0:
                raise ValueError(f"{l0} and {l1} share memory; each parameter may appear "
                                 "only once")

    # the options that must be real numbers >= 0, wherever an algorithm has them
    _NONNEGATIVE = ("lr", "weight_decay", "eps", "momentum", "dampening", "lr_decay",
                    "initial_accumulator_value", "alpha", "momentum_decay")

    def _check_group(self, group):
        """Validate (and normalise) a group's hyper-parameters in place."""
        for key in self._NONNEGATIVE:
            if key in group:
                group[key] = check_nonnegative(group[key], key)
        for key in ("maximize", "amsgrad", "nesterov", "centered",
                    "decoupled_weight_decay"):
            if key in group:
                group[key] = _flag(group[key], key)
        if "betas" in group:
            group["betas"] = check_betas(group["betas"])

    # ------------------------------------------------------------- grads --
    def _match_grads(self, grads):
        """[(param index, gradient array or None)] for every parameter, all
        checked before anything is written."""
        from .flat import FlatParameters
        n = len(self._params)
        if isinstance(grads, FlatParameters):
            grads = grads.grad
        if isinstance(grads, np.ndarray):
            if n != 1:
                raise TypeError(f"grads is a single array but the optimizer has {n} "
                                "parameters; pass a list (or dict) of gradients")
            items = [(0, grads, "grads")]
        elif isinstance(grads, dict):
            items = self._from_dict(grads, range(n), "grads")
        else:
            try:
                seq = list(grads)
            except TypeError:
                raise TypeError("grads must be a list or dict of arrays, in the structure "
                                f"of params; got {type(grads).__name__}") from None
            per_group = (len(seq) == len(self.param_groups)
                         and all(isinstance(g, (list, tuple, dict)) for g in seq)
                         and (len(seq) > 1 or self._structure == "groups"))
            if per_group:
                items = []
                start = 0
                for gi, (group, gg) in enumerate(zip(self.param_groups, seq)):
                    idx = range(start, start + len(group["params"]))
                    start += len(group["params"])
                    if isinstance(gg, dict):
                        items += self._from_dict(gg, idx, f"grads[{gi}]")
                    else:
                        gg = list(gg)
                        if len(gg) != len(idx):
                            raise ValueError(f"grads[{gi}] has {len(gg)} gradients; param "
                                             f"group {gi} has {len(idx)} parameters")
                        items += [(i, g, f"grads[{gi}][{j}]") for j, (i, g) in
                                  enumerate(zip(idx, gg))]
            else:
                if len(seq) != n:
                    raise ValueError(f"grads has {len(seq)} entries; the optimizer has {n} "
                                     "parameters")
                items = [(i, g, f"grads[{i}]") for i, g in enumerate(seq)]
        out = []
        for i, g, label in items:
            if g is not None:
                g = as_grad_array(g, self._params[i][1], label)
            out.append((i, g))
        return out

    def _from_dict(self, grads, idx, where):
        names = {}
        for i in idx:
            gi, _, label = self._params[i]
            group_names = self.param_groups[gi].get("param_names")
            if group_names is None:
                raise TypeError(f"{where} is a dict but the parameters have no names; "
                                "pass a list in parameter order")
            start = sum(len(g["params"]) for g in self.param_groups[:gi])
            names[group_names[i - start]] = i
        missing = [k for k in names if k not in grads]
        extra = [k for k in grads if k not in names]
        if missing or extra:
            raise ValueError(f"{where} must have exactly the keys of params; missing "
                             f"{missing}, unknown {extra} (pass None to skip a parameter)")
        return [(i, grads[k], f"{where}[{k!r}]") for k, i in names.items()]

    # -------------------------------------------------------------- step --
    def step(self, grads):
        """One update of every parameter in place, from `grads` (see the class
        Notes for their structure).

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD
        >>> params = {"w": np.array([1.0, 2.0])}
        >>> opt = SGD(params, lr=0.5)
        >>> opt.step({"w": np.array([1.0, 1.0])})
        >>> params["w"]
        array([0.5, 1.5])
        """
        matched = self._match_grads(grads)
        for group in self.param_groups:
            self._check_group(group)
        algo = _optim.ALGORITHMS[self._algorithm]
        n_threads = get_num_threads()
        for i, g in matched:
            if g is None:
                continue
            gi, p, _ = self._params[i]
            group = self.param_groups[gi]
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = self._init_state(group, p)
            args = dict(_ARGS)
            args.update(self._step_args(group, state, p))
            arrays = [state.get(name) for name in self._state_arrays]
            arrays += [None] * (3 - len(arrays))
            _optim.update(algo, p.reshape(-1), g.reshape(-1),
                          *[None if a is None else a.reshape(-1) for a in arrays],
                          args, n_threads)

    def _init_state(self, group, p):
        """The state of a parameter before its first step."""
        raise NotImplementedError

    def _step_args(self, group, state, p):
        """Advance `state`'s counters and return the kernel's scalars."""
        raise NotImplementedError

    @staticmethod
    def _common_args(group, coupled_wd=True):
        """sign and weight decay fields shared by every algorithm."""
        wd = group.get("weight_decay", 0.0)
        args = {"sign": -1.0 if group.get("maximize", False) else 1.0}
        if wd != 0:
            if coupled_wd:
                args.update(wd=wd, wd_on=1)
            else:
                args.update(decay=1.0 - group["lr"] * wd, decay_on=1)
        return args

    def zero_grad(self):
        """Nothing to do: gradients are passed to :meth:`step`, not stored on
        the parameters.  Kept so torch-style loops run unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD
        >>> SGD([np.zeros(2)]).zero_grad()
        """

    # ------------------------------------------------------------- state --
    def state_dict(self):
        """A snapshot of the optimizer: ``{"state": {index: {name: value}},
        "param_groups": [hyper-parameters + "params": indices]}``, as in torch.

        The arrays are copies, so later steps do not change the snapshot;
        :meth:`load_state_dict` restores it exactly.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import Adam
        >>> w = np.zeros(2)
        >>> opt = Adam([w])
        >>> opt.step([np.ones(2)])
        >>> sd = opt.state_dict()
        >>> sd["state"][0]["step"], sorted(sd["state"][0])
        (1, ['exp_avg', 'exp_avg_sq', 'step'])
        >>> sd["param_groups"][0]["params"]
        [0]
        """
        groups = []
        start = 0
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(g)
        state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for i, s in sorted(self.state.items())}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`: the hyper-parameters of every group and
        the state of every parameter (copied in).  The groups must have the
        same sizes, and every state array the shape and dtype of its parameter.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import Adam
        >>> w1, w2 = np.zeros(2), np.zeros(2)
        >>> opt1, opt2 = Adam([w1], lr=0.1), Adam([w2], lr=0.1)
        >>> opt1.step([np.ones(2)])
        >>> opt2.load_state_dict(opt1.state_dict()); w2[:] = w1
        >>> opt1.step([np.ones(2)]); opt2.step([np.ones(2)])
        >>> bool(np.array_equal(w1, w2))
        True
        """
        try:
            groups = list(state_dict["param_groups"])
            saved_state = dict(state_dict["state"])
        except (TypeError, KeyError):
            raise ValueError("state_dict must be a dict with 'state' and 'param_groups' "
                             "entries, as returned by state_dict()") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups)} param groups; the optimizer "
                             f"has {len(self.param_groups)}")
        new_groups = []
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"state_dict's param group {gi} has {len(saved['params'])} "
                                 f"parameters; the optimizer's has {len(group['params'])}")
            g = {k: (tuple(v) if isinstance(v, list) and k not in ("params", "param_names")
                     else v) for k, v in saved.items() if k != "params"}
            for k in self.defaults:
                if k not in g:
                    raise ValueError(f"state_dict's param group {gi} has no {k!r}")
            self._check_group(g)
            g["params"] = group["params"]
            new_groups.append(g)
        # map saved indices onto this optimizer's parameter positions
        order = [i for saved in groups for i in saved["params"]]
        new_state = {}
        for key, s in saved_state.items():
            try:
                pos = order.index(int(key))
            except ValueError:
                raise ValueError(f"state_dict's state has an entry {key!r} that no param "
                                 "group lists") from None
            p = self._params[pos][1]
            entry = {}
            for name, v in dict(s).items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape or v.dtype != p.dtype:
                        raise ValueError(f"state_dict's state[{key!r}][{name!r}] has shape "
                                         f"{v.shape} and dtype {v.dtype}; its parameter "
                                         f"has {p.shape} and {p.dtype}")
                    v = np.array(v, order="C")
                entry[name] = v
            new_state[pos] = entry
        self.param_groups = new_groups
        self.state = new_state

    def save(self, file):
        """Write :meth:`state_dict` to an ``.npz`` file (no pickle: the arrays
        as arrays, everything else as JSON, whose floats round-trip exactly).
        :meth:`load` reads it back, so a run resumes bit-identically (save the
        parameters as well, e.g. with ``np.savez``).

        Examples
        --------
        >>> import io, numpy as np
        >>> from lossopt.optim import Adam
        >>> w = np.zeros(2); opt = Adam([w]); opt.step([np.ones(2)])
        >>> buf = io.BytesIO(); opt.save(buf); _ = buf.seek(0)
        >>> opt2 = Adam([w.copy()]); opt2.load(buf)
        >>> opt2.state[0]["step"]
        1
        """
        sd = self.state_dict()
        arrays = {}
        meta_state = {}
        for i, s in sd["state"].items():
            meta_state[str(i)] = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    arrays[f"state/{i}/{k}"] = v
                else:
                    meta_state[str(i)][k] = v
        meta = {"format": "lossopt.optim/1", "optimizer": type(self).__name__,
                "param_groups": sd["param_groups"], "state": meta_state}
        np.savez(file, __meta__=np.array(json.dumps(meta)), **arrays)

    def load(self, file):
        """Read a file written by :meth:`save` and :meth:`load_state_dict` it.

        Examples
        --------
        See :meth:`save`.

        >>> True
        True
        """
        with np.load(file, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            if meta.get("format") != "lossopt.optim/1":
                raise ValueError("file was not written by Optimizer.save")
            if meta["optimizer"] != type(self).__name__:
                raise ValueError(f"file holds the state of a {meta['optimizer']}, not of a "
                                 f"{type(self).__name__}")
            state = {}
            for i, s in meta["state"].items():
                state[int(i)] = dict(s)
            for key in data.files:
                if key.startswith("state/"):
                    _, i, name = key.split("/", 2)
                    state[int(i)][name] = data[key]
        self.load_state_dict({"state": state, "param_groups": meta["param_groups"]})

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


def bias_correction(beta, step):
    """1 - beta**step, as torch computes it (Python floats)."""
    return 1 - beta ** step


def zeros_like(p):
    return np.zeros_like(p, order="C")


def full_like(p, value):
    return np.full_like(p, value, order="C")

