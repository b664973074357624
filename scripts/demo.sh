#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is needed, build, and run Terraferma on
# a model it makes itself. Until inference lands, the main job is `inspect` of a model.
# Usage: scripts/demo.sh [MODEL.gguf]   (no argument: a synthetic tiny Llama)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release >/dev/null
tf=build/release/bin/terraferma
model=${1:-}
if [[ -z "$model" ]]; then
    model=build/demo/tiny-llama.gguf
    if [[ ! -f "$model" ]]; then
        mkdir -p build/demo
        "$tf" models synth --like tiny-llama --type F16 "$model"
    fi
fi
"$tf" inspect "$model"
