#!/bin/sh
# Rebuild the demo model from nothing: corpus -> tokens -> training -> goldens.
#   scripts/train-demo-model/build.sh OUT_DIR [extra train.py options]
# Needs `npm run build` (the tokenizer comes from dist/) and Debian's python3-torch + python3-numpy
# (with libopenblas0-pthread installed, torch's generic BLAS is ~10x faster). One CPU thread.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1; shift
WORK=${WORK:-$OUT/.work}
mkdir -p "$WORK"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
node "$HERE/tokenize.mjs" years "$WORK/years.json"
/usr/bin/python3 "$HERE/gen_corpus.py" "$WORK/years.json" "$WORK/corpus.txt" --docs 400000 --seed 17
node "$HERE/tokenize.mjs" corpus "$WORK/corpus.txt" "$WORK/corpus"
/usr/bin/python3 "$HERE/train.py" --corpus "$WORK/corpus" --years "$WORK/years.json" --out "$OUT" "$@"
