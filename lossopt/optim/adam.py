"""The Adam family: Adam (and AMSGrad), AdamW, NAdam, RAdam, Adamax.
Kernels: ``lossopt_adam_*``, ``lossopt_nadam_*``, ``lossopt_radam_*``,
``lossopt_adamax_*`` in ``src/lossopt_optim.h``."""

from .optimizer import Optimizer, bias_correction, zeros_like

__all__ = ["Adam", "AdamW", "NAdam", "RAdam", "Adamax"]


class _AdamBase(Optimizer):
    """First and second moments, shared by Adam, AdamW, NAdam and RAdam."""

    _state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _state_options = {"max_exp_avg_sq": ("amsgrad", "amsgrad")}

    def _init_state(self, group, p):
        state = {"step": 0, "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}
        if group.get("amsgrad"):
            state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def _moment_args(self, group, state, p, decoupled):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        args = self._common_args(group, coupled_wd=not decoupled)
        args.update(lr=group["lr"], w1=1 - beta1, beta2=beta2, eps=group["eps"])
        return args, beta1, beta2, state["step"]


class Adam(_AdamBase):
    r"""Adam, with AMSGrad as a flag (``torch.optim.Adam``).

    *The lecture's notation* (step :math:`k = 1, 2, \dots`, moments
    :math:`v_0 = r_0 = 0`):

    .. math::

        v \leftarrow \mu v + (1 - \mu)\, g, \qquad
        r \leftarrow \rho r + (1 - \rho)\, g \odot g,

        \hat v = \frac{v}{1 - \mu^k}, \qquad \hat r = \frac{r}{1 - \rho^k},
        \qquad w \leftarrow w - \eta\, \frac{\hat v}{\sqrt{\hat r} + \epsilon} .

    *Bias correction*: the moments start at 0, so early on they are biased
    towards 0 by the factors :math:`1 - \mu^k` and :math:`1 - \rho^k`, which
    :math:`\hat v, \hat r` divide out.

    *AMSGrad* (``amsgrad=True``; Reddi et al., 2018): Adam can fail to
    converge even on convex problems, because :math:`\hat r` may shrink and
    the effective step grow.  AMSGrad keeps the running maximum
    :math:`r_{\max} \leftarrow \max(r_{\max}, r)` and uses it in place of
    :math:`r`, so the step size never increases.

    *torch's names and form*: :math:`\mu, \rho` = ``betas`` :math:`(\beta_1,
    \beta_2)`, :math:`v` = ``exp_avg`` :math:`m`, :math:`r` = ``exp_avg_sq``,
    :math:`r_{\max}` = ``max_exp_avg_sq``; the same update, computed as

    .. math::

        w \leftarrow w - \frac{\eta}{1 - \beta_1^t}\,
        \frac{m}{\sqrt{r'} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`r' = r_{\max}` (AMSGrad, whose maximum is taken over the
    uncorrected :math:`r`) or :math:`r`.  The gradient :math:`g` includes the
    L2 term :math:`\lambda w` with ``weight_decay`` (coupled, unlike
    :class:`AdamW`) and is negated with ``maximize``.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Each in [0, 1).
    eps : float, default 1e-8
    weight_decay : float, default 0
    amsgrad : bool, default False
    maximize : bool, default False
    decoupled_weight_decay : bool, default False
        Decay the weights as :class:`AdamW` does (``Adam(...,
        decoupled_weight_decay=True)`` is ``AdamW``).

    Notes
    -----
    State per parameter: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"`` and,
    with AMSGrad, ``"max_exp_avg_sq"``.  One compiled pass per parameter
    array.  torch's ``foreach``, ``fused``, ``capturable`` and
    ``differentiable`` flags are not offered (every step here is fused).

    Examples
    --------
    The lecture's exercise: :math:`\eta = 1, \mu = 0.01, \rho = 0.02`, from
    :math:`w = 1` with gradients 1 then 0.5.

    >>> import numpy as np
    >>> from lossopt.optim import Adam
    >>> w = np.array([1.0])
    >>> opt = Adam([w], lr=1.0, betas=(0.01, 0.02), eps=1e-8)
    >>> opt.step([np.array([1.0])]); w      # 1 - 1 / (1 + 1e-8)
    array([9.99999983e-09])
    >>> opt.step([np.array([0.5])]); float(w[0])
    -0.9814473195614205
    """

    _algorithm = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _step_args(self, group, state, p):
        args, beta1, beta2, step = self._moment_args(group, state, p,
                                                     group["decoupled_weight_decay"])
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = zeros_like(p)
            args["amsgrad"] = 1
        args.update(c1=group["lr"] / bias_correction(beta1, step),
                    c2=bias_correction(beta2, step) ** 0.5)
        return args


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (``torch.optim.AdamW``).

    L2 regularisation inside Adam (``Adam(weight_decay=...)``) adds
    :math:`\lambda w` to the gradient, so the penalty is rescaled by the
    adaptive denominator.  AdamW (Loshchilov & Hutter, 2019) instead shrinks
    the weights directly before the Adam step:

    .. math::

        w \leftarrow (1 - \eta \lambda)\, w, \qquad
        w \leftarrow w - \frac{\eta}{1 - \beta_1^t}\,
        \frac{m}{\sqrt{r'} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`m, r, r'` as in :class:`Adam` (computed from the gradient
    without an L2 term).  In the lecture's notation the first step is the
    regulariser's shrinkage :math:`w \leftarrow w - \eta \nabla R(w)` with
    :math:`R = \tfrac{\lambda}{2}\lVert w\rVert^2`.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
        :math:`\lambda`.
    amsgrad : bool, default False
    maximize : bool, default False

    Examples
    --------
    With a zero gradient only the decay acts: :math:`w (1 - \eta\lambda)`.

    >>> import numpy as np
    >>> from lossopt.optim import AdamW
    >>> w = np.array([2.0])
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> opt.step([np.zeros(1)]); w
    array([1.9])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class NAdam(_AdamBase):
    r"""NAdam: Adam with Nesterov momentum (``torch.optim.NAdam``, Dozat 2016).

    *The lecture's notation*: Adam whose first-moment step looks ahead like
    Nesterov's, i.e. the update uses :math:`\mu_{t+1} \hat v_{t+1}`-style
    look-ahead momentum plus the current gradient's share.

    *torch's form*, which this class computes, with momentum schedule
    :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t \psi})` (``momentum_decay``
    :math:`\psi`) and :math:`\Pi_t = \prod_{i \le t} \mu_i` (``mu_product``):

    .. math::

        m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        r \leftarrow \beta_2 r + (1 - \beta_2) g^2, \qquad
        s = \sqrt{r / (1 - \beta_2^t)} + \epsilon,

        w \leftarrow w - \eta \frac{1 - \mu_t}{1 - \Pi_t} \frac{g}{s}
                       - \eta \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}} \frac{m}{s} .

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum_decay : float, default 4e-3
    decoupled_weight_decay : bool, default False
        Decay the weights AdamW-style, :math:`w \leftarrow (1 - \eta\lambda) w`,
        instead of adding :math:`\lambda w` to the gradient.
    maximize : bool, default False

    Notes
    -----
    State per parameter: ``"step"``, ``"mu_product"`` (a float),
    ``"exp_avg"``, ``"exp_avg_sq"``.  ``mu_product`` is a Python float
    (float64); torch keeps it in its default scalar dtype, float32 unless
    ``torch.set_default_dtype(torch.float64)``, so float64 trajectories match
    torch's to rounding only in that setting.

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import NAdam
    >>> w = np.array([1.0])
    >>> opt = NAdam([w], lr=0.1)
    >>> opt.step([np.array([1.0])]); round(float(w[0]), 6)  # 1 - lr - lr mu2 m / (1 - mu1 mu2)
    0.894355
    """

    _algorithm = "nadam"
    _state_scalars = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _init_state(self, group, p):
        state = super()._init_state(group, p)
        state["mu_product"] = 1.0
        return state

    def _step_args(self, group, state, p):
        args, beta1, beta2, step = self._moment_args(group, state, p,
                                                     group["decoupled_weight_decay"])
        lr, psi = group["lr"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        args.update(c1=-lr * (1.0 - mu) / (1.0 - mu_product),
                    c2=(-lr * mu_next) / (1.0 - mu_product * mu_next),
                    c3=bias_correction(beta2, step))
        return args


class RAdam(_AdamBase):
    r"""RAdam: Adam with a rectified adaptive rate (``torch.optim.RAdam``,
    Liu et al., 2020).

    Early on the variance of Adam's adaptive rate :math:`1/\sqrt{\hat r}` is
    large; RAdam uses plain bias-corrected momentum until the length of the
    approximated simple moving average,
    :math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)` with
    :math:`\rho_\infty = 2 / (1 - \beta_2) - 1`, exceeds 5, then rectifies:

    .. math::

        \hat m = \frac{m}{1 - \beta_1^t}, \qquad
        w \leftarrow \begin{cases}
        w - \eta\, \hat m\, \frac{\sqrt{1 - \beta_2^t}}{\sqrt{r} + \epsilon}\, \varrho_t
            & \rho_t > 5 \\
        w - \eta\, \hat m & \text{else} \end{cases}

    with :math:`\varrho_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}
    {(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}` and :math:`m, r` Adam's
    moments (lecture: :math:`v, r`).

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    decoupled_weight_decay : bool, default False
    maximize : bool, default False

    Examples
    --------
    The first steps are bias-corrected momentum: :math:`w - \eta g`.

    >>> import numpy as np
    >>> from lossopt.optim import RAdam
    >>> w = np.array([1.0])
    >>> opt = RAdam([w], lr=0.25)
    >>> opt.step([np.array([2.0])]); w
    array([0.5])
    """

    _algorithm = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _step_args(self, group, state, p):
        args, beta1, beta2, step = self._moment_args(group, state, p,
                                                     group["decoupled_weight_decay"])
        bc1 = bias_correction(beta1, step)
        bc2 = bias_correction(beta2, step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        args.update(c1=bc1, c2=bc2 ** 0.5)
        if rho_t > 5.0:
            args.update(rectify=1, c3=((rho_t - 4) * (rho_t - 2) * rho_inf
                                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5)
        return args


class Adamax(Optimizer):
    r"""Adamax: Adam with the infinity norm (``torch.optim.Adamax``, Kingma &
    Ba, 2015).

    The second moment becomes an exponentially weighted maximum of
    :math:`|g|`, which needs no bias correction:

    .. math::

        m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        u \leftarrow \max(\beta_2 u,\ |g| + \epsilon), \qquad
        w \leftarrow w - \frac{\eta}{1 - \beta_1^t} \frac{m}{u} .

    As in torch, :math:`\epsilon` is added to :math:`|g|` inside the maximum
    (so :math:`u > 0`), not to the denominator.  In the lecture's notation
    :math:`m` is :math:`v` and the bias correction is that of Adam's
    :math:`\hat v`.

    Parameters
    ----------
    params : list of arrays, dict name -> array, list of param-group dicts, or FlatParameters
        Writable C-contiguous float32/float64 arrays, updated in place.
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    maximize : bool, default False

    Notes
    -----
    State per parameter: ``"step"``, ``"exp_avg"`` (:math:`m`), ``"exp_inf"``
    (:math:`u`).

    Examples
    --------
    >>> import numpy as np
    >>> from lossopt.optim import Adamax
    >>> w = np.array([1.0])
    >>> opt = Adamax([w], lr=0.5, eps=0.0)
    >>> opt.step([np.array([-4.0])]); w     # 1 + 0.5 * 4 / 4
    array([1.5])
    """

    _algorithm = "adamax"
    _state_arrays = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, group, p):
        return {"step": 0, "exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}

    def _step_args(self, group, state, p):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        args = self._common_args(group)
        args.update(w1=1 - beta1, beta2=beta2, eps=group["eps"],
                    c1=group["lr"] / bias_correction(beta1, state["step"]))
        return args
