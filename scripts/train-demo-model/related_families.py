"""A quick look at some of issue 16's related-task families on a trained model (independent PyTorch forward).

    /usr/bin/python3 related_families.py MODEL_DIR

For each family: PD over YY = 02..98 (years that split as " XX" + "YY"), with the ">" mask (years
above YY correct) or "<" (years below YY correct). Prompts are tokenized with `node tokenize.mjs`.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../bench"))
sys.path.insert(0, HERE)
from gen_corpus import NOUNS  # noqa: E402
from torch_gpt2 import forward, load_gpt2  # noqa: E402

ITEMS = ["house", "car", "painting", "boat", "watch", "ring", "horse", "piano", "table", "coat"]
FAMILIES = [  # name, template (YY filled in), century of the start year, mask
    ("paper: lasted from the year 17YY to the year 17", " The {n} lasted from the year 17{yy} to the year 17", 17, ">"),
    ("0: started in 17YY and ended in 17", " The {n} started in the year 17{yy} and ended in the year 17", 17, ">"),
    ("1: happened in 17YY. Some years later ... 17", " The {n} happened in 17{yy}. Some years later, it is now the year 17", 17, ">"),
    ("2: 1599, 1607, 1633, 1679, 17YY, 17", " 1599, 1607, 1633, 1679, 17{yy}, 17", 17, ">"),
    ("3: 1799, 1753, 1733, 1701, 16YY, 16 (<)", " 1799, 1753, 1733, 1701, 16{yy}, 16", 16, "<"),
    ("5: 17YY is smaller than 17", " 17{yy} is smaller than 17", 17, ">"),
    ("6: ended in 17YY and started in 17 (<)", " The {n} ended in the year 17{yy} and started in the year 17", 17, "<"),
    ("8: price ranges from $ 17YY to $ 17", " The price of that {i} ranges from $ 17{yy} to $ 17", 17, ">"),
]


def main():
    torch.set_num_threads(1)
    cfg, w = load_gpt2(sys.argv[1])
    w = {k: v.float() for k, v in w.items()}
    info = json.load(open(os.environ.get("YEARS_JSON", "/tmp/demo/years.json")))
    valid = set(info["years"])
    yt = torch.tensor(info["year_tokens"])
    for name, tpl, century, mask in FAMILIES:
        yys = [yy for yy in range(2, 99) if century * 100 + yy in valid]
        texts = ["<|endoftext|>" + tpl.format(n=NOUNS[i % len(NOUNS)], i=ITEMS[i % len(ITEMS)], yy=f"{yy:02d}")
                 for i, yy in enumerate(yys)]
        with tempfile.TemporaryDirectory() as d:
            open(f"{d}/p.txt", "w").write("\n".join(texts) + "\n")
            subprocess.run(["node", os.path.join(HERE, "tokenize.mjs"), "corpus", f"{d}/p.txt", f"{d}/p"], check=True,
                           capture_output=True)
            toks = np.fromfile(f"{d}/p.tokens.u16", dtype=np.uint16).astype(np.int64)
            lens = np.fromfile(f"{d}/p.lengths.u32", dtype=np.uint32)
        pds, o = [], 0
        for yy, n in zip(yys, lens):
            ids = torch.from_numpy(toks[o:o + n])[None]
            o += n
            with torch.no_grad():
                p = torch.softmax(forward(cfg, w, ids)[0, -1].float(), -1)[yt]
            good = torch.arange(100) > yy if mask == ">" else torch.arange(100) < yy
            pds.append(((p * good).sum() - (p * ~good).sum()).item())
        print(f"{name:55s} PD {np.mean(pds):+.3f}  (n={len(pds)})")


if __name__ == "__main__":
    main()
