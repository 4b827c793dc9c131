"""Learning-rate schedules with the semantics of ``torch.optim.lr_scheduler``.

A schedule changes ``group["lr"]`` of every param group of an optimizer (any
lossopt optimizer).  As in torch, building a schedule sets the learning rate
of step 0 (recording ``group["initial_lr"]``), and ``sched.step()`` is called
once per epoch *after* ``opt.step(...)``.  The chainable (recursive) forms
torch uses are the ones computed here, so the learning rates agree with
torch's bit for bit.

Deliberate differences: ``step()`` takes no ``epoch`` argument (deprecated
in torch), and no warnings about the order of ``opt.step`` and
``sched.step`` are given.
"""

import math
from bisect import bisect_right
from collections import Counter

from .._validation import check_int, check_hyper_float
from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "LambdaLR", "SequentialLR", "ReduceLROnPlateau"]


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a lossopt.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class of the schedules (``torch.optim.lr_scheduler.LRScheduler``).

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int, default -1
        The index of the last epoch when resuming; -1 starts afresh (then
        every group's ``initial_lr`` is set to its ``lr``).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, StepLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2)
    >>> sched.get_last_lr()
    [1.0]
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        last_epoch = check_int(last_epoch, "last_epoch", -1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr', needed to resume "
                                   "a schedule with last_epoch >= 0; load the optimizer's "
                                   "state first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rates of epoch ``last_epoch``, computed from the current
        ones (torch's chainable form); :meth:`step` sets them.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, ExponentialLR
        >>> sched = ExponentialLR(SGD([np.zeros(1)], lr=1.0), gamma=0.5)
        >>> sched.get_lr()      # what one more step from epoch 0 would give
        [0.5]
        """
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rates the last step set, one per param group.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, ExponentialLR
        >>> sched = ExponentialLR(SGD([np.zeros(1)], lr=1.0), gamma=0.5)
        >>> sched.step(); sched.get_last_lr()
        [0.5]
        """
        return self._last_lr

    def step(self):
        """Advance one epoch and set the new learning rates.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, StepLR
        >>> opt = SGD([np.zeros(1)], lr=1.0)
        >>> sched = StepLR(opt, step_size=1, gamma=0.1)
        >>> sched.step(); opt.param_groups[0]["lr"]
        0.1
        """
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self):
        """Everything but the optimizer (and functions), as a dict.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, StepLR
        >>> StepLR(SGD([np.zeros(1)]), step_size=3).state_dict()["last_epoch"]
        0
        """
        return {k: v for k, v in self.__dict__.items() if k not in self._not_saved}

    _not_saved = ("optimizer",)

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, StepLR
        >>> a = StepLR(SGD([np.zeros(1)]), step_size=3); a.step()
        >>> b = StepLR(SGD([np.zeros(1)]), step_size=3); b.load_state_dict(a.state_dict())
        >>> b.last_epoch
        1
        """
        self.__dict__.update({k: v for k, v in state_dict.items()
                              if k not in self._not_saved})


class LambdaLR(LRScheduler):
    """lr = initial lr * ``lr_lambda(epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        One function of the epoch index, or one per param group.
    last_epoch : int, default -1

    Notes
    -----
    ``state_dict`` leaves the functions out (torch saves the ``__dict__`` of
    callable objects; here they must be passed again when rebuilding).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, LambdaLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
    >>> sched.step(); opt.param_groups[0]["lr"]
    0.5
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"lr_lambda has {len(lr_lambda)} functions; the optimizer "
                                 f"has {n} param groups")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("lr_lambda must be a callable or a list of callables")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs: the
    lecture's "start at 0.01 and divide by 10 every x epochs".

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Positive.
    gamma : float, default 0.1
    last_epoch : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, StepLR
    >>> opt = SGD([np.zeros(1)], lr=0.01)
    >>> sched = StepLR(opt, step_size=2, gamma=0.1)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(opt.param_groups[0]["lr"]); sched.step()
    >>> [f"{lr:.0e}" for lr in lrs]
    ['1e-02', '1e-02', '1e-03', '1e-03', '1e-04']
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_hyper_float(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by `gamma` at each milestone epoch.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epochs; a repeated milestone multiplies by `gamma` that many times.
    gamma : float, default 0.1
    last_epoch : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, MultiStepLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     sched.step(); lrs.append(opt.param_groups[0]["lr"])
    >>> lrs
    [0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(check_int(m, "milestones") for m in milestones)
        self.gamma = check_hyper_float(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        return [lr * self.gamma ** self.milestones[self.last_epoch]
                for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
    last_epoch : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, ExponentialLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> sched.step(); sched.step(); opt.param_groups[0]["lr"]
    0.25
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_hyper_float(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial lr :math:`\eta_0` to `eta_min`
    over `T_max` epochs (then back up, periodically, as in torch):

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos \tfrac{t \pi}{T_{\max}}\right),

    computed with torch's recursive form, so that other changes of the
    learning rate in between are carried along.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Positive.
    eta_min : float, default 0
    last_epoch : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, CosineAnnealingLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=2)
    >>> sched.step(); round(opt.param_groups[0]["lr"], 12)
    0.5
    >>> sched.step(); round(opt.param_groups[0]["lr"], 12)
    0.0
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = check_int(T_max, "T_max", 1)
        self.eta_min = check_hyper_float(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _lrs(self.optimizer)
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._step_count == 1 and t > 0:
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, _lrs(self.optimizer))]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (lr - lo) + lo for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs (warm-up).

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float, default 1/3
        In (0, 1].
    end_factor : float, default 1.0
        In [0, 1].
    total_iters : int, default 5
    last_epoch : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, LinearLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = [opt.param_groups[0]["lr"]]
    >>> for epoch in range(4):
    ...     sched.step(); lrs.append(opt.param_groups[0]["lr"])
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        start_factor = check_hyper_float(start_factor, "start_factor", 1.0)
        if start_factor == 0:
            raise ValueError("start_factor must be in (0, 1], got 0")
        self.start_factor = start_factor
        self.end_factor = check_hyper_float(end_factor, "end_factor", 1.0)
        self.total_iters = check_int(total_iters, "total_iters", 0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in _lrs(self.optimizer)]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        d = self.end_factor - self.start_factor
        return [lr * (1.0 + d / (self.total_iters * self.start_factor
                                 + (self.last_epoch - 1) * d))
                for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another, switching at the `milestones`.

    Parameters
    ----------
    optimizer : Optimizer
    schedulers : list of LRScheduler
        Built on the same optimizer (not ReduceLROnPlateau).
    milestones : list of int
        One fewer than `schedulers`: the epochs at which the next one starts
        (from its own epoch 0).
    last_epoch : int, default -1

    Examples
    --------
    Linear warm-up for 2 epochs, then exponential decay:

    >>> import numpy as np
    >>> from lossopt.optim import SGD, LinearLR, ExponentialLR, SequentialLR
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> warm = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = ExponentialLR(opt, gamma=0.5)
    >>> sched = SequentialLR(opt, [warm, decay], milestones=[2])
    >>> lrs = [opt.param_groups[0]["lr"]]
    >>> for epoch in range(4):
    ...     sched.step(); lrs.append(opt.param_groups[0]["lr"])
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    _not_saved = ("optimizer", "_schedulers")

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer(optimizer)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("schedulers is empty; SequentialLR needs at least one")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"schedulers[{i}] is a ReduceLROnPlateau, which needs a "
                                 "metric in step() and cannot be sequenced")
            if not isinstance(s, LRScheduler) or s.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] is not a schedule of this optimizer")
        milestones = [check_int(m, "milestones") for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"milestones must have one entry fewer than schedulers "
                             f"({len(schedulers) - 1}), got {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = check_int(last_epoch, "last_epoch", -1) + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in schedulers:          # undo the initial steps of their constructors
            s.last_epoch -= 1
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def step(self):
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for s, sd in zip(self._schedulers, state_dict["_schedulers"]):
            s.load_state_dict(sd)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by `factor` when a metric has stopped
    improving for `patience` epochs.

    ``step(metric)`` takes the metric of the epoch (e.g. a validation loss).

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}, default "min"
    factor : float, default 0.1
        In [0, 1).
    patience : int, default 10
    threshold : float, default 1e-4
    threshold_mode : {"rel", "abs"}, default "rel"
    cooldown : int, default 0
    min_lr : float or list of float, default 0
    eps : float, default 1e-8
        Changes smaller than this are not made.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import SGD, ReduceLROnPlateau
    >>> opt = SGD([np.zeros(1)], lr=1.0)
    >>> sched = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
    ...     sched.step(loss)
    >>> opt.param_groups[0]["lr"]
    0.5
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        _check_optimizer(optimizer)
        self.factor = check_hyper_float(factor, "factor", 1.0, True)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"min_lr has {len(min_lr)} values; the optimizer has {n} "
                                 "param groups")
            self.default_min_lr = None
            self.min_lrs = [check_hyper_float(v, "min_lr") for v in min_lr]
        else:
            self.default_min_lr = check_hyper_float(min_lr, "min_lr")
            self.min_lrs = [self.default_min_lr] * n
        self.patience = check_int(patience, "patience", 0)
        self.cooldown = check_int(cooldown, "cooldown", 0)
        self.eps = check_hyper_float(eps, "eps")
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode = mode
        self.threshold = check_hyper_float(threshold, "threshold")
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics):
        """Record the epoch's metric; reduce the learning rates after more
        than `patience` epochs without improvement.

        Examples
        --------
        >>> import numpy as np
        >>> from lossopt.optim import SGD, ReduceLROnPlateau
        >>> sched = ReduceLROnPlateau(SGD([np.zeros(1)], lr=1.0), patience=0)
        >>> sched.step(1.0); sched.step(1.0); sched.get_last_lr()
        [0.1]
        """
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"the optimizer has {len(groups)} param groups but "
                                   f"min_lr has {len(self.min_lrs)} values")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new
