"""Reference helpers shared by the tests."""

import numpy as np


def numerical_gradient(f, x, h=1e-6):
    """Central differences of the scalar function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x)
        flat[i] = old - h
        fm = f(x)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g


def ulp_distance(got, ref):
    """|got - ref| in units of the last place of ref (float64)."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(ref))
    return np.abs(got - ref) / spacing
