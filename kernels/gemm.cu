// The one matrix multiply every GPU op uses (declared in cuda_launchers.h), column-major with
// cuBLAS conventions: for each of `batch` problems, D = alpha op(A) op(B) + beta D [+ bias].
//
// Types: A and B are floatX; D is floatX or float (GemmOutput::fp32: the weight gradients of
// matmul_backward are float and accumulate with beta = 1); a bias, the GELU input written by
// gemm_gelu and read by gemm_dgelu are floatX, and come only with a floatX D (cuBLASLt gives the
// bias and the GELU auxiliary matrix D's type unless told otherwise; cublasLt.h,
// CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE and _EPILOGUE_AUX_DATA_TYPE). alpha, beta and the
// accumulation are float in every build.
//
// On the GPU it is a cuBLASLt matmul. fp32 build: fp32 storage, TF32 tensor cores
// (CUBLAS_COMPUTE_32F_FAST_TF32, 10-bit mantissa products, fp32 accumulation). bf16 build: A and
// B CUDA_R_16BF, C = D CUDA_R_16BF or CUDA_R_32F, CUBLAS_COMPUTE_32F with CUDA_R_32F scale (bf16
// products are exact in fp32, accumulated in fp32), one of cuBLASLt's documented type
// combinations. Bias added in the epilogue (no separate pass over D). CHAMBER_TF32=0 in the environment (or cuda_set_tf32_matmuls(false)) makes every product
// strict fp32, about half the speed, for checking results against the CPU to fp32 rounding. Each
// distinct shape's descriptors and algorithm are built once and kept (see Plan below). Strided batches cover attention's per-head products. Pointer alignment is measured and told
// to the heuristic, since cuBLASLt otherwise assumes 256-byte alignment (false for head slices).
//
// When cuBLASLt offers no algorithm (odd leading dimensions or 4-byte aligned head slices, as in
// the tests' small shapes) a simple kernel (float arithmetic, D's type written), one thread per
// output element, takes over: slow
// but always correct, and said once on stderr. It is gemm_simple, which the emulated tests check
// against the reference loops below.
//
// gemm_gelu is the MLP's fc layer: cuBLASLt's GELU_AUX_BIAS epilogue adds the bias, writes that
// pre-activation to an auxiliary matrix (backward needs it) and GELU of it to D, in the one pass
// over the output tile that the bias epilogue makes anyway; separately, the GELU kernel would read
// and write the (N, 4C) matrix again. cuBLASLt does not document its GELU formula; backward
// differentiates the tanh form, so the GPU test FusedGeluIsTheTanhForm checks it on exact
// products, where the erf form (up to 4.7e-4 away) would fail. gemm_dgelu is its backward partner:
// the DGELU epilogue reads that pre-activation back as an auxiliary input and multiplies each
// element of the product by GELU' there, so the gradient through the GELU costs no pass of its
// own (the GPU tests compare it with matmul_backward then gelu_backward).
// gemm_bias_grad is the weight gradient's product with the BGRADB epilogue: the bias gradient is
// the column sums of op(B) = dout over the product's k dimension (the rows), which the tiles of
// dout already pass through on their way into the product; a separate pass would read all of dout
// again (N x OC elements per Linear layer). The epilogue overwrites its vector (it has no beta),
// so matmul.cu adds it into the accumulating gradient with a kernel of OC threads.
//
// Under the SIMT emulator the same function is a plain triple loop in fp32 (the reference GEMM;
// operands read as float, D written in its type):
// cuBLASLt has no CPU build, and what the emulated tests check is everything around it (which
// operands, transposes, leading dimensions, strides, beta and bias each op passes).
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

#if defined(__CUDACC__)
#include <cublasLt.h>
#endif

