#!/usr/bin/env bash
# Serving side by side: terraferma serve and llama.cpp's llama-server on the same GGUF file,
# the same number of parallel slots and threads, driven by the same load (bench/server_load):
# 1, 4 and 8 concurrent streaming clients, then a 1,000-token shared prefix (cached after the
# warm-up) against prompts of the same length that share nothing.
#   bench/compare_server.sh /path/to/llama-server MODEL.gguf
# Environment: CLIENTS="1 4 8", REQUESTS=4 (per client), MAX_TOKENS=64, THREADS=2, SLOTS=8,
# CTX=2048 (per slot), PREFIX_WORDS=960 (about 1,000 tokens with a Llama 3 vocabulary).
# llama.cpp is not part of this repository: build it elsewhere and pass its binary.
set -euo pipefail
llama_server=${1:?usage: compare_server.sh /path/to/llama-server MODEL.gguf}
model=${2:?usage: compare_server.sh /path/to/llama-server MODEL.gguf}
here=$(cd "$(dirname "$0")" && pwd)
tf=${TERRAFERMA:-$here/../build/release/bin/terraferma}
load=${SERVER_LOAD:-$here/../build/release/bin/server_load}
clients=${CLIENTS:-1 4 8}
requests=${REQUESTS:-4}
max_tokens=${MAX_TOKENS:-64}
threads=${THREADS:-2}
slots=${SLOTS:-8}
ctx=${CTX:-2048}
prefix_words=${PREFIX_WORDS:-960}
base_port=18431
started=""
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

start() {  # engine
    port=$((base_port + ${#started}))  # a fresh port each time: the last one may linger in TIME_WAIT
    started+=x
    if [[ $1 == terraferma ]]; then
        "$tf" serve -m "$model" --port "$port" --parallel "$slots" -c "$ctx" -t "$threads" 2>"$log" &
    else
        "$llama_server" -m "$model" --port "$port" -np "$slots" -c $((slots * ctx)) -t "$threads" --host 127.0.0.1 2>"$log" >/dev/null &
    fi
    pid=$!
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "compare_server: $1 did not start:" >&2
    tail -20 "$log" >&2
    exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

declare -A out
for engine in terraferma llama.cpp; do
    start "$engine"
    for c in $clients; do
        out[$engine,$c]=$("$load" --port "$port" --clients "$c" --requests "$requests" --max-tokens "$max_tokens" --json)
    done
    out[$engine,shared]=$("$load" --port "$port" --clients 1 --requests 4 --max-tokens 8 --prefix-words "$prefix_words" --prefix shared --json)
    out[$engine,unique]=$("$load" --port "$port" --clients 1 --requests 4 --max-tokens 8 --prefix-words "$prefix_words" --prefix unique --json)
    stop
done

field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]], 1))" "$1" "$2"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(round(a/b, 2) if b else 'n/a')" "$1" "$2"; }
echo "| load | terraferma tok/s | llama-server tok/s | ratio | terraferma TTFT p50 / p99 ms | llama-server TTFT p50 / p99 ms |"
echo "|---|---|---|---|---|---|"
for c in $clients shared unique; do
    t=${out[terraferma,$c]}
    l=${out[llama.cpp,$c]}
    name="$c streaming clients"
    [[ $c == shared ]] && name="~1000-token shared prefix (cached)"
    [[ $c == unique ]] && name="~1000-token prompts, nothing shared"
    echo "| $name | $(field "$t" tokens_per_s) | $(field "$l" tokens_per_s) | $(ratio "$(field "$t" tokens_per_s)" "$(field "$l" tokens_per_s)") | $(field "$t" ttft_p50_ms) / $(field "$t" ttft_p99_ms) | $(field "$l" ttft_p50_ms) / $(field "$l" ttft_p99_ms) |"
done
for engine in terraferma llama.cpp; do
    echo "$engine: TTFT without / with the cached prefix: $(ratio "$(field "${out[$engine,unique]}" ttft_p50_ms)" "$(field "${out[$engine,shared]}" ttft_p50_ms)")x"
done
