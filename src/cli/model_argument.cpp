#include "cli/model_argument.h"

#include <filesystem>

#include "hub/store.h"

namespace tf::cli {

namespace {
std::optional<std::string> pending_error;
}

std::optional<std::string> take_model_error() {
    auto e = std::move(pending_error);
    pending_error.reset();
    return e;
}

CLI::Validator model_reference() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            std::error_code ec;
            if (std::filesystem::exists(value, ec) || hub::looks_like_path(value)) return {};
            auto path = hub::resolve_model_argument(value);
            if (!path) {
                if (!pending_error) pending_error = path.error().message;
                return {};
            }
            value = *path;
            return {};
        },
        "PATH|NAME", "model");
}

CLI::Option* add_model_option(CLI::App* app, std::string& target, const std::string& help) {
    return app->add_option("-m,--model", target, help)->required()->transform(model_reference());
}

}  // namespace tf::cli
