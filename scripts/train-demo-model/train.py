"""Train the bundled demo model: a small GPT-2 (HF GPT2LMHeadModel layout) on synthetic text.

    python3 train.py --corpus /tmp/demo/corpus --years /tmp/demo/years.json --out DIR [options]

Reads the corpus tokenized by `node tokenize.mjs corpus` (documents -> GPT-2 r50k_base ids), packs it
into sequences of --seq tokens that start with <|endoftext|> (50256), documents separated by it, and
trains next-token prediction with one CPU thread, a fixed number of steps and a fixed seed.

Loss: cross-entropy with the softmax over the full 50257-token vocabulary at every position, made
cheap by one shared embedding row for all tokens that never occur in the corpus (see logits_full);
positions whose target is a two-digit year after a century token (" 10".." 18" then "00".."99") are
weighted by --year-weight.

Keeping layer 0 from solving the task alone: during training a penalty (--l0-penalty) on layer 0's
attention to keys more than --l0-window tokens back (other than position 0) teaches layer 0 local
attention patterns, so the start year's YY can reach the last position only through later layers. The
penalty shapes the learned weights; the saved model is an ordinary GPT-2 with full causal attention.
Head dropout (--head-drop) in layers >= 1 spreads the work over several heads.

Writes DIR/config.json and DIR/model.safetensors (float16, tied embeddings, "transformer." keys) and
DIR/train-log.json.
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

EOT = 50256
VOCAB = 50257


def read_safetensors(path):
    buf = np.fromfile(path, dtype=np.uint8)
    (n,) = struct.unpack("<Q", buf[:8].tobytes())
    header = json.loads(buf[8:8 + n].tobytes())
    types = {"F32": np.float32, "F16": np.float16, "I32": np.int32}
    out = {}
    for k, info in header.items():
        if k == "__metadata__":
            continue
        s, e = info["data_offsets"]
        out[k] = buf[8 + n + s:8 + n + e].view(types[info["dtype"]]).reshape(info["shape"])
    return out


def write_safetensors(path, tensors, metadata=None):
    """name -> float16/int32 numpy array, written in safetensors format (sorted keys)."""
    names = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
    header, offset, blobs = {}, 0, []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        b = a.tobytes()
        header[k] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Block(torch.nn.Module):
    def __init__(self, d, n_head, d_mlp):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = torch.nn.LayerNorm(d, eps=1e-5)
        self.ln_2 = torch.nn.LayerNorm(d, eps=1e-5)
        std = 0.02
        # HF Conv1D layout: weight [in, out], y = x @ W + b
        self.c_attn_w = torch.nn.Parameter(torch.randn(d, 3 * d) * std)
        self.c_attn_b = torch.nn.Parameter(torch.zeros(3 * d))
        self.c_proj_w = torch.nn.Parameter(torch.randn(d, d) * std)
        self.c_proj_b = torch.nn.Parameter(torch.zeros(d))
        self.fc_w = torch.nn.Parameter(torch.randn(d, d_mlp) * std)
        self.fc_b = torch.nn.Parameter(torch.zeros(d_mlp))
        self.fc2_w = torch.nn.Parameter(torch.randn(d_mlp, d) * std)
        self.fc2_b = torch.nn.Parameter(torch.zeros(d))

    def forward(self, x, causal, head_drop=0.0):
        B, T, d = x.shape
        H = self.n_head
        dh = d // H
        qkv = self.ln_1(x) @ self.c_attn_w + self.c_attn_b
        q, k, v = qkv.view(B, T, 3, H, dh).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        pattern = scores.masked_fill(causal, float("-inf")).softmax(-1)  # [B, H, T, T]
        z = pattern @ v  # [B, H, T, dh]
        if head_drop > 0 and self.training:
            keep = (torch.rand(B, H, 1, 1) >= head_drop).to(z.dtype)
            z = z * keep / (1 - head_drop)
        z = z.transpose(1, 2).reshape(B, T, d)
        x = x + z @ self.c_proj_w + self.c_proj_b
        m = F.gelu(self.ln_2(x) @ self.fc_w + self.fc_b, approximate="tanh")
        return x + m @ self.fc2_w + self.fc2_b, pattern


class GPT2(torch.nn.Module):
    def __init__(self, n_layer, d, n_head, n_ctx):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.randn(VOCAB, d) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(n_ctx, d) * 0.01)
        self.h = torch.nn.ModuleList(Block(d, n_head, 4 * d) for _ in range(n_layer))
        self.ln_f = torch.nn.LayerNorm(d, eps=1e-5)
        for blk in self.h:  # GPT-2's scaled init of the residual projections
            for p in (blk.c_proj_w, blk.fc2_w):
                p.data /= math.sqrt(2 * n_layer)

    def forward(self, ids, head_drop=0.0):
        T = ids.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.wte[ids] + self.wpe[:T]
        patterns = []
        for i, blk in enumerate(self.h):
            x, p = blk(x, causal, head_drop if i > 0 else 0.0)
            patterns.append(p)
        return self.ln_f(x), patterns

    def hf_state_dict(self):
        wte = self.wte.detach().clone()
        rest = torch.ones(VOCAB, dtype=torch.bool)
        rest[self.used] = False
        wte[rest] = self.w_rest.detach()
        sd = {"transformer.wte.weight": wte, "transformer.wpe.weight": self.wpe,
              "transformer.ln_f.weight": self.ln_f.weight, "transformer.ln_f.bias": self.ln_f.bias}
        for i, b in enumerate(self.h):
            p = f"transformer.h.{i}."
            sd.update({p + "ln_1.weight": b.ln_1.weight, p + "ln_1.bias": b.ln_1.bias,
                       p + "ln_2.weight": b.ln_2.weight, p + "ln_2.bias": b.ln_2.bias,
                       p + "attn.c_attn.weight": b.c_attn_w, p + "attn.c_attn.bias": b.c_attn_b,
                       p + "attn.c_proj.weight": b.c_proj_w, p + "attn.c_proj.bias": b.c_proj_b,
                       p + "mlp.c_fc.weight": b.fc_w, p + "mlp.c_fc.bias": b.fc_b,
                       p + "mlp.c_proj.weight": b.fc2_w, p + "mlp.c_proj.bias": b.fc2_b})
        return {k: v.detach().float().numpy().astype(np.float16) for k, v in sd.items()}


def load_hf(model, path):
    """Weights of a model saved by this script (float16, widened); the shared rest row from an unused token's."""
    w = {k: torch.from_numpy(v.astype(np.float32)) for k, v in read_safetensors(path).items()}
    names = {"transformer.wte.weight": model.wte, "transformer.wpe.weight": model.wpe}
    for k, p in model.named_parameters():
        if k.startswith("h."):
            names["transformer." + k.replace("c_attn_w", "attn.c_attn.weight").replace("c_attn_b", "attn.c_attn.bias")
                  .replace("c_proj_w", "attn.c_proj.weight").replace("c_proj_b", "attn.c_proj.bias")
                  .replace("fc2_w", "mlp.c_proj.weight").replace("fc2_b", "mlp.c_proj.bias")
                  .replace("fc_w", "mlp.c_fc.weight").replace("fc_b", "mlp.c_fc.bias")] = p
    names["transformer.ln_f.weight"], names["transformer.ln_f.bias"] = model.ln_f.weight, model.ln_f.bias
    with torch.no_grad():
        for k, p in names.items():
            p.copy_(w[k])
        rest = torch.ones(VOCAB, dtype=torch.bool)
        rest[model.used] = False
        model.w_rest.copy_(w["transformer.wte.weight"][rest.nonzero()[0, 0]])


