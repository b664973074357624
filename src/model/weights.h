// Tensor views bound from a GGUF file by name, with their expected shapes checked before any
// computation (a missing or misshaped tensor is a clear error naming it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "util/result.h"
#include "util/tensor_type.h"

namespace tf::model {

struct TensorRef {
    std::string name;
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;
    std::vector<uint64_t> dims;
    const uint8_t* panels = nullptr;  // the rows repacked for the panel kernels at load, or null

    explicit operator bool() const { return data != nullptr; }
    int64_t cols() const { return dims.empty() ? 0 : static_cast<int64_t>(dims[0]); }
    int64_t rows() const {
        int64_t r = 1;
        for (size_t i = 1; i < dims.size(); ++i) r *= static_cast<int64_t>(dims[i]);
        return r;
    }
};

class WeightBinder {
  public:
    explicit WeightBinder(const gguf::File& file) : file_(file) {}

    // Binds `name` and checks its shape (innermost dimension first, as GGUF stores it); a 0 in
    // `shape` accepts any size there (a classifier's number of labels).
    TensorRef require(const std::string& name, const std::vector<uint64_t>& shape);
    TensorRef optional(const std::string& name, const std::vector<uint64_t>& shape);
    Status status() const { return errors_.empty() ? Status::success() : Status(Error{errors_}); }

  private:
    TensorRef bind(const std::string& name, const std::vector<uint64_t>& shape, bool required);
    const gguf::File& file_;
    std::string errors_;
};

// Rows first .. first+n-1 of a matrix (or of a stack of matrices) as a matrix of its own: a
// fused projection's parts, one expert of a stacked tensor.
TensorRef row_range(const TensorRef& t, int64_t first, int64_t n);

// A float copy of a small 1-D tensor (norm weights, biases, rope factors) of any float type.
std::vector<float> to_floats(const TensorRef& t);

}  // namespace tf::model
