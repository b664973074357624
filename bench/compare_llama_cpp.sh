#!/usr/bin/env bash
# Side by side with llama.cpp on the same GGUF files, same thread counts, runs alternating.
# llama.cpp is not part of this project: build it yourself outside the repository and pass
# the path to its llama-bench.
#   bench/compare_llama_cpp.sh /path/to/llama-bench model1.gguf [model2.gguf ...]
# Environment: THREADS="1 2" (default), P=512, N=128, R=3.
set -euo pipefail
llama_bench=${1:?usage: compare_llama_cpp.sh LLAMA_BENCH MODEL.gguf...}
shift
tf=${TF:-$(dirname "$0")/../build/release/bin/terraferma}
P=${P:-512} N=${N:-128} R=${R:-3}
printf '%-28s %3s %10s %10s %7s %10s %10s %7s %9s\n' model t "tf pp" "llama pp" ratio "tf tg" "llama tg" ratio "roofline"
for model in "$@"; do
    for t in ${THREADS:-1 2}; do
        # Alternate the engines so that neither always runs on a warmer or cooler machine.
        ours=$("$tf" bench -m "$model" -p "$P" -n "$N" -r "$R" -t "$t" --json)
        theirs=$("$llama_bench" -m "$model" -p "$P" -n "$N" -r "$R" -t "$t" -o json 2>/dev/null)
        python3 - "$model" "$t" "$ours" "$theirs" <<'PY'
import json, sys, os
model, t, ours, theirs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
pp = next(r["avg_ts"] for r in theirs if r["n_prompt"] > 0 and r["n_gen"] == 0)
tg = next(r["avg_ts"] for r in theirs if r["n_gen"] > 0 and r["n_prompt"] == 0)
a, b = ours["pp_tokens_per_second"], ours["tg_tokens_per_second"]
roof = ours.get("tg_roofline_percent", float("nan"))  # terraferma's tg against the bandwidth it measured
print(f"{os.path.basename(model)[:28]:<28} {t:>3} {a:10.1f} {pp:10.1f} {a/pp:7.2f} {b:10.1f} {tg:10.1f} {b/tg:7.2f} {roof:8.0f}%")
PY
    done
done
