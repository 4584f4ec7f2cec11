// Scalar value head on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/value_head.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class ValueHeadCases : public BackendTest {
 protected:
  void check(int N, int C, uint64_t seed) {
    auto h = random_vector((size_t)N * C, seed), w = random_vector(C, seed + 1);
    auto b = random_vector(1, seed + 2);
    std::vector<double> want(N);
    value_head_forward_ref<double>(want.data(), widen(h).data(), widen(w).data(), widen(b).data(), N, C);
    BackendArray<float> dh_in(*ops, h), dw_in(*ops, w), db_in(*ops, b), values(*ops, nan_vector(N));
    ops->value_head_forward(values, dh_in, dw_in, db_in, N, C);
    EXPECT_BACKEND_CLOSE(values.download(), narrow(want), f32_tolerance(2 * C));  // C-term dots

    auto dvalues = random_vector(N, seed + 3);
    auto dh0 = random_vector((size_t)N * C, seed + 4), dw0 = random_vector(C, seed + 5);
    auto db0 = random_vector(1, seed + 6);
    std::vector<double> e_dh = widen(dh0), e_dw = widen(dw0), e_db = widen(db0);
    value_head_backward_ref<double>(e_dh.data(), e_dw.data(), e_db.data(), widen(dvalues).data(),
                                    widen(h).data(), widen(w).data(), N, C);
    BackendArray<float> dv(*ops, dvalues), dh(*ops, dh0), dw(*ops, dw0), db(*ops, db0);
    ops->value_head_backward(dh, dw, db, dv, dh_in, dw_in, N, C);
    EXPECT_BACKEND_CLOSE(dh.download(), narrow(e_dh), f32_tolerance(2));
    EXPECT_BACKEND_CLOSE(dw.download(), narrow(e_dw), f32_tolerance(2 * N));  // N-term sums
    EXPECT_BACKEND_CLOSE(db.download(), narrow(e_db), f32_tolerance(2 * N));
  }
};

TEST_P(ValueHeadCases, SmallBatch) { check(37, 70, 71); }
TEST_P(ValueHeadCases, ManyRowsSeveralParts) { check(300, 33, 72); }

}  // namespace chamber::testing
