#!/usr/bin/python3
"""A minimal PyTorch GPT-2 forward (no transformers library) for `npm run bench` (bench/run-all.ts).

Loads a HuggingFace-style directory (config.json + model.safetensors, parsed here with json + numpy:
the `safetensors` package is not needed) and runs embeddings, pre-LN blocks with causal attention
and a gelu_new MLP, the final LayerNorm and the tied unembedding, under torch.no_grad().

  /usr/bin/python3 bench/torch_gpt2.py check --model DIR --expect FILE [--golden FILE]
      FILE holds "tokens" (I32) and "logits" (F32), e.g. from `gpt2-lens cache`; prints the largest
      |logit difference| between this forward and FILE's logits (and a HuggingFace golden file's).
  /usr/bin/python3 bench/torch_gpt2.py time --model DIR --shapes 1x13,32x13,8x128 --repeat 5 --threads 2
      one warm-up, then the median of --repeat full forwards (logits at every position) per shape.
  /usr/bin/python3 bench/torch_gpt2.py gemm --m 768 --k 768 --n 2304 --threads 1
  /usr/bin/python3 bench/torch_gpt2.py backward --model DIR --n 490 --seq 13 --threads 2
      forward (logits at the last position) vs forward + backward (autograd) of a PD-like metric.
Machine-readable results are printed as lines "RESULT {json}".
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    """name -> numpy array (views into one buffer read from the file)."""
    buf = np.fromfile(path, dtype=np.uint8)
    (header_len,) = struct.unpack("<Q", buf[:8].tobytes())
    header = json.loads(buf[8 : 8 + header_len].tobytes())
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]])
        out[name] = buf[base + start : base + end].view(dtype).reshape(info["shape"])
    return out


def load_gpt2(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    raw = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    w = {(k[len("transformer.") :] if k.startswith("transformer.") else k): torch.from_numpy(v) for k, v in raw.items()}
    cfg["n_inner"] = cfg.get("n_inner") or 4 * cfg["n_embd"]
    return cfg, w


def forward(cfg, w, tokens, last_only=False, embed_leaf=None):
    """tokens: LongTensor [batch, seq] -> logits [batch, seq, vocab] ([batch, 1, vocab] with last_only).
    embed_leaf: a list that receives the token embedding as a leaf requiring grad (for `backward`)."""
    batch, seq = tokens.shape
    d, n_head, eps = cfg["n_embd"], cfg["n_head"], cfg.get("layer_norm_epsilon", 1e-5)
    d_head = d // n_head
    causal = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    embed = w["wte.weight"][tokens]
    if embed_leaf is not None:
        embed.requires_grad_(True)
        embed_leaf.append(embed)
    x = embed + w["wpe.weight"][:seq]
    for layer in range(cfg["n_layer"]):
        p = f"h.{layer}."
        h = F.layer_norm(x, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = torch.addmm(w[p + "attn.c_attn.bias"], h.reshape(-1, d), w[p + "attn.c_attn.weight"])
        q, k, v = qkv.view(batch, seq, 3, n_head, d_head).permute(2, 0, 3, 1, 4)  # each [batch, head, seq, d_head]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d_head)
        pattern = scores.masked_fill(causal, float("-inf")).softmax(dim=-1)
        z = (pattern @ v).transpose(1, 2).reshape(-1, d)
        x = x + torch.addmm(w[p + "attn.c_proj.bias"], z, w[p + "attn.c_proj.weight"]).view(batch, seq, d)
        h = F.layer_norm(x, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps).reshape(-1, d)
        m = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]), approximate="tanh")  # gelu_new
        x = x + torch.addmm(w[p + "mlp.c_proj.bias"], m, w[p + "mlp.c_proj.weight"]).view(batch, seq, d)
    if last_only:
        x, seq = x[:, -1:], 1
    x = F.layer_norm(x, (d,), w["ln_f.weight"], w["ln_f.bias"], eps)
    untied = not cfg.get("tie_word_embeddings", True) and "lm_head.weight" in w
    unembed = w["lm_head.weight"] if untied else w["wte.weight"]
    return (x.reshape(-1, d) @ unembed.T).view(batch, seq, -1)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def blas_info():
    """The BLAS PyTorch's matmuls run on: for OpenBLAS, its version and the kernel set it picked for this CPU."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.split()[-1]}
        if not paths:
            return "not OpenBLAS (" + torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0] + ")"
        lib = ctypes.CDLL(sorted(paths)[0])
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return f"{lib.openblas_get_config().decode()}; core {lib.openblas_get_corename().decode()}"
    except (OSError, AttributeError) as e:
        return f"unknown ({e})"


def result(kind, **fields):
    print("RESULT " + json.dumps({"kind": kind, **fields}), flush=True)


