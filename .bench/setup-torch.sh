#!/usr/bin/env bash
# Installs Debian's CPU PyTorch (and numpy, which it depends on) for /usr/bin/python3, used by
# `npm run bench` to compare against bench/torch_gpt2.py. Needs root (or sudo) and apt.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else echo "setup-torch: need root or sudo to apt-get install" >&2; exit 1; fi
fi
if ! command -v apt-get >/dev/null 2>&1; then echo "setup-torch: apt-get not found (not Debian/Ubuntu)" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# (not `apt-cache … | grep -q`: with pipefail, grep closing the pipe early can fail the check)
policy="$(apt-cache policy python3-torch)"
if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
  echo "setup-torch: no python3-torch package in this distribution's apt sources" >&2
  exit 1
fi
$SUDO apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread
/usr/bin/python3 -c 'import torch, numpy; print("setup-torch: torch", torch.__version__, "numpy", numpy.__version__)'
