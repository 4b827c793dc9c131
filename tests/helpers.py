"""Reference helpers shared by the tests."""

import numpy as np
import pytest


def numerical_gradient(f, x, h=1e-3):
    """Gradient of the scalar function f at x by fourth-order central
    differences, (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h, in float64:
    truncation error O(h^4), rounding error O(eps |f| / h), both ~1e-12 here."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        values = []
        for step in (-2, -1, 1, 2):
            flat[i] = old + step * h
            values.append(f(x))
        flat[i] = old
        gflat[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
    return g


def ulp_distance(got, ref):
    """|got - ref| in units of the last place of ref (float64)."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(ref))
    return np.abs(got - ref) / spacing


def reference_cross_entropy(logits, target, class_weight=None, label_smoothing=0.0,
                            ignore_index=-100, reduction="mean", sample_weight=None):
    """torch.nn.functional.cross_entropy's definition in float64 NumPy, written
    straight from its documentation (logits (N, C)), plus sample_weight and
    lossopt's zero-denominator rule."""
    z = np.asarray(logits, dtype=np.float64)
    n, c = z.shape
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    eps = label_smoothing
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        active = target != ignore_index
        y = np.where(active, target, 0)
        nll = -w[y] * logp[np.arange(n), y]
        smooth = -(logp * w).sum(axis=1)
        per = np.where(active, (1 - eps) * nll + eps / c * smooth, 0.0) * sw
        denominator = (w[y] * sw)[active].sum()
    else:
        q = target * (1 - eps) + eps / c
        per = -(w * q * logp).sum(axis=1) * sw
        denominator = sw.sum()
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / denominator if denominator != 0 else 0.0


def reduce_reference(per_elem, reduction="mean", sample_weight=None):
    """lossopt's reduction of an (N, ...) array of per-element losses: sum
    over the outputs of each sample, times its weight; "mean" divides by N or
    the weights' sum (0 when that is 0)."""
    per_elem = np.asarray(per_elem, dtype=np.float64)
    n = per_elem.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    per = per_elem.reshape(n, int(np.prod(per_elem.shape[1:]))).sum(axis=1) * sw
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / sw.sum() if sw.sum() != 0 else 0.0


def gradient_reference(grad_elem, reduction="mean", sample_weight=None):
    """The gradient lossopt returns, from the per-element derivatives."""
    g = np.asarray(grad_elem, dtype=np.float64)
    n = g.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    scale = sw / sw.sum() if reduction == "mean" and sw.sum() != 0 else sw
    if reduction == "mean" and sw.sum() == 0:
        scale = np.zeros(n)
    return g * scale.reshape((n,) + (1,) * (g.ndim - 1))


def check_out_and_layouts(loss, pred, target):
    """The gradient is the same written into pred itself (out=pred), into a
    Fortran-ordered out, into the target's own array, and from read-only
    Fortran-ordered input."""
    value, ref_grad = loss.loss_and_gradient(pred, target)
    p = pred.copy()
    v, g = loss.loss_and_gradient(p, target, out=p)
    assert g is p and v == value
    np.testing.assert_array_equal(p, ref_grad)
    out = np.empty(pred.shape[::-1]).T
    loss.gradient(pred, target, out=out)
    np.testing.assert_array_equal(out, ref_grad)
    t = target.copy()
    loss.gradient(pred, t, out=t)
    np.testing.assert_array_equal(t, ref_grad)
    ro = pred.copy()
    ro.flags.writeable = False
    v, g = loss.loss_and_gradient(np.asfortranarray(ro), target)
    assert v == value
    np.testing.assert_array_equal(g, ref_grad)


def check_kernel_thread_counts(kernel, p, t, sw, per_row):
    """kernel(p, t, grad, sw, row_loss, n_threads) gives the same bits (sum,
    out-of-domain count, gradient, row losses) on 1 and 2 threads."""
    same_bits_on_1_and_2_threads(
        lambda grad, row, threads: kernel(p, t, grad, sw, row if per_row else None, threads),
        p.shape, p.dtype)


def check_empty_zero_weights_and_nan(make, target):
    """0 rows give 0 (and an empty "none" array); a zero-weight sample adds
    loss 0 and gradient 0 even when its prediction is NaN; NaN propagates.
    `target` is a valid target value for the loss."""
    loss = make()
    assert loss(np.zeros(0), np.zeros(0)) == 0.0
    assert make(reduction="none")(np.zeros((0, 2)), np.zeros((0, 2))).shape == (0,)
    value, grad = loss.loss_and_gradient([1.0, np.nan], [target, target],
                                         sample_weight=[1.0, 0.0])
    assert np.isfinite(value) and grad[1] == 0.0
    assert np.isnan(loss([np.nan, 1.0], [target, target]))
    assert np.isnan(loss.gradient([np.nan, 1.0], [target, target])[0])


def check_api_thread_counts(loss, *args):
    """loss.loss_and_gradient(*args) gives the same bits with lossopt.threads(1)
    and lossopt.threads(2) (inputs above the thread threshold)."""
    import lossopt
    out = []
    for n in (1, 2):
        with lossopt.threads(n):
            out.append(loss.loss_and_gradient(*args))
    assert out[0][0] == out[1][0] and out[0][1].tobytes() == out[1][1].tobytes()


