// Matrix products of a weight matrix (rows of any supported type) with a batch of activation
// rows. Each output element is one dot() of the dot.h contract, so it is bit-identical whatever
// the batch size, the thread count or the split of rows among threads.
#pragma once

#include <cstdint>

#include "kernels/dot.h"
#include "util/tensor_type.h"
#include "util/thread_pool.h"

namespace tf::kernels {

struct WeightMatrix {
    TensorType type;
    const void* data;  // n_rows rows of n_cols elements, contiguous
    int64_t n_rows;    // output features
    int64_t n_cols;    // input features (row length)
    const uint8_t* panels = nullptr;  // the same rows repacked (matmul_panel.h), when prepared at load
    // Multiply in llama.cpp's accumulation order where dot_llama_cpp.h has it (reference checks;
    // slower, per-row path).
    bool llama_cpp_order = false;
    // With llama_cpp_order: every row as a single one (ggml's MUL_MAT_ID, the experts' products).
    bool llama_cpp_rowwise = false;
};

// Converts n_tokens rows of n_cols floats (stride n_cols) to the weight's activation format.
void quantize_activation_rows(TensorType weight, const float* x, int64_t n_tokens, int64_t n_cols, void* out,
                              ThreadPool* pool);

// out[t * out_stride + r] = dot(W row r, activation row t). `activations` comes from
// quantize_activation_rows. pool may be null (single thread).
void matmul(const WeightMatrix& w, const void* activations, int64_t n_tokens, float* out, int64_t out_stride,
            ThreadPool* pool);

// Several matrices against the same activation rows (all weights of one activation_type), in one
// parallel pass: one join instead of one per matrix, and the threads balance across matrices.
// outs[i] receives matrix i's products with stride ws[i].n_rows. Each element is the same dot()
// as in matmul().
void matmul_group(const WeightMatrix* ws, float* const* outs, int count, const void* activations, int64_t n_tokens, ThreadPool* pool);

// Convenience: converts float activations and multiplies, with an internal scratch buffer.
void matmul_f32(const WeightMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool* pool);

}  // namespace tf::kernels
