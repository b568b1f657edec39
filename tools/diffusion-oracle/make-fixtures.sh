#!/usr/bin/env bash
# Regenerates the diffusion runtime's committed fixtures from the reference libraries.
#
#   tools/diffusion-oracle/make-fixtures.sh
#
# Sets up tools/diffusion-oracle/.venv (setup-venv.sh: PyTorch CPU, safetensors) and writes
# Tests/Fixtures/diffusion/: reference.safetensors + reference.json (safetensors_fixtures.py) and
# clip-tokenizer.json (tokenizer_fixtures.py; needs $STUDIO_HOME/testdata/clip from scripts/setup.sh test),
# tiny-text-encoder/ + text-encoder.json (text_encoder_fixtures.py), tiny-vae/ + vae-decode.json
# (vae_fixtures.py; only the decoder and post_quant_conv weights are kept), tiny-unet/ + unet-step.json
# (unet_fixtures.py), pipeline-ddim.json (pipeline_fixtures.py: the three parts in diffusers' pipeline).
# Deterministic: fixed seeds; the same library versions give the same bytes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/Tests/Fixtures/diffusion"
python="$("$here/setup-venv.sh")"
mkdir -p "$out"
"$python" "$here/safetensors_fixtures.py" "$out"
"$python" "$here/tokenizer_fixtures.py" "$out"
"$python" "$here/text_encoder_fixtures.py" "$out"
"$python" "$here/vae_fixtures.py" "$out"
"$python" "$here/unet_fixtures.py" "$out"
"$python" "$here/pipeline_fixtures.py" "$out"
"$python" "$here/ip_adapter_fixtures.py" "$out"

find "$out" -type d -exec chmod 755 {} +
find "$out" -type f -exec chmod 644 {} +
