"""The one training loop of lossopt's models.

Every model trains here: mini-batches, an optimizer of :mod:`lossopt.optim`
over one flat parameter buffer (one kernel call per step), a learning-rate
schedule, the L2 penalty, early stopping, warm starts, ``partial_fit``, a
progress bar and the history.  A model supplies what is specific to it (see
:func:`fit`).
"""

import numbers

import numpy as np

from .._validation import (check_bool, check_fraction, check_int,
                           check_nonnegative, check_positive_float)

__all__ = ["fit", "check_options", "OPTIMIZERS", "LR_SCHEDULES"]

OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
              "amsgrad", "adamw", "nadam")
LR_SCHEDULES = ("constant", "adaptive", "cosine", "exponential", "plateau")
# "adaptive": when training stalls (n_iter_no_change epochs without improvement
# by tol), divide the learning rate by ADAPTIVE_FACTOR instead of stopping, at
# most ADAPTIVE_STEPS times; the next stall then stops training
ADAPTIVE_FACTOR, ADAPTIVE_STEPS = 5.0, 4


def _make_optimizer(name, flat, lr):
    from .. import optim
    if name in ("gd", "sgd"):
        return optim.SGD(flat, lr=lr)
    if name == "momentum":
        return optim.SGD(flat, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(flat, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(flat, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(flat, lr=lr)
    if name == "adadelta":
        return optim.Adadelta(flat, lr=lr)
    if name == "adam":
        return optim.Adam(flat, lr=lr)
    if name == "amsgrad":
        return optim.Adam(flat, lr=lr, amsgrad=True)
    if name == "adamw":
        # the decay is applied by the loop (decoupled, on the penalised
        # arrays only), so the optimizer's own weight_decay is 0
        return optim.AdamW(flat, lr=lr, weight_decay=0.0)
    return optim.NAdam(flat, lr=lr)


def _make_schedule(spec, opt, max_epochs):
    from ..optim import lr_scheduler as S
    if spec is None or spec in ("constant", "adaptive"):
        return None
    if spec == "cosine":
        return S.CosineAnnealingLR(opt, T_max=max_epochs)
    if spec == "exponential":
        return S.ExponentialLR(opt, gamma=0.01 ** (1.0 / max(max_epochs, 1)))
    if spec == "plateau":
        return S.ReduceLROnPlateau(opt)
    sched = spec(opt)
    if not isinstance(sched, S.LRScheduler):
        raise TypeError("lr_schedule, a callable, must return a lossopt.optim.lr_scheduler "
                        f"schedule built on the optimizer it is given; got "
                        f"{type(sched).__name__}")
    return sched


def check_options(model):
    """The common hyper-parameters of `model`, validated, as a dict.  Raises
    before anything is written to the model."""
    m = model
    opt = m.optimizer
    if isinstance(opt, str):
        if opt not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)} or a callable "
                             f"(params, lr) -> lossopt.optim optimizer; got {opt!r}")
    elif not callable(opt):
        raise TypeError(f"optimizer must be one of {list(OPTIMIZERS)} or a callable "
                        f"(params, lr) -> lossopt.optim optimizer; got {opt!r}")
    sched = m.lr_schedule
    if not (sched is None or callable(sched) or (isinstance(sched, str)
                                                  and sched in LR_SCHEDULES)):
        raise ValueError(f"lr_schedule must be None, one of {list(LR_SCHEDULES)} or a "
                         f"callable(optimizer) -> schedule; got {sched!r}")
    batch_size = m.batch_size
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    if opt == "gd":      # full-batch gradient descent, whatever batch_size says
        batch_size = None
    rs = m.random_state
    if isinstance(rs, np.random.RandomState):   # scikit-learn's kind: seeds a Generator
        rs = int(rs.randint(np.iinfo(np.int32).max))
    elif not (rs is None or isinstance(rs, np.random.Generator)):
        rs = check_int(rs, "random_state", 0)
    tol = m.tol
    if tol is not None:
        tol = check_nonnegative(tol, "tol")
    vf = check_fraction(m.validation_fraction, "validation_fraction")
    if not 0.0 < vf < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {vf!r}")
    verbose = m.verbose
    if not isinstance(verbose, (bool, np.bool_, numbers.Integral)) or verbose < 0:
        raise TypeError(f"verbose must be a bool or an integer >= 0, got {verbose!r}")
    return dict(
        optimizer=opt,
        lr=check_positive_float(m.lr, "lr"),
        lr_schedule=sched,
        batch_size=batch_size,
        max_epochs=check_int(m.max_epochs, "max_epochs", 1),
        alpha=check_nonnegative(m.alpha, "alpha"),
        early_stopping=check_bool(m.early_stopping, "early_stopping"),
        validation_fraction=vf,
        n_iter_no_change=check_int(m.n_iter_no_change, "n_iter_no_change", 1),
        tol=tol,
        shuffle=check_bool(m.shuffle, "shuffle"),
        random_state=rs,
        warm_start=check_bool(m.warm_start, "warm_start"),
        verbose=bool(verbose),
    )


