// Filling a CPU backend's operation table. The table passes the compute type as `xfloat*`
// (void*, kernels/ops.h); on the CPU the compute type is float, so each entry is a small
// forwarding function that hands the kernel its arguments with every void* read as float*
// (everything else passes unchanged). cpu_table_entry<decltype(ops.name), kernel>() makes that
// entry, or a null one when `kernel` is nullptr (an op the backend does not have).
#pragma once
#include <cstddef>
#include <type_traits>

#include "kernels/ops.h"

namespace chamber {

inline float* as_cpu_compute(void* p) { return static_cast<float*>(p); }
inline const float* as_cpu_compute(const void* p) { return static_cast<const float*>(p); }
template <typename T>
T as_cpu_compute(T value) {
  return value;
}

template <auto Kernel, typename Slot>
struct CpuTableEntry;
template <auto Kernel, typename Ret, typename... Params>
struct CpuTableEntry<Kernel, Ret (*)(Params...)> {
  static Ret call(Params... args) { return Kernel(as_cpu_compute(args)...); }
};

template <typename Slot, auto Kernel>
constexpr Slot cpu_table_entry() {
  if constexpr (std::is_null_pointer_v<decltype(Kernel)>) return nullptr;
  else return &CpuTableEntry<Kernel, Slot>::call;
}

}  // namespace chamber
