"""Per-parameter learning rates from accumulated squared gradients: AdaGrad,
RMSProp, Adadelta.  Kernels: ``lossopt_adagrad_*``, ``lossopt_rmsprop_*``,
``lossopt_adadelta_*`` in ``src/lossopt_optim.h``."""

from .._validation import check_hyper_float
from .optimizer import Optimizer, full_like, zeros_like

__all__ = ["Adagrad", "RMSprop", "Adadelta"]


class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter rates from the sum of all squared gradients
    (``torch.optim.Adagrad``).

    *The lecture's notation*: :math:`r \leftarrow r + g \odot g`,
    :math:`w \leftarrow w - \eta\, g / \sqrt{r}` (element-wise).  The rates
    only shrink, which is AdaGrad's weakness (they decay too aggressively).

    *torch's form*, which this class computes, at step :math:`t = 1, 2, \dots`
    with :math:`g` the gradient (:math:`+\,\lambda w` with ``weight_decay``;
    negated with ``maximize``) and :math:`r_0` = ``initial_accumulator_value``:

    .. math::

        \eta_t = \frac{\eta}{1 + (t - 1)\,\delta}, \qquad
        r \leftarrow r + g \odot g, \qquad
        w \leftarrow w - \eta_t\, \frac{g}{\sqrt{r} + \epsilon}

    with ``lr_decay`` :math:`\delta`.  The :math:`\epsilon` outside the root
    keeps the first step finite where :math:`g = 0`.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-2
    lr_decay : float, default 0
    weight_decay : float, default 0
    initial_accumulator_value : float, default 0
    eps : float, default 1e-10
    maximize : bool, default False

    Notes
    -----
    State per parameter: ``"step"`` and ``"sum"`` (:math:`r`).  torch creates
    the state when the optimizer is built; here it is created at a
    parameter's first step (``state_dict`` before any step is empty).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import Adagrad
    >>> w = np.array([1.0])
    >>> opt = Adagrad([w], lr=0.5)
    >>> opt.step([np.array([2.0])]); w     # 1 - 0.5 * 2 / sqrt(4)
    array([0.5])
    """

    _algorithm = "adagrad"
    _state_arrays = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _init_state(self, group, p):
        return {"step": 0, "sum": full_like(p, group["initial_accumulator_value"])}

    def _step_args(self, group, state, p):
        state["step"] += 1
        args = self._common_args(group)
        args.update(eps=group["eps"],
                    c1=group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"]))
        return args


class RMSprop(Optimizer):
    r"""RMSProp: per-parameter rates from a running average of squared
    gradients (``torch.optim.RMSprop``).

    *The lecture's notation*: :math:`r \leftarrow \rho r + (1 - \rho)\, g
    \odot g`, :math:`w \leftarrow w - \eta\, g / \sqrt{r}`, with
    :math:`\rho = 0.9` and :math:`\eta = 0.001` suggested.  torch calls
    :math:`\rho` ``alpha`` (default 0.99).

    *torch's form*, which this class computes, with :math:`g` the gradient
    (:math:`+\,\lambda w` with ``weight_decay``; negated with ``maximize``):

    .. math::

        r \leftarrow \alpha r + (1 - \alpha)\, g^2, \qquad
        s = \begin{cases} \sqrt{r - \bar g^2} + \epsilon & \text{centered, }
        \bar g \leftarrow \alpha \bar g + (1 - \alpha) g \\
        \sqrt{r} + \epsilon & \text{else} \end{cases}

    then :math:`b \leftarrow \mu b + g / s,\ w \leftarrow w - \eta b` with
    ``momentum`` :math:`\mu > 0`, else :math:`w \leftarrow w - \eta\, g / s`.
    ``centered`` divides by an estimate of the gradient's standard deviation
    instead of its root mean square.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-2
    alpha : float, default 0.99
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum : float, default 0
    centered : bool, default False
    maximize : bool, default False

    Notes
    -----
    State per parameter: ``"step"``, ``"square_avg"`` (:math:`r`), and
    ``"momentum_buffer"`` (with momentum) and ``"grad_avg"`` (centered).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import RMSprop
    >>> w = np.array([1.0])
    >>> opt = RMSprop([w], lr=0.1, alpha=0.75, eps=0.0)
    >>> opt.step([np.array([2.0])]); w     # 1 - 0.1 * 2 / sqrt(0.25 * 4)
    array([0.8])
    """

    _algorithm = "rmsprop"
    _state_arrays = ("square_avg", "grad_avg", "momentum_buffer")
    _state_options = {"grad_avg": ("centered", "centered"),
                      "momentum_buffer": ("momentum", "with_momentum")}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize))

    def _init_state(self, group, p):
        return {"step": 0, "square_avg": zeros_like(p)}

    def _step_args(self, group, state, p):
        state["step"] += 1
        args = self._common_args(group)
        args.update(lr=group["lr"], beta2=group["alpha"], eps=group["eps"])
        if group["centered"]:
            if "grad_avg" not in state:
                state["grad_avg"] = zeros_like(p)
            args["centered"] = 1
        if group["momentum"] > 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like(p)
            args.update(momentum=group["momentum"], with_momentum=1)
        return args


class Adadelta(Optimizer):
    r"""Adadelta: RMSProp whose step size comes from a running average of
    the past squared updates (``torch.optim.Adadelta``).

    *The lecture's notation*: the learning rate :math:`\eta` is replaced by
    :math:`\sqrt{\text{running average of } \Delta w^2}`, with :math:`\rho =
    0.95` suggested (torch's default is 0.9).

    *torch's form*, which this class computes, with :math:`g` the gradient
    (:math:`+\,\lambda w` with ``weight_decay``; negated with ``maximize``):

    .. math::

        r \leftarrow \rho r + (1 - \rho) g^2, \qquad
        u = \frac{\sqrt{D + \epsilon}}{\sqrt{r + \epsilon}}\, g, \qquad
        D \leftarrow \rho D + (1 - \rho) u^2, \qquad
        w \leftarrow w - \eta\, u .

    torch keeps a learning rate :math:`\eta` (default 1.0) that multiplies the
    update :math:`u`; with :math:`\eta = 1` this is Zeiler's rule.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1.0
    rho : float, default 0.9
        In [0, 1].
    eps : float, default 1e-6
    weight_decay : float, default 0
    maximize : bool, default False

    Notes
    -----
    State per parameter: ``"step"``, ``"square_avg"`` (:math:`r`) and
    ``"acc_delta"`` (:math:`D`).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import Adadelta
    >>> w = np.array([1.0])
    >>> opt = Adadelta([w], rho=0.0, eps=1.0)
    >>> opt.step([np.array([3.0])]); w     # 1 - sqrt(0 + 1) / sqrt(9 + 1) * 3
    array([0.0513167])
    """

    _algorithm = "adadelta"
    _state_arrays = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, group):
        super()._check_group(group)
        group["rho"] = check_hyper_float(group["rho"], "rho", 1.0)

    def _init_state(self, group, p):
        return {"step": 0, "square_avg": zeros_like(p), "acc_delta": zeros_like(p)}

    def _step_args(self, group, state, p):
        state["step"] += 1
        args = self._common_args(group)
        args.update(lr=group["lr"], beta2=group["rho"], eps=group["eps"])
        return args
