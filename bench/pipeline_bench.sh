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
mkdir -p "$work/in"
for ((i = 0; i < n; i++)); do
    cat >"$work/in/invoice-$i.txt" <<DOC
INVOICE

Invoice no. 2025-$((1000 + i))
Date: $((1 + i % 28)) March 2025
Due: $((1 + i % 28)) April 2025

From: Supplier $((i * 37 % 101)) GmbH, Industriestraße $((i % 90 + 1)), $((10000 + i * 7)) Berlin, Germany
To: Customer $((i * 53 % 97)) SARL, $((i % 40 + 1)) Rue du Port, 1300$((i % 10)) Marseille, France

Item                          Qty   Unit price   Amount
Copy paper, A4, 500 sheets     $((i % 9 + 1))        4.90    $(( (i % 9 + 1) * 49 / 10 )).$(( (i % 9 + 1) * 49 % 10 ))0
Toner cartridge, black         $((i % 3 + 1))       61.00   $(( (i % 3 + 1) * 61 )).00
Desk lamp, LED                 1        $((20 + i % 30)).00    $((20 + i % 30)).00

Payment by bank transfer within 30 days. Please quote the invoice number with your payment.
Late payments are charged interest at the statutory rate. Goods remain our property until paid in full.
DOC
done
"$bin" extract -m "$model" --schema "$here/../examples/invoice.schema.json" --store "$work/jobs.sqlite" --parallel "$parallel" -t "$threads" \
    -c 2048 --max-output 256 -o "$work/out.jsonl" "$work/in" 2>"$work/err.log" || { cat "$work/err.log"; exit 1; }
grep -E "^terraferma: extract:" "$work/err.log" | head -1
echo "ok lines: $(grep -c '"status":"ok"' "$work/out.jsonl") of $n"
