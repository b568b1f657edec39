"""Writes the VAE decoder's parity fixture: a tiny random-weight AutoencoderKL built with diffusers'
own class (channels 16 and 32, 8 groups, weights rounded to F16 and stored so), saved as a diffusers
`vae/` folder, and its decode of a fixed latent.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Writes Tests/Fixtures/diffusion/tiny-pipeline/vae/{config.json,diffusion_pytorch_model.safetensors} and
vae-decode.json: a 1x4x8x8 latent, `vae.decode(latent).sample` (1x3x16x16), float32.
"""
import json
import os
import sys

import torch
from diffusers import AutoencoderKL
from oracle_io import randomize, save_stable

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def main(out_dir):
    torch.manual_seed(20261209)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), block_out_channels=(16, 32),
                        layers_per_block=1, latent_channels=4, norm_num_groups=8, sample_size=16).eval()
    randomize(vae, f16=True)
    folder = f"{out_dir}/tiny-pipeline/vae"
    os.makedirs(folder, exist_ok=True)
    vae.save_config(folder)
    state = {k: v.half().contiguous() for k, v in vae.state_dict().items() if k.startswith(("decoder.", "post_quant_conv."))}
    save_stable(state, f"{folder}/diffusion_pytorch_model.safetensors", metadata={"regenerate": REGENERATE, "format": "pt"})
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        image = vae.decode(latent).sample
    import diffusers
    with open(f"{out_dir}/vae-decode.json", "w") as f:
        json.dump({"regenerate": REGENERATE, "diffusers": diffusers.__version__, "torch": torch.__version__,
                   "latent_shape": list(latent.shape), "latent": latent.flatten().tolist(),
                   "image_shape": list(image.shape), "image": image.flatten().tolist()}, f)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