namespace chamber::CHAMBER_GPU_NS {

namespace {

// D[i, j] of batch blockIdx.z; threads over i (coalesced in column-major D), blocks over j.
// OutT: D's element type (floatX or float).
template <typename OutT>
__global__ void gemm_fallback_kernel(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                                     const floatX* A, int lda, long long stride_a, const floatX* B,
                                     int ldb, long long stride_b, float beta, OutT* D, int ldd,
                                     long long stride_d, const floatX* bias) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= m) return;
  const floatX* a = A + blockIdx.z * stride_a;
  const floatX* b = B + blockIdx.z * stride_b;
  for (int j = blockIdx.y; j < n; j += gridDim.y) {
    float acc = 0.0f;
    for (int q = 0; q < k; q++) {
      float a_iq = (float)(trans_a ? a[q + (size_t)i * lda] : a[i + (size_t)q * lda]);
      float b_qj = (float)(trans_b ? b[j + (size_t)q * ldb] : b[q + (size_t)j * ldb]);
      acc += a_iq * b_qj;
    }
    OutT* d = D + blockIdx.z * stride_d + (size_t)j * ldd + i;
    float value = alpha * acc + (beta != 0.0f ? beta * (float)*d : 0.0f);
    if (bias) value += (float)bias[i];
    *d = (OutT)value;
  }
}

// A bias (and a GELU auxiliary matrix) has D's type in cuBLASLt, and floatX here: so D is floatX.
void check_bias_type(const GemmOutput& D, const char* what) {
  if (D.fp32 && !std::is_same_v<floatX, float>)
    fail(what, ": a bias or GELU epilogue needs D of the compute type, not float");
}

// gemm_bias_grad's op(B) is a row-major (k, n) matrix with no padding (a layer's dout), which is
// what its fallback's column sums read; one product.
void check_bias_grad_operands(const GemmInput& B, GemmShape shape) {
  if (shape.batch != 1) fail("gemm_bias_grad: one product only (got batch ", shape.batch, ")");
  if (!B.transposed || B.ld != shape.n)
    fail("gemm_bias_grad: op(B) must be a packed row-major (k, n) matrix (B transposed, ldb = n = ",
         shape.n, "; got ", B.transposed ? "transposed" : "not transposed", ", ldb ", B.ld, ")");
}

}  // namespace

void gemm_simple(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
                 float alpha, float beta, const floatX* bias, cudaStream_t stream) {
  const int m = shape.m, n = shape.n, k = shape.k, batch = shape.batch;
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (bias) check_bias_type(D, "gemm");
  constexpr int kBlock = 128;
  unsigned grid_y = n < 65535 ? (unsigned)n : 65535u;
  dim3 grid(ceil_div(m, kBlock), grid_y, batch);
  if (D.fp32)
    CHAMBER_LAUNCH(gemm_fallback_kernel<float>, grid, kBlock, 0, stream, A.transposed,
                   B.transposed, m, n, k, alpha, A.ptr, A.ld, A.batch_stride, B.ptr, B.ld,
                   B.batch_stride, beta, (float*)D.ptr, D.ld, D.batch_stride, bias);
  else
    CHAMBER_LAUNCH(gemm_fallback_kernel<floatX>, grid, kBlock, 0, stream, A.transposed,
                   B.transposed, m, n, k, alpha, A.ptr, A.ld, A.batch_stride, B.ptr, B.ld,
                   B.batch_stride, beta, (floatX*)D.ptr, D.ld, D.batch_stride, bias);
}

#if defined(__CUDACC__)

namespace {

void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail("cuBLASLt error ", cublasLtGetStatusName(status), " (", cublasLtGetStatusString(status),
       ") in ", call, " at ", file, ":", line);
}
#define CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)

constexpr size_t kWorkspaceBytes = (size_t)32 << 20;  // what Hopper's fastest kernels ask for

struct Lt {
  cublasLtHandle_t handle;
  void* workspace;
};
Lt& lt() {
  static Lt state = [] {
    Lt s;
    CUBLAS_CHECK(cublasLtCreate(&s.handle));
    CUDA_CHECK(cudaMalloc(&s.workspace, kWorkspaceBytes));
    return s;
  }();
  return state;
}

