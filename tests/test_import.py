"""`import lossopt` costs NumPy and nothing else.

Checked in a fresh interpreter (the test process itself has scipy, hypothesis,
threadpoolctl... loaded): the modules that `import lossopt` adds on top of
`import numpy` must all be lossopt's own or the standard library's.  That
rules out any third-party package, whatever its name (scipy, torch,
threadpoolctl, sklearn, ...), not only the ones a deny-list would think of.
Two names are no imports but Cython's in-memory runtime modules, which every
Cython extension creates: `cython_runtime` and `_cython_<version>` (the ABI
module its types share).  Everything of lossopt's own lives under `lossopt.`
(the kernels are compiled with --module-name lossopt._kernels.<name>; without
it they registered themselves as `src._softmax`, ...).
"""

import json
import os
import re
import subprocess
import sys

import numpy  # noqa: F401  (the one dependency; the probe below imports it first)

CYTHON_RUNTIME = re.compile(r"cython_runtime|_cython_\d+_\d+\w*")

PROBE = r"""
import json, sys
import numpy
before = set(sys.modules)
import lossopt
after = set(sys.modules)
print(json.dumps({"new": sorted(after - before),
                  "lossopt": lossopt.__file__,
                  "stdlib": sorted(sys.stdlib_module_names)}))
"""


def _probe(tmp_path):
    # from an empty folder: what a user's `python -c "import lossopt"` gets
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_import_adds_only_lossopt_and_stdlib(tmp_path):
    info = _probe(tmp_path)
    new, stdlib = info["new"], set(info["stdlib"])
    assert "lossopt" in new and "lossopt._kernels._softmax" in new
    top = {name.partition(".")[0] for name in new}
    foreign = sorted(t for t in top if t not in ("lossopt", "numpy") and t not in stdlib
                     and not CYTHON_RUNTIME.fullmatch(t))
    assert foreign == [], f"`import lossopt` imported third-party modules: {foreign}"
    # the usual suspects by name as well (a readable failure if one sneaks in)
    for heavy in ("scipy", "torch", "threadpoolctl", "sklearn", "pandas", "hypothesis",
                  "mpmath", "pytest", "Cython", "mesonpy", "matplotlib", "numba", "src"):
        assert heavy not in top


def test_probe_sees_the_installed_package(tmp_path):
    """The probe imports the same lossopt as the tests (not a source tree)."""
    import lossopt
    info = _probe(tmp_path)
    assert os.path.samefile(info["lossopt"], lossopt.__file__)


def test_probe_would_catch_a_third_party_import(tmp_path):
    """The check above can fail: a module importing a third-party package shows
    up as foreign (here pytest, which is installed wherever the tests run)."""
    mod = tmp_path / "_lossopt_probe_victim.py"
    mod.write_text("import pytest\n")
    code = ("import json, sys; import numpy; before = set(sys.modules); "
            "import _lossopt_probe_victim; "
            "print(json.dumps(sorted({m.partition('.')[0] for m in set(sys.modules) - before}"
            " - set(sys.stdlib_module_names))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pytest" in json.loads(out.stdout)