@pytest.fixture(autouse=True)
def restore_mpmath_precision():
    """For modules that import it: tests there raise mpmath's precision;
    leave it as it was for the others."""
    import mpmath
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps


LAYOUTS = ["C", "F", "rows", "cols", "reversed"]


def layout(base, n, c, name):
    """An (n, c) array of `base` ((2n, 2c)) in one of LAYOUTS: C or Fortran
    order, every other row or column, or reversed along both axes."""
    return {"C": np.ascontiguousarray(base[:n, :c]), "F": np.asfortranarray(base[:n, :c]),
            "rows": base[::2, :c], "cols": base[:n, ::2],
            "reversed": base[:n, :c][::-1, ::-1]}[name]


def check_error_writes_nothing(loss, exc, msg, pred, target, sample_weight=None, out=None):
    """loss.gradient(...) raises `exc` matching `msg`; a valid (2, 3) float64
    `out` (the default) is left as it was."""
    import pytest
    written = np.full((2, 3), 7.0) if out is None else out
    with pytest.raises(exc, match=msg):
        loss.gradient(pred, target, sample_weight, out=written)
    if out is None:
        np.testing.assert_array_equal(written, 7.0)


def check_out_layouts(loss_and_gradient, x, target):
    """In place (out=x) and from a strided read-only view into a transposed
    `out`, loss_and_gradient(x, target, out=...) agrees with the plain call;
    returns the plain call's (value, gradient)."""
    v0, g0 = loss_and_gradient(x, target)
    z = x.copy()
    v, g = loss_and_gradient(z, target, out=z)
    assert g is z and v == v0
    np.testing.assert_array_equal(z, g0)
    n, c = x.shape
    big = np.zeros((n, 2 * c), dtype=x.dtype)
    big[:, ::2] = x
    big.flags.writeable = False
    out = np.empty((c, n), dtype=x.dtype).T
    v, g = loss_and_gradient(big[:, ::2], target, out=out)
    assert g is out and abs(v - v0) <= 1e-15 * abs(v0)
    np.testing.assert_allclose(out, g0, rtol=1e-15)
    return v0, g0


def same_bits_on_1_and_2_threads(run, shape, dtype):
    """`run(grad, row_loss, n_threads)` calls a kernel directly (with the size
    threshold off) and returns its total: the total, the gradient and the row
    losses are the same bits on 1 and on 2 threads.  Returns the total."""
    results = []
    for threads in (1, 2):
        grad = np.empty(shape, dtype)
        row = np.zeros(shape[0])          # not written when the kernel has no row losses
        total = run(grad, row, threads)
        # the total's bits (a float, or a (float, count) pair), not its value
        results.append((total, np.asarray(total, np.float64).tobytes(), grad.tobytes(),
                        row.tobytes()))
    assert results[0][1:] == results[1][1:]
    return results[0][0]


def blobs(rng, n_per_class, n_classes, n_features, spread=4.0):
    """Gaussian blobs (unit variance) around random centres: (X, integer labels)."""
    centres = rng.normal(scale=spread, size=(n_classes, n_features))
    X = np.vstack([rng.normal(size=(n_per_class, n_features)) + c for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per_class)


def assert_save_load_round_trip(model, X, path, methods):
    """model.save then lossopt.models.load: same class, hyper-parameters and,
    bit for bit, the same results of each method in `methods` on X."""
    from lossopt.models import load
    model.save(path)
    back = load(path)
    assert type(back) is type(model) and back.get_params() == model.get_params()
    for name in methods:
        np.testing.assert_array_equal(getattr(back, name)(X), getattr(model, name)(X))
    return back


def assert_fit_refuses_bad_data(model, X, y):
    """A fitted classifier refuses NaN / infinity in X, a 1-D X, a y of
    another length and a single class with errors naming them, and stays as
    it was (its learned attributes unchanged)."""
    before = {k: np.copy(v) for k, v in vars(model).items()
              if k.endswith("_") and isinstance(v, np.ndarray)}
    for value, word in ((np.nan, "NaN"), (np.inf, "infinity")):
        bad = np.array(X, dtype=np.float64)
        bad[1, 0] = value
        with pytest.raises(ValueError, match=f"X contains {word}"):
            model.fit(bad, y)
    with pytest.raises(ValueError, match="2-D"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="1 class"):
        model.fit(X, np.full(len(y), y[0]))
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(model, k), v, err_msg=k)


def assert_model_gradients(model, X, Y, sample_weight, params, h=1e-4, rtol=1e-6, atol=1e-9):
    """The gradients a model's ``_data_loss_and_gradient`` writes, against
    central differences of the loss it returns, for every parameter array."""
    def loss_at(trial):
        return model._data_loss_and_gradient(trial, X, Y, sample_weight,
                                             [np.empty_like(q) for q in trial])
    grads = [np.empty_like(p) for p in params]
    value = model._data_loss_and_gradient(params, X, Y, sample_weight, grads)
    for i in range(len(params)):
        def f(p, i=i):
            return loss_at(params[:i] + [p] + params[i + 1:])
        np.testing.assert_allclose(grads[i], numerical_gradient(f, params[i], h=h),
                                   rtol=rtol, atol=atol, err_msg=f"parameter {i}")
    return value
