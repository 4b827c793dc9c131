"""`lossopt info` through a subprocess, as a user runs it."""

import subprocess
import sys

import lossopt


def run(*args):
    return subprocess.run([sys.executable, "-m", "lossopt", *args], capture_output=True,
                          text=True, timeout=120, cwd="/")


def test_info_reports_build_and_passes_self_check():
    r = run("info")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"lossopt {lossopt.__version__}" in out
    assert "compiler :" in out and "openmp   :" in out and "simd     :" in out
    assert out.count("PASS") == 66 and "FAIL" not in out
    assert "all checks passed" in out


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and lossopt.__version__ in r.stdout
    r = run()
    assert r.returncode == 2 and "info" in r.stdout
    r = run("nonsense")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_public_api():
    names = {"logsumexp", "softmax", "log_softmax", "expit", "sigmoid", "log_expit",
             "SoftmaxCrossEntropy", "softmax_cross_entropy", "SquaredError", "squared_error",
             "set_num_threads", "get_num_threads", "threads", "__version__"}
    assert names <= set(lossopt.__all__)
    assert all(hasattr(lossopt, n) for n in lossopt.__all__)
