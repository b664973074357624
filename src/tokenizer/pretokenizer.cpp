#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace tf::tok {

namespace {

const char* const kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace

std::vector<std::string> pretokenizer_patterns(const std::string& pre) {
    if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "dbrx" ||
        pre == "smaug-bpe" || pre == "chatglm-bpe" || pre == "pixtral") {
        return {kLlama3};
    }
    if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2" || pre == "hunyuan" || pre == "megrez") {
        return {kQwen2};
    }
    if (pre == "deepseek-llm") {
        // Code points written as escapes: the original characters would not survive Unicode
        // normalization by editors (U+1F7D, U+2126, U+212A have canonical equivalents).
        return {"[\\r\\n]",
                "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
                "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
                "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
                "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
                "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
                "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
                "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
                "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
                "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
                "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
                "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
                "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
                "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
                "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
                "\\x{1E900}-\\x{1E943}]+",
                "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
                "\\s+$",
                "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
                "\\p{N}+"};
    }
    if (pre == "deepseek-coder") {
        return {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
                "\\p{N}"};
    }
    if (pre == "falcon") {
        return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"};
    }
    if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" || pre == "codeshell" ||
        pre == "exaone" || pre == "minerva-7b") {
        return {"\\p{N}", kGpt2};
    }
    if (pre == "gpt-2" || pre == "phi-2" || pre == "jina-es" || pre == "jina-de" || pre == "gigachat" ||
        pre == "jina-v1-en" || pre == "jina-v2-es" || pre == "jina-v2-de" || pre == "jina-v2-code" ||
        pre == "roberta-bpe" || pre == "mpt" || pre == "olmo" || pre == "jais" || pre == "trillion") {
        return {kGpt2};
    }
    return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
}

struct PreTokenizer::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() {
    for (Compiled* c : compiled_) delete c;
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::string& pre_name) {
    std::unique_ptr<PreTokenizer> p(new PreTokenizer());
    p->patterns_ = pretokenizer_patterns(pre_name);
    for (const std::string& pattern : p->patterns_) {
        int err = 0;
        PCRE2_SIZE err_off = 0;
        // MATCH_INVALID_UTF: text that is not valid UTF-8 still splits (byte-level BPE can encode any byte).
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &err, &err_off, nullptr);
        if (code == nullptr) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return Error{"pre-tokenizer '" + pre_name + "': pattern does not compile at offset " + std::to_string(err_off) +
                         ": " + reinterpret_cast<const char*>(msg)};
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
        auto* c = new Compiled();
        c->code = code;
        p->compiled_.push_back(c);
    }
    return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    std::vector<std::pair<size_t, size_t>> pieces = {{0, text.size()}}, next;
    if (text.empty()) pieces.clear();
    pcre2_match_data* md = nullptr;
    for (const Compiled* c : compiled_) {
        if (md != nullptr) pcre2_match_data_free(md);
        md = pcre2_match_data_create_from_pattern(c->code, nullptr);
        next.clear();
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        for (auto [begin, len] : pieces) {
            const size_t end = begin + len;
            size_t gap = begin, search = begin;
            while (search < end) {
                // Matching is confined to the piece: pieces are independent, as in llama.cpp.
                int rc = pcre2_match(c->code, subject + begin, end - begin, search - begin, 0, md, nullptr);
                if (rc < 0) break;
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                const size_t ms = begin + ov[0], me = begin + ov[1];
                if (me == ms) {  // an empty match splits nothing: search again one character further
                    search = ms + 1;
                    while (search < end && (static_cast<uint8_t>(text[search]) & 0xC0) == 0x80) ++search;
                    continue;
                }
                if (ms > gap) next.emplace_back(gap, ms - gap);
                next.emplace_back(ms, me - ms);
                gap = search = me;
            }
            if (gap < end) next.emplace_back(gap, end - gap);
        }
        pieces.swap(next);
    }
    if (md != nullptr) pcre2_match_data_free(md);
    out.insert(out.end(), pieces.begin(), pieces.end());
}

}  // namespace tf::tok
