"""Writes the sampling loop's parity fixture: diffusers' StableDiffusionPipeline assembled from the tiny
text encoder, UNet and VAE fixtures with a DDIMScheduler (SD 1.5's settings), 4 steps, guidance 7.5,
from a fixed initial noise, with prompt embeddings from the tiny text encoder.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv, after the part scripts

Writes Tests/Fixtures/diffusion/pipeline-ddim.json: the id sequences, the initial noise, the scheduler's
timesteps, the final latents (output_type="latent") and their decode `vae.decode(latents / 0.18215)`;
and pipeline-euler-a.json: the same with EulerAncestralDiscreteScheduler (its default linspace spacing),
whose per-step noise is recorded (the scheduler's randn_tensor is replaced by draws kept in the file);
pipeline-dpmpp-2m-karras.json with DPMSolverMultistepScheduler(use_karras_sigmas=True) ("DPM++ 2M Karras"); and
pipeline-lcm.json with LCMScheduler (its defaults: 50-step grid, timestep scaling 10), guidance 1.5, noise recorded.

It also completes tiny-pipeline/ as a diffusers folder: model_index.json, scheduler/ (DDIM, SD 1.5's settings)
and tokenizer/ (CLIP's first 486 merges: 1,000 tokens, the tiny text encoder's vocabulary, with
<|startoftext|> 998 and <|endoftext|> 999); pipeline-text.json runs the whole pipeline from text
(prompt and negative prompt through the tokenizer), DDIM 4 steps.
"""
import json
import math
import sys

import torch
import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_module
import diffusers.schedulers.scheduling_lcm as lcm_module
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       LCMScheduler, StableDiffusionPipeline, UNet2DConditionModel)
from transformers import CLIPTextModel, CLIPTokenizer

from tokenizer_fixtures import bytes_to_unicode

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def write_tiny_tokenizer(out_dir):
    """tokenizer/ with the first 486 CLIP merges (STUDIO_HOME/testdata/clip, as tokenizer_fixtures.py reads it)."""
    import os
    bpe = os.path.join(os.environ.get("STUDIO_HOME", os.path.expanduser("~/.studio")), "testdata/clip/bpe_simple_vocab_16e6.txt")
    merges = [tuple(m.split()) for m in open(bpe, encoding="utf-8").read().split("\n")[1:487]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 1000
    folder = f"{out_dir}/tiny-pipeline/tokenizer"
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(dict(zip(vocab, range(len(vocab)))), f, ensure_ascii=False, sort_keys=True)
    with open(f"{folder}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    with open(f"{folder}/special_tokens_map.json", "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>"}, f, indent=2, sort_keys=True)
    with open(f"{folder}/tokenizer_config.json", "w") as f:
        json.dump({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}, f, indent=2, sort_keys=True)
    return CLIPTokenizer(f"{folder}/vocab.json", f"{folder}/merges.txt", model_max_length=77)


def main(out_dir):
    text_encoder = CLIPTextModel.from_pretrained(f"{out_dir}/tiny-pipeline/text_encoder", attn_implementation="eager").eval()
    unet = UNet2DConditionModel.from_pretrained(f"{out_dir}/tiny-pipeline/unet", torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_pretrained(f"{out_dir}/tiny-pipeline/vae", torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
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

    tokenizer = write_tiny_tokenizer(out_dir)
    ddim = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")
    ddim.save_config(f"{out_dir}/tiny-pipeline/scheduler")
    text_pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=ddim,
                                        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    text_pipe.save_config(f"{out_dir}/tiny-pipeline")
    prompt, negative_prompt = "a photo of a cat wearing a red hat", "blurry, lowres, deformed"
    with torch.no_grad():
        latents = text_pipe(prompt=prompt, negative_prompt=negative_prompt, latents=noise.clone(), num_inference_steps=4,
                            guidance_scale=7.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    text_doc = dict(common)
    text_doc.update({"prompt": prompt, "negative_prompt": negative_prompt,
                     "positive_ids": tokenizer(prompt, padding="max_length", max_length=77, truncation=True).input_ids,
                     "negative_ids": tokenizer(negative_prompt, padding="max_length", max_length=77, truncation=True).input_ids})
    write(f"{out_dir}/pipeline-text.json", text_doc, ddim, latents, image)

    dpm = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                                      use_karras_sigmas=True)
    pipe.scheduler = dpm
    with torch.no_grad():
        latents = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, latents=noise.clone(), num_inference_steps=4,
                       guidance_scale=7.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    common["sigmas"] = dpm.sigmas.tolist()
    write(f"{out_dir}/pipeline-dpmpp-2m-karras.json", common, dpm, latents, image)
    del common["sigmas"]

    lcm = LCMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    pipe.scheduler = lcm
    draws.clear()
    lcm_module.randn_tensor = recorded
    with torch.no_grad():
        latents = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, latents=noise.clone(), num_inference_steps=4,
                       guidance_scale=1.5, output_type="latent", height=64, width=64).images
        image = vae.decode(latents / vae.config.scaling_factor).sample
    lcm_doc = dict(common)
    lcm_doc.update({"guidance": 1.5, "step_noise": [d.flatten().tolist() for d in draws]})
    write(f"{out_dir}/pipeline-lcm.json", lcm_doc, lcm, latents, image)


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
