#!/usr/bin/env bash
# Creates tools/diffusion-oracle/.venv with the reference libraries the diffusion fixtures come from:
# PyTorch (CPU), safetensors, transformers, ftfy, diffusers, at the versions below. Oracles only: nothing at run time uses them.
#
#   tools/diffusion-oracle/setup-venv.sh        # idempotent; prints the venv's python
#
# Needs python3 with venv and PyPI (torch is taken from $PIP_FIND_LINKS when a wheel is there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
SAFETENSORS_VERSION="0.8.0"
NUMPY_VERSION="2.2.6"
TRANSFORMERS_VERSION="4.57.3"
FTFY_VERSION="6.3.1"
REGEX_VERSION="2026.12.2"
DIFFUSERS_VERSION="0.36.0"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
pip_install() {
    for attempt in 1 2 3; do
        "$venv/bin/pip" install --quiet "$@" && return 0
        echo "setup-venv: pip install $* failed (attempt $attempt)" >&2; sleep $((attempt * 5))
    done
    return 1
}
"$venv/bin/python" -c "import torch, safetensors, numpy, transformers, ftfy, diffusers" 2>/dev/null || \
    pip_install "torch==$TORCH_VERSION" "safetensors==$SAFETENSORS_VERSION" "numpy==$NUMPY_VERSION" \
        "transformers==$TRANSFORMERS_VERSION" "ftfy==$FTFY_VERSION" "regex==$REGEX_VERSION" "diffusers==$DIFFUSERS_VERSION"
echo "$venv/bin/python"
