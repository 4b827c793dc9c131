"""The machinery every optimizer shares: parameters and param groups, matching
gradients to parameters, per-parameter state, ``state_dict`` and ``.npz``
files.  The updates themselves are compiled kernels (``src/_optim.pyx``,
``src/lossopt_optim.h``), one fused in-place pass per parameter array."""

import json
import math

import numpy as np

from .._kernels import _optim
from .._threads import get_num_threads
from .._validation import as_grad_array, check_hyper_float, check_param_array

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
    return (check_hyper_float(b1, f"{name}[0]", 1.0, True),
            check_hyper_float(b2, f"{name}[1]", 1.0, True))


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
    leaves the model untouched.  All gradients are read as they were before
    the step, as in torch: a gradient that shares memory with a parameter
    the step updates (e.g. another parameter's array) is copied first.

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
    _state_scalars = ("step",)   # the numbers in every parameter's state
    # state array -> (group option that makes the algorithm keep it, kernel flag
    # that makes the kernel read it); arrays not listed are always kept and read
    _state_options = {}

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        self._params = []       # (group index, array, label) over all groups
        self._spans = None
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
        self._spans = None      # the parameters' byte ranges, computed at the next step

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
                group[key] = check_hyper_float(group[key], key)
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
        # every gradient is read as it was before the step: one that shares
        # memory with any parameter updated by this step is copied
        updated = [i for i, g, _ in items if g is not None]
        if len(updated) <= 1:
            spans = None          # only its own parameter changes (FlatParameters)
        elif len(updated) == n:
            if self._spans is None:
                self._spans = self._byte_spans(range(n))
            spans = self._spans
        else:
            spans = self._byte_spans(updated)
        out = []
        for i, g, label in items:
            if g is not None:
                g = as_grad_array(g, self._params[i][1], label, spans)
            out.append((i, g))
        return out

    def _byte_spans(self, indices):
        """(starts, stops, owners) of the parameters `indices` for
        as_grad_array: their sorted byte ranges and the ids of the arrays
        owning their memory (None unless every one has such an owner)."""
        params = [self._params[i][1] for i in indices]
        spans = sorted((p.__array_interface__["data"][0], p.nbytes) for p in params if p.nbytes)
        owners = set()
        for p in params:
            while isinstance(p.base, np.ndarray):
                p = p.base
            if p.base is not None or not p.flags.owndata:
                owners = None       # memory from elsewhere (a buffer, a pointer)
                break
            owners.add(id(p))       # alive as long as the parameter is
        return [s for s, _ in spans], [s + n for s, n in spans], owners

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
        layout = self._kernel_layout()
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
            # the kernel's state arrays (flat; None where it reads none): never
            # None for one it reads, which it would dereference as NULL (the
            # call itself refuses a wrong size, dtype, layout or a read-only one)
            arrays = [None, None, None]
            for k, (name, flag) in enumerate(layout):
                if flag is None or args[flag]:
                    a = state.get(name)
                    if not isinstance(a, np.ndarray) or a.shape != p.shape:
                        raise ValueError(
                            f"state[{i}][{name!r}] must be an array of its parameter's shape "
                            f"{p.shape} and dtype {p.dtype}; got {_describe(a)}")
                    arrays[k] = a.reshape(-1)
            _optim.update(algo, p.reshape(-1), g.reshape(-1), *arrays, args, n_threads)

    @classmethod
    def _kernel_layout(cls):
        """[(state array, the kernel flag without which the kernel does not
        read it, or None)], in kernel order s0, s1, s2."""
        layout = cls.__dict__.get("_layout_cache")
        if layout is None:
            layout = [(name, cls._state_options.get(name, (None, None))[1])
                      for name in cls._state_arrays]
            cls._layout_cache = layout
        return layout

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
        >>> w = np.ones(2)
        >>> opt = SGD([w], lr=0.5)
        >>> opt.zero_grad()                      # returns None, changes nothing
        >>> opt.step([np.array([1.0, -1.0])])   # w - lr * gradient
        >>> w
        array([0.5, 1.5])
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
        The state of a parameter that has taken a step must be complete for
        the algorithm and its group's options (e.g. Adam's ``"step"``,
        ``"exp_avg"``, ``"exp_avg_sq"``, and ``"max_exp_avg_sq"`` with
        ``amsgrad``), with ``"step"`` a whole number; anything else raises
        before the optimizer changes.  An empty entry is a parameter with no
        step yet.

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
            entry = self._check_state(key, s, new_groups[self._params[pos][0]],
                                      self._params[pos][1])
            if entry:
                new_state[pos] = entry
        self.param_groups = new_groups
        self.state = new_state

    def _required_state(self, group):
        """The names of the arrays and of the numbers that a parameter's state
        must hold once it has taken a step, under `group`'s options."""
        arrays = tuple(name for name in self._state_arrays
                       if name not in self._state_options
                       or group.get(self._state_options[name][0]))
        return arrays, self._state_scalars

    def _check_state(self, key, saved, group, p):
        """A parameter's saved state, checked complete for the algorithm and
        `group`'s options and copied; {} (no step taken yet) stays {}."""
        where = f"state_dict's state[{key!r}]"
        try:
            saved = dict(saved)
        except (TypeError, ValueError):
            raise TypeError(f"{where} must be a dict name -> value, got "
                            f"{type(saved).__name__}") from None
        if not saved:
            return {}
        arrays, scalars = self._required_state(group)
        entry = {}
        for name in scalars:
            if name not in saved:
                raise ValueError(f"{where}[{name!r}] is missing; {type(self).__name__} keeps "
                                 f"{list(scalars + arrays)} for every parameter that has "
                                 "taken a step")
            v = saved[name]
            if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
                v = v.item()
            if isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{where}[{name!r}] must be a number, got {v!r}")
            if name == "step" and not (math.isfinite(v) and v >= 0 and v == int(v)):
                raise ValueError(f"{where}['step'] must be a step count, a whole number "
                                 f">= 0, got {v!r}")
            if not math.isfinite(v):
                raise ValueError(f"{where}[{name!r}] must be a finite number, got {v!r}")
            entry[name] = int(v) if name == "step" else float(v)
        for name, v in saved.items():
            if name in scalars:
                continue
            if name in self._state_arrays and v is None and name not in arrays:
                continue            # torch's None buffer of an option that is off
            if name in self._state_arrays or isinstance(v, np.ndarray):
                if not isinstance(v, np.ndarray):
                    raise TypeError(f"{where}[{name!r}] must be an array of its parameter's "
                                    f"shape {p.shape} and dtype {p.dtype}; got {_describe(v)}")
                if v.shape != p.shape or v.dtype != p.dtype:
                    raise ValueError(f"{where}[{name!r}] has shape {v.shape} and dtype "
                                     f"{v.dtype}; its parameter has {p.shape} and {p.dtype}")
                v = np.array(v, order="C")
            entry[name] = v
        for name in arrays:
            if name not in entry:
                options = {k: group[k] for k in (self._state_options.get(name, ("",))[0],)
                           if k in group}
                why = f" (with {options})" if options else ""
                raise ValueError(f"{where}[{name!r}] is missing: {type(self).__name__}"
                                 f"{why} needs it for every parameter that has taken a step")
        return entry

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


def _describe(v):
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    return "None (missing)" if v is None else repr(v)


def bias_correction(beta, step):
    """1 - beta**step, as torch computes it (Python floats)."""
    return 1 - beta ** step


def zeros_like(p):
    return np.zeros_like(p, order="C")


def full_like(p, value):
    return np.full_like(p, value, order="C")

