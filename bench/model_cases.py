"""Time-to-fit of lossopt's models against their peers, in one place, so the
pytest-benchmark suite (test_bench_models.py) and the ratio report
(models_report.py) time the same code.

Two cases (issue 6):

* softmax regression on a synthetic (1e5, 100) 10-class problem:
  ``SoftmaxRegression`` (Adam, lr 1e-3, batch 256, 5 epochs, no penalty)
  against a plain torch loop with the same optimizer, batch size, epochs,
  initialisation (zeros) and standardisation, and against scikit-learn's
  ``SGDClassifier(loss="log_loss")`` and ``LogisticRegression(solver="lbfgs")``
  run until their training loss reaches lossopt's (the fewest epochs /
  iterations that do, found before timing);
* an MLP (one hidden layer of 100 ReLU units) on digits, Adam (lr 1e-3,
  batch 200, the same L2 penalty): scikit-learn's ``MLPClassifier`` for 50
  epochs on the standardised data sets the target loss, and lossopt's
  ``MLPClassifier`` runs for the fewest epochs (in steps of 5) that reach it
  (their initialisations differ: He-normal here, uniform Glorot there).

The training loss compared is the mean cross-entropy of the fitted model on
the whole training set (without the penalty), computed by one function for
every implementation.  Everything runs on one thread.
"""

import time
import warnings

import numpy as np

from lossopt._bench import have, single_thread  # noqa: F401  (single_thread: re-exported)

SOFTMAX_SHAPE = (100_000, 100)
N_CLASSES = 10
SOFTMAX = dict(lr=1e-3, batch_size=256, epochs=5)
MLP = dict(hidden=100, lr=1e-3, batch_size=200, epochs=50, alpha=1e-4)


def softmax_data(n=SOFTMAX_SHAPE[0], d=SOFTMAX_SHAPE[1], k=N_CLASSES, seed=0):
    """Features N(0, 1) times column scales in [0.5, 2] plus offsets; labels
    drawn from a softmax model (Gumbel-max), so the problem is not separable."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(size=d)
    W = rng.normal(scale=0.3, size=(d, k))
    y = np.argmax((X - X.mean(axis=0)) @ W + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def digits_data():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X, y


def cross_entropy(logits, y):
    """Mean cross-entropy of logits (n, k) against labels (one function for
    every implementation)."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(y.size), y].mean())


def standardise(X):
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    return (X - mean) / scale


def rms_scale(X):
    """X divided by each feature's root mean square: what MLPClassifier does
    to its inputs internally (lossopt/models/mlp.py), so that the peer
    trains on the same inputs."""
    rms = np.sqrt((X ** 2).mean(axis=0))
    rms[rms == 0] = 1.0
    return X / rms


# ------------------------------------------------------------ softmax --

def fit_lossopt_softmax(X, y, epochs=SOFTMAX["epochs"]):
    from lossopt.models import SoftmaxRegression
    model = SoftmaxRegression(optimizer="adam", lr=SOFTMAX["lr"],
                              batch_size=SOFTMAX["batch_size"], max_epochs=epochs, alpha=0.0,
                              tol=None, random_state=0)
    model.fit(X, y)
    return model.decision_function(X)