def cmd_check(args):
    cfg, w = load_gpt2(args.model)
    expect = read_safetensors(args.expect)
    tokens = torch.from_numpy(expect["tokens"].astype(np.int64))
    with torch.no_grad():
        logits = forward(cfg, w, tokens).numpy()
    ours = expect["logits"]
    fields = {"batch": int(tokens.shape[0]), "seq": int(tokens.shape[1]), "max_abs_diff": float(np.abs(logits - ours).max()),
              "max_abs_logit": float(np.abs(ours).max())}
    if args.golden:
        golden = read_safetensors(args.golden)
        if np.array_equal(golden["tokens"], expect["tokens"]):
            fields["max_abs_diff_hf_golden"] = float(np.abs(logits - golden["logits"]).max())
    result("check", **fields)


def time_it(fn, repeat):
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def cmd_time(args):
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cfg, w = load_gpt2(args.model)
    load_ms = (time.perf_counter() - t0) * 1000
    rng = np.random.default_rng(args.seed)
    for shape in args.shapes.split(","):
        batch, seq = (int(s) for s in shape.lower().replace("×", "x").split("x"))
        if not (batch >= 1 and 1 <= seq <= cfg["n_positions"]):
            sys.exit(f"torch_gpt2.py: bad shape {shape} (seq must be 1…n_positions {cfg['n_positions']})")
        tokens = torch.from_numpy(rng.integers(0, cfg["vocab_size"], size=(batch, seq), dtype=np.int64))
        with torch.no_grad():
            samples = time_it(lambda: forward(cfg, w, tokens), args.repeat)
        result("forward", batch=batch, seq=seq, threads=torch.get_num_threads(), samples_ms=samples,
               median_ms=statistics.median(samples))
    result("process", load_ms=load_ms, peak_rss_bytes=peak_rss_bytes(), torch=torch.__version__, blas=blas_info())


def cmd_backward(args):
    """Forward (logits at the last position, no_grad) vs forward + backward to the embeddings of a
    probability mass difference over 100 tokens at the last position (what bench/backward.ts times)."""
    torch.set_num_threads(args.threads)
    cfg, w = load_gpt2(args.model)
    rng = np.random.default_rng(args.seed)
    tokens = torch.from_numpy(rng.integers(0, cfg["vocab_size"], size=(args.n, args.seq), dtype=np.int64))
    metric_tokens = torch.from_numpy(rng.integers(0, cfg["vocab_size"], size=100, dtype=np.int64))
    signs = torch.where(torch.arange(100) > 40, 1.0, -1.0)

    def fwd():
        with torch.no_grad():
            forward(cfg, w, tokens, last_only=True)

    def fwd_bwd():
        leaf = []
        logits = forward(cfg, w, tokens, last_only=True, embed_leaf=leaf)[:, 0]
        (logits.softmax(-1)[:, metric_tokens] * signs).sum(-1).mean().backward()

    f = time_it(fwd, args.repeat)
    g = time_it(fwd_bwd, args.repeat)
    result("backward", n=args.n, seq=args.seq, threads=torch.get_num_threads(), forward_ms=statistics.median(f),
           forward_backward_ms=statistics.median(g), peak_rss_bytes=peak_rss_bytes())


def cmd_gemm(args):
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(args.m, args.k, generator=gen) * 2 - 1
    b = torch.rand(args.k, args.n, generator=gen) * 2 - 1
    bias = torch.rand(args.n, generator=gen)
    out = torch.empty(args.m, args.n)
    samples = time_it(lambda: torch.addmm(bias, a, b, out=out), args.repeat)
    median_s = statistics.median(samples) / 1000
    result("gemm", m=args.m, k=args.k, n=args.n, threads=torch.get_num_threads(), median_ms=median_s * 1000,
           gflops=2 * args.m * args.k * args.n / median_s / 1e9)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    check = sub.add_parser("check")
    check.add_argument("--model", required=True)
    check.add_argument("--expect", required=True)
    check.add_argument("--golden")
    timing = sub.add_parser("time")
    timing.add_argument("--model", required=True)
    timing.add_argument("--shapes", default="1x13,32x13,8x128")
    timing.add_argument("--repeat", type=int, default=5)
    timing.add_argument("--threads", type=int, default=2)
    timing.add_argument("--seed", type=int, default=1)
    backward = sub.add_parser("backward")
    backward.add_argument("--model", required=True)
    backward.add_argument("--n", type=int, default=490)
    backward.add_argument("--seq", type=int, default=13)
    backward.add_argument("--repeat", type=int, default=2)
    backward.add_argument("--threads", type=int, default=2)
    backward.add_argument("--seed", type=int, default=1)
    gemm = sub.add_parser("gemm")
    for dim, default in (("m", 768), ("k", 768), ("n", 2304)):
        gemm.add_argument(f"--{dim}", type=int, default=default)
    gemm.add_argument("--repeat", type=int, default=20)
    gemm.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    {"check": cmd_check, "time": cmd_time, "gemm": cmd_gemm, "backward": cmd_backward}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
