#!/usr/bin/env bash
# Installs, builds and runs every test: the release build's CTest suite, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a short libFuzzer run per fuzz target.
# Ends with one summary line. Environment: TF_FUZZ_SECONDS (default 60), TF_SKIP_ASAN=1, TF_SKIP_FUZZ=1.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/setup.sh || { echo "TESTS FAILED: setup"; exit 1; }

mkdir -p build
summary=()
failed=0
run_ctest() {  # flavour
    local log="build/$1/ctest.log"
    if ctest --test-dir "build/$1" -j "$(nproc)" --output-on-failure >"$log" 2>&1; then
        summary+=("$1: $(grep -Eo '[0-9]+ tests failed out of [0-9]+|100% tests passed, 0 tests failed out of [0-9]+' "$log" | tail -1)")
    else
        cat "$log"
        summary+=("$1: FAILED ($(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1))")
        failed=1
    fi
}

echo "== release build" >&2
if bash scripts/build.sh release >build/release.log 2>&1 || { cat build/release.log; false; }; then
    run_ctest release
else
    summary+=("release: BUILD FAILED"); failed=1
fi

if [[ "${TF_SKIP_ASAN:-0}" != 1 ]]; then
    echo "== asan+ubsan build" >&2
    mkdir -p build
    if bash scripts/build.sh asan >build/asan.log 2>&1 || { cat build/asan.log; false; }; then
        ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$(pwd)/scripts/lsan.supp":print_suppressions=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest asan
    else
        summary+=("asan: BUILD FAILED"); failed=1
    fi
fi

