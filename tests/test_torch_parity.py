"""Against PyTorch, where it is installed (it is not a test dependency): the
same values and autograd gradients for every option both libraries share."""

import itertools

import numpy as np
import pytest

import lossopt

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("kind, weighted, eps, reduction, ignore", [
    case for case in itertools.product(["labels", "probs"], [False, True], [0.0, 0.15],
                                       ["mean", "sum", "none"], [-100, 2])
    if not (case[0] == "probs" and case[4] != -100)])  # torch: no ignore_index with probs
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_matches_torch(rng, kind, weighted, eps, reduction, ignore, dtype):
    n, c = 12, 6
    logits = (rng.normal(size=(n, c)) * 3).astype(dtype)
    if kind == "labels":
        target = rng.integers(0, c, size=n)
        target[:2] = ignore if ignore >= 0 else -100
        t_target = torch.from_numpy(target)
    else:
        target = rng.dirichlet(np.ones(c), size=n).astype(dtype)
        t_target = torch.from_numpy(target)
    w = rng.uniform(0.2, 2.0, size=c) if weighted else None
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    ref = F.cross_entropy(z, t_target, weight=None if w is None else torch.from_numpy(
        w.astype(dtype)), ignore_index=ignore, reduction=reduction, label_smoothing=eps)
    (ref if reduction != "none" else ref.sum()).backward()
    loss = lossopt.SoftmaxCrossEntropy(class_weight=w, label_smoothing=eps,
                                       ignore_index=ignore, reduction=reduction)
    value, grad = loss.loss_and_gradient(logits, target)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(value, ref.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=rtol, atol=1e-7 if dtype == np.float32
                               else 1e-15)


