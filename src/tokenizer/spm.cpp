#include <queue>
#include <unordered_map>

#include "tokenizer/algorithms.h"
#include "tokenizer/unicode.h"

namespace tf::tok::detail {

namespace {

struct Symbol {
    int prev, next;
    size_t offset, n;  // byte span in the text; n == 0 once merged into its left neighbour
};

struct Bigram {
    int left, right;
    float score;
    size_t size;
};

// Highest score first; on equal scores the leftmost pair (SentencePiece's order).
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

class SpmSession {
  public:
    SpmSession(const Vocab& v, std::string_view text) : vocab_(v), text_(text) {}

    void run(std::vector<TokenId>& out) {
        for (size_t off = 0; off < text_.size();) {
            const size_t len = std::min(utf8_len(static_cast<uint8_t>(text_[off])), text_.size() - off);
            const int index = static_cast<int>(symbols_.size());
            symbols_.push_back({index - 1, off + len == text_.size() ? -1 : index + 1, off, len});
            off += len;
        }
        for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);
        while (!queue_.empty()) {
            const Bigram b = queue_.top();
            queue_.pop();
            Symbol& l = symbols_[static_cast<size_t>(b.left)];
            Symbol& r = symbols_[static_cast<size_t>(b.right)];
            if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
            l.n += r.n;
            r.n = 0;
            l.next = r.next;
            if (r.next >= 0) symbols_[static_cast<size_t>(r.next)].prev = b.left;
            try_add_bigram(l.prev, b.left);
            try_add_bigram(b.left, l.next);
        }
        for (int i = symbols_.empty() ? -1 : 0; i != -1; i = symbols_[static_cast<size_t>(i)].next) {
            resegment(symbols_[static_cast<size_t>(i)], out);
        }
    }

  private:
    void try_add_bigram(int left, int right) {
        if (left == -1 || right == -1) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        const Symbol& r = symbols_[static_cast<size_t>(right)];
        const std::string_view piece = text_.substr(l.offset, l.n + r.n);
        const TokenId id = vocab_.find(piece);
        if (id == kNoToken) return;
        queue_.push({left, right, vocab_.tokens[static_cast<size_t>(id)].score, piece.size()});
        rev_merge_[std::string(piece)] = {left, right};
    }

    // A merged piece that is not itself a token is split back into the pieces it came from.
    void resegment(const Symbol& s, std::vector<TokenId>& out) {
        const std::string_view piece = text_.substr(s.offset, s.n);
        const TokenId id = vocab_.find(piece);
        if (id != kNoToken) {
            out.push_back(id);
            return;
        }
        auto it = rev_merge_.find(std::string(piece));
        if (it == rev_merge_.end()) {
            for (unsigned char c : piece) {
                const TokenId b = vocab_.byte_tokens[c];
                if (b != kNoToken) out.push_back(b);
                else if (vocab_.unk != kNoToken) out.push_back(vocab_.unk);
            }
            return;
        }
        resegment(symbols_[static_cast<size_t>(it->second.first)], out);
        resegment(symbols_[static_cast<size_t>(it->second.second)], out);
    }

    const Vocab& vocab_;
    std::string_view text_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
    std::unordered_map<std::string, std::pair<int, int>> rev_merge_;
};

}  // namespace

void spm_tokenize(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) {
    SpmSession(vocab, text).run(out);
}

}  // namespace tf::tok::detail
