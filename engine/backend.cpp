#include "engine/backend.h"

#include <omp.h>

#include <cstdlib>
#include <thread>

#include "util/util.h"

#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif
#ifdef CHAMBER_HAVE_SIMT
#include "kernels/simt_backend.h"
#endif
#if __has_include("kernels/cpu_fast.h")
#include "kernels/cpu_fast.h"
#define CHAMBER_HAVE_CPU_FAST 1
#endif

extern "C" void openblas_set_num_threads(int);

namespace chamber {

static bool gpu_present() {
#ifdef CHAMBER_HAVE_CUDA
  return cuda_device_available();
#else
  return false;
#endif
}

std::string resolve_device_name(const std::string& device) {
  if (device == "auto") return gpu_present() ? "cuda" : "cpu";
  return device;
}

const Ops& select_backend(const std::string& device_in, const std::string& dtype) {
  std::string device = resolve_device_name(device_in);
  if (dtype != "fp32" && dtype != "bf16")
    fail("dtype '", dtype, "': expected fp32 or bf16");
  if (dtype == "bf16") {
    if (device == "cpu" || device == "cpu-ref")
      fail("dtype bf16 (mixed precision) runs on the CUDA backend, and the CPU backends compute ",
           "in fp32: use --device cuda (or auto on a GPU machine), or train.dtype: fp32");
#ifdef CHAMBER_HAVE_CUDA
    if (device == "cuda") {
      if (!cuda_device_available())
        fail("--device cuda: no usable CUDA GPU was found (driver missing or no device). "
             "Use --device cpu with train.dtype: fp32.");
      return cuda_bf16_ops();
    }
#endif
#ifdef CHAMBER_HAVE_SIMT
    if (device == "simt") return simt_bf16_ops();
#endif
  }
  if (device == "cpu") {
#ifdef CHAMBER_HAVE_CPU_FAST
    return cpu_fast_ops();
#else
    return reference_ops();
#endif
  }
  if (device == "cpu-ref") return reference_ops();
  if (device == "cuda") {
#ifdef CHAMBER_HAVE_CUDA
    if (!cuda_device_available())
      fail("--device cuda: no usable CUDA GPU was found (driver missing or no device). "
           "Use --device cpu, or --device auto to pick the GPU when there is one.");
    return cuda_ops();
#else
    fail("--device cuda: this build has no CUDA backend (nvcc was not found when it was configured). "
         "Install the CUDA toolkit and rebuild, or use --device cpu.");
#endif
  }
  if (device == "simt") {
#ifdef CHAMBER_HAVE_SIMT
    return simt_ops();
#else
    fail("--device simt: this build has no SIMT emulator backend");
#endif
  }
  fail("unknown device '", device_in, "': expected cpu, cpu-ref, cuda, simt or auto");
}

void check_device_memory(const std::string& device, size_t bytes, const std::string& what,
                         const std::string& fix) {
#ifdef CHAMBER_HAVE_CUDA
  if (resolve_device_name(device) != "cuda") return;
  size_t free_bytes = 0, total_bytes = 0;
  cuda_memory_info(&free_bytes, &total_bytes);
  if (bytes > free_bytes)
    fail(what, " needs ", human_bytes((double)bytes), " of GPU memory but ", cuda_device_description(),
         " has ", human_bytes((double)free_bytes), " free of ", human_bytes((double)total_bytes),
         ". ", fix);
#else
  (void)device, (void)bytes, (void)what, (void)fix;
#endif
}

std::string gpu_description(const std::string& device) {
#ifdef CHAMBER_HAVE_CUDA
  if (resolve_device_name(device) == "cuda") return cuda_device_description();
#endif
  (void)device;
  return "";
}

size_t device_scratch_bytes(const std::string& device, int B, int T, int C, int NH,
                            size_t compute_bytes) {
#ifdef CHAMBER_HAVE_CUDA
  if (resolve_device_name(device) == "cuda")
    return compute_bytes == sizeof(float) ? cuda_scratch_bytes(B, T, C, NH)
                                          : cuda_bf16_scratch_bytes(B, T, C, NH);
#endif
  (void)device, (void)B, (void)T, (void)C, (void)NH, (void)compute_bytes;
  return 0;
}

int set_cpu_threads(int n) {
  if (n <= 0) {
    if (const char* env = std::getenv("CHAMBER_THREADS")) n = std::atoi(env);
  }
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

}  // namespace chamber
