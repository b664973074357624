#!/usr/bin/env bash
# Documents per minute through the shared PostgreSQL queue with 1, 2 and 4 workers (one thread
# each), against one `extract` process on SQLite with the same number of documents at once, on
# N generated invoices; and the share of the workers' time spent waiting on the database.
# Starts a throw-away PostgreSQL (Debian's server, initdb in a temporary folder; as the postgres
# user when run as root) on a free port.
#   bench/queue_bench.sh MODEL.gguf [N_DOCS=40] [WORKERS="1 2 4"]
set -euo pipefail
model=${1:?usage: queue_bench.sh MODEL.gguf [N_DOCS] [WORKERS]}
n=${2:-40}
counts=${3:-1 2 4}
here=$(cd "$(dirname "$0")" && pwd)
bin=${TERRAFERMA:-$here/../build/release/bin/terraferma}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
work=$(mktemp -d)
as=()
if [[ $(id -u) == 0 ]]; then chown postgres "$work"; as=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { "${as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"${as[@]}" "$pgbin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 >/dev/null
"${as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
bash "$here/make_invoices.sh" "$work/in" "$n"
flags=(-m "$model" --schema "$here/../examples/invoice.schema.json" -c 2048 --max-output 256)
echo "| workers | SQLite, one process (--parallel W -t 1) | PostgreSQL queue, W workers (-t 1) | ratio | database share of worker time |"
echo "|---:|---:|---:|---:|---:|"
for w in $counts; do
    rm -f "$work/jobs.sqlite"
    t0=$(date +%s.%N)
    "$bin" extract "${flags[@]}" --store "$work/jobs.sqlite" --parallel "$w" -t 1 -o "$work/local.jsonl" "$work/in" 2>"$work/local.log" ||
        { cat "$work/local.log"; exit 1; }
    t1=$(date +%s.%N)
    db="pg$w"
    "${as[@]}" "$pgbin/psql" -XAtq -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE $db" >/dev/null
    url="postgresql://postgres@127.0.0.1:$port/$db"
    "$bin" extract "${flags[@]}" --store "$url" --enqueue "$work/in" 2>"$work/enqueue.log" || { cat "$work/enqueue.log"; exit 1; }
    t2=$(date +%s.%N)
    pids=()
    for ((k = 0; k < w; k++)); do
        "$bin" worker -m "$model" --store "$url" -t 1 --until-empty -q --poll 0.05 2>"$work/worker$k.log" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    t3=$(date +%s.%N)
    "$bin" extract "${flags[@]}" --store "$url" --enqueue --wait -o "$work/shared.jsonl" "$work/in" 2>/dev/null
    cmp -s "$work/local.jsonl" "$work/shared.jsonl" || { echo "outputs differ for $w workers" >&2; exit 1; }
    share=$(grep -ho '([0-9.]*% in the database)' "$work"/worker*.log | tr -d '()%a-z ' | awk '{s+=$1; k++} END {printf "%.2f %%", s/k}')
    awk -v w="$w" -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v share="$share" 'BEGIN {
        l = 60 * n / (b - a); q = 60 * n / (d - c);
        printf "| %d | %.1f docs/min | %.1f docs/min | %.2f | %s |\n", w, l, q, q / l, share }'
    rm -f "$work"/worker*.log
done
echo "(outputs of the two paths compared byte for byte: identical)"