if [[ "${TF_SKIP_FUZZ:-0}" != 1 ]]; then
    echo "== fuzz" >&2
    secs=${TF_FUZZ_SECONDS:-60}
    if bash scripts/build.sh fuzz >build/fuzz.log 2>&1 || { cat build/fuzz.log; false; }; then
        shared=${TF_SHARED_DIR:-../shared}
        rm -rf build/fuzz/seeds
        find "$shared/reference" -name '*.gguf' -size -8M 2>/dev/null | sort |
            xargs build/fuzz/fuzz/make_seeds build/fuzz/seeds >/dev/null 2>&1 || build/fuzz/fuzz/make_seeds build/fuzz/seeds
        mkdir -p build/fuzz/artifacts
        run_fuzz() {  # name seconds corpus-seed-dirs...
            local name=$1 secs=$2; shift 2
            mkdir -p "build/fuzz/corpus-$name"
            if "build/fuzz/fuzz/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "build/fuzz/corpus-$name" "$@" \
                >"build/fuzz/$name.log" 2>&1; then
                local runs
                runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "build/fuzz/$name.log" | grep -Eo '[0-9]+$')
                summary+=("fuzz: $name ${secs}s, ${runs:-?} inputs, no finding")
            else
                tail -60 "build/fuzz/$name.log"
                summary+=("fuzz: $name FOUND A CRASH (build/fuzz/artifacts)"); failed=1
            fi
        }
        run_fuzz gguf_reader_fuzz "$secs" build/fuzz/seeds
        mkdir -p build/fuzz/template-seeds
        cp "$shared"/peer-tests/chat-templates/templates/*.jinja build/fuzz/template-seeds/ 2>/dev/null || true
        printf '%s' "{% for m in messages %}{{ m.role ~ ': ' ~ m.content|trim }}{% endfor %}" >build/fuzz/template-seeds/basic.jinja
        # Go text/template seeds (Ollama registry templates): the whole-conversation and the turn-by-turn form.
        printf '%s' '{{- range $i, $m := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}{{ if eq .Role "user" }}U: {{ .Content }}{{ else }}{{ range .ToolCalls }}{{ json .Function.Arguments }}{{ end }}{{ end }}{{ if $last }}A:{{ end }}{{ end }}' >build/fuzz/template-seeds/messages.gotmpl
        printf '%s' '{{ if .System }}S: {{ .System }} {{ end }}{{ with .Tools }}{{ . }}{{ end }}{{ printf "%s|%q" .Prompt .System }} {{ .Response }}{{/* c */}}' >build/fuzz/template-seeds/prompt.gotmpl
        run_fuzz chat_template_fuzz "${TF_FUZZ_TEMPLATE_SECONDS:-30}" build/fuzz/template-seeds
        # Grammar seeds: the example grammars (first byte 0: GBNF) and schemas (first byte 1).
        mkdir -p build/fuzz/grammar-seeds
        for f in "$shared"/peer-tests/gbnf/*.gbnf; do
            [[ -f $f ]] && { printf '\0'; cat "$f"; } >"build/fuzz/grammar-seeds/$(basename "$f")"
        done
        printf '\001%s' '{"type":"object","properties":{"a":{"type":"integer","minimum":-5,"maximum":300},"b":{"type":"string","pattern":"^[A-Z]{2}\\d+$"},"c":{"$ref":"#/$defs/c"}},"required":["a"],"$defs":{"c":{"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#/$defs/c"},"maxItems":2}]}}}' >build/fuzz/grammar-seeds/schema.json
        run_fuzz grammar_fuzz "${TF_FUZZ_GRAMMAR_SECONDS:-30}" build/fuzz/grammar-seeds
        # Text encoding seeds: the first byte picks a declared charset (0: none).
        mkdir -p build/fuzz/text-seeds
        printf '\000Caf\351 1.234,56 \200' >build/fuzz/text-seeds/cp1252.txt
        printf '\000\377\376a\000\254\040' >build/fuzz/text-seeds/utf16.txt
        printf '\002<meta charset="windows-1250"><p>\271</p>' >build/fuzz/text-seeds/meta.html
        run_fuzz text_encoding_fuzz "${TF_FUZZ_TEXT_SECONDS:-20}" build/fuzz/text-seeds
        # Spreadsheet seeds: a CSV (first byte 2) and the test suite's XLSX/ODS when present.
        mkdir -p build/fuzz/sheet-seeds
        printf '\002a;b;"c;d"\n1;2;"x""y"\n' >build/fuzz/sheet-seeds/semicolon.csv
        run_fuzz spreadsheet_fuzz "${TF_FUZZ_SHEET_SECONDS:-20}" build/fuzz/sheet-seeds
        mkdir -p build/fuzz/mail-seeds
        printf 'From: =?ISO-8859-1?Q?J=FCrgen?= <a@b.example>\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=FCber\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n' >build/fuzz/mail-seeds/mixed.eml
        run_fuzz mail_fuzz "${TF_FUZZ_MAIL_SECONDS:-20}" build/fuzz/mail-seeds
        mkdir -p build/fuzz/request-seeds
        printf '%s' '{"model":"m","messages":[{"role":"user","content":"hi \u00e9"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}},"n":2,"seed":1e3}' >build/fuzz/request-seeds/chat.json
        printf '%s' '{"model":"m","options":{"temperature":0.1,"stop":["\n"]},"format":"json","keep_alive":"5m"}' >build/fuzz/request-seeds/ollama.json
        # Word seeds: the sample DOCX files (first byte 0), ODT when present (first byte 1).
        mkdir -p build/fuzz/word-seeds
        for f in "$shared"/peer-tests/documents/docx/*.docx; do
            [[ -f $f ]] && { printf '\0'; cat "$f"; } >"build/fuzz/word-seeds/$(basename "$f")"
        done
        run_fuzz office_text_fuzz "${TF_FUZZ_WORD_SECONDS:-20}" build/fuzz/word-seeds
        mkdir -p build/fuzz/pdf-seeds
        cp "$shared"/peer-tests/documents/pdf/{form_two_pages,annotation-text-widget,empty_protected}.pdf build/fuzz/pdf-seeds/ 2>/dev/null || true
        run_fuzz pdf_structure_fuzz "${TF_FUZZ_PDF_SECONDS:-20}" build/fuzz/pdf-seeds
        run_fuzz request_json_fuzz "${TF_FUZZ_REQUEST_SECONDS:-15}" build/fuzz/request-seeds
        mkdir -p build/fuzz/privacy-seeds
        head -c 4000 tests/router/data/privacy_corpus.jsonl >build/fuzz/privacy-seeds/corpus.txt
        printf 'IBAN IT60 X054 2811 1010 0000 0123 456, +39 02 1234 5678, a.b@c.it, nato il 12/03/1985, TCK-1234' >build/fuzz/privacy-seeds/mixed.txt
        run_fuzz privacy_scan_fuzz "${TF_FUZZ_PRIVACY_SECONDS:-15}" build/fuzz/privacy-seeds
        # Remote answers: the first byte picks judge (0), restore (1) or a chunk stream (2).
        mkdir -p build/fuzz/answer-seeds
        { printf '\000'; printf '%s' '{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"total\":3}","tool_calls":[{"type":"function","function":{"name":"pay","arguments":"{\"iban\":\"[[IBAN_1]]\"}"}}]},"logprobs":{"content":[{"token":"a","logprob":-0.5}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3}}'; } >build/fuzz/answer-seeds/judge.json
        { printf '\001'; printf '%s' '{"role":"assistant","content":"[[IBAN_1]] to [[EMAIL_1]]","tool_calls":[{"function":{"arguments":"{\"to\":\"[[EMAIL_1]]\"}"}}]}'; } >build/fuzz/answer-seeds/restore.json
        printf '\002{"choices":[{"index":0,"delta":{"content":"pay [[IB"}}]}\n{"choices":[{"index":0,"delta":{"content":"AN_1]]"},"finish_reason":"stop"}]}\n' >build/fuzz/answer-seeds/stream.txt
        run_fuzz remote_answer_fuzz "${TF_FUZZ_ANSWER_SECONDS:-15}" build/fuzz/answer-seeds
    else
        summary+=("fuzz: BUILD FAILED"); failed=1
    fi
fi

elapsed=$((SECONDS - start))
line=$(printf '%s; ' "${summary[@]}"); line=${line%; }
if ((failed)); then
    echo "TESTS FAILED in ${elapsed}s — $line"
    exit 1
fi
echo "ALL TESTS PASSED in ${elapsed}s — $line"