// Largest power of two (<= 256) dividing the address and every batch offset from it.
uint32_t alignment_bytes(const void* ptr, long long stride_elems, size_t element_bytes, int batch) {
  uintptr_t bits = (uintptr_t)ptr | 256;
  if (batch > 1) bits |= (uintptr_t)(stride_elems * (long long)element_bytes);
  return (uint32_t)(bits & (~bits + 1));
}

// The CUDA data type of floatX: A, B, a bias, the GELU auxiliary matrix, and D unless it is float.
constexpr cudaDataType_t kComputeDataType =
    std::is_same_v<floatX, float> ? CUDA_R_32F : CUDA_R_16BF;

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int rows, int cols, int ld,
                                   long long stride, int batch) {
  cublasLtMatrixLayout_t layout;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, type, rows, cols, ld));
  if (batch > 1) {
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                  &batch, sizeof(batch)));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
        layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return layout;
}

// Everything cuBLASLt needs to know about one product except its pointers: the operation
// descriptor, the three matrix layouts and the algorithm the heuristic chose. Building these and
// asking the heuristic costs tens of microseconds of host time, and a training step issues the
// same few dozen shapes hundreds of times, so each shape is planned once and kept for the process
// (a handful of shapes per model, a few KB each). `algo_found` false records that cuBLASLt has no
// algorithm, so the fallback is chosen without asking again. The key holds the types too: A and B
// are the build's floatX, D floatX or float (d_type), which changes the descriptors and algorithm.
// The GELU epilogues: none; GELU with its input written to an auxiliary matrix (forward); the
// GELU derivative at an auxiliary input multiplied into the product (backward).
enum class GeluEpilogue { kNone, kGeluAux, kDgelu };

struct PlanKey {
  bool trans_a, trans_b, tf32, has_bias, bias_grad;
  GeluEpilogue gelu;
  cudaDataType_t ab_type, d_type;
  int m, n, k, lda, ldb, ldd, batch;
  long long stride_a, stride_b, stride_d;
  uint32_t align_a, align_b, align_d;
  auto fields() const {
    return std::tie(trans_a, trans_b, tf32, has_bias, bias_grad, gelu, ab_type, d_type, m, n, k,
                    lda, ldb, ldd, batch, stride_a, stride_b, stride_d, align_a, align_b, align_d);
  }
  bool operator==(const PlanKey& other) const { return fields() == other.fields(); }
};
struct PlanKeyHash {
  size_t operator()(const PlanKey& key) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields, which have no padding bytes read
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(key.trans_a | key.trans_b << 1 | key.tf32 << 2 | key.has_bias << 3 | key.bias_grad << 4 |
        (int)key.gelu << 5);
    mix((uint64_t)key.ab_type << 32 | (uint32_t)key.d_type);
    for (long long v : {(long long)key.m, (long long)key.n, (long long)key.k, (long long)key.lda,
                        (long long)key.ldb, (long long)key.ldd, (long long)key.batch, key.stride_a,
                        key.stride_b, key.stride_d, (long long)key.align_a, (long long)key.align_b,
                        (long long)key.align_d})
      mix((uint64_t)v);
    return (size_t)h;
  }
};
struct Plan {
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t layout_a, layout_b, layout_d;
  cublasLtMatmulAlgo_t algo;
  bool algo_found;
};

