"""Stochastic gradient descent: plain, heavy-ball momentum and Nesterov.
Kernel: ``lossopt_sgd_*`` in ``src/lossopt_optim.h``."""

from .optimizer import Optimizer, zeros_like

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and Nesterov
    momentum (``torch.optim.SGD``).

    *The lecture's notation* (learning rate :math:`\eta`, momentum
    :math:`\mu`, velocity :math:`v`, :math:`v_0 = 0`):

    .. math::

        v \leftarrow \mu v - \eta \nabla L(w), \qquad w \leftarrow w + v .

    Plain SGD is :math:`\mu = 0`: :math:`w \leftarrow w - \eta \nabla L(w)`.
    Nesterov evaluates the gradient at the look-ahead point :math:`w + \mu v`.

    *torch's form*, which this class computes, with :math:`g = \nabla L(w)`
    (:math:`+\,\lambda w` with ``weight_decay`` :math:`\lambda`; negated with
    ``maximize``) and a buffer :math:`b` (``momentum_buffer``):

    .. math::

        b_1 = g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t, \qquad
        d_t = \begin{cases} g_t + \mu b_t & \text{nesterov} \\ b_t & \text{else}
        \end{cases}, \qquad w \leftarrow w - \eta\, d_t

    with dampening :math:`\tau`.  *How they map*: with :math:`\tau = 0` and a
    constant :math:`\eta`, :math:`v_t = -\eta\, b_t` (multiply torch's buffer
    recursion by :math:`-\eta`), so both produce the same iterates.  They differ
    when :math:`\eta` changes (a schedule): torch's buffer holds gradients, so
    a new :math:`\eta` applies at once to the whole accumulated velocity.
    torch's Nesterov step :math:`w \leftarrow w - \eta (g + \mu b)` is the
    look-ahead rule rewritten for the iterate :math:`w + \mu v` (Sutskever et
    al., 2013), so no second gradient evaluation is needed.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-3
        :math:`\eta` (torch's default since 2.x).
    momentum : float, default 0
        :math:`\mu` (the lecture suggests 0.9, 0.95 or 0.99).
    dampening : float, default 0
        :math:`\tau`.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`, added to the gradient: :math:`g + \lambda w`.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default False
        Ascend: the gradient is negated.

    Notes
    -----
    State per parameter: ``"momentum_buffer"`` (created at its first step
    with ``momentum != 0``).  One compiled pass per parameter array reads
    :math:`w, g, b` and writes :math:`w, b`, in the data's precision (float32
    data in float32 arithmetic, as torch), the scalars rounded once from
    float64.

    Examples
    --------
    The lecture's exercise: :math:`\eta = 1`, :math:`\mu = 0.9`, from
    :math:`w = 1` with gradient 1 twice.

    >>> import numpy as np
    >>> from lossopt.optim import SGD
    >>> w = np.array([1.0])
    >>> opt = SGD([w], lr=1.0, momentum=0.9)
    >>> opt.step([np.ones(1)]); w
    array([0.])
    >>> opt.step([np.ones(1)]); w
    array([-1.9])
    """

    _algorithm = "sgd"
    _state_arrays = ("momentum_buffer",)
    _state_scalars = ()
    _state_options = {"momentum_buffer": ("momentum", "with_momentum")}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, group):
        super()._check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening == 0")

    def _init_state(self, group, p):
        return {}

    def _step_args(self, group, state, p):
        args = self._common_args(group)
        args["lr"] = group["lr"]
        mu = group["momentum"]
        if mu != 0:
            first = "momentum_buffer" not in state
            if first:
                state["momentum_buffer"] = zeros_like(p)
            args.update(momentum=mu, dampening=group["dampening"], with_momentum=1,
                        first=int(first), nesterov=int(group["nesterov"]))
        return args