def fit_torch_softmax(X, y, epochs=SOFTMAX["epochs"]):
    """A plain torch training loop with the same optimizer, batch size,
    epochs, zero initialisation and standardisation (float64)."""
    import torch
    torch.manual_seed(0)
    Xt = torch.from_numpy(X)
    mean, std = Xt.mean(dim=0), Xt.std(dim=0, unbiased=False)
    Xs = (Xt - mean) / std
    yt = torch.from_numpy(y)
    n, d = Xs.shape
    layer = torch.nn.Linear(d, N_CLASSES, dtype=torch.float64)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(layer.parameters(), lr=SOFTMAX["lr"])
    bs = SOFTMAX["batch_size"]
    for _ in range(epochs):
        order = torch.randperm(n)
        for lo in range(0, n, bs):
            idx = order[lo:lo + bs]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(Xs[idx]), yt[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        return layer(Xs).numpy()


def fit_sgd_classifier(X, y, epochs):
    """scikit-learn's SGDClassifier(loss="log_loss") after a StandardScaler
    (one-vs-rest; its loss is the cross-entropy of its normalised
    probabilities)."""
    from sklearn.linear_model import SGDClassifier
    Xs = standardise(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SGDClassifier(loss="log_loss", max_iter=epochs, tol=None,
                              random_state=0).fit(Xs, y)
    return np.log(np.maximum(model.predict_proba(Xs), 1e-300))


def fit_lbfgs(X, y, max_iter):
    """scikit-learn's LogisticRegression(solver="lbfgs") (multinomial) after a
    StandardScaler, penalty negligible (C=1e6)."""
    from sklearn.linear_model import LogisticRegression
    Xs = standardise(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(solver="lbfgs", C=1e6, max_iter=max_iter, tol=1e-12).fit(Xs, y)
    return model.decision_function(Xs)


def budget_to_reach(fit, X, y, target, budgets):
    """The smallest budget (epochs, iterations) in `budgets` whose fit has a
    training loss <= target, and that loss; (None, last loss) if none does."""
    loss = None
    for b in budgets:
        loss = cross_entropy(fit(X, y, b), y)
        if loss <= target:
            return b, loss
    return None, loss


def softmax_implementations(X, y, target=None):
    """{name: (zero-argument fit, description)}: the timed callables of case
    (a).  Without `target`, lossopt's final training loss is computed first
    (its fit is deterministic)."""
    if target is None:
        target = cross_entropy(fit_lossopt_softmax(X, y), y)
    impls = {"lossopt": (lambda: fit_lossopt_softmax(X, y),
                         f"{SOFTMAX['epochs']} epochs")}
    if have("torch"):
        impls["torch loop"] = (lambda: fit_torch_softmax(X, y), f"{SOFTMAX['epochs']} epochs")
    if have("sklearn"):
        # within 0.1 % of lossopt's loss counts as reaching it
        tol_target = target * 1.001
        epochs, _ = budget_to_reach(fit_sgd_classifier, X, y, tol_target, (SOFTMAX["epochs"],
                                                                            2 * SOFTMAX["epochs"]))
        if epochs is not None:
            impls["sklearn SGD"] = (lambda: fit_sgd_classifier(X, y, epochs), f"{epochs} epochs")
        else:
            # one-vs-rest logistic regression does not reach the softmax
            # model's loss: timed at the same number of epochs instead
            impls["sklearn SGD"] = (lambda: fit_sgd_classifier(X, y, SOFTMAX["epochs"]),
                                    f"{SOFTMAX['epochs']} epochs (does not reach the target "
                                    f"in {2 * SOFTMAX['epochs']})")
        iters, _ = budget_to_reach(fit_lbfgs, X, y, tol_target, (1, 2, 3, 4, 5, 7, 10, 15, 20,
                                                                   30, 50, 100))
        if iters is not None:
            impls["sklearn lbfgs"] = (lambda: fit_lbfgs(X, y, iters), f"{iters} iterations")
    return impls, target


# ---------------------------------------------------------------- MLP --

def fit_lossopt_mlp(X, y, epochs=MLP["epochs"]):
    from lossopt.models import MLPClassifier
    # scikit-learn's alpha penalises alpha/(2B)·‖W‖² per batch of B: the
    # same penalty is alpha / B in lossopt's convention
    model = MLPClassifier((MLP["hidden"],), lr=MLP["lr"], batch_size=MLP["batch_size"],
                          max_epochs=epochs, alpha=MLP["alpha"] / MLP["batch_size"], tol=None,
                          random_state=0).fit(X, y)
    return model._decision_scores(X)


def fit_sklearn_mlp(Xs, y, epochs=MLP["epochs"]):
    """scikit-learn's MLPClassifier on the standardised features (computed
    outside the timing: lossopt standardises inside its fit)."""
    from sklearn.neural_network import MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((MLP["hidden"],), learning_rate_init=MLP["lr"],
                              batch_size=MLP["batch_size"], max_iter=epochs, alpha=MLP["alpha"],
                              tol=0.0, n_iter_no_change=10 ** 9, random_state=0).fit(Xs, y)
    return np.log(np.maximum(model.predict_proba(Xs), 1e-300))


def mlp_implementations(X, y):
    """Case (b): the target is scikit-learn's training loss after its
    epochs; lossopt runs for the fewest epochs that reach it (within 0.1 %).
    Without scikit-learn, lossopt alone at MLP["epochs"]."""
    epochs = MLP["epochs"]
    impls = {}
    if have("sklearn"):
        Xs = rms_scale(X)
        impls["sklearn MLP"] = (lambda: fit_sklearn_mlp(Xs, y), f"{epochs} epochs")
        target = cross_entropy(fit_sklearn_mlp(Xs, y), y) * 1.001
        reached, _ = budget_to_reach(lambda X_, y_, e: fit_lossopt_mlp(X_, y_, e), X, y,
                                     target, tuple(range(epochs, 3 * epochs + 1, 5)))
        epochs = reached if reached is not None else 3 * epochs
    impls = {"lossopt": (lambda: fit_lossopt_mlp(X, y, epochs), f"{epochs} epochs"), **impls}
    return impls


def timed(fn):
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
