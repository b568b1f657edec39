"""Writes the UNet's parity fixture: a tiny random-weight UNet2DConditionModel built with diffusers'
own class (SD 1.x layout: a plain down block and a cross-attention one, cross-attention mid block,
their mirrors up, conv projections in the transformers), saved as a diffusers `unet/` folder with F16
weights, and one denoising step's output.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Writes Tests/Fixtures/diffusion/tiny-pipeline/unet/{config.json,diffusion_pytorch_model.safetensors} and
unet-step.json: latents 1x4x8x8, timestep 999 and 3, text states 1x7x32 (the tiny text encoder's width),
and the predicted noise.
"""
import json
import os
import sys

import torch
from diffusers import UNet2DConditionModel
from oracle_io import randomize, save_stable

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def main(out_dir):
    torch.manual_seed(20261210)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8).eval()
    randomize(unet, f16=True)
    folder = f"{out_dir}/tiny-pipeline/unet"
    os.makedirs(folder, exist_ok=True)
    unet.save_config(folder)
    save_stable({k: v.half().contiguous() for k, v in unet.state_dict().items()}, f"{folder}/diffusion_pytorch_model.safetensors",
              metadata={"regenerate": REGENERATE, "format": "pt"})
    g = torch.Generator().manual_seed(4)
    latents = torch.randn(1, 4, 8, 8, generator=g)
    text = torch.randn(1, 7, 32, generator=g)
    cases = []
    with torch.no_grad():
        for t in [999, 3]:
            out = unet(latents, torch.tensor([t]), encoder_hidden_states=text).sample
            cases.append({"timestep": t, "noise": out.flatten().tolist()})
    import diffusers
    with open(f"{out_dir}/unet-step.json", "w") as f:
        json.dump({"regenerate": REGENERATE, "diffusers": diffusers.__version__, "torch": torch.__version__,
                   "latents": latents.flatten().tolist(), "text": text.flatten().tolist(), "text_shape": list(text.shape),
                   "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
