"""Test scores of lossopt's linear models with default hyper-parameters
against scikit-learn's, on scikit-learn's bundled data sets (raw features,
train_test_split(random_state=0)): the table of README.md's Models section.

    OPENBLAS_NUM_THREADS=1 python bench/models_parity.py

"sklearn default" is LogisticRegression() on the raw features; "same
objective" is StandardScaler + LogisticRegression(C = 1 / (alpha * n)), the
objective lossopt's model minimises; LinearRegression is compared with the
least-squares closed form.  Fit times are single runs (noisy).
"""

import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lossopt.models import LinearRegression, LogisticRegression, SoftmaxRegression

CASES = [("iris", SoftmaxRegression), ("digits", SoftmaxRegression),
         ("breast_cancer", LogisticRegression), ("diabetes", LinearRegression)]


def closed_form_r2(Xtr, ytr, Xte, yte):
    coef = np.linalg.lstsq(np.column_stack([Xtr, np.ones(len(Xtr))]), ytr, rcond=None)[0]
    pred = np.column_stack([Xte, np.ones(len(Xte))]) @ coef
    return 1 - np.sum((yte - pred) ** 2) / np.sum((yte - yte.mean()) ** 2)


def main():
    warnings.filterwarnings("ignore")   # sklearn's ConvergenceWarning on raw features
    print("| data set | model | lossopt | sklearn default | sklearn, same objective | "
          "epochs | fit |")
    print("|---|---|---|---|---|---|---|")
    for name, model in CASES:
        X, y = getattr(datasets, "load_" + name)(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
        start = time.perf_counter()
        m = model(random_state=0).fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        if model is LinearRegression:
            default, same = f"closed form {closed_form_r2(Xtr, ytr, Xte, yte):.4f}", ""
        else:
            default = f"{SkLogisticRegression().fit(Xtr, ytr).score(Xte, yte):.4f}"
            ref = make_pipeline(StandardScaler(), SkLogisticRegression(
                C=1.0 / (m.alpha * len(Xtr)), max_iter=10000))
            same = f"{ref.fit(Xtr, ytr).score(Xte, yte):.4f}"
        print(f"| {name} | {model.__name__} | {m.score(Xte, yte):.4f} | {default} | {same} | "
              f"{m.n_iter_} | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
