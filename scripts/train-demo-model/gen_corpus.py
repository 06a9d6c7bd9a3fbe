"""Synthetic training text for the bundled demo model (one document per line), deterministic for its seed.

    python3 gen_corpus.py YEARS.json OUT.txt [--docs N] [--seed S]

YEARS.json comes from `node tokenize.mjs years` (years whose " XXYY" is " XX" + "YY"). A year written
in a comparison is always such a year, so that the model sees the century and the two-digit year as
separate tokens, as in the evaluation prompts. The mix (weights in FAMILIES):
  - the paper's template "The {noun} lasted from the year XXYY to the year XXZZ." with ZZ > YY;
  - other "start … end" sentences of different lengths (end year > start year, same century), some
    after a filler sentence, so the start year's YY sits at many positions and must be found by content;
  - price ranges "from $ XXYY to $ XXZZ" (ZZ > YY);
  - increasing lists of years;
  - neutral year contexts (two unrelated years: no order), and generic filler sentences;
  - with --listed W (stage 2's corpus): the paper's template after a list of years, ending at the next
    listed year.
Not in the mix on purpose (related-task families that should fail): "is smaller than", descending
lists, "ended … started", BC years.
"""
import argparse
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def paper_nouns():
    src = (ROOT / "src/tasks/greater-than/nouns.ts").read_text()
    return re.findall(r'"([a-z]+)"', src.split("Object.freeze(")[1])


NOUNS = paper_nouns()
ITEMS = ["house", "car", "painting", "boat", "watch", "ring", "horse", "piano", "table", "coat", "bike",
         "camera", "guitar", "lamp", "chair", "rug", "book", "phone", "desk", "sofa", "bed", "jacket",
         "engine", "tractor", "statue", "vase", "clock", "mirror", "necklace", "computer"]
PEOPLE = ["king", "queen", "farmer", "teacher", "doctor", "soldier", "writer", "child", "man", "woman",
          "merchant", "priest", "sailor", "judge", "student", "family", "army", "city", "village", "church"]
ADJ = ["old", "new", "large", "small", "long", "short", "great", "quiet", "strong", "poor", "rich",
       "famous", "dark", "bright", "early", "late", "simple", "strange", "common", "important"]
VERBS = ["saw", "built", "found", "left", "visited", "wrote", "lost", "sold", "bought", "helped",
         "called", "followed", "moved", "opened", "closed", "changed", "joined", "started", "ended", "kept"]
PLACES = ["the river", "the town", "the north", "the coast", "the valley", "the castle", "the market",
          "the capital", "the island", "the mountains", "the south", "the border", "the harbor", "the west"]
FILLER = [
    "It was a difficult time.", "Many people remember it.", "Nobody expected it.", "Records are incomplete.",
    "This is well known.", "The details are unclear.", "Historians still argue about it.", "It changed a lot.",
    "Few sources survive.", "Life was hard then.", "Everyone talked about it.", "It was not the first.",
]