def test_cross_entropy_class_axis_matches_torch(rng):
    logits = rng.normal(size=(4, 5, 3, 2))
    target = rng.integers(0, 5, size=(4, 3, 2))
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    ref = F.cross_entropy(z, torch.from_numpy(target), label_smoothing=0.1)
    ref.backward()
    value, grad = lossopt.SoftmaxCrossEntropy(label_smoothing=0.1, axis=1).loss_and_gradient(
        logits, target)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-13)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("shape", [(50,), (20, 3)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_squared_error_relation_to_mse_loss(rng, shape, reduction):
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    p = torch.from_numpy(pred.copy()).requires_grad_(True)
    ref = F.mse_loss(p, torch.from_numpy(target), reduction=reduction)
    ref.backward()
    k = 1 if len(shape) == 1 else shape[1]
    factor = 2.0 / k if reduction == "mean" else 2.0
    value, grad = lossopt.SquaredError(reduction=reduction).loss_and_gradient(pred, target)
    np.testing.assert_allclose(factor * value, ref.item(), rtol=1e-14)
    np.testing.assert_allclose(factor * grad, p.grad.numpy(), rtol=1e-14)


def test_logsumexp_and_softmax_match_torch(rng):
    x = rng.normal(size=(30, 11)) * 10
    t = torch.from_numpy(x)
    np.testing.assert_allclose(lossopt.logsumexp(x, axis=1), torch.logsumexp(t, 1).numpy(),
                               rtol=1e-14)
    np.testing.assert_allclose(lossopt.softmax(x, axis=1), torch.softmax(t, 1).numpy(),
                               rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(lossopt.log_softmax(x, axis=1),
                               torch.log_softmax(t, 1).numpy(), rtol=1e-13, atol=1e-14)


# ------------------------------------------------------ element-wise losses --
# lossopt's per-sample loss sums the K outputs and its mean divides by N;
# torch's mean divides by N*K.  So torch mean == lossopt mean / K, torch sum ==
# lossopt sum, and torch's "none" summed over the outputs == lossopt's "none".

def _torch_vs_lossopt(torch_fn, ours, arrays, reduction, dtype, grad_index=(0,)):
    """Run torch_fn(*tensors, reduction) with autograd and ours(reduction)
    (-> value, grads); compare values and gradients."""
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
               for a in arrays]
    for i in grad_index:
        tensors[i].requires_grad_(True)
    ref = torch_fn(*tensors, reduction)
    (ref if reduction != "none" else ref.sum()).backward()
    value, grads = ours(reduction)
    shape = arrays[0].shape
    k = 1 if len(shape) == 1 else int(np.prod(shape[1:]))
    factor = k if reduction == "mean" else 1
    ref_value = ref.detach().numpy()
    if reduction == "none":
        ref_value = ref_value.reshape(shape[0], -1).sum(axis=1)
    rtol = 1e-13 if dtype == np.float64 else 2e-5
    atol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(np.asarray(value) / factor, ref_value, rtol=rtol, atol=atol)
    for i, g in zip(grad_index, grads):
        np.testing.assert_allclose(np.asarray(g) / factor, tensors[i].grad.numpy(), rtol=rtol,
                                   atol=atol)


SHAPES = [(12,), (12, 3)]
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l1_loss(rng, shape, reduction, dtype):
    pred, target = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    pred.reshape(-1)[0] = target.reshape(-1)[0]                 # the kink: both give 0
    loss = lossopt.AbsoluteError(reduction=reduction)
    _torch_vs_lossopt(lambda p, t, r: F.l1_loss(p, t, reduction=r),
                      lambda r: (lambda v, g: (v, [g]))(*loss.loss_and_gradient(pred, target)),
                      [pred, target], reduction, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huber_loss(rng, shape, reduction, delta, dtype):
    pred = (rng.normal(size=shape) * 2).astype(dtype)
    target = rng.normal(size=shape).astype(dtype)
    pred.reshape(-1)[0] = target.reshape(-1)[0] + delta         # at the threshold
    loss = lossopt.Huber(delta=delta, reduction=reduction)
    _torch_vs_lossopt(lambda p, t, r: F.huber_loss(p, t, reduction=r, delta=delta),
                      lambda r: (lambda v, g: (v, [g]))(*loss.loss_and_gradient(pred, target)),
                      [pred, target], reduction, dtype)


def test_huber_loss_weight_is_sample_weight_with_sum(rng):
    pred, target, w = rng.normal(size=10) * 2, rng.normal(size=10), rng.uniform(size=10)
    p = torch.from_numpy(pred.copy()).requires_grad_(True)
    ref = F.huber_loss(p, torch.from_numpy(target), reduction="sum", weight=torch.from_numpy(w))
    ref.backward()
    value, grad = lossopt.Huber(reduction="sum").loss_and_gradient(pred, target, w)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-14)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("var_kind", ["full", "per_sample", "float"])
@pytest.mark.parametrize("full, eps", [(False, 1e-6), (True, 1e-6), (True, 0.2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_nll_loss(rng, var_kind, full, eps, reduction, dtype):
    shape = (9, 3)
    pred, target = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    var = {"full": rng.uniform(0.05, 2.0, size=shape).astype(dtype),
           "per_sample": rng.uniform(0.05, 2.0, size=9).astype(dtype),
           "float": 0.7}[var_kind]
    if var_kind == "full":
        var[0, 0] = eps / 4                    # clamped: torch does not differentiate it
    loss = lossopt.GaussianNLL(full=full, eps=eps, reduction=reduction)

    def ours(r):
        value, (g_pred, g_var) = loss.loss_and_gradient(pred, target, var)
        return value, [g_pred, g_var]
    _torch_vs_lossopt(
        lambda p, t, v, r: F.gaussian_nll_loss(p, t, v, full=full, eps=eps, reduction=r),
        (lambda r: (lambda v, g: (v, g[:1]))(*ours(r))) if var_kind == "float" else ours,
        [pred, target, var], reduction, dtype,
        grad_index=(0,) if var_kind == "float" else (0, 2))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("log_input, full, eps", [(True, False, 1e-8), (True, True, 1e-8),
                                                  (False, False, 1e-8), (False, True, 0.1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_poisson_nll_loss(rng, shape, log_input, full, eps, reduction, dtype):
    target = rng.poisson(3.0, size=shape).astype(dtype)
    target.reshape(-1)[:3] = [0.0, 1.0, 0.5]
    pred = (rng.normal(size=shape) if log_input else rng.uniform(0.1, 4.0, size=shape))
    pred = pred.astype(dtype)
    loss = lossopt.PoissonNLL(log_input=log_input, full=full, eps=eps, reduction=reduction)
    _torch_vs_lossopt(
        lambda p, t, r: F.poisson_nll_loss(p, t, log_input=log_input, full=full, eps=eps,
                                           reduction=r),
        lambda r: (lambda v, g: (v, [g]))(*loss.loss_and_gradient(pred, target)),
        [pred, target], reduction, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pos_weight", [None, "scalar", "per_output"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_with_logits(rng, shape, pos_weight, label_smoothing, reduction,
                                          dtype):
    x = (rng.normal(size=shape) * 4).astype(dtype)
    x.reshape(-1)[:4] = [40.0, -40.0, 800.0, -800.0]
    t = rng.uniform(size=shape).astype(dtype)
    t.reshape(-1)[:4] = [1.0, 0.0, 1.0, 0.0]
    pw = {None: None, "scalar": np.array(2.5, dtype),
          "per_output": rng.uniform(0.2, 3.0, size=shape[1:]).astype(dtype)}[pos_weight]
    smoothed = (t * (1 - label_smoothing) + label_smoothing / 2).astype(dtype)
    loss = lossopt.BinaryCrossEntropy(pos_weight=pw, label_smoothing=label_smoothing,
                                      reduction=reduction)
    _torch_vs_lossopt(
        lambda z, y, r: F.binary_cross_entropy_with_logits(
            z, y, pos_weight=None if pw is None else torch.from_numpy(pw), reduction=r),
        lambda r: (lambda v, g: (v, [g]))(*loss.loss_and_gradient(x, t)),
        [x, smoothed], reduction, dtype)


def test_binary_cross_entropy_weight_is_sample_weight_with_sum(rng):
    x, t, w = rng.normal(size=(8, 2)), rng.uniform(size=(8, 2)), rng.uniform(size=8)
    z = torch.from_numpy(x.copy()).requires_grad_(True)
    ref = F.binary_cross_entropy_with_logits(z, torch.from_numpy(t),
                                             weight=torch.from_numpy(w[:, None]),
                                             pos_weight=torch.tensor([0.5, 3.0],
                                                                     dtype=torch.float64),
                                             reduction="sum")
    ref.backward()
    value, grad = lossopt.BinaryCrossEntropy(pos_weight=[0.5, 3.0],
                                             reduction="sum").loss_and_gradient(x, t, w)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-14)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("reduction, log_target", itertools.product(["mean", "sum", "none"],
                                                                    [False, True]))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kl_divergence_matches_kl_div_of_log_softmax(rng, reduction, log_target, dtype):
    n, c = 12, 6
    logits = (rng.normal(size=(n, c)) * 3).astype(dtype)
    target = rng.dirichlet(np.ones(c), size=n)
    target = target.astype(dtype)
    if log_target:
        # a log-target of -inf: torch NaN (0 * -inf), lossopt 0 (documented)
        target = np.log(target)
    else:
        target[0, 2] = 0.0                               # 0 ln 0 = 0 (torch: xlogy)
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    t_red = {"mean": "batchmean", "sum": "sum", "none": "none"}[reduction]
    ref = F.kl_div(F.log_softmax(z, dim=1), torch.from_numpy(target), reduction=t_red,
                   log_target=log_target)
    if reduction == "none":
        ref = ref.sum(dim=1)                             # torch: element-wise terms
    (ref if reduction != "none" else ref.sum()).backward()
    value, grad = lossopt.KLDivergence(log_target=log_target, reduction=reduction) \
        .loss_and_gradient(logits, target)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(value, ref.detach().numpy(), rtol=rtol,
                               atol=1e-15 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=rtol,
                               atol=1e-15 if dtype == np.float64 else 1e-7)


def test_kl_divergence_class_axis_matches_torch(rng):
    logits = rng.normal(size=(4, 5, 3))
    target = rng.dirichlet(np.ones(5), size=(4, 3)).transpose(0, 2, 1).copy()
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    ref = F.kl_div(F.log_softmax(z, dim=1), torch.from_numpy(target), reduction="sum")
    ref.backward()
    value, grad = lossopt.KLDivergence(axis=1, reduction="sum").loss_and_gradient(logits,
                                                                                  target)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-13)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-12, atol=1e-16)


def test_kl_divergence_mean_over_extra_axes_vs_batchmean(rng):
    """(N, C, d) logits: lossopt's mean divides by the N*d distributions,
    torch's batchmean by N only (documented): torch = ours * d."""
    logits = rng.normal(size=(4, 5, 3))
    target = rng.dirichlet(np.ones(5), size=(4, 3)).transpose(0, 2, 1).copy()
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    ref = F.kl_div(F.log_softmax(z, dim=1), torch.from_numpy(target), reduction="batchmean")
    ref.backward()
    value, grad = lossopt.KLDivergence(axis=1).loss_and_gradient(logits, target)
    np.testing.assert_allclose(value * 3, ref.item(), rtol=1e-13)
    np.testing.assert_allclose(grad * 3, z.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("p, margin, weighted, reduction", itertools.product(
    [1, 2], [1.0, 0.3], [False, True], ["mean", "sum", "none"]))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weston_watkins_matches_multi_margin_loss(rng, p, margin, weighted, reduction, dtype):
    n, c = 15, 7
    x = rng.normal(size=(n, c)).astype(dtype)
    y = rng.integers(0, c, size=n)
    w = rng.uniform(0.2, 2.0, size=c) if weighted else None
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    ref = F.multi_margin_loss(xt, torch.from_numpy(y), p=p, margin=margin,
                              weight=None if w is None else torch.from_numpy(w.astype(dtype)),
                              reduction=reduction)
    (ref if reduction != "none" else ref.sum()).backward()
    value, grad = lossopt.MulticlassHinge(margin=margin, p=p, class_weight=w,
                                          reduction=reduction).loss_and_gradient(x, y)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(value, ref.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=rtol,
                               atol=1e-16 if dtype == np.float64 else 1e-8)


def test_kl_divergence_documented_differences_from_torch():
    """A masked class (-inf logit) without target mass, and a log-target of
    -inf: torch gives NaN (0 * -inf), lossopt 0 for those terms."""
    z = np.array([[0.0, -np.inf, 0.0]])
    t = np.array([[0.5, 0.0, 0.5]])
    assert torch.isnan(F.kl_div(F.log_softmax(torch.from_numpy(z), 1), torch.from_numpy(t),
                                reduction="sum"))
    assert lossopt.kl_divergence(z, t, reduction="sum") == 0.0
    with np.errstate(divide="ignore"):
        lt = np.log(t)
    zz = np.zeros((1, 3))
    assert torch.isnan(F.kl_div(F.log_softmax(torch.from_numpy(zz), 1), torch.from_numpy(lt),
                                reduction="sum", log_target=True))
    assert lossopt.kl_divergence(zz, lt, log_target=True, reduction="sum") == \
        pytest.approx(np.log(1.5), rel=1e-15)


def test_multiclass_hinge_nan_differs_from_torch():
    """torch's multi_margin_loss drops a NaN term (it tests term > 0); lossopt
    propagates NaN, as every lossopt kernel does (documented)."""
    x = np.array([[np.nan, 0.0, 0.0]])
    assert np.isfinite(F.multi_margin_loss(torch.from_numpy(x), torch.tensor([1])).item())
    assert np.isnan(lossopt.multiclass_hinge(x, [1]))
