"""Writes the IP-Adapter attention parity fixture: diffusers' Attention with its IPAdapterAttnProcessor2_0
(decoupled cross-attention: the text's keys and values, plus the image tokens' own, weighted by the scale),
random weights.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Writes Tests/Fixtures/diffusion/ip-attention.safetensors (the module's and processor's weights, diffusers'
names) and ip-attention.json: hidden states 1x16x32, text states 1x7x32, 4 image tokens 1x4x32, scale 0.6,
and the output.
"""
import json
import sys

import torch
from diffusers.models.attention_processor import Attention, IPAdapterAttnProcessor2_0

from oracle_io import randomize, save_stable

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def main(out_dir):
    torch.manual_seed(20261211)
    attn = Attention(query_dim=32, cross_attention_dim=32, heads=4, dim_head=8, bias=False, out_bias=True).eval()
    attn.set_processor(IPAdapterAttnProcessor2_0(hidden_size=32, cross_attention_dim=32, num_tokens=(4,), scale=0.6))
    randomize(attn)
    g = torch.Generator().manual_seed(12)
    hidden, text, image = torch.randn(1, 16, 32, generator=g), torch.randn(1, 7, 32, generator=g), torch.randn(1, 4, 32, generator=g)
    with torch.no_grad():
        out = attn(hidden, encoder_hidden_states=(text, [image]))
    save_stable({k: v.contiguous() for k, v in attn.state_dict().items()}, f"{out_dir}/ip-attention.safetensors",
                metadata={"regenerate": REGENERATE, "format": "pt"})
    import diffusers
    with open(f"{out_dir}/ip-attention.json", "w") as f:
        json.dump({"regenerate": REGENERATE, "diffusers": diffusers.__version__, "torch": torch.__version__, "heads": 4, "scale": 0.6,
                   "hidden": hidden.flatten().tolist(), "text": text.flatten().tolist(), "image": image.flatten().tolist(),
                   "output": out.flatten().tolist()}, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
