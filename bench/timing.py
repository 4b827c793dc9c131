"""Timing shared by the bench scripts.  The machines we measure on are shared
and noisy, so a time is the best of several rounds, and implementations that
are compared are interleaved within each round so that they share the drift."""

import time


def time_round(fn, inner):
    """Seconds per call of fn over `inner` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def best_times(fns, rounds, min_time=0.03):
    """{name: seconds per call}, the best of `rounds` interleaved rounds, each
    round at least `min_time` long per function."""
    inner = {}
    for name, fn in fns.items():
        fn()  # warm up
        inner[name] = max(1, int(min_time / max(time_round(fn, 1), 1e-7)))
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], time_round(fn, inner[name]))
    return best


def best_time(fn, rounds, min_time=0.03):
    """Seconds per call of one function, best of `rounds` rounds."""
    return best_times({"fn": fn}, rounds, min_time)["fn"]
