// Reversible redaction for what leaves the machine under a `redact` policy: each finding of the
// privacy scanner is replaced by a placeholder ("[[IBAN_1]]"), the same value by the same
// placeholder throughout a request (so a remote model can refer to it consistently), and the
// real values come back in the answer — streamed text included, where a placeholder may arrive
// split across chunks — and in tool-call arguments. Only placeholders this request issued are
// restored; one that already occurs in the request's own text is never issued.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "router/privacy_scan.h"

namespace tf::router {

// The placeholders of one request and the values behind them. Stays on this machine.
class Vault {
  public:
    // `text` with each finding replaced by its placeholder. `seen_text`: everything the request
    // sends (so no issued placeholder collides with text already there).
    std::string redact(std::string_view text, const std::vector<Finding>& findings, std::string_view seen_text = {});

    // Every placeholder this vault issued, replaced by its value.
    std::string restore(std::string_view text) const;
    // The same inside every string of a JSON value (tool-call arguments, structured answers).
    void restore(nlohmann::ordered_json& value) const;

    // Per type, how many distinct values were redacted (for the audit log: never the values).
    std::map<std::string, int> counts() const;
    bool empty() const { return by_placeholder_.empty(); }
    const std::map<std::string, std::string>& placeholders() const { return by_placeholder_; }

  private:
    std::map<std::string, std::string> by_value_;        // type + '\0' + value → placeholder
    std::map<std::string, std::string> by_placeholder_;  // placeholder → value
    std::map<std::string, int> next_;                    // per type, the last number issued
    std::map<std::string, int> counts_;
};

// Restores placeholders in a stream of text chunks: what might be the start of a placeholder is
// held back until the next chunk decides it.
class StreamRestorer {
  public:
    explicit StreamRestorer(const Vault& vault) : vault_(vault) {}
    std::string push(std::string_view chunk);
    std::string flush();

  private:
    const Vault& vault_;
    std::string held_;
};

// Restores an OpenAI chat message of an answer: its content, and its tool calls' arguments
// (parsed as JSON when they are, so a value with quotes stays valid JSON).
void restore_chat_message(const Vault& vault, nlohmann::ordered_json& message);

// Restores a stream of OpenAI chat.completion.chunk (or legacy completion) objects in place: per
// choice its content (or text), per tool call its arguments, each through a StreamRestorer; what is held back when a
// choice finishes comes out in that choice's final chunk. Chunks of any shape are taken: what is not where the protocol
// puts text is left alone.
class ChunkRestorer {
  public:
    explicit ChunkRestorer(const Vault& vault) : vault_(vault) {}
    void restore(nlohmann::ordered_json& chunk);

  private:
    StreamRestorer& at(const std::string& key);
    const Vault& vault_;
    std::map<std::string, StreamRestorer> held_;  // "c<choice>" and "t<choice>.<call>"
};

}  // namespace tf::router
