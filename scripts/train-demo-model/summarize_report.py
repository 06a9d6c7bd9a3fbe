"""The acceptance numbers of issue 17 from a `gpt2-lens greater-than` report.json.

    /usr/bin/python3 summarize_report.py REPORT_DIR/report.json

Prints PD, CS, corrupted PD, the circuit, the largest |ΔPD| in each head-input grid (q at END, k/v at
YY) and the embedding's, and for every logit-lens MLP a "triangle" score: the mean over YY of
(mean year-logit contribution for years > YY) − (mean for years <= YY).
"""
import json
import sys

r = json.load(open(sys.argv[1]))
b = r["baseline"]
print(f"PD {b['prob_diff']:.4f}  CS {b['cutoff_sharpness']:.4f}  corrupted PD {b['corrupted_prob_diff']:.4f}")
c = r["circuit"]
print(f"circuit heads {' '.join(c['heads'])}; MLPs {' '.join(c['mlps'])}; yy senders {' '.join(c.get('yy_senders', []))}; "
      f"PD {c['prob_diff']:.4f} ({100 * c['fraction_of_baseline']:.1f} %)")
for hi in r["head_input_patching"]:
    cells = [(v, L, h) for L, row in enumerate(hi["grid"]) for h, v in enumerate(row) if v is not None]
    top = sorted(cells)[:4]
    nh = len(hi["grid"][0]) - 1
    name = lambda L, h: f"MLP{L}" if h == nh else f"L{L}H{h}"  # noqa: E731
    print(f"head inputs {hi['channel']}: embed {hi['embed'] if hi['embed'] is None else round(hi['embed'], 4)}; "
          f"non-null cells {len(cells)}; strongest " + ", ".join(f"{name(L, h)} {v:.4f}" for v, L, h in top))
for ll in r["mlp_logit_lens"]:
    s = []
    for yy, row in zip(ll["yy"], ll["year_logits"]):
        hi_ = [row[y] for y in range(100) if y > yy]
        lo = [row[y] for y in range(100) if y <= yy]
        s.append(sum(hi_) / len(hi_) - sum(lo) / len(lo))
    print(f"logit lens {ll['mlp']}: triangle score {sum(s) / len(s):.3f}")
att = r["attention_end_to_yy"]
print("attention END->YY, max head per layer:", [round(max(row), 2) for row in att])
