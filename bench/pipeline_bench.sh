#!/usr/bin/env bash
# Documents per minute and tokens/s of `terraferma extract` over N generated invoices (about 150
# words each, all different), with the share of the workers' time spent outside the model
# (ingestion, chunking, tokenizing, the job store). A fresh store each run, so every document is
# computed.
#   bench/pipeline_bench.sh MODEL.gguf [N_DOCS=40] [PARALLEL=1] [THREADS=2]
set -euo pipefail
model=${1:?usage: pipeline_bench.sh MODEL.gguf [N_DOCS] [PARALLEL] [THREADS]}
n=${2:-40}
parallel=${3:-1}
threads=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
bin=${TERRAFERMA:-$here/../build/release/bin/terraferma}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/make_invoices.sh" "$work/in" "$n"
"$bin" extract -m "$model" --schema "$here/../examples/invoice.schema.json" --store "$work/jobs.sqlite" --parallel "$parallel" -t "$threads" \
    -c 2048 --max-output 256 -o "$work/out.jsonl" "$work/in" 2>"$work/err.log" || { cat "$work/err.log"; exit 1; }
grep -E "^terraferma: extract:" "$work/err.log" | head -1
echo "ok lines: $(grep -c '"status":"ok"' "$work/out.jsonl") of $n"
