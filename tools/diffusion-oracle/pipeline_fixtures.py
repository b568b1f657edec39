"""Writes the sampling loop's parity fixture: diffusers' StableDiffusionPipeline assembled from the tiny
text encoder, UNet and VAE fixtures with a DDIMScheduler (SD 1.5's settings), 4 steps, guidance 7.5,
from a fixed initial noise, with prompt embeddings from the tiny text encoder.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv, after the part scripts

Writes Tests/Fixtures/diffusion/pipeline-ddim.json: the id sequences, the initial noise, the scheduler's
timesteps, the final latents (output_type="latent") and their decode `vae.decode(latents / 0.18215)`;
and pipeline-euler-a.json: the same with EulerAncestralDiscreteScheduler (its default linspace spacing),
whose per-step noise is recorded (the scheduler's randn_tensor is replaced by draws kept in the file);
and pipeline-dpmpp-2m-karras.json with DPMSolverMultistepScheduler(use_karras_sigmas=True) ("DPM++ 2M Karras").
"""
import json
import math
import sys

import torch
import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_module
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       StableDiffusionPipeline, UNet2DConditionModel)
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
    common = {"regenerate": REGENERATE, "diffusers": diffusers.__version__, "torch": torch.__version__,
              "positive_ids": positive, "negative_ids": negative, "steps": 4, "guidance": 7.5, "noise": noise.flatten().tolist()}
    write(f"{out_dir}/pipeline-ddim.json", common, scheduler, latents, image)

    euler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    pipe.scheduler = euler
    draws = []
    g = torch.Generator().manual_seed(8)

    def recorded(shape, generator=None, device=None, dtype=None, layout=None):
        draws.append(torch.randn(shape, generator=g, dtype=torch.float32))
        return draws[-1]

    euler_module.randn_tensor = recorded
    with torch.no_grad():
        latents = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, latents=noise.clone(), num_inference_steps=4,
                       guidance_scale=7.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    common["step_noise"] = [d.flatten().tolist() for d in draws]
    write(f"{out_dir}/pipeline-euler-a.json", common, euler, latents, image)
    del common["step_noise"]

    dpm = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                                      use_karras_sigmas=True)
    pipe.scheduler = dpm
    with torch.no_grad():
        latents = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, latents=noise.clone(), num_inference_steps=4,
                       guidance_scale=7.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    common["sigmas"] = dpm.sigmas.tolist()
    write(f"{out_dir}/pipeline-dpmpp-2m-karras.json", common, dpm, latents, image)


def write(path, common, scheduler, latents, image):
    doc = dict(common)
    # Private keys and non-finite values (lambda_min_clipped = -inf) are left out: JSON has no infinity.
    config = {k: v for k, v in scheduler.config.items()
              if not k.startswith("_") and not (isinstance(v, float) and not math.isfinite(v))}
    doc.update({"scheduler": config,
                "timesteps": scheduler.timesteps.tolist(), "latents": latents.flatten().tolist(),
                "image_shape": list(image.shape), "image": image.flatten().tolist()})
    with open(path, "w") as f:
        json.dump(doc, f, sort_keys=True, allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
