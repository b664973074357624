// A Jinja2-subset interpreter for chat templates, rendering the way Hugging Face `transformers`
// does: trim_blocks, lstrip_blocks, loop controls, a tojson that keeps non-ASCII, and the globals
// raise_exception() and strftime_now(). No Python involved.
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/result.h"

namespace tf::jinja {

struct Stmt;

struct RenderOptions {
    std::optional<std::time_t> now;  // the moment strftime_now() formats (UTC); default: the current time
};

class Template {
  public:
    // Errors name the line and what is wrong ("line 12: unsupported tag '{% call %}'").
    static Result<Template> parse(const std::string& source);

    // context: the template variables (messages, tools, add_generation_prompt, bos_token, …).
    // A template that calls raise_exception() fails with its message.
    Result<std::string> render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  private:
    std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace tf::jinja
