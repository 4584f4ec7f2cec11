#!/usr/bin/env bash
# Packs the GPU kit (`make gpu-kit`): a folder that runs Chamber's GPU checks on a machine that has
# an NVIDIA driver and the CUDA 13 runtime libraries but none of our build dependencies (no
# yaml-cpp, OpenBLAS, GoogleTest, Google Benchmark) and no network.
#
#   bench/kit/pack.sh [--no-build] [BUILD_DIR] [KIT_DIR]     (defaults build-kit, gpu-kit)
#
# A BUILD_DIR that does not exist yet is configured as a Release build for sm_90 (the H100/H200;
# CUDA_ARCHS="80;90" adds the A100);
# an existing one is built as it is configured (the default `build/` has sm_80 and sm_90).
# --no-build packs what BUILD_DIR already holds (the packing test does this).
#
# The kit holds bin/ (chamber, test_gpu, bench_kernels_gpu, bench_sampler; symbols stripped), lib/
# (every shared library they load that is neither part of the C runtime nor of CUDA, taken from
# ldd; those over 8 MiB as .xz, which unpack.sh restores), the configs, bench/torch_gpu.py (with bench/torch_gpt.py), bench/hf_generate.py and run.sh
# (bench/kit/run.sh). CUDA's libraries (cudart, cuBLASLt, cuRAND) are left out: they are hundreds
# of MiB and belong to the device machine's toolkit and driver.
set -euo pipefail
build_first=1
if [[ ${1:-} == --no-build ]]; then build_first=0; shift; fi
build=${1:-build-kit}
kit=${2:-gpu-kit}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source bench/kit/leave_out.sh
# test_simt stays home: the emulated kernels are checked in CI, and the kit must stay small.
binaries=(chamber test_gpu bench_kernels_gpu bench_sampler)

if (( build_first )); then
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCHAMBER_CUDA=ON \
          -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" >/dev/null
  fi
  cmake --build "$build" -j "$(nproc)" --target "${binaries[@]}"
fi
if ! grep -q '^CHAMBER_CUDA:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "gpu-kit: $build is not a CUDA build (CHAMBER_CUDA is off: nvcc not found?)" >&2; exit 1
fi
for b in "${binaries[@]}"; do
  [[ -x $build/$b ]] || { echo "gpu-kit: $build/$b is missing; build it first" >&2; exit 1; }
done

# Replace only a folder that is a kit (or nothing): a mistyped KIT_DIR must not delete a tree.
if [[ -e $kit && ! -f $kit/run.sh ]]; then
  echo "gpu-kit: $kit exists and is not a kit; choose another KIT_DIR" >&2; exit 1
fi
rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/lib" "$kit/bench"
for b in "${binaries[@]}"; do cp "$build/$b" "$kit/bin/"; done
# Symbols are for debuggers, not for the device run; without them the binaries are a little smaller.
if command -v strip >/dev/null; then strip --strip-unneeded "$kit"/bin/*; fi
# Libraries: what ldd resolves, minus what bench/kit/leave_out.sh names (the C runtime every Linux
# has, and CUDA's own). libstdc++/libgcc_s travel: the device's may be older than ours.
for b in "${binaries[@]}"; do ldd "$build/$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
  sort -u | while read -r name path; do
    kit_leaves_out "$name" || cp -L "$path" "$kit/lib/$name"
  done
# The largest libraries travel compressed (OpenBLAS is 36 MiB, 4 MiB as xz); unpack.sh, which
# run.sh calls first, restores them on the GPU machine.
for library in "$kit"/lib/*; do
  (( $(stat -c %s "$library") > 8 * 1024 * 1024 )) || continue
  python3 - "$library" <<'PY'
import lzma, os, shutil, sys
with open(sys.argv[1], "rb") as src, lzma.open(sys.argv[1] + ".xz", "wb", preset=6) as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
os.remove(sys.argv[1])
PY
done
cp -r configs "$kit/"
cp bench/torch_gpu.py bench/torch_gpt.py bench/hf_generate.py "$kit/bench/"
cp bench/kit/run.sh "$kit/run.sh"
cp bench/kit/unpack.sh "$kit/unpack.sh"
chmod +x "$kit/run.sh" "$kit/unpack.sh"
git rev-parse --short HEAD >"$kit/COMMIT" 2>/dev/null || echo unknown >"$kit/COMMIT"
git diff --quiet 2>/dev/null || echo "(with local changes)" >>"$kit/COMMIT"
size=$(du -sm "$kit" | cut -f1)
echo "gpu-kit: $kit/ is ${size} MiB ($(ls "$kit/lib" | wc -l) libraries); run it with: bash $kit/run.sh OUT_DIR"
if (( size >= 60 )); then echo "gpu-kit: over the 60 MiB budget" >&2; exit 1; fi
