#include <queue>

#include "tokenizer/algorithms.h"
#include "tokenizer/unicode.h"

namespace tf::tok::detail {

namespace {

struct Symbol {
    int prev, next;
    size_t offset, n;
};

struct Bigram {
    int left, right;
    int32_t rank;
    size_t size;
};

// Lowest merge rank first; on equal ranks the leftmost pair.
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

void merge_word(const Vocab& vocab, const std::string& word, std::vector<TokenId>& out) {
    if (vocab.ignore_merges) {
        const TokenId whole = vocab.find(word);
        if (whole != kNoToken) {
            out.push_back(whole);
            return;
        }
    }
    std::vector<Symbol> symbols;
    for (size_t off = 0; off < word.size();) {
        const size_t len = std::min(utf8_len(static_cast<uint8_t>(word[off])), word.size() - off);
        const int index = static_cast<int>(symbols.size());
        symbols.push_back({index - 1, off + len == word.size() ? -1 : index + 1, off, len});
        off += len;
    }
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    std::string left_text, right_text;
    auto add_bigram = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        const Symbol& l = symbols[static_cast<size_t>(left)];
        const Symbol& r = symbols[static_cast<size_t>(right)];
        left_text.assign(word, l.offset, l.n);
        right_text.assign(word, r.offset, r.n);
        const int32_t rank = vocab.find_merge(left_text, right_text);
        if (rank < 0) return;
        queue.push({left, right, rank, l.n + r.n});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_bigram(i - 1, i);
    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = symbols[static_cast<size_t>(b.left)];
        Symbol& r = symbols[static_cast<size_t>(b.right)];
        // Stale when either side has changed since the pair was queued (symbols only grow, and the
        // right neighbour of a live left symbol is contiguous with it).
        if (l.n == 0 || r.n == 0 || l.next != b.right || l.n + r.n != b.size) continue;
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = b.left;
        add_bigram(l.prev, b.left);
        add_bigram(b.left, l.next);
    }
    for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
        const Symbol& s = symbols[static_cast<size_t>(i)];
        const std::string_view piece(word.data() + s.offset, s.n);
        const TokenId id = vocab.find(piece);
        if (id != kNoToken) {
            out.push_back(id);
            continue;
        }
        // Not a token: llama.cpp emits single-byte tokens of the mapped text where they exist.
        for (char c : piece) {
            const TokenId b = vocab.find(std::string_view(&c, 1));
            if (b != kNoToken) out.push_back(b);
        }
    }
}

}  // namespace

void bpe_tokenize(const Vocab& vocab, const PreTokenizer& pre, std::string_view text, std::vector<TokenId>& out) {
    std::vector<std::pair<size_t, size_t>> pieces;
    pre.split(text, pieces);
    std::string word;
    for (auto [off, len] : pieces) {
        word.clear();
        for (size_t i = off; i < off + len; ++i) word += byte_to_unicode(static_cast<uint8_t>(text[i]));
        merge_word(vocab, word, out);
    }
}

}  // namespace tf::tok::detail
