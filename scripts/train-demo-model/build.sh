#!/bin/sh
# Rebuild the demo model from nothing: corpus -> tokens -> training -> goldens.
#   scripts/train-demo-model/build.sh OUT_DIR
# Stage 1: the first 3500 steps of a 4000-step schedule. Stage 2: 2500 steps from stage 1 on a second
# corpus that adds the `listed` family, sequences of 48 tokens, a lower learning rate, year targets
# weighted 8x. OUT_DIR/stage1 and OUT_DIR/stage2 each get config.json, model.safetensors and
# train-log.json, and a copy every 500 steps in step-N/.
# Needs `npm run build` (the tokenizer comes from dist/) and Debian's python3-torch + python3-numpy
# (with libopenblas0-pthread installed, torch's generic BLAS is ~10x faster). One CPU thread.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
WORK=${WORK:-$OUT/.work}
mkdir -p "$WORK"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
node "$HERE/tokenize.mjs" years "$WORK/years.json"
/usr/bin/python3 "$HERE/gen_corpus.py" "$WORK/years.json" "$WORK/corpus.txt" --docs 400000 --seed 17
node "$HERE/tokenize.mjs" corpus "$WORK/corpus.txt" "$WORK/corpus"
/usr/bin/python3 "$HERE/gen_corpus.py" "$WORK/years.json" "$WORK/corpus2.txt" --docs 400000 --seed 18 --listed 0.2
node "$HERE/tokenize.mjs" corpus "$WORK/corpus2.txt" "$WORK/corpus2"
/usr/bin/python3 "$HERE/train.py" --corpus "$WORK/corpus" --years "$WORK/years.json" --out "$OUT/stage1" \
  --seed 17 --steps 4000 --stop-at 3500 --lr 2e-3 --warmup 150 --year-weight 2 --l0-window 2 --l0-penalty 1.0 --head-drop 0.1
/usr/bin/python3 "$HERE/train.py" --corpus "$WORK/corpus2" --years "$WORK/years.json" --out "$OUT/stage2" \
  --init "$OUT/stage1" --seed 18 --steps 2500 --seq 48 --batch 24 --lr 8e-4 --warmup 50 --year-weight 8 --l0-window 2 --l0-penalty 1.0 --head-drop 0.1
