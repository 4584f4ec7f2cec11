#!/usr/bin/env bash
# The GPU kit's packing test (ctest label `kit`, registered when the CUDA build is on): packs the
# kit from an already built tree and checks, without a GPU, that it would run on a machine that
# has only the NVIDIA driver and CUDA's runtime libraries:
#   - it is under 60 MiB (with its largest libraries compressed, as it travels);
#   - every shared library its binaries load resolves into the kit's lib/, the C runtime or CUDA;
#   - from a clean environment (no variables but PATH and the kit's library path) its binaries
#     run: the GPU tests skip, chamber pretrains two steps of a small model under the emulator
#     (the CUDA kernels run on the CPU), and run.sh says plainly that there is no GPU.
#
#   tests/kit_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: kit_test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$build/kit-test
rm -rf "$work"
mkdir -p "$work"
kit=$work/gpu-kit
fail() { echo "kit_test: $*" >&2; exit 1; }
source "$root/bench/kit/leave_out.sh"

bash "$root/bench/kit/pack.sh" --no-build "$build" "$kit"

size_kib=$(du -sk "$kit" | cut -f1)
(( size_kib < 60 * 1024 )) || fail "the kit is $size_kib KiB, over 60 MiB"
# As run.sh does first on the GPU machine: the compressed libraries back in lib/.
env -i PATH=/usr/bin:/bin bash "$kit/unpack.sh" || fail "unpack.sh could not restore lib/*.xz"

cuda_path=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -d $d ]] && cuda_path+="$d:"
done
lib_path="$kit/lib:$cuda_path"

# Every library resolved must come from the kit, CUDA or the C runtime every Linux has.
for b in "$kit"/bin/*; do
  while read -r name arrow path _; do
    [[ $arrow == "=>" ]] || continue
    [[ $path == "not" ]] && fail "$(basename "$b") needs $name, which is neither packed nor CUDA's"
    kit_leaves_out "$name" && continue
    [[ $path == "$kit/lib/"* ]] || fail "$(basename "$b") loads $name from $path, not from the kit"
  done < <(env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$lib_path" ldd "$b")
done

clean() { env -i PATH=/usr/bin:/bin HOME="$work" LD_LIBRARY_PATH="$lib_path" OMP_NUM_THREADS=2 "$@"; }
(cd "$kit" && clean bin/test_gpu --gtest_brief=1) || fail "the packed test_gpu failed"
(cd "$kit" && clean bin/chamber pretrain configs/tiny.yaml --device simt --out "$work/tiny" \
   --set train.steps=2 --set train.batch_size=2 --set train.seq_len=32 \
   --set train.eval_interval=0 --set train.checkpoint_interval=0 --quiet) \
  || fail "the packed chamber could not pretrain under the emulator"
# run.sh on a machine without a GPU: exit status 2 and a message, nothing else attempted.
status=0
out=$(PATH=/usr/bin:/bin bash "$kit/run.sh" "$work/out" 2>&1) || status=$?
[[ $status == 2 && $out == *"no NVIDIA GPU"* ]] || fail "run.sh without a GPU: status $status: $out"
echo "kit_test: the kit packs ($((size_kib / 1024)) MiB) and runs from a clean environment"
