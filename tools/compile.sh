#!/bin/sh
# deno task compile: build a single `realize` executable with `deno compile`.
# deno compile needs the Deno runtime archive (denort) for this platform. It downloads it
# from dl.deno.land unless DENORT_BIN points at a local copy; where neither works (these
# build machines have no route to dl.deno.land), use the launcher from install.sh instead,
# which runs the same code with the pinned deno.
set -eu
cd "$(dirname "$0")/.."
mkdir -p dist
if [ -z "${DENORT_BIN:-}" ]; then
  echo "compile: DENORT_BIN is not set; deno compile will try to download denort" >&2
fi
exec deno compile --allow-all --no-prompt --frozen --output dist/realize main.ts
