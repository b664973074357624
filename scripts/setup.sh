#!/usr/bin/env bash
# Installs every Debian package the project needs to build, test and benchmark.
# Idempotent: when everything is present it only checks and returns (well under a second).
set -euo pipefail

PACKAGES=(
    build-essential g++ cmake ninja-build pkg-config git
    libcli11-dev          # command-line parsing (header-only, CLI.md's subcommands)
    nlohmann-json3-dev    # JSON for --json output and, later, the APIs
    libssl-dev            # libcrypto: SHA-256 model identity
    libpcre2-dev          # pre-tokenizer regexes (Unicode categories, look-ahead, JIT)
    libutf8proc-dev       # Unicode NFD, case mapping and categories for tokenizers
    libgtest-dev libgmock-dev   # unit tests
    libbenchmark-dev      # microbenchmarks in bench/
    libboost-dev          # Boost.Asio + Beast: the event-driven HTTP server of `serve`
    libcpp-httplib-dev    # an HTTP client for the end-to-end tests and benchmarks
    libsqlite3-dev        # the document pipeline's job store (WAL, crash-safe)
    libpoppler-cpp-dev    # PDF text layers, and rendering pages for OCR
    libqpdf-dev           # PDF structure poppler-cpp does not expose: AcroForm values, XFA data
    libtesseract-dev libleptonica-dev tesseract-ocr-eng   # OCR of scans and images (English data; add tesseract-ocr-LANG)
    libzip-dev libpugixml-dev   # DOCX: the zip container and its XML
    libuchardet-dev       # legacy text encodings: Mozilla's charset detector (iconv, in glibc, converts)
    libgmime-3.0-dev      # e-mail: RFC 5322 / MIME messages (.eml)
    libcurl4-openssl-dev  # pull: HTTPS with certificate verification, proxies, redirects, Range resumes
    libphonenumber-dev    # the privacy guard: phone numbers of every numbering plan (Google's metadata)
    libtomlplusplus-dev   # the router's routes file: a maintained TOML 1.0 parser keeping each value's line
    libpq-dev             # the shared job store: PostgreSQL's own client library
    postgresql            # tests start a real PostgreSQL 15 (initdb/pg_ctl in a temporary folder)
    haproxy               # tests: deploy/haproxy.cfg in front of two servers (affinity, drain)
    openssl               # the pull tests make a test CA and server certificate
    zstd                  # tests read the JSONSchemaBench set as shipped (maskbench.jsonl.zst)
    clang libclang-rt-14-dev    # libFuzzer + sanitizer runtimes for fuzz targets
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Node.js for the client tests: Debian's when the machine has none (a newer one is used as is).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm" >&2
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "setup: all packages present" >&2

# The official OpenAI and Ollama JavaScript clients, for tests/server/clients_e2e_test.cpp
# (versions pinned by tests/clients/package-lock.json; nothing is vendored).
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d $root/tests/clients/node_modules/openai || ! -d $root/tests/clients/node_modules/ollama ]]; then
    echo "setup: npm install (tests/clients)" >&2
    (cd "$root/tests/clients" && npm ci --no-audit --no-fund --silent) || echo "setup: WARNING: npm install failed; the client tests will be skipped" >&2
fi