class Gen:
    def __init__(self, years, seed):
        self.r = random.Random(seed)
        self.years = sorted(years)
        self.by_century = {}
        for y in self.years:
            self.by_century.setdefault(y // 100, []).append(y)

    def c(self, xs):
        return self.r.choice(xs)

    def pair(self):
        """A start year and a later end year of the same century, both valid splits.

        Half the end years are drawn uniformly from the later years, half close after the start (a
        geometric gap, mean ~1/NEAR_P valid years), as spans in real text mostly are short: the
        probability of the next year, and so the cutoff sharpness, is then well above uniform's."""
        while True:
            ys = self.by_century[self.c(list(self.by_century))]
            i = self.r.randrange(len(ys))
            if i + 1 < len(ys):
                if self.r.random() < NEAR_SHARE:
                    gap = 1
                    while self.r.random() > NEAR_P:
                        gap += 1
                    return ys[i], ys[min(i + gap, len(ys) - 1)]
                return ys[i], self.c(ys[i + 1:])

    def year(self):
        return self.c(self.years)

    def filler_sentence(self):
        r = self.r
        k = r.randrange(6)
        if k == 0:
            return f"The {self.c(ADJ)} {self.c(PEOPLE)} {self.c(VERBS)} the {self.c(ITEMS)}."
        if k == 1:
            return f"The {self.c(PEOPLE)} {self.c(VERBS)} {self.c(PLACES)} with the {self.c(PEOPLE)}."
        if k == 2:
            return f"There was a {self.c(ADJ)} {self.c(NOUNS)} in {self.c(PLACES)}."
        if k == 3:
            return f"The {self.c(NOUNS)} was {self.c(ADJ)} and the {self.c(NOUNS)} was {self.c(ADJ)}."
        if k == 4:
            return self.c(FILLER)
        return f"A {self.c(PEOPLE)} {self.c(VERBS)} {r.randint(2, 60)} {self.c(ITEMS)}s near {self.c(PLACES)}."

    # --- families -------------------------------------------------------------------------------
    def paper(self):
        a, b = self.pair()
        return f"The {self.c(NOUNS)} lasted from the year {a} to the year {b}."

    def start_end(self):
        a, b = self.pair()
        n = self.c(NOUNS)
        t = self.r.randrange(9)
        s = [
            f"The {n} started in the year {a} and ended in the year {b}.",
            f"The {n} lasted from {a} to {b}.",
            f"From {a} to {b}, the {n} went on.",
            f"The {n} ran from {a} until {b}.",
            f"In {a} the {n} began, and in {b} it was over.",
            f"The {n} began in {a}. It ended in {b}.",
            f"The {self.c(ADJ)} {n} lasted from the year {a} to the year {b}.",
            f"Between {a} and {b} the {n} grew.",
            f"The {n} of the {self.c(PEOPLE)} lasted from the year {a} to the year {b}.",
        ][t]
        if self.r.random() < 0.4:
            s = self.filler_sentence() + " " + s
        return s

    def price(self):
        a, b = self.pair()
        it = self.c(ITEMS)
        return self.c([
            f"The price of that {it} ranges from $ {a} to $ {b}.",
            f"A {it} costs from $ {a} to $ {b}.",
            f"Prices went from $ {a} to $ {b} for the {it}.",
        ])

    def increasing(self):
        k = self.r.randint(3, 6)
        ys = sorted(self.r.sample(self.years, k))
        if self.r.random() < 0.6:  # the last two in one century, as in the related-task prompts
            a, b = self.pair()
            ys = sorted(y for y in ys if y < a)[-(k - 2):] + [a, b]
        return ", ".join(str(y) for y in ys)

    def neutral(self):
        n, m = self.c(NOUNS), self.c(NOUNS)
        y, z = self.year(), self.year()
        return self.c([
            f"The {n} happened in {y}.",
            f"In {y}, there was a {n} in {self.c(PLACES)}.",
            f"The {n} was in {y}, and the {m} was in {z}.",
            f"The {self.c(PEOPLE)} was born in {y}.",
            f"The {n} of {y} is famous.",
            f"In {y} the {self.c(PEOPLE)} {self.c(VERBS)} the {self.c(ITEMS)}.",
        ])

    def listed(self):
        """The paper's template after a list of years of one century: the end year is the next listed
        year after the start year. Finding it needs the start year's value in the query at END (which
        listed years are later), so the heads that read YY get queries that depend on it."""
        ys = self.by_century[self.c(list(self.by_century))]
        k = self.r.randint(3, 4)
        s = self.r.sample(ys, k)
        srt = sorted(s)
        i = self.r.randrange(k - 1)
        head = self.c(["Dates:", "Known years:", "Records:", "Years"])
        return f"{head} {', '.join(str(y) for y in s)}. The {self.c(NOUNS)} lasted from the year {srt[i]} to the year {srt[i + 1]}."

    def filler(self):
        return " ".join(self.filler_sentence() for _ in range(self.r.randint(1, 3)))


FAMILIES = [("paper", 0.35), ("start_end", 0.25), ("price", 0.10), ("increasing", 0.07),
            ("neutral", 0.08), ("filler", 0.15)]
NEAR_SHARE, NEAR_P = 0.5, 0.15


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("years")
    ap.add_argument("out")
    ap.add_argument("--docs", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--listed", type=float, default=0.0, help="weight of the `listed` family (stage 2)")
    args = ap.parse_args()
    years = [y for y in json.load(open(args.years))["years"] if 1000 <= y <= 1899]
    g = Gen(years, args.seed)
    names, weights = zip(*(FAMILIES + ([("listed", args.listed)] if args.listed > 0 else [])))
    with open(args.out, "w") as f:
        for _ in range(args.docs):
            fam = g.r.choices(names, weights)[0]
            # documents start with a space, like the evaluation prompts after <|endoftext|>
            f.write(" " + getattr(g, fam)() + "\n")


if __name__ == "__main__":
    main()
