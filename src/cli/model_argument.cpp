#include "cli/model_argument.h"

#include "hub/store.h"

namespace tf::cli {

CLI::Validator model_reference() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            auto path = hub::resolve_model_argument(value);
            if (!path) return path.error().message;
            value = *path;
            return {};
        },
        "PATH|NAME", "model");
}

CLI::Option* add_model_option(CLI::App* app, std::string& target, const std::string& help) {
    return app->add_option("-m,--model", target, help)->required()->transform(model_reference());
}

}  // namespace tf::cli
