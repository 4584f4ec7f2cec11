// Matmul with bias (a Linear layer) on the GPU; the contract is in matmul.h:
//   forward:  out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC)        out OVERWRITTEN
//   backward: dinp = dout @ weight (OVERWRITTEN);  dweight += dout^T @ inp;
//             dbias += sum_i dout[i,:] (both ACCUMULATE); each may be null (not computed)
//
// Every product is one cuBLASLt call through gemm() (TF32 tensor cores, bias in the epilogue).
// cuBLAS is column-major: a row-major (R, K) matrix is the column-major (K, R) matrix with the
// same bytes, so with W = weight, X = inp, G = dout read that way:
//   out^T (OC,N)   = W^T (OC,C) X (C,N)        gemm(W_T, X, m=OC, n=N,  k=C)
//   dinp^T (C,N)   = W (C,OC) G (OC,N)         gemm(W, G,   m=C,  n=N,  k=OC), beta 0
//   dweight^T (C,OC) += X (C,N) G^T (N,OC)     gemm(X, G_T, m=C,  n=OC, k=N),  beta 1
// matmul_gelu_forward is the forward product with cuBLASLt's GELU epilogue (the MLP's fc layer);
// matmul_gelu_backward is matmul_backward of the layer after it (fc_proj) with the input gradient's
// product through the DGELU epilogue, which multiplies by GELU'(pre_gelu) as it writes the tile:
// the gradient reaches the fc layer's output without another pass over the (N, 4C) matrix.
// The input gradient has one producer, so beta = 0: no memset before it and no read of the old
// D. The weight gradient accumulates over micro-steps with beta = 1 (cuBLAS adds into D for
// free); it is float in every build (the gradients of parameters are, kernels/ops.h), so in the
// bf16 build that product reads bf16 operands and accumulates into a float D. The bias gradient
// comes out of that same product: its BGRADB epilogue (gemm_bias_grad) sums dout's columns as
// the tiles pass, so dout is not read a second time. The epilogue overwrites its vector, so it
// writes to scratch and one small kernel (OC threads) adds that into dbias, keeping the +=
// contract over micro-steps. Both are deterministic: the epilogue's sums follow the algorithm
// chosen once per shape, and the add is in order. Without a weight gradient (never in the model)
// dbias is the column-sum pass of reduce.cu.
#include "kernels/cuda_launchers.h"
#include "kernels/reduce_parts.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

// dweight += dout^T inp and dbias += column sums of dout, either may be null (G_T is dout read
// as the product's B).
void weight_and_bias_grads(float* dweight, float* dbias, const GemmInput& X, const GemmInput& G_T,
                           int N, int C, int OC, cudaStream_t stream) {
  if (dweight && dbias) {
    float* bias_grad = (float*)scratch_buffer((size_t)OC * sizeof(float));
    gemm_bias_grad(X, G_T, GemmOutput{dweight, C, 0}, bias_grad, {C, OC, N}, 1.0f, 1.0f, stream);
    add_partials(dbias, bias_grad, 1, OC, stream);  // dbias += this micro-batch's sums
  } else if (dweight) {
    gemm(X, G_T, GemmOutput{dweight, C, 0}, {C, OC, N}, 1.0f, 1.0f, nullptr, stream);
  } else if (dbias) {
    column_sums_accumulate(dbias, G_T.ptr, nullptr, N, OC, stream);
  }
}

}  // namespace

// Operands as in the table above, each one product (batch stride 0): {pointer, leading dimension,
// batch stride, transposed}.
void matmul_forward(floatX* out, const floatX* inp, const floatX* weight, const floatX* bias,
                    int N, int C, int OC, cudaStream_t stream) {
  GemmInput W_T{weight, C, 0, true}, X{inp, C, 0, false};
  gemm(W_T, X, GemmOutput{out, OC, 0}, {OC, N, C}, 1.0f, 0.0f, bias, stream);
}

// The fc layer and its GELU: the forward product above with the GELU epilogue (gemm.cu).
void matmul_gelu_forward(floatX* out, floatX* pre_gelu, const floatX* inp, const floatX* weight,
                         const floatX* bias, int N, int C, int OC, cudaStream_t stream) {
  GemmInput W_T{weight, C, 0, true}, X{inp, C, 0, false};
  gemm_gelu(W_T, X, GemmOutput{out, OC, 0}, pre_gelu, {OC, N, C}, bias, stream);
}

void matmul_backward(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                     const floatX* inp, const floatX* weight, int N, int C, int OC,
                     cudaStream_t stream) {
  GemmInput W{weight, C, 0, false}, X{inp, C, 0, false};
  GemmInput G{dout, OC, 0, false}, G_T{dout, OC, 0, true};
  if (dinp) gemm(W, G, GemmOutput{dinp, C, 0}, {C, N, OC}, 1.0f, 0.0f, nullptr, stream);
  weight_and_bias_grads(dweight, dbias, X, G_T, N, C, OC, stream);
}

void matmul_gelu_backward(floatX* d_pre_gelu, float* dweight, float* dbias, const floatX* dout,
                          const floatX* inp, const floatX* pre_gelu, const floatX* weight, int N,
                          int C, int OC, cudaStream_t stream) {
  GemmInput W{weight, C, 0, false}, X{inp, C, 0, false};
  GemmInput G{dout, OC, 0, false}, G_T{dout, OC, 0, true};
  gemm_dgelu(W, G, GemmOutput{d_pre_gelu, C, 0}, pre_gelu, {C, N, OC}, stream);
  weight_and_bias_grads(dweight, dbias, X, G_T, N, C, OC, stream);
}

}  // namespace chamber::CHAMBER_GPU_NS
