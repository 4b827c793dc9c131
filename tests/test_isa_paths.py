"""Every SIMD path is tested, not only the best one this CPU runs.

The kernels are compiled for x86-64-v4, x86-64-v3 and the baseline, and the
environment variable LOSSOPT_SIMD forces a lower path (src/lossopt_math.h,
"ISA dispatch").  Here a representative set of the kernel test files (every
kernel module: exp/log, the row engine, the element-wise losses, the
multiclass hinge, the optimizer updates) runs again in a subprocess for each
path below the CPU's best, the subprocesses side by side; `lossopt info`
must report the forced path and pass its self-check.  An unknown value is
ignored with a RuntimeWarning at import (the best path runs).  On a CPU or
build without dispatch (aarch64, macOS, MSVC) there is no lower path and the
path tests skip.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from lossopt._kernels import _runtime

TESTS = pathlib.Path(__file__).resolve().parent
KERNEL_TESTS = ["test_exp.py", "test_logsumexp.py", "test_softmax.py", "test_expit.py",
                "test_cross_entropy.py", "test_kl_divergence.py", "test_squared_error.py",
                "test_regression_losses.py", "test_binary_losses.py",
                "test_multiclass_hinge.py", "test_optim_reference.py", "test_rows_short.py",
                "test_probs_blocks.py", "test_probs_short.py", "test_elementwise_fast_paths.py",
                "test_elementwise_sweeps.py", "test_guard_pages.py",
                "test_elementwise_fused_check.py", "test_margin_f32_fast.py", "test_rows_long_f32.py",
                "test_cols.py"]
# the slowest test of the set (4 s), whose rows are covered by the others
SKIP = "not test_rows_longer_than_a_block"
# LOSSOPT_SIMD value -> the start of the path's name in `lossopt info`
LEVELS = [("baseline", "x86-64 baseline"), ("x86-64-v3", "x86-64-v3"),
          ("x86-64-v4", "x86-64-v4")]
BEST = _runtime.simd_best_path()


def lower_levels():
    """The LOSSOPT_SIMD values of the paths below this CPU's best ([] without
    dispatch)."""
    names = [prefix for _, prefix in LEVELS]
    best = [i for i, prefix in enumerate(names) if BEST.startswith(prefix)]
    return [value for value, _ in LEVELS[:best[0]]] if best else []


def run(code_or_args, simd, **kw):
    """A fresh interpreter with LOSSOPT_SIMD=simd, from a folder that has no
    lossopt source in it."""
    env = dict(os.environ, LOSSOPT_SIMD=simd)
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.Popen([sys.executable, *args], env=env, cwd=TESTS,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def finish(proc, timeout=300):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


PATH_OF = ("import warnings, sys; warnings.simplefilter('error'); import lossopt; "
           "from lossopt._kernels import _runtime as r; "
           "print(r.simd_path(), r.simd_best_path(), r.simd_request_valid(), sep='|')")


@pytest.mark.skipif(not lower_levels(), reason=f"no lower SIMD path than {BEST!r}")
def test_kernel_tests_pass_on_every_lower_path():
    levels = lower_levels()
    config = TESTS.parent / "pyproject.toml"  # the pytest settings, when beside tests/
    pytest_args = (["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                    str(TESTS.parent), "-k", SKIP] +
                   (["-c", str(config)] if config.exists() else []) +
                   [str(TESTS / f) for f in KERNEL_TESTS])
    # every path's test files and `lossopt info`, all side by side
    procs = {(level, what): run(args, level) for level in levels
             for what, args in (("pytest", pytest_args), ("info", ["-m", "lossopt", "info"]))}
    results = {key: finish(p) for key, p in procs.items()}
    for level in levels:
        code, out = results[level, "pytest"]
        assert code == 0, f"LOSSOPT_SIMD={level}:\n{out[-3000:]}"
        assert " passed" in out.splitlines()[-1], out[-500:]
        code, out = results[level, "info"]
        assert code == 0, out
        assert f"simd     : {dict(LEVELS)[level]}" in out
        assert f"forced by LOSSOPT_SIMD={level}; this CPU: {BEST}" in out
        assert "FAIL" not in out and "all checks passed" in out


@pytest.mark.skipif(not lower_levels(), reason=f"no lower SIMD path than {BEST!r}")
@pytest.mark.parametrize("value, prefix", [("baseline", "x86-64 baseline"),
                                           ("sse2", "x86-64 baseline"),
                                           ("avx2", "x86-64-v3")])
def test_forced_path_and_aliases(value, prefix):
    if {p: v for v, p in LEVELS}[prefix] not in lower_levels():
        pytest.skip(f"{prefix} is not below {BEST!r}")
    code, out = finish(run(PATH_OF, value))
    assert code == 0, out
    path, best, valid = out.strip().split("|")
    assert path.startswith(prefix) and best == BEST and valid == "True"


def test_path_above_the_cpu_is_capped_at_its_best():
    code, out = finish(run(PATH_OF, "x86-64-v4"))
    assert code == 0, out
    assert out.strip() == f"{BEST}|{BEST}|True"


@pytest.mark.parametrize("value", ["", "x86-64-v5", "AVX2", "baseline "])
def test_unknown_value_is_ignored_with_a_warning(value):
    code = ("import warnings\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import lossopt\n"
            "from lossopt._kernels import _runtime as r\n"
            "print(r.simd_path(), r.simd_request_valid(), sep='|')\n"
            "for x in w: print(x.category.__name__, x.message)\n")
    rc, out = finish(run(code, value))
    assert rc == 0, out
    lines = out.strip().splitlines()
    if value == "":  # empty means unset: no warning
        assert lines == [f"{BEST}|True"]
        return
    assert lines[0] == f"{BEST}|False"
    assert len(lines) == 2 and lines[1].startswith(
        f"RuntimeWarning LOSSOPT_SIMD={value!r} is not one of 'baseline', 'x86-64-v3', "
        "'x86-64-v4'"), out
    assert "it is ignored" in lines[1]
    rc, out = finish(run(["-W", "ignore::RuntimeWarning", "-m", "lossopt", "info"], value))
    assert rc == 0 and f"simd     : {BEST} (LOSSOPT_SIMD={value})" in out, out
    assert "all checks passed" in out