Plan make_plan(const PlanKey& key) {
  Plan plan{};
  // TF32 applies to fp32 operands only (key.tf32 is false in the bf16 build).
  cublasComputeType_t compute = key.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.op, compute, CUDA_R_32F));
  cublasOperation_t op_a = key.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = key.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  if (key.gelu == GeluEpilogue::kGeluAux)
    epilogue = key.has_bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
  else if (key.gelu == GeluEpilogue::kDgelu) epilogue = CUBLASLT_EPILOGUE_DGELU;
  else if (key.has_bias) epilogue = CUBLASLT_EPILOGUE_BIAS;
  else if (key.bias_grad) epilogue = CUBLASLT_EPILOGUE_BGRADB;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                              sizeof(epilogue)));
  if (key.bias_grad) {  // float sums in both builds (D's type, said rather than left to default)
    cudaDataType_t bias_type = CUDA_R_32F;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                &bias_type, sizeof(bias_type)));
  }
  if (key.gelu != GeluEpilogue::kNone) {
    int64_t aux_ld = key.ldd;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD,
                                                &aux_ld, sizeof(aux_ld)));
  }
  int m = key.m, n = key.n, k = key.k;
  plan.layout_a = make_layout(key.ab_type, key.trans_a ? k : m, key.trans_a ? m : k, key.lda,
                              key.stride_a, key.batch);
  plan.layout_b = make_layout(key.ab_type, key.trans_b ? n : k, key.trans_b ? k : n, key.ldb,
                              key.stride_b, key.batch);
  plan.layout_d = make_layout(key.d_type, m, n, key.ldd, key.stride_d, key.batch);

  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  size_t workspace_bytes = kWorkspaceBytes;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes, sizeof(workspace_bytes)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.align_a, sizeof(key.align_a)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.align_b, sizeof(key.align_b)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.align_d, sizeof(key.align_d)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.align_d, sizeof(key.align_d)));
  cublasLtMatmulHeuristicResult_t heuristic;
  int found = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(lt().handle, plan.op, plan.layout_a,
                                                         plan.layout_b, plan.layout_d,
                                                         plan.layout_d, pref, 1, &heuristic, &found);
  if (status != CUBLAS_STATUS_NOT_SUPPORTED) CUBLAS_CHECK(status);
  plan.algo_found = status == CUBLAS_STATUS_SUCCESS && found > 0;
  if (plan.algo_found) plan.algo = heuristic.algo;
  CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
  return plan;
}

#if !defined(CHAMBER_BF16)
// Products that took a slower path than cuBLASLt's (gemm_simple, or GELU in its own kernel), in
// either precision (the bf16 build counts here too); tests at real shapes require none.
std::atomic<long> g_fallbacks{0};

// TF32 products unless the user asked for strict fp32 (cuda_set_tf32_matmuls, CHAMBER_TF32=0).
bool g_tf32_matmuls = [] {
  const char* env = std::getenv("CHAMBER_TF32");
  return !(env && std::string(env) == "0");
}();
#endif

// gemm_gelu's operands with the batch strides it does not read set to 0, as the plan key of a
// single product has always had them.
GemmInput single(GemmInput matrix) {
  matrix.batch_stride = 0;
  return matrix;
}
GemmOutput single(GemmOutput matrix) {
  matrix.batch_stride = 0;
  return matrix;
}