def _validation_split(model, Y, fraction, rng):
    """(train indices, validation indices): a random split, stratified by
    class for classifiers (each class keeps at least one training sample)."""
    n = Y.shape[0]
    if getattr(model, "_estimator_type", None) == "classifier":
        strata = model._strata(Y)
        val = []
        for k in np.unique(strata):
            members = np.flatnonzero(strata == k)
            members = members[rng.permutation(members.size)]
            take = min(int(round(fraction * members.size)), members.size - 1)
            val.append(members[:take])
        val = np.sort(np.concatenate(val))
    else:
        perm = rng.permutation(n)
        val = np.sort(perm[:min(int(round(fraction * n)), n - 1)])
    if val.size == 0:
        raise ValueError(f"validation_fraction={fraction} of {n} samples leaves an empty "
                         "validation set for early_stopping; raise it or pass more samples")
    mask = np.ones(n, dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val


def _take(a, idx):
    return None if a is None else np.ascontiguousarray(a[idx])


def _progress(enabled, total, name):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:      # tqdm is optional: without it, train silently
        return None
    return tqdm(total=total, desc=name, unit="epoch", leave=False)


def fit(model, X, Y, sample_weight, encoding, *, opts, partial=False):
    """Train `model` on standardised data; on success assign its learned
    attributes (`encoding`, then ``model._set_fitted(params)``) and the history.

    Parameters
    ----------
    model : BaseModel
        Supplies ``_init_params(n_features, n_outputs, rng)``,
        ``_penalised()``, ``_data_loss_and_gradient(params, X, Y, sw, grads)``,
        ``_validation_score(params, X, Y)`` and ``_set_fitted(params)``.
    X : ndarray (n_samples, n_features), float64 C-contiguous, standardised
    Y : ndarray, the model's encoded targets (first axis = samples)
    sample_weight : ndarray (n_samples,) or None
    encoding : dict
        Learned attributes from the encoding (``n_features_in_``,
        ``n_outputs_``, ``classes_``, scales...), assigned only when training
        succeeds.
    opts : dict
        From :func:`check_options`.
    partial : bool
        One epoch, continuing from the model's training state if any
        (``partial_fit``); early stopping does not apply.

    Nothing is written to the model before training has finished without
    error: a fit that raises leaves a previously fitted model as it was.
    """
    from ..optim import FlatParameters
    from ..optim.lr_scheduler import ReduceLROnPlateau

    n_features, n_outputs = encoding["n_features_in_"], encoding["n_outputs_"]
    old = getattr(model, "_train_state", None)
    if old is not None and not (partial or opts["warm_start"]):
        old = None
    if old is not None:
        shapes = [p.shape for p in old["params"]]
        expect = [p.shape for p in model._init_params(n_features, n_outputs,
                                                      np.random.default_rng(0))]
        if shapes != expect:
            raise ValueError(f"warm_start / partial_fit: the data gives parameters of shapes "
                             f"{expect}, the fitted model has {shapes} (a different number of "
                             "features, outputs or classes); fit afresh with "
                             "warm_start=False")
    rng = old["rng"] if old is not None and old["rng"] is not None else None
    if rng is None:
        rs = opts["random_state"]
        rng = np.random.default_rng(rs) if not isinstance(rs, np.random.Generator) else rs
    start = old["params"] if old is not None else model._init_params(n_features, n_outputs, rng)
    flat = FlatParameters([p.shape for p in start])
    params = [flat.params[str(i)] for i in range(len(start))]
    grads = [flat.grads[str(i)] for i in range(len(start))]
    for p, s in zip(params, start):
        p[...] = s
    flags = model._penalised()
    penalised = [(p, g) for p, g, on in zip(params, grads, flags) if on]
    alpha = opts["alpha"]

    opt_spec = opts["optimizer"]
    prev_spec = None if old is None else old.get("optimizer_spec")
    resume = old is not None and old.get("optimizer") is not None and (
        prev_spec == opt_spec if isinstance(opt_spec, str) else prev_spec is opt_spec)
    if resume:
        # the same optimizer continues from its state; a new lr replaces the
        # one it was built with (and restarts its schedule)
        opt = old["optimizer"]
        # re-point the saved state at the new flat buffer
        state = opt.state_dict()
        opt = _build_optimizer(opt_spec, flat, opts["lr"])
        opt.load_state_dict(state)
        sched = None
        if opts["lr"] != old.get("lr"):
            for group in opt.param_groups:
                group["lr"] = opts["lr"]
                group.pop("initial_lr", None)
            sched = _make_schedule(opts["lr_schedule"], opt, opts["max_epochs"])
        elif old.get("scheduler") is not None:
            sched = _make_schedule(opts["lr_schedule"], opt, opts["max_epochs"])
            if sched is not None:
                sched.load_state_dict(old["scheduler"])
    else:
        opt = _build_optimizer(opt_spec, flat, opts["lr"])
        sched = _make_schedule(opts["lr_schedule"], opt, opts["max_epochs"])
    decoupled = opt_spec == "adamw"

    early = opts["early_stopping"] and not partial
    if early:
        train_idx, val_idx = _validation_split(model, Y, opts["validation_fraction"], rng)
        X_val, Y_val = _take(X, val_idx), _take(Y, val_idx)
        X, Y, sample_weight = _take(X, train_idx), _take(Y, train_idx), \
            _take(sample_weight, train_idx)
    n = X.shape[0]
    bs = n if opts["batch_size"] is None else min(opts["batch_size"], n)
    epochs = 1 if partial else opts["max_epochs"]
    tol, patience = opts["tol"], opts["n_iter_no_change"]

    loss_curve = list(model.loss_curve_) if old is not None and hasattr(model, "loss_curve_") \
        else []
    val_scores = list(model.validation_scores_) if old is not None and \
        hasattr(model, "validation_scores_") else []
    n_iter = model.n_iter_ if old is not None and hasattr(model, "n_iter_") else 0
    best_loss, best_score, stall, reductions = np.inf, -np.inf, 0, 0
    adaptive = opts["lr_schedule"] == "adaptive"
    best_params = None
    bar = _progress(opts["verbose"], epochs, type(model).__name__)
    try:
        for epoch in range(epochs):
            if opts["shuffle"] and bs < n:
                order = rng.permutation(n)
                Xe, Ye, swe = X[order], Y[order], _take(sample_weight, order)
            else:
                Xe, Ye, swe = X, Y, sample_weight
            total, weight = 0.0, 0.0
            for lo in range(0, n, bs):
                hi = min(lo + bs, n)
                sw_b = None if swe is None else swe[lo:hi]
                loss = model._data_loss_and_gradient(params, Xe[lo:hi], Ye[lo:hi], sw_b, grads)
                if alpha:
                    loss += 0.5 * alpha * sum(float(np.vdot(w, w)) for w, _ in penalised)
                    if decoupled:
                        shrink = 1.0 - opt.param_groups[0]["lr"] * alpha
                        for w, _ in penalised:
                            w *= shrink
                    else:
                        for w, g in penalised:
                            g += alpha * w
                opt.step(flat)
                # weights are scaled to mean 1 and already inside the batch
                # mean, so every batch counts by its number of samples
                bw = float(hi - lo)
                total += bw * loss
                weight += bw
            epoch_loss = total / weight if weight > 0 else 0.0
            if not np.isfinite(epoch_loss) or not np.isfinite(flat.data).all():
                raise FloatingPointError(
                    f"{type(model).__name__}: training diverged at epoch {n_iter + 1} (the loss "
                    f"is {epoch_loss}); lower lr (now {opts['lr']}) or pick another optimizer")
            loss_curve.append(epoch_loss)
            n_iter += 1
            if sched is not None:
                if isinstance(sched, ReduceLROnPlateau):
                    sched.step(epoch_loss)
                else:
                    sched.step()
            if bar is not None:
                bar.set_postfix(loss=f"{epoch_loss:.6g}", refresh=False)
                bar.update(1)
            if early:
                score = model._validation_score(params, X_val, Y_val)
                val_scores.append(score)
            if partial or tol is None:
                if early and score > best_score:
                    best_score = score
                    best_params = flat.data.copy()
                continue
            if early:
                stall = stall + 1 if score < best_score + tol else 0
                if score > best_score:
                    best_score = score
                    best_params = flat.data.copy()
            else:
                stall = stall + 1 if epoch_loss > best_loss - tol else 0
                best_loss = min(best_loss, epoch_loss)
            if stall >= patience:
                if adaptive and reductions < ADAPTIVE_STEPS:
                    for group in opt.param_groups:
                        group["lr"] /= ADAPTIVE_FACTOR
                    reductions += 1
                    stall = 0
                    if not early:
                        # judge the smaller steps from where they start: a best
                        # loss passed on an overshoot (momentum, Adam) would
                        # otherwise count the climb back down as a stall
                        best_loss = epoch_loss
                    continue
                break
    finally:
        if bar is not None:
            bar.refresh()       # the last epoch's loss (updates redraw at most 10 times/s)
            bar.close()
    if early and best_params is not None:
        flat.data[...] = best_params
    # training succeeded: now, and only now, write to the model
    final = [p.copy() for p in params]
    if old is None:
        # a fresh fit: column names set for an earlier fit no longer apply
        for name in ("feature_names_in_", "target_name_"):
            model.__dict__.pop(name, None)
    model.__dict__.update(encoding)
    model._set_fitted(final)
    model.loss_curve_ = loss_curve
    model.validation_scores_ = val_scores
    model.n_iter_ = n_iter
    model._train_state = dict(
        params=final, optimizer=opt, optimizer_spec=opt_spec, lr=opts["lr"], rng=rng,
        scheduler=None if sched is None else sched.state_dict())
    return model


def _build_optimizer(spec, flat, lr):
    from ..optim import Optimizer
    if isinstance(spec, str):
        return _make_optimizer(spec, flat, lr)
    opt = spec(flat, lr)
    if not isinstance(opt, Optimizer):
        raise TypeError("optimizer, a callable, must return a lossopt.optim optimizer built on "
                        f"the FlatParameters it is given; got {type(opt).__name__}")
    if not any(p is flat.data for g in opt.param_groups for p in g["params"]):
        raise ValueError("optimizer, a callable, must build the optimizer on the "
                         "FlatParameters it is given (factory(params, lr) -> "
                         "Optimizer(params, lr=lr, ...))")
    return opt


# The numpydoc text of the common hyper-parameters, shared by every model's
# docstring (``{common}`` in a class docstring is replaced by it).
COMMON_PARAMETERS_DOC = """\
optimizer : str or callable, default {optimizer}
        "gd" (full-batch gradient descent: `batch_size` is ignored), "sgd",
        "momentum" (SGD, momentum 0.9), "nesterov" (SGD, Nesterov momentum
        0.9), "adagrad", "rmsprop", "adadelta", "adam", "amsgrad", "adamw"
        (`alpha` is then decoupled weight decay, Loshchilov & Hutter), "nadam"
        -- the :mod:`lossopt.optim` classes with torch's defaults -- or a
        factory ``callable(params, lr) -> optimizer`` building a
        :mod:`lossopt.optim` optimizer on `params` (a
        :class:`~lossopt.optim.FlatParameters` holding every parameter).
    lr : float, default {lr}
        The learning rate.
    lr_schedule : None, str or callable, default {lr_schedule}
        None or "constant"; "adaptive" (as scikit-learn's MLP: when training
        stalls -- `n_iter_no_change` epochs without improvement by `tol` --
        the learning rate is divided by 5 instead of stopping, at most 4
        times, and improvement is then measured from the loss at the
        reduction (not from a lower loss passed on an overshoot); the next
        stall stops); "cosine" (cosine annealing to 0 over
        `max_epochs`); "exponential" (to 1% of `lr` at `max_epochs`);
        "plateau" (:class:`~lossopt.optim.ReduceLROnPlateau` on the training
        loss); or ``callable(optimizer) -> schedule`` of
        :mod:`lossopt.optim.lr_scheduler`.  Stepped once per epoch.
    batch_size : int or None, default {batch_size}
        Samples per mini-batch (None: the full batch).
    max_epochs : int, default {max_epochs}
        Passes over the training data at most (``partial_fit`` makes one).
    alpha : float, default {alpha}
        L2 penalty: the objective is the mean loss + (alpha/2)·‖w‖² over the
        weights (the intercepts are not penalised), in the standardised space.
    early_stopping : bool, default False
        Hold out `validation_fraction` of the training data (stratified for
        classifiers), stop when its score (accuracy or R²) has not improved by
        `tol` for `n_iter_no_change` epochs, and keep the best parameters.
    validation_fraction : float in (0, 1), default 0.1
    n_iter_no_change : int, default {n_iter_no_change}
        Epochs without improvement (of the training objective by `tol`, or of
        the validation score with `early_stopping`) before training stops.
    tol : float or None, default {tol}
        The improvement that counts; None trains for `max_epochs` epochs.
    shuffle : bool, default True
        Shuffle the training data every epoch (mini-batches only).
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default None
        Seeds ``np.random.default_rng`` for shuffling, the validation split
        and any random initialisation: the same int gives bit-identical runs.
    warm_start : bool, default False
        A new ``fit`` continues from the fitted parameters and optimizer state
        (and extends the history) instead of starting afresh.  It keeps the
        fitted standardisation and classes (y must hold the same classes); a
        changed ``lr`` replaces the optimizer's (and restarts its schedule), a
        changed ``optimizer`` starts a fresh optimizer from the parameters.
    verbose : bool, default False
        Show a tqdm progress bar with the running loss (tqdm is the optional
        extra ``lossopt[progress]``; without it training is silent)."""


def common_parameters_doc(**defaults):
    """COMMON_PARAMETERS_DOC with a model's defaults filled in (strings quoted)."""
    return COMMON_PARAMETERS_DOC.format(**{k: (f'"{v}"' if isinstance(v, str) else v)
                                           for k, v in defaults.items()})
