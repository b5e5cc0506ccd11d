#!/usr/bin/env bash
# Installs what prunedef needs to build, test and run on Debian 12 (bookworm), plus any packages
# given as arguments (the fuzzing and benchmark scripts name theirs):
#   bash scripts/setup-debian.sh [PACKAGE ...]
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev libhdf5-dev zlib1g-dev doctest-dev libstb-dev libcli11-dev nlohmann-json3-dev libzip-dev libonnx-dev libprotobuf-dev hdf5-tools
          libopenmpi-dev openmpi-bin
          python3-venv python3-dev
          dataset-fashion-mnist
          "$@")
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
