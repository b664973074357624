#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is needed, build, and run the document
# pipeline — extract JSON valid against a schema from the example documents, then summarize them.
# Usage: scripts/demo.sh [MODEL.gguf]
#   no argument: a random-weight model with the shapes of SmolLM2-135M and a real Llama 3
#   vocabulary when ../shared has one, else a tiny synthetic Llama (nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The program alone: the tests and benchmarks (scripts/test.sh builds them) are most of the compile time.
echo "== build (build/release/bin/terraferma only; the first build takes a few minutes)" >&2
bash scripts/build.sh release terraferma >/dev/null
tf=build/release/bin/terraferma
model=${1:-}
if [[ -z "$model" ]]; then
    mkdir -p build/demo
    vocab=../shared/reference/vocab/ggml-vocab-llama3.gguf
    if [[ -f $vocab ]]; then
        model=build/demo/smollm2-135m-llama3vocab-Q8_0.gguf
        [[ -f $model ]] || "$tf" models synth --like smollm2-135m --type Q8_0 --vocab-from "$vocab" "$model"
    else
        model=build/demo/tiny-llama.gguf
        [[ -f $model ]] || "$tf" models synth --like tiny-llama --type F16 "$model"
    fi
fi
echo "== model" >&2
if [[ -z ${1:-} ]]; then
    echo "note: this model has random weights, so the extracted values are nonsense (valid against the schema all the same);" \
        "for real answers give a GGUF instruct model: bash scripts/demo.sh path/to/model.gguf" >&2
fi
"$tf" inspect --no-hash "$model" | head -8 >&2
echo "== extract --schema examples/invoice.schema.json examples/documents" >&2
"$tf" extract -m "$model" --schema examples/invoice.schema.json --store build/demo/jobs.sqlite -c 2048 --max-output 160 \
    -o build/demo/extracted.jsonl examples/documents
cat build/demo/extracted.jsonl
echo "== summarize --words 40 examples/documents" >&2
"$tf" summarize -m "$model" --words 40 --store build/demo/jobs.sqlite -c 2048 examples/documents
echo "== report (tokens, time, energy and the cloud cost these runs replace)" >&2
"$tf" report --store build/demo/jobs.sqlite
echo "(results are kept in build/demo/jobs.sqlite: run again and nothing is recomputed)" >&2
