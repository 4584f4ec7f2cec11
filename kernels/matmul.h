// Matmul with bias (a Linear layer), plain C++ reference.
//
//   forward:  out[i,o] = sum_c inp[i,c] * weight[o,c] + bias[o]
//             inp (N,C), weight (OC,C) as in PyTorch, bias (OC) or null, out (N,OC) OVERWRITTEN.
//   backward: dinp[i,c]     = sum_o dout[i,o] * weight[o,c]        dinp (N,C) OVERWRITTEN
//             dweight[o,c] += sum_i dout[i,o] * inp[i,c]           dweight (OC,C) ACCUMULATES
//             dbias[o]     += sum_i dout[i,o]                      dbias (OC) ACCUMULATES
//             Each of dinp, dweight, dbias may be null (not computed). The input gradient has
//             this op as its one producer (kernels/ops.h), so it is written, not added: no
//             memset before, no read of the old values.
//
// Loop order: forward is a dot product of two contiguous rows (inp row i, weight row o); the
// `omp simd` reduction lets the compiler vectorise it in an order fixed at compile time.
// dinp is parallel over rows i (an axpy of weight rows); dweight/dbias are reductions over N and
// are parallel over output channels o, each summing rows i in order into a local row, so the
// result is deterministic and independent of the thread count.
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once

namespace chamber {

template <typename Real>
void matmul_forward_ref(Real* out, const Real* inp, const Real* weight, const Real* bias, int N,
                        int C, int OC);

template <typename Real>
void matmul_backward_ref(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                         const Real* weight, int N, int C, int OC);

}  // namespace chamber
