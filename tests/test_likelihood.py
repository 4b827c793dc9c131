"""lossopt.likelihood: every NLL is loss_scale * loss + a written-out constant,
and the NLL's minimiser is the loss's minimiser."""

import math

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from lossopt.likelihood import Bernoulli, Categorical, Gaussian, Laplace, Poisson

M, K, C = 37, 3, 4


def _data(rng, name):
    """(distribution, target, prediction, written-out constant per sample)."""
    if name == "gaussian":
        beta = 2.5
        return (Gaussian(beta=beta), rng.normal(size=(M, K)), rng.normal(size=(M, K)),
                np.full(M, K / 2 * math.log(2 * math.pi) - K / 2 * math.log(beta)))
    if name == "laplace":
        b = 0.7
        return (Laplace(scale=b), rng.normal(size=(M, K)), rng.normal(size=(M, K)),
                np.full(M, K * math.log(2 * b)))
    if name == "bernoulli":
        return (Bernoulli(), rng.integers(0, 2, size=(M, K)).astype(float),
                rng.normal(size=(M, K)) * 4, np.zeros(M))
    if name == "bernoulli_soft":
        return Bernoulli(), rng.uniform(size=(M, K)), rng.normal(size=(M, K)) * 4, np.zeros(M)
    if name == "categorical":
        return Categorical(), rng.integers(0, C, size=M), rng.normal(size=(M, C)) * 3, np.zeros(M)
    if name == "categorical_probs":
        t = rng.dirichlet(np.ones(C), size=M)
        return Categorical(), t, rng.normal(size=(M, C)) * 3, np.zeros(M)
    if name == "poisson":
        y = rng.poisson(3.0, size=(M, K)).astype(float)
        return Poisson(), y, rng.normal(size=(M, K)), gammaln(y + 1).sum(axis=1)
    raise AssertionError(name)


NAMES = ["gaussian", "laplace", "bernoulli", "bernoulli_soft", "categorical",
         "categorical_probs", "poisson"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_nll_is_scaled_loss_plus_constant(rng, name, reduction):
    dist, t, p, const_per_sample = _data(rng, name)
    const = {"sum": const_per_sample.sum(), "mean": const_per_sample.mean(),
             "none": const_per_sample}[reduction]
    loss = dist.make_loss(reduction)(p, t)
    nll = dist.nll(t, p, reduction=reduction)
    np.testing.assert_allclose(nll, dist.loss_scale * loss + const, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dist.constant(t, reduction=reduction), const, rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(dist.nll(t, p, reduction=reduction, full=False),
                               dist.loss_scale * loss, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_loss_property_is_the_mean_loss(rng, name):
    dist, t, p, _ = _data(rng, name)
    assert dist.loss.reduction == "mean"
    assert type(dist.loss) is type(dist.make_loss("sum"))
    np.testing.assert_allclose(dist.loss(p, t), dist.make_loss("sum")(p, t) / M, rtol=1e-12)


def _argmin(f, lo, hi):
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-10, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("name, closed_form", [
    ("gaussian", lambda y: y.mean()),
    ("laplace", lambda y: np.median(y)),
    ("bernoulli_soft", lambda y: math.log(y.mean() / (1 - y.mean()))),
    ("poisson", lambda y: math.log(y.mean())),
])
def test_minimiser_of_nll_is_minimiser_of_loss(rng, name, closed_form):
    """Over a constant prediction c for every sample: the NLL and the loss
    have the same minimiser, the distribution's MLE of its location."""
    dist, t, _, _ = _data(rng, name)
    y = t[:, :1]                                    # one output, M (odd) samples
    loss = dist.make_loss("sum")
    c_nll = _argmin(lambda c: dist.nll(y, np.full_like(y, c)), -5, 5)
    c_loss = _argmin(lambda c: loss(np.full_like(y, c), y), -5, 5)
    assert c_nll == pytest.approx(c_loss, abs=1e-6)
    assert c_nll == pytest.approx(closed_form(y), abs=1e-6)


def test_categorical_minimiser_is_log_frequency_ratio(rng):
    labels = rng.integers(0, 2, size=M)
    dist, loss = Categorical(), Categorical().make_loss("sum")

    def logits(a):
        return np.tile([0.0, a], (M, 1))
    a_nll = _argmin(lambda a: dist.nll(labels, logits(a)), -5, 5)
    a_loss = _argmin(lambda a: loss(logits(a), labels), -5, 5)
    n1 = labels.sum()
    assert a_nll == pytest.approx(a_loss, abs=1e-6)
    assert a_nll == pytest.approx(math.log(n1 / (M - n1)), abs=1e-6)


def test_gaussian_precision_estimate_maximises_likelihood(rng):
    """beta_hat = 1 / mean squared residual maximises the Gaussian likelihood."""
    y, yhat = rng.normal(size=M), rng.normal(size=M) * 0.3
    beta_hat = 1.0 / np.mean((y - yhat) ** 2)
    best = _argmin(lambda lb: Gaussian(beta=math.exp(lb)).nll(y, yhat), -6, 6)
    assert math.exp(best) == pytest.approx(beta_hat, rel=1e-6)


def test_values_against_mpmath():
    with mpmath.workdps(40):
        y, mu, beta = 0.3, -1.1, 2.0
        ref = -mpmath.log(mpmath.npdf(y, mu, 1 / mpmath.sqrt(beta)))
        assert Gaussian(beta=beta).nll([y], [mu]) == pytest.approx(float(ref), rel=1e-14)
        ref = -mpmath.log(mpmath.exp(-abs(mpmath.mpf(y) - mu) / 0.5) / (2 * mpmath.mpf(0.5)))
        assert Laplace(scale=0.5).nll([y], [mu]) == pytest.approx(float(ref), rel=1e-14)
        z = mpmath.mpf(40)                                  # a huge logit, label 0
        ref = -mpmath.log(1 - 1 / (1 + mpmath.exp(-z)))
        assert Bernoulli().nll([0.0], [40.0]) == pytest.approx(float(ref), rel=1e-14)
        lam = mpmath.exp(mpmath.mpf(0.5))
        ref = -mpmath.log(lam ** 4 * mpmath.exp(-lam) / mpmath.factorial(4))
        assert Poisson().nll([4.0], [0.5]) == pytest.approx(float(ref), rel=1e-14)


@pytest.mark.parametrize("make, match", [
    (lambda: Gaussian(beta=0.0), "beta"),
    (lambda: Gaussian(beta=-1), "beta"),
    (lambda: Gaussian(beta="x"), "beta"),
    (lambda: Laplace(scale=float("inf")), "scale"),
    (lambda: Bernoulli().nll([1.5], [0.0]), "target"),
    (lambda: Poisson().nll([-1.0], [0.0]), "target"),
    (lambda: Poisson().constant([-1.0]), "target"),
    (lambda: Categorical().nll([2], [[0.0, 1.0]]), "target"),
    (lambda: Categorical().nll([0], [0.0, 1.0]), "prediction"),
    (lambda: Gaussian().nll([0.0, 1.0], [0.0]), "target"),
    (lambda: Gaussian().nll([0.0], [0.0], reduction="avg"), "reduction"),
])
def test_bad_input(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_inputs_not_modified(rng):
    dist, t, p, _ = _data(rng, "poisson")
    t0, p0 = t.copy(), p.copy()
    dist.nll(t, p)
    assert np.array_equal(t, t0) and np.array_equal(p, p0)
