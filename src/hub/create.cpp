#include "hub/create.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "gguf/file.h"

namespace tf::hub {

namespace fs = std::filesystem;

Result<Manifest> create_model(Store& store, const ModelName& name, const CreateSpec& spec,
                              const CreateProgress& progress) {
    if (spec.from.empty() && spec.files.empty())
        return Error{"nothing to create from: give \"from\" (a stored model) or \"files\" (uploaded GGUF blobs)"};
    Manifest m;
    if (!spec.from.empty()) {
        auto base_name = parse_model_name(spec.from);
        if (!base_name) return Error{"from: " + base_name.error().message};
        auto base = store.find(*base_name);
        if (!base) return base.error();
        if (!*base) return Error{"model '" + base_name->display() + "' not found", ErrorKind::NotFound};
        m = **base;
        m.source = "create from " + base_name->display();
    }
    if (!spec.files.empty()) {
        auto files = spec.files;
        // A split model's parts sort by their names (-00001-of-…, -00002-of-…).
        std::sort(files.begin(), files.end());
        std::vector<StoredFile> stored;
        for (const auto& [file, digest] : files) {
            if (file.empty() || file.find('/') != std::string::npos || file.size() < 5 ||
                file.compare(file.size() - 5, 5, ".gguf") != 0)
                return Error{"files: '" + file +
                             "' is not a GGUF file name (adapters and safetensors are not supported)"};
            if (!valid_digest(digest)) return Error{"files: '" + file + "': not a sha256 digest: '" + digest + "'"};
            std::error_code ec;
            const auto size = fs::file_size(store.blob_path(digest), ec);
            if (ec)
                return Error{"files: '" + file + "': no blob " + digest +
                                 " in the store (upload it first: POST /api/blobs/" + digest + ")",
                             ErrorKind::NotFound};
            stored.push_back({file, digest, static_cast<uint64_t>(size)});
        }
        auto first = gguf::File::open(store.blob_path(stored[0].digest));
        if (!first) return Error{"files: '" + stored[0].name + "' is not a usable GGUF: " + first.error().message};
        const int64_t parts = first->get_int("split.count").value_or(1);
        if (parts != static_cast<int64_t>(stored.size()))
            return Error{"files: '" + stored[0].name + "' is part of a model in " + std::to_string(parts) + " files; " +
                         std::to_string(stored.size()) + " given"};
        m.files = std::move(stored);
        if (spec.from.empty()) m.source = "create from uploaded files";
    }
    if (spec.template_text) m.template_text = *spec.template_text;
    if (spec.system) m.system = *spec.system;
    if (spec.license) m.license = *spec.license;
    if (!spec.parameters_json.empty()) {
        const auto add = nlohmann::ordered_json::parse(spec.parameters_json, nullptr, false);
        if (!add.is_object()) return Error{"parameters: expected a JSON object"};
        auto merged = nlohmann::ordered_json::parse(m.params_json.empty() ? "{}" : m.params_json, nullptr, false);
        if (!merged.is_object()) merged = nlohmann::ordered_json::object();
        for (auto it = add.begin(); it != add.end(); ++it) merged[it.key()] = it.value();
        m.params_json = merged.empty() ? "" : merged.dump();
    }
    if (progress)
        for (const auto& f : m.files) progress("using existing layer " + f.digest);
    if (progress) progress("writing manifest");
    m.name.clear();
    m.created.clear();
    if (auto st = store.put(name, m); !st) return st.error();
    auto made = store.find(name);
    if (!made || !*made)
        return Error{"model store: the manifest just written cannot be read back", ErrorKind::Internal};
    return **made;
}

}  // namespace tf::hub
