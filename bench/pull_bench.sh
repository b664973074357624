#!/usr/bin/env bash
# Pull throughput on loopback, with the SHA-256 checked while streaming, against the two ceilings
# that bound it: the raw transfer (curl to /dev/null from the same server) and SHA-256 itself
# (openssl dgst: the same libcrypto pull uses), and the disk (dd with fsync). Then the cost of resuming after kill -9 (the
# partial bytes are hashed again), measured with one connection (TERRAFERMA_PULL_CONNECTIONS=1)
# so that the partial file fills in order and "half" means half.
#
#   bench/pull_bench.sh [BUILD_DIR] [RUNS]
#
# The server is a static file tree laid out as an Ollama registry (/v2/NS/MODEL/manifests/TAG,
# /v2/NS/MODEL/blobs/sha256:HEX) served by bench/file_server (HTTP/1.1, Range), so the model file is a real GGUF
# (a random-weight Qwen2.5-0.5B shape, F16, ~1 GB) and pull validates it as it would any other.
set -euo pipefail
BUILD=${1:-build/release}
RUNS=${2:-3}
TF=$(realpath "$BUILD/bin/terraferma")
WORK=$(mktemp -d /tmp/tf-pullbench-XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$TF" models synth --like qwen2.5-0.5b --type F16 "$WORK/model.gguf" >/dev/null 2>&1
SIZE=$(stat -c %s "$WORK/model.gguf")
SHA=$(sha256sum "$WORK/model.gguf" | cut -d' ' -f1)
mkdir -p "$WORK/tree/v2/library/big/manifests" "$WORK/tree/v2/library/big/blobs"
ln "$WORK/model.gguf" "$WORK/tree/v2/library/big/blobs/sha256:$SHA"
printf '{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":%s}]}' \
    "$SHA" "$SIZE" > "$WORK/tree/v2/library/big/manifests/latest"
PORT=$((20000 + RANDOM % 20000))
"$BUILD/bench/file_server" "$WORK/tree" "$PORT" >/dev/null 2>&1 &
SERVER=$!
sleep 1
URL="http://127.0.0.1:$PORT/v2/library/big/blobs/sha256:$SHA"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
rate() { echo "scale=0; $SIZE / $1 / 1000000" | bc -l; }

export TERRAFERMA_MODELS="$WORK/store"
curl_t=$(for i in $(seq "$RUNS"); do secs curl -s -o /dev/null "$URL"; done | median)
sha_t=$(for i in $(seq "$RUNS"); do secs openssl dgst -sha256 "$WORK/model.gguf"; done | median)
# The disk: pull lands the file with fsync before the rename (crash safety), so it writes at most this fast.
disk_t=$(for i in $(seq "$RUNS"); do rm -f "$WORK/copy"; sync; secs dd if="$WORK/model.gguf" of="$WORK/copy" bs=8M conv=fsync; done | median)
rm -f "$WORK/copy"
# Each run starts with the previous one's pages written back (sync), so runs do not overlap.
pull_t=$(for i in $(seq "$RUNS"); do rm -rf "$WORK/store"; sync; secs "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big"; done | median)
pull1_t=$(for i in $(seq "$RUNS"); do rm -rf "$WORK/store"; sync; secs env TERRAFERMA_PULL_CONNECTIONS=1 "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big"; done | median)
pull4_t=$(for i in $(seq "$RUNS"); do rm -rf "$WORK/store"; sync; secs env TERRAFERMA_PULL_CONNECTIONS=4 "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big"; done | median)
# The O_DIRECT writes against the page cache's: the same single connection into tmpfs (no O_DIRECT there).
shm_t=$(for i in $(seq "$RUNS"); do rm -rf /dev/shm/tf-pullbench-store; secs env TERRAFERMA_MODELS=/dev/shm/tf-pullbench-store "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big"; done | median)
rm -rf /dev/shm/tf-pullbench-store

# Resume: kill -9 at about half, then time the rest.
resume_t=$(for i in $(seq "$RUNS"); do
    rm -rf "$WORK/store"; sync
    TERRAFERMA_PULL_CONNECTIONS=1 "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big" >/dev/null 2>&1 &
    P=$!
    while :; do
        s=$(stat -c %s "$WORK/store/blobs/sha256-$SHA.partial" 2>/dev/null || echo 0)
        [ "$s" -ge $((SIZE / 2)) ] && break
        sleep 0.005
    done
    kill -9 $P; wait $P 2>/dev/null || true
    sync
    secs env TERRAFERMA_PULL_CONNECTIONS=1 "$TF" pull -q --insecure "127.0.0.1:$PORT/library/big"
done | median)

echo "file: $SIZE bytes (synthesized qwen2.5-0.5b F16); runs: $RUNS (medians); $(date -u +%F)"
printf "curl -o /dev/null (raw transfer)   %6.3f s  %5s MB/s\n" "$curl_t" "$(rate "$curl_t")"
printf "openssl dgst -sha256 (hash alone)   %6.3f s  %5s MB/s\n" "$sha_t" "$(rate "$sha_t")"
printf "dd conv=fsync (disk write alone)    %6.3f s  %5s MB/s\n" "$disk_t" "$(rate "$disk_t")"
printf "pull, default (1 connection; more only if slow) %6.3f s  %5s MB/s\n" "$pull_t" "$(rate "$pull_t")"
printf "pull, 1 connection forced          %6.3f s  %5s MB/s\n" "$pull1_t" "$(rate "$pull1_t")"
printf "pull, 4 connections forced         %6.3f s  %5s MB/s\n" "$pull4_t" "$(rate "$pull4_t")"
printf "pull, default, store on tmpfs      %6.3f s  %5s MB/s\n" "$shm_t" "$(rate "$shm_t")"
printf "resume after kill -9 at ~50%%      %6.3f s  (the second half plus re-hashing the first)\n" "$resume_t"
