// The analytic profile: what each op of a training step must cost on a GPU, from its shapes alone.
//
// For every call, the floating-point operations it must do and the fewest bytes it must move
// through device memory (each input read once, each output written once, accumulated outputs read
// and written), then a predicted time
//     max(flops / (70% of the matrix peak), bytes / (80% of memory bandwidth)) + 4 us per launch
// (the launch term is dropped for work captured as a CUDA graph). Summed over a step this gives
// a predicted step time and MFU without a device, shows which op holds the step back, and on a
// device sits beside the measured times (`chamber pretrain --profile`, bench_roofline).
//
// The costs follow the kernels as they are written (kernels/*.cu): the storage type's bytes per
// element, the attention path the GPU picks (T x T scores in scratch while they fit in 2 GiB,
// flash kernels beyond, as kernels/attention.cu decides), and the launches each op issues. They
// are estimates of the minimum, not of the kernels' actual traffic: a kernel slower than its
// prediction moves more bytes than it must, or leaves the units idle.
#pragma once
#include <string>

#include "engine/model.h"
#include "kernels/ops.h"

namespace chamber {

// A GPU and the arithmetic the engine runs on it.
struct RooflineDevice {
  std::string name;            // "H100 SXM, bf16"
  double matmul_flops;         // dense matrix peak for the product type, FLOP/s
  double bytes_per_s;          // memory bandwidth, bytes/s
  double element_bytes;        // storage of weights, activations and gradients: 4 (fp32) or 2 (bf16)
  double launch_s = 4e-6;      // per kernel launch outside a CUDA graph
  bool graph = false;          // the whole step in a CUDA graph: no per-launch cost anywhere (the
                               // engine captures each micro-step; profiled_ops predicts that part
                               // without launch costs either way)
  std::string attention = "auto";  // auto | materialized | flash
};
// gpu: h100 | h200; dtype: fp32 (TF32 products, what the CUDA engine runs today) | bf16.
// Error for other names. Peaks are the datasheet's dense rates.
RooflineDevice roofline_device(const std::string& gpu, const std::string& dtype);

// One op call's cost.
struct OpCost {
  double flops = 0, bytes = 0;
  int launches = 0;
  OpCost& operator+=(const OpCost& o) {
    flops += o.flops, bytes += o.bytes, launches += o.launches;
    return *this;
  }
};
// Predicted seconds of a cost on a device: the larger of its compute and memory times at 70% and
// 80% of peak, plus its launches.
double predicted_seconds(const OpCost& cost, const RooflineDevice& device);
// Which of the two bounds the prediction took: "compute", "memory" or "launch".
const char* bound_of(const OpCost& cost, const RooflineDevice& device);

// The cost of each op of kernels/ops.h for its arguments; S = bytes per stored element.
OpCost cost_encoder_forward(int B, int T, int C, double S);
OpCost cost_encoder_backward(int B, int T, int C, double S);
OpCost cost_layernorm_forward(int N, int C, double S);
OpCost cost_layernorm_backward(int N, int C, double S);
OpCost cost_residual_layernorm_forward(int N, int C, double S);
OpCost cost_matmul_forward(int N, int C, int OC, bool bias, double S);
OpCost cost_matmul_gelu_forward(int N, int C, int OC, double S);
OpCost cost_matmul_backward(int N, int C, int OC, bool dinp, bool dbias, double S);
OpCost cost_matmul_gelu_backward(int N, int C, int OC, bool dbias, double S);
OpCost cost_attention_forward(int B, int T, int C, int NH, const RooflineDevice& device);
OpCost cost_attention_backward(int B, int T, int C, int NH, const RooflineDevice& device);
OpCost cost_elementwise(size_t n, int tensors, double S);  // GELU, residual: n elements x tensors
OpCost cost_classifier(int N, int Vp, double S);
OpCost cost_value_head(int N, int C, double S);
OpCost cost_sum_squares(size_t n);
OpCost cost_loss_sum(int N);
OpCost cost_adamw(size_t n, double S);
OpCost cost_memory(size_t bytes);

// Model FLOPs of one token by llm.c's count: 6 N (N parameters without the position table) plus
// 6 L C T for attention, forward and backward. MFU = tokens/s x this / the bf16 peak (989e12 on
// an H100), whatever the dtype the step ran in.
double model_flops_per_token(long long params_without_wpe, int L, int C, int T);
constexpr double kMfuPeakFlops = 989e12;

// A backend whose ops compute nothing (to_host reads zeros; graphs capture nothing) and whose
// arenas are address space without backing (mmap with MAP_NORESERVE): the model code runs over it
// at any size in no time and no memory, so profiled_ops() over it records a step's shapes.
const Ops& shape_only_ops();

// One training step (zero_grad, forward, classifier, backward, grad norm, AdamW) of a model at
// B x T, predicted on the device set by set_profile_device (train/profile.h); the per-op table
// is then print_profile's.
struct RooflineStep {
  double seconds = 0;               // predicted step time
  OpCost cost;                      // summed over the step's ops
  double model_flops_per_token = 0; // llm.c's count, for MFU
};
RooflineStep predict_step(const ModelConfig& cfg, int B, int T);

}  // namespace chamber
