#!/usr/bin/env bash
# Constrained against unconstrained decoding speed: `run` on a llama-3.2-1b-shaped Q4_K_M model, 2
# threads, three seeds each — free text (--ignore-eos, 48 tokens: as long as the answers, since
# a longer run averages its first slower steps away), examples/invoice.schema.json
# with jump-forward (the default) and with --no-jump-forward. Prints: generated, forced, tok/s, stop, ms spent choosing tokens
# (sampler, masks, jump-forward: the time the model is not running).
#   bench/constrained_decode.sh [MODEL.gguf]   (TERRAFERMA to point at another binary)
here=$(cd "$(dirname "$0")" && pwd)
tf=${TERRAFERMA:-$here/../build/release/bin/terraferma}
m=${1:?usage: constrained_decode.sh MODEL.gguf}
schema=$here/../examples/invoice.schema.json
p="Extract the invoice: Invoice 2025-1001 from Supplier GmbH, Berlin, to Customer SARL, Marseille, total 123.40 EUR, due 1 April 2025."
run() { "$tf" run -m "$m" -p "$p" --temp 0.7 --seed $1 -t 2 --json "${@:2}" 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); t=j['timings']; print(t['generated_tokens'], t.get('forced_tokens',0), round(t['generate_tokens_per_second'],1), j['stop_reason'], round(t.get('sample_ms',0),1))"; }
for mode in plain schema schema-nojump; do
  for s in 1 2 3; do
    case $mode in
      plain) echo "$mode $(run $s --ignore-eos -n 48)";;
      schema) echo "$mode $(run $s -n 128 --json-schema $schema)";;
      schema-nojump) echo "$mode $(run $s -n 128 --json-schema $schema --no-jump-forward)";;
    esac
  done
done
