#!/usr/bin/env bash
# Checks the package as a dependent sees it: `npm pack`, install the tarball into an empty project,
# type-check a TypeScript consumer with `strict` and no `skipLibCheck` (once with no @types/node and
# the ES2022 lib only, once with @types/node and the ESNext lib), then run a Node ESM script and a
# Deno script against the installed package. Exits non-zero on the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$ROOT/scripts/consumer-check"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpt2-lens-consumer-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "-- npm pack"
(cd "$ROOT" && npm pack --silent --pack-destination "$WORK" > "$WORK/pack-name")
TARBALL="$WORK/$(tail -n 1 "$WORK/pack-name")"

echo "-- install $(basename "$TARBALL") into an empty project"
mkdir "$WORK/consumer"
cp "$HERE"/package.json "$HERE"/tsconfig*.json "$HERE"/*.ts "$HERE"/*.mjs "$WORK/consumer/"
cd "$WORK/consumer"
# Offline when npm's cache already holds the dependencies (it does after `npm ci` in the checkout).
npm install --no-audit --no-fund --prefer-offline "$TARBALL" "@types/node@$(node -p "require(process.argv[1]).version" "$ROOT/node_modules/@types/node/package.json")" "fast-check@$(node -p "require(process.argv[1]).version" "$ROOT/node_modules/fast-check/package.json")" > "$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; exit 1; }

TSC="$ROOT/node_modules/typescript/bin/tsc"
echo "-- tsc: strict, no skipLibCheck, no @types/node (ES2022 lib)"
node "$TSC" -p tsconfig.strict.json
echo "-- tsc: strict, no skipLibCheck, with @types/node (ESNext lib)"
node "$TSC" -p tsconfig.node.json

echo "-- node: ESM script"
node consumer-node.mjs

export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 NO_COLOR=1
DENO="$ROOT/node_modules/.bin/deno"
echo "-- deno: type-check and run a script"
"$DENO" check --quiet --no-lock consumer-deno.ts
"$DENO" run -A --no-lock consumer-deno.ts
echo "consumer check passed"
