"""Writes the CLIP text encoder's parity fixture: a tiny random-weight CLIPTextModel built with
transformers' own classes, saved as a diffusers `text_encoder/` folder, and its outputs.

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Writes Tests/Fixtures/diffusion/tiny-pipeline/text_encoder/{config.json,model.safetensors} and
text-encoder.json: for three id sequences, last_hidden_state, hidden_states[-2] passed through the
final layer norm (diffusers' clip_skip=1) and the pooled output, float32, from eager attention.
"""
import json
import sys

import torch
from oracle_io import save_stable
from transformers import CLIPTextConfig, CLIPTextModel

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def main(out_dir):
    torch.manual_seed(20261208)
    config = CLIPTextConfig(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=3,
                            num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                            layer_norm_eps=1e-5, bos_token_id=998, eos_token_id=999, pad_token_id=999,
                            projection_dim=32, attn_implementation="eager")
    model = CLIPTextModel(config).eval()
    # Random weights everywhere, including the layer norms (their defaults are ones and zeros).
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    folder = f"{out_dir}/tiny-pipeline/text_encoder"
    import os
    os.makedirs(folder, exist_ok=True)
    model.config.to_json_file(f"{folder}/config.json")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_stable(state, f"{folder}/model.safetensors", metadata={"regenerate": REGENERATE, "format": "pt"})

    g = torch.Generator().manual_seed(5)
    sequences = [
        [998, 5, 17, 400, 999] + [999] * 72,
        [998] + torch.randint(0, 998, (75,), generator=g).tolist() + [999],
        [998, 999] + [999] * 75,
    ]
    cases = []
    with torch.no_grad():
        for ids in sequences:
            out = model(torch.tensor([ids]), output_hidden_states=True)
            skip1 = model.text_model.final_layer_norm(out.hidden_states[-2])
            cases.append({"ids": ids,
                          "last_hidden_state": out.last_hidden_state[0].flatten().tolist(),
                          "clip_skip_1": skip1[0].flatten().tolist(),
                          "pooled": out.pooler_output[0].tolist()})
    import transformers
    with open(f"{out_dir}/text-encoder.json", "w") as f:
        json.dump({"regenerate": REGENERATE, "transformers": transformers.__version__, "torch": torch.__version__,
                   "hidden_size": 32, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
