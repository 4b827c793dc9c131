#!/usr/bin/env bash
# OpenMP runtime for the macOS wheels (cibuildwheel's before-all on macOS).
#
# Apple's clang compiles OpenMP (-Xpreprocessor -fopenmp) but ships no runtime.
# Homebrew's libomp is built for the macOS of the machine it was built on, so
# a wheel that vendored it would not load on older macOS than that; instead,
# like scikit-learn's wheels, take conda-forge's llvm-openmp 11.1.0, built for
# macOS 10.9 (x86_64) and 11.0 (arm64) -- not newer than our deployment
# targets (pyproject.toml: 10.13 and 11.0).  Both architectures are unpacked,
# so an x86_64 wheel can also be cross-built on an arm64 runner:
#
#   PREFIX/x86_64/{include/omp.h, lib/libomp.dylib}
#   PREFIX/arm64/{include/omp.h, lib/libomp.dylib}
#
# pyproject.toml points CFLAGS/LDFLAGS of each architecture's builds there;
# meson.build links that libomp; delocate copies it into lossopt/.dylibs/.
set -euo pipefail
PREFIX=${1:?usage: macos_libomp.sh PREFIX}
BASE=https://anaconda.org/conda-forge/llvm-openmp/11.1.0/download
for arch in x86_64 arm64; do
  case $arch in   # (bash 3.2 on macOS: no associative arrays)
    x86_64) package=osx-64/llvm-openmp-11.1.0-hda6cdc1_1.tar.bz2 ;;
    arm64) package=osx-arm64/llvm-openmp-11.1.0-hf3c4609_1.tar.bz2 ;;
  esac
  dest="$PREFIX/$arch"
  rm -rf "$dest" && mkdir -p "$dest"
  curl --fail --silent --show-error --location --retry 3 \
       -o "$dest/llvm-openmp.tar.bz2" "$BASE/$package"
  tar -xjf "$dest/llvm-openmp.tar.bz2" -C "$dest"
  rm "$dest/llvm-openmp.tar.bz2"
  test -f "$dest/include/omp.h"
  # the right architecture, or the link (and delocate) would fail later, less clearly
  lipo "$dest/lib/libomp.dylib" -verify_arch "$arch"
  echo "libomp for $arch: $dest"
done