def pack(tokens, lengths, seq):
    """Sequences of `seq` tokens: <|endoftext|> doc <|endoftext|> doc ...; the doc that overflows is cut."""
    out, cur, o = [], [EOT], 0
    for n in lengths:
        doc = tokens[o:o + n]
        o += n
        cur.extend(doc.tolist())
        cur.append(EOT)
        if len(cur) >= seq:
            out.append(cur[:seq])
            cur = [EOT]
    return np.array(out, dtype=np.int64)


def hf_config(a):
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.0,
            "bos_token_id": EOT, "embd_pdrop": 0.0, "eos_token_id": EOT, "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": a.d_model, "n_head": a.n_head,
            "n_inner": None, "n_layer": a.n_layer, "n_positions": a.n_ctx, "resid_pdrop": 0.0,
            "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
            "tie_word_embeddings": True, "torch_dtype": "float16", "vocab_size": VOCAB}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--years", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--golden", default=os.path.join(os.path.dirname(__file__), "../../test/fixtures/greater-than-gpt2-layer0/golden.safetensors"))
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-ctx", type=int, default=64)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--year-weight", type=float, default=2.0)
    ap.add_argument("--l0-window", type=int, default=2)
    ap.add_argument("--l0-penalty", type=float, default=1.0)
    ap.add_argument("--head-drop", type=float, default=0.1)
    ap.add_argument("--stop-at", type=int, default=None, help="stop after this step (the schedule stays --steps')")
    ap.add_argument("--init", default=None, help="start from this model directory (a second training stage)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--print-every", type=int, default=50)
    ap.add_argument("--save-every", type=int, default=500, help="also keep a copy in OUT/step-N every N steps")
    a = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    info = json.load(open(a.years))
    year_tok = torch.tensor(info["year_tokens"])
    century_tok = torch.tensor([v[0] for v in info["century_tokens"].values() if len(v) == 1])

    tokens = np.fromfile(a.corpus + ".tokens.u16", dtype=np.uint16)
    lengths = np.fromfile(a.corpus + ".lengths.u32", dtype=np.uint32)
    data = torch.from_numpy(pack(tokens, lengths, a.seq + 1))
    used = torch.from_numpy(np.union1d(np.unique(tokens), np.array(info["year_tokens"] + [EOT]))).long()
    n_rest = VOCAB - len(used)
    remap = torch.full((VOCAB,), len(used), dtype=torch.long)  # every unused token -> the "rest" class
    remap[used] = torch.arange(len(used))
    print(f"{len(data)} sequences of {a.seq + 1} tokens, {len(used)} distinct tokens", flush=True)

    g = read_safetensors(a.golden)
    ev_ids = torch.from_numpy(g["tokens"].astype(np.int64))
    ev_bad = torch.from_numpy(g["corrupted_tokens"].astype(np.int64))
    ev_yy = torch.from_numpy(g["yy"].astype(np.int64))

    model = GPT2(a.n_layer, a.d_model, a.n_head, a.n_ctx)
    # Tokens that never occur in the corpus share one embedding row (model.w_rest); the softmax over
    # the full vocabulary is then exact and cheap: used tokens + one logit counted n_rest times.
    model.w_rest = torch.nn.Parameter(torch.randn(a.d_model) * 0.02)
    model.used = used
    if a.init:
        load_hf(model, os.path.join(a.init, "model.safetensors"))
    log_n_rest = math.log(n_rest)

    def logits_full(h):
        """Logits over [used tokens..., rest]; the rest logit carries log(n_rest), so that logsumexp is the full vocabulary's."""
        return torch.cat([h @ model.wte[used].T, (h @ model.w_rest)[..., None] + log_n_rest], -1)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98))
    T = a.seq
    far = torch.ones(T, T, dtype=torch.bool).tril(-(a.l0_window + 1))  # keys more than window back
    far[:, 0] = False  # attending to position 0 (<|endoftext|>) is allowed

    @torch.no_grad()
    def evaluate():
        model.eval()
        res = {}
        for name, ids in (("pd", ev_ids), ("corrupted_pd", ev_bad)):
            h, pats = model(ids)
            p = torch.softmax(logits_full(h[:, -1]), -1)[:, remap[year_tok]]
            gt = torch.arange(100)[None] > ev_yy[:, None]
            res[name] = ((p * gt).sum(1) - (p * ~gt).sum(1)).mean().item()
            if name == "pd":
                res["cs"] = (p[torch.arange(len(ids)), ev_yy + 1] - p[torch.arange(len(ids)), ev_yy - 1]).mean().item()
                # attention END -> YY (position 8), per layer: the largest head's
                res["attn_end_yy"] = [round(pt[:, :, -1, 8].mean(0).max().item(), 3) for pt in pats]
        model.train()
        return res

    log, t0 = [], time.time()
    model.train()
    last = min(a.steps, a.stop_at or a.steps)
    for step in range(1, last + 1):
        lr = a.lr * min(1.0, step / a.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / a.steps)))
        lr = max(lr, a.lr * 0.05) if step > a.warmup else lr
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.from_numpy(rng.integers(0, len(data), a.batch))
        seq = data[idx]
        x, y = seq[:, :-1], seq[:, 1:]
        h, pats = model(x, a.head_drop)
        is_year = torch.isin(y, year_tok) & torch.isin(x, century_tok)
        lm_tok = F.cross_entropy(logits_full(h).flatten(0, 1), remap[y].flatten(), reduction="none").view_as(y)
        w = 1.0 + (a.year_weight - 1.0) * is_year.float()
        lm = (lm_tok * w).sum() / w.sum()
        year_ce = lm_tok[is_year].mean()
        l0_far = (pats[0] * far).sum(-1).mean()
        loss = lm + a.l0_penalty * l0_far
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % a.print_every == 0:
            print(f"step {step} lm {lm.item():.4f} year-CE {year_ce.item():.4f} "
                  f"l0-far {l0_far.item():.4f} lr {lr:.2e} t={time.time() - t0:.0f}s", flush=True)
        if step % a.eval_every == 0 or step == last:
            r = evaluate()
            r.update(step=step, lm=round(lm.item(), 4), l0_far=round(l0_far.item(), 4), t=round(time.time() - t0))
            log.append(r)
            print("EVAL", json.dumps(r), flush=True)
            save(model, a, log, a.out)
        if a.save_every and step % a.save_every == 0:
            save(model, a, log, os.path.join(a.out, f"step-{step}"))
    save(model, a, log, a.out)


def save(model, a, log, out):
    os.makedirs(out, exist_ok=True)
    json.dump(hf_config(a), open(os.path.join(out, "config.json"), "w"), indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"), model.hf_state_dict(), {"format": "pt"})
    json.dump({"args": vars(a), "log": log}, open(os.path.join(out, "train-log.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
