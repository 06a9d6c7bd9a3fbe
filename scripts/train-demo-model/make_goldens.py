"""Golden END-position year logits for a trained demo model, from an independent PyTorch forward.

    /usr/bin/python3 make_goldens.py MODEL_DIR OUT.safetensors [--prompts test/fixtures/greater-than-gpt2-layer0/golden.safetensors]

The forward is bench/torch_gpt2.py's (plain PyTorch, no transformers, no code of this library). The
prompts are the fixed 490-prompt balanced set of the old bundled model's golden file (YY cycling
02..98, corrupted start year XX01), so both goldens share one dataset. Writes the same tensors as that
file: tokens, corrupted_tokens, yy, year_tokens [100], year_logits and corrupted_year_logits [490, 100]
(float32, END logits of "00".."99"), prob_diff and cutoff_sharpness [490] (softmax over the full
vocabulary), and the means and prompts as metadata.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "../..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, HERE)
from torch_gpt2 import forward, load_gpt2  # noqa: E402
from train import read_safetensors, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--prompts", default=os.path.join(ROOT, "test/fixtures/greater-than-gpt2-layer0/golden.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    src = read_safetensors(a.prompts)
    with open(a.prompts, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        prompts = json.loads(f.read(n))["__metadata__"]["prompts"]
    cfg, w = load_gpt2(a.model)
    w = {k: v.float() for k, v in w.items()}  # float16 weights, widened; computed in float32
    yt = torch.from_numpy(src["year_tokens"].astype(np.int64))
    yy = torch.from_numpy(src["yy"].astype(np.int64))
    out = {k: src[k] for k in ("tokens", "corrupted_tokens", "yy", "year_tokens")}
    gt = torch.arange(100)[None] > yy[:, None]
    means = {}
    with torch.no_grad():
        for name, key in (("year_logits", "tokens"), ("corrupted_year_logits", "corrupted_tokens")):
            logits = forward(cfg, w, torch.from_numpy(src[key].astype(np.int64)))[:, -1].float()
            probs = torch.softmax(logits, -1)[:, yt]
            pd = (probs * gt).sum(1) - (probs * ~gt).sum(1)
            out[name] = logits[:, yt].numpy().astype(np.float32)
            if key == "tokens":
                rows = torch.arange(len(yy))
                cs = probs[rows, yy + 1] - probs[rows, yy - 1]
                out["prob_diff"] = pd.numpy().astype(np.float32)
                out["cutoff_sharpness"] = cs.numpy().astype(np.float32)
                means["prob_diff_mean"] = f"{pd.mean().item():.6f}"
                means["cutoff_sharpness_mean"] = f"{cs.mean().item():.6f}"
            else:
                means["corrupted_prob_diff_mean"] = f"{pd.mean().item():.6f}"
    write_safetensors(a.out, out, {**means, "prompts": prompts, "model": os.path.basename(os.path.normpath(a.model)),
                                   "forward": "bench/torch_gpt2.py (PyTorch, float32)"})
    print(json.dumps(means))


if __name__ == "__main__":
    main()
