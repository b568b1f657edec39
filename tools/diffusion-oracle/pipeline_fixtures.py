"""Writes the sampling loop's parity fixture: diffusers' StableDiffusionPipeline assembled from the tiny
text encoder, UNet and VAE fixtures with a DDIMScheduler (SD 1.5's settings), 4 steps, guidance 7.5,
from a fixed initial noise, with prompt embeddings from the tiny text encoder.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv, after the part scripts

Writes Tests/Fixtures/diffusion/pipeline-ddim.json: the id sequences, the initial noise, the scheduler's
timesteps, the final latents (output_type="latent") and their decode `vae.decode(latents / 0.18215)`.
"""
import json
import sys

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def main(out_dir):
    text_encoder = CLIPTextModel.from_pretrained(f"{out_dir}/tiny-text-encoder", attn_implementation="eager").eval()
    unet = UNet2DConditionModel.from_pretrained(f"{out_dir}/tiny-unet", torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_pretrained(f"{out_dir}/tiny-vae", torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=None, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    positive = [998, 5, 17, 400, 999] + [999] * 72
    negative = [998, 999] + [999] * 75
    with torch.no_grad():
        pe = text_encoder(torch.tensor([positive])).last_hidden_state
        ne = text_encoder(torch.tensor([negative])).last_hidden_state
        noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6))
        latents = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, latents=noise.clone(), num_inference_steps=4,
                       guidance_scale=7.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    import diffusers
    with open(f"{out_dir}/pipeline-ddim.json", "w") as f:
        json.dump({"regenerate": REGENERATE, "diffusers": diffusers.__version__, "torch": torch.__version__,
                   "positive_ids": positive, "negative_ids": negative, "steps": 4, "guidance": 7.5,
                   "scheduler": {k: v for k, v in scheduler.config.items() if not k.startswith("_")}, "timesteps": scheduler.timesteps.tolist(),
                   "noise": noise.flatten().tolist(), "latents": latents.flatten().tolist(),
                   "image_shape": list(image.shape), "image": image.flatten().tolist()}, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
