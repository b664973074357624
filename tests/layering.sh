#!/usr/bin/env bash
# The direction rule of ARCHITECTURE.md: a layer includes only headers of the layers below it.
set -euo pipefail
src=${1:?usage: layering.sh SRC_DIR}
declare -A allowed=(
    [util]="util"
    [gguf]="gguf util"
    [kernels]="kernels util"
    [tokenizer]="tokenizer gguf util"
    [model]="model gguf kernels util"
    [sampling]="sampling tokenizer util"
    [engine]="engine model tokenizer sampling gguf kernels util"
    [hub]="hub gguf util"
    [router]="router engine model tokenizer sampling gguf kernels util"
    [api]="api engine model tokenizer sampling gguf kernels util"
    [server]="server api hub router engine model tokenizer sampling gguf kernels util"
    [pipeline]="pipeline router engine model tokenizer sampling gguf kernels util"
    [cli]="cli hub server api pipeline router engine model tokenizer sampling gguf kernels util"
)
bad=0
for layer in "${!allowed[@]}"; do
    [[ -d "$src/$layer" ]] || continue
    while IFS= read -r line; do
        file=${line%%:*}
        inc=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"${line#*:}")
        if [[ " ${allowed[$layer]} " != *" $inc "* ]]; then
            echo "layering: $file includes $inc/, but $layer/ may only use: ${allowed[$layer]}" >&2
            bad=1
        fi
    done < <(grep -rnoE '#include "[^/"]+/[^"]+"' "$src/$layer" | sed -E 's/^([^:]+):[0-9]+:/\1:/' || true)
done
if ((bad)); then exit 1; fi
echo "layering: every include follows the dependency direction"
