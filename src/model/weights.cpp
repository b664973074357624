#include "model/weights.h"

#include "kernels/convert.h"

namespace tf::model {

static std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

TensorRef WeightBinder::bind(const std::string& name, const std::vector<uint64_t>& shape, bool required) {
    TensorRef r;
    r.name = name;
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr) {
        if (required) errors_ += (errors_.empty() ? "" : "; ") + std::string("missing tensor '") + name + "'";
        return r;
    }
    std::vector<uint64_t> dims = t->dims;
    while (dims.size() > shape.size() && dims.back() == 1) dims.pop_back();
    bool same = dims.size() == shape.size();
    for (size_t i = 0; same && i < dims.size(); ++i) same = shape[i] == 0 || dims[i] == shape[i];
    if (!same) {
        errors_ += (errors_.empty() ? "" : "; ") + std::string("tensor '") + name + "' has shape " + shape_str(t->dims) +
                   ", expected " + shape_str(shape);
        return r;
    }
    if (!kernels::can_dequantize(t->type)) {
        errors_ += (errors_.empty() ? "" : "; ") + std::string("tensor '") + name + "' has type " +
                   std::string(tensor_type_name(t->type)) + ", which the kernels cannot compute with yet";
        return r;
    }
    r.type = t->type;
    r.data = t->data.data();
    r.dims = t->dims;
    return r;
}

TensorRef WeightBinder::require(const std::string& name, const std::vector<uint64_t>& shape) { return bind(name, shape, true); }
TensorRef WeightBinder::optional(const std::string& name, const std::vector<uint64_t>& shape) { return bind(name, shape, false); }

TensorRef row_range(const TensorRef& t, int64_t first, int64_t n) {
    TensorRef r = t;
    const uint64_t row_bytes = *tensor_row_bytes(t.type, static_cast<uint64_t>(t.cols()));
    r.data = t.data + row_bytes * static_cast<uint64_t>(first);
    r.panels = nullptr;  // panels are made for whole views, after binding
    r.dims = {static_cast<uint64_t>(t.cols()), static_cast<uint64_t>(n)};
    r.name = t.name + "[" + std::to_string(first) + ":" + std::to_string(first + n) + "]";
    return r;
}

std::vector<float> to_floats(const TensorRef& t) {
    if (!t) return {};
    int64_t n = 1;
    for (uint64_t d : t.dims) n *= static_cast<int64_t>(d);
    std::vector<float> out(static_cast<size_t>(n));
    kernels::dequantize_row(t.type, t.data, out.data(), n);
    return out;
}

}  // namespace tf::model