// One cuBLASLt matmul with the epilogue the arguments ask for: bias (if non-null) added, then
// with kGeluAux GELU applied and its input written to pre_gelu, with kDgelu the product
// multiplied by GELU'(pre_gelu) (pre_gelu has D's leading dimension; batch 1 for both); or, with
// bias_grad (no bias, no GELU), op(B)'s column sums written there (BGRADB, see gemm_bias_grad).
// False when cuBLASLt offers no algorithm for the shape, alignment and epilogue: nothing was
// written and the caller falls back (saying so once: the fallback is slower).
bool lt_matmul(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
               float alpha, float beta, const floatX* bias, GeluEpilogue gelu,
               const floatX* pre_gelu, float* bias_grad, cudaStream_t stream) {
  const int batch = shape.batch;
  const bool tf32 = std::is_same_v<floatX, float> && tf32_matmuls();
  PlanKey key{A.transposed, B.transposed, tf32, bias != nullptr, bias_grad != nullptr, gelu,
              kComputeDataType, D.fp32 ? CUDA_R_32F : kComputeDataType,
              shape.m, shape.n, shape.k, A.ld, B.ld, D.ld, batch,
              A.batch_stride, B.batch_stride, D.batch_stride,
              alignment_bytes(A.ptr, A.batch_stride, sizeof(floatX), batch),
              alignment_bytes(B.ptr, B.batch_stride, sizeof(floatX), batch),
              alignment_bytes(D.ptr, D.batch_stride, D.element_bytes(), batch)};
  static std::mutex plans_mutex;  // ops are issued from one thread; this keeps a second one safe
  static std::unordered_map<PlanKey, Plan, PlanKeyHash> plans;
  std::lock_guard<std::mutex> lock(plans_mutex);
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, make_plan(key)).first;
  Plan& plan = it->second;
  if (!plan.algo_found) return false;
  // The pointers change from call to call; setting them on the kept descriptor is cheap.
  if (bias)
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                sizeof(bias)));
  if (bias_grad)  // the epilogue's output: the same attribute names it
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                &bias_grad, sizeof(bias_grad)));
  if (gelu != GeluEpilogue::kNone)  // written by kGeluAux, read by kDgelu
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER,
                                                &pre_gelu, sizeof(pre_gelu)));
  Lt& state = lt();
  CUBLAS_CHECK(cublasLtMatmul(state.handle, plan.op, &alpha, A.ptr, plan.layout_a, B.ptr,
                              plan.layout_b, &beta, D.ptr, plan.layout_d, D.ptr, plan.layout_d,
                              &plan.algo, state.workspace, kWorkspaceBytes, stream));
  return true;
}

// Counts a product that took a slower path than the cuBLASLt call asked for, and says so on
// stderr the first time for each caller (`said`: the caller's own flag).
__attribute__((format(printf, 2, 3))) void report_fallback(bool* said, const char* format, ...) {
  count_gemm_fallback();
  if (*said) return;
  *said = true;
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

}  // namespace

void gemm(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
          float alpha, float beta, const floatX* bias, cudaStream_t stream) {
  if (shape.m <= 0 || shape.n <= 0 || shape.batch <= 0) return;
  if (bias && shape.batch != 1) fail("gemm: a bias epilogue needs batch == 1 (got ", shape.batch, ")");
  if (bias) check_bias_type(D, "gemm");
  if (lt_matmul(A, B, D, shape, alpha, beta, bias, GeluEpilogue::kNone, nullptr, nullptr, stream)) return;
  static bool said = false;
  report_fallback(&said, "chamber: cuBLASLt has no algorithm for a gemm (m=%d n=%d k=%d lda=%d "
                  "ldb=%d ldd=%d batch=%d); using the simple fallback kernel (slow). Said once.\n",
                  shape.m, shape.n, shape.k, A.ld, B.ld, D.ld, shape.batch);
  gemm_simple(A, B, D, shape, alpha, beta, bias, stream);
}

void gemm_gelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D, floatX* pre_gelu,
               GemmShape shape, const floatX* bias, cudaStream_t stream) {
  if (shape.batch != 1) fail("gemm_gelu: one product only (got batch ", shape.batch, ")");
  if (shape.m <= 0 || shape.n <= 0) return;
  check_bias_type(D, "gemm_gelu");
  // The epilogue needs the auxiliary matrix's leading dimension to be a multiple of 8.
  if (D.ld % 8 == 0 &&
      lt_matmul(single(A), single(B), single(D), shape, 1.0f, 0.0f, bias, GeluEpilogue::kGeluAux,
                pre_gelu, nullptr, stream))
    return;
  static bool said = false;
  report_fallback(&said, "chamber: cuBLASLt has no GELU-epilogue algorithm for a gemm (m=%d n=%d "
                  "k=%d ldd=%d); using a matmul then the GELU kernel. Said once.\n", shape.m,
                  shape.n, shape.k, D.ld);
  gemm(single(A), single(B), GemmOutput{pre_gelu, D.ld, 0}, shape, 1.0f, 0.0f, bias, stream);
  gelu_forward((floatX*)D.ptr, pre_gelu, (size_t)D.ld * shape.n, stream);
}

