#!/usr/bin/env bash
# Installs what Kiln needs on Debian 12 (run as root, or with sudo available).
# LLVM 14 (codegen), OpenBLAS (GEMM), zlib (gzip-compressed IDX files), Fashion-MNIST (the data),
# Open MPI (data-parallel training under mpirun).
set -euo pipefail
packages=(llvm-dev libopenblas-dev zlib1g-dev dataset-fashion-mnist valgrind libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi
command -v swift >/dev/null || { echo "setup: the Swift 6 toolchain is not on PATH" >&2; exit 1; }
