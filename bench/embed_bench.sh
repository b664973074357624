#!/usr/bin/env bash
# Embeddings per second, side by side with llama.cpp's llama-embedding on the same GGUF (e.g. a
# bge-small shape from `terraferma models synth --like bge-small --vocab-from tiny-bert.gguf`).
#   bench/embed_bench.sh /path/to/llama-embedding MODEL.gguf
# Environment: N=200 documents (about 40-120 WordPiece tokens each), THREADS="1 2", R=3 runs
# (median). terraferma embeds one file per document (`terraferma embed DIR`); llama-embedding
# gets the same texts one per line (-f) and batches them itself — not like for like: it packs
# several sequences per forward pass, terraferma runs one document per pass. Both include load.
set -euo pipefail
llama_embedding=${1:?usage: embed_bench.sh LLAMA_EMBEDDING MODEL.gguf}
model=${2:?usage: embed_bench.sh LLAMA_EMBEDDING MODEL.gguf}
tf=${TF:-$(dirname "$0")/../build/release/bin/terraferma}
N=${N:-200} R=${R:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/docs"
words=(invoice total amount due date payment customer supplier order delivery contract clause party
       agreement term notice shipment warehouse account balance tax rate period service report quarter)
for i in $(seq 1 "$N"); do
    n=$(( 30 + (i * 37) % 90 ))
    line=""
    for j in $(seq 1 "$n"); do line+="${words[$(( (i * 7 + j * 13) % ${#words[@]} ))]} "; done
    printf '%s\n' "$line" > "$work/docs/$(printf '%04d' "$i").txt"
    printf '%s\n' "$line" >> "$work/all.txt"
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
printf '%-22s %3s %12s %12s %7s\n' model t "tf docs/s" "llama docs/s" ratio
for t in ${THREADS:-1 2}; do
    ours=() theirs=()
    for r in $(seq 1 "$R"); do
        t0=$(now); "$tf" embed -t "$t" -m "$model" "$work/docs" > "$work/ours.jsonl"; t1=$(now)
        ours+=("$(echo "$N / ($t1 - $t0)" | bc -l)")
        t0=$(now); "$llama_embedding" -m "$model" -t "$t" -f "$work/all.txt" --pooling cls -c 512 -b 4096 -ub 4096 \
            --embd-output-format json > "$work/theirs.json" 2>/dev/null; t1=$(now)
        theirs+=("$(echo "$N / ($t1 - $t0)" | bc -l)")
    done
    a=$(printf '%s\n' "${ours[@]}" | median) b=$(printf '%s\n' "${theirs[@]}" | median)
    printf '%-22s %3s %12.1f %12.1f %7.2f\n' "$(basename "$model")" "$t" "$a" "$b" "$(echo "$a / $b" | bc -l)"
done