void gemm_dgelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D,
                const floatX* pre_gelu, GemmShape shape, cudaStream_t stream) {
  if (shape.batch != 1) fail("gemm_dgelu: one product only (got batch ", shape.batch, ")");
  if (shape.m <= 0 || shape.n <= 0) return;
  check_bias_type(D, "gemm_dgelu");
  if (D.ld % 8 == 0 && lt_matmul(single(A), single(B), single(D), shape, 1.0f, 0.0f, nullptr,
                                 GeluEpilogue::kDgelu, pre_gelu, nullptr, stream))
    return;
  static bool said = false;
  report_fallback(&said, "chamber: cuBLASLt has no DGELU-epilogue algorithm for a gemm (m=%d n=%d "
                  "k=%d ldd=%d); using a matmul then the GELU backward kernel. Said once.\n",
                  shape.m, shape.n, shape.k, D.ld);
  gemm(single(A), single(B), single(D), shape, 1.0f, 0.0f, nullptr, stream);
  gelu_backward((floatX*)D.ptr, pre_gelu, (const floatX*)D.ptr, (size_t)D.ld * shape.n, stream);
}

void gemm_bias_grad(const GemmInput& A, const GemmInput& B, const GemmOutput& D, float* bias_grad,
                    GemmShape shape, float alpha, float beta, cudaStream_t stream) {
  check_bias_grad_operands(B, shape);
  if (shape.m <= 0 || shape.n <= 0) return;
  if (lt_matmul(single(A), single(B), single(D), shape, alpha, beta, nullptr, GeluEpilogue::kNone,
                nullptr, bias_grad, stream))
    return;
  static bool said = false;
  report_fallback(&said, "chamber: cuBLASLt has no bias-gradient-epilogue algorithm for a gemm "
                  "(m=%d n=%d k=%d); using a matmul then a column-sum pass. Said once.\n", shape.m,
                  shape.n, shape.k);
  gemm(single(A), single(B), single(D), shape, alpha, beta, nullptr, stream);
  CUDA_CHECK(cudaMemsetAsync(bias_grad, 0, (size_t)shape.n * sizeof(float), stream));
  column_sums_accumulate(bias_grad, B.ptr, nullptr, shape.k, shape.n, stream);
}

#if !defined(CHAMBER_BF16)
void set_tf32_matmuls(bool enabled) { g_tf32_matmuls = enabled; }
bool tf32_matmuls() { return g_tf32_matmuls; }
long gemm_fallbacks() { return g_fallbacks.load(); }
void count_gemm_fallback() { g_fallbacks++; }
#else  // the fp32 build's settings (cuda_common.h)
void set_tf32_matmuls(bool enabled) { CHAMBER_FP32_NS::set_tf32_matmuls(enabled); }
bool tf32_matmuls() { return CHAMBER_FP32_NS::tf32_matmuls(); }
long gemm_fallbacks() { return CHAMBER_FP32_NS::gemm_fallbacks(); }
void count_gemm_fallback() { CHAMBER_FP32_NS::count_gemm_fallback(); }
#endif

#else  // SIMT emulation: the reference GEMM

