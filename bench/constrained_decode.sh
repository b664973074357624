#!/usr/bin/env bash
# Constrained against unconstrained decoding speed: `run` on a llama-3.2-1b-shaped Q4_K_M model, 2
# threads, three seeds a round — free text (--ignore-eos, 48 tokens: as long as the answers, since
# a longer run averages its first slower steps away), examples/invoice.schema.json with
# jump-forward (the default) and with --no-jump-forward, alternating within each round.
# One line per run: mode, generated tokens, forced tokens, tok/s (as `run` reports it), stop
# reason, ms spent choosing tokens (sampler, masks, jump-forward: the time the model is not
# running), ms per sampled token, ms compiling the grammar (schema, trie, precomputed masks).
# Then the medians per mode and their ratios to free text.
#
# "ms per sampled token" counts the end-of-generation token an answer stops on: choosing it takes
# a decode step, as choosing any token does, while free text capped by -n never evaluates its last
# token. tok/s leaves that token out, which costs an answer of n tokens 1/n against free text.
#   bench/constrained_decode.sh MODEL.gguf [ROUNDS]   (TERRAFERMA to point at another binary)
here=$(cd "$(dirname "$0")" && pwd)
tf=${TERRAFERMA:-$here/../build/release/bin/terraferma}
m=${1:?usage: constrained_decode.sh MODEL.gguf [ROUNDS]}
rounds=${2:-2}
schema=$here/../examples/invoice.schema.json
p="Extract the invoice: Invoice 2025-1001 from Supplier GmbH, Berlin, to Customer SARL, Marseille, total 123.40 EUR, due 1 April 2025."
run() {
  "$tf" run -m "$m" -p "$p" --temp 0.7 --seed "$1" -t 2 --json "${@:2}" 2>/dev/null | python3 -c "
import json, sys
j = json.load(sys.stdin); t = j['timings']
sampled = t['generated_tokens'] - t.get('forced_tokens', 0) + (j['stop_reason'] == 'eos')
print(t['generated_tokens'], t.get('forced_tokens', 0), round(t['generate_tokens_per_second'], 1), j['stop_reason'],
      round(t.get('sample_ms', 0), 1), round(t['generate_ms'] / max(sampled, 1), 2), round(t.get('grammar_ms', 0), 1))"
}
out=$(mktemp)
for r in $(seq "$rounds"); do
  for s in 1 2 3; do
    echo "plain $(run "$s" --ignore-eos -n 48)"
    echo "schema $(run "$s" -n 128 --json-schema "$schema")"
    echo "schema-nojump $(run "$s" -n 128 --json-schema "$schema" --no-jump-forward)"
  done
done | tee "$out"
python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 8: rows.setdefault(f[0], []).append((float(f[3]), float(f[6])))
base = rows.get('plain')
for mode, v in rows.items():
    tps = statistics.median(x[0] for x in v); mpt = statistics.median(x[1] for x in v)
    ratio = f"  {tps / statistics.median(x[0] for x in base):.3f}x tok/s, {statistics.median(x[1] for x in base) / mpt:.3f}x per sampled token" if base else ""
    print(f"{mode:14} runs {len(v):2}  median {tps:5.1f} tok/s  {mpt:5.2f} ms per sampled token{ratio}")
PY
rm -f "$out"