namespace {

// D (of element type OutT) = alpha op(A) op(B) + beta D + bias, in float.
template <typename OutT>
void gemm_loops(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
                float alpha, float beta, const floatX* bias) {
  const int m = shape.m, n = shape.n, k = shape.k, batch = shape.batch;
  const bool trans_a = A.transposed, trans_b = B.transposed;
  const int lda = A.ld, ldb = B.ld, ldd = D.ld;
#pragma omp parallel for collapse(2) schedule(static)
  for (int p = 0; p < batch; p++) {
    for (int j = 0; j < n; j++) {
      const floatX* a = A.ptr + p * A.batch_stride;
      const floatX* b = B.ptr + p * B.batch_stride;
      OutT* d = (OutT*)D.ptr + p * D.batch_stride + (size_t)j * ldd;
      for (int i = 0; i < m; i++) {
        float acc = 0.0f;
        for (int q = 0; q < k; q++) {
          float a_iq = (float)(trans_a ? a[q + (size_t)i * lda] : a[i + (size_t)q * lda]);
          float b_qj = (float)(trans_b ? b[j + (size_t)q * ldb] : b[q + (size_t)j * ldb]);
          acc += a_iq * b_qj;
        }
        // Like cuBLAS, beta == 0 never reads D (it may hold garbage or NaN).
        float value = alpha * acc + (beta != 0.0f ? beta * (float)d[i] : 0.0f);
        if (bias) value += (float)bias[i];
        d[i] = (OutT)value;
      }
    }
  }
}

}  // namespace

void gemm(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
          float alpha, float beta, const floatX* bias, cudaStream_t) {
  if (shape.m <= 0 || shape.n <= 0 || shape.batch <= 0) return;
  if (bias && shape.batch != 1) fail("gemm: a bias epilogue needs batch == 1 (got ", shape.batch, ")");
  if (bias) check_bias_type(D, "gemm");
  // Stream work, like the cuBLASLt call it stands for (recorded while a graph is captured).
  ::chamber::simt::stream_work([=] {
    if (D.fp32) gemm_loops<float>(A, B, D, shape, alpha, beta, bias);
    else gemm_loops<floatX>(A, B, D, shape, alpha, beta, bias);
  });
}

void gemm_gelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D, floatX* pre_gelu,
               GemmShape shape, const floatX* bias, cudaStream_t stream) {
  if (shape.batch != 1) fail("gemm_gelu: one product only (got batch ", shape.batch, ")");
  if (shape.m <= 0 || shape.n <= 0) return;
  check_bias_type(D, "gemm_gelu");
  gemm(A, B, GemmOutput{pre_gelu, D.ld, 0}, shape, 1.0f, 0.0f, bias, stream);
  gelu_forward((floatX*)D.ptr, pre_gelu, (size_t)D.ld * shape.n, stream);
}

// The product, then the GELU derivative multiplied in place (what the epilogue does per element).
void gemm_dgelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D,
                const floatX* pre_gelu, GemmShape shape, cudaStream_t stream) {
  if (shape.batch != 1) fail("gemm_dgelu: one product only (got batch ", shape.batch, ")");
  if (shape.m <= 0 || shape.n <= 0) return;
  check_bias_type(D, "gemm_dgelu");
  gemm(A, B, D, shape, 1.0f, 0.0f, nullptr, stream);
  gelu_backward((floatX*)D.ptr, pre_gelu, (const floatX*)D.ptr, (size_t)D.ld * shape.n, stream);
}

// The product, then op(B)'s column sums in float, q in order (what the epilogue computes).
void gemm_bias_grad(const GemmInput& A, const GemmInput& B, const GemmOutput& D, float* bias_grad,
                    GemmShape shape, float alpha, float beta, cudaStream_t stream) {
  check_bias_grad_operands(B, shape);
  if (shape.m <= 0 || shape.n <= 0) return;
  gemm(A, B, D, shape, alpha, beta, nullptr, stream);
  ::chamber::simt::stream_work([=] {
    for (int j = 0; j < shape.n; j++) {
      float sum = 0.0f;
      for (int q = 0; q < shape.k; q++) sum += (float)B.ptr[j + (size_t)q * B.ld];
      bias_grad[j] = sum;
    }
  });
}

#endif

}  // namespace chamber::CHAMBER_GPU_NS
