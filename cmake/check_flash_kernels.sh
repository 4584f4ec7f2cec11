#!/bin/sh
# The flash attention kernels (flash_*_kernel) must compile for sm_90 to tensor-core code that
# keeps everything in registers, in both storage precisions:
#   fp32 build             kernels/attention.cu: every mma in each flash kernel's PTX is TF32 with
#                          fp32 accumulators,
#                          wmma.mma.sync.aligned.{row,col}.{row,col}.m16n16k8.f32.tf32.tf32.f32
#   bf16 build (-DCHAMBER_BF16)
#                          kernels/attention_bf16.cu: every mma is the raw bf16 instruction with
#                          fp32 accumulators, mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32,
#                          so no float-staged TF32 path is left in it;
# each kernel has at least one such mma (HMMA in the SASS), and in ptxas's report 0 bytes of spill
# stores and loads. A spill would put the fragments the kernels keep per warp (Q, O, K, V, the
# gradients) in local memory and cost more than the tiling saves. Run by ctest (label build);
# exits 77, ctest's skip, when there is no nvcc.
#   usage: check_flash_kernels.sh NVCC SOURCE_DIR
nvcc=$1
src=$2
if [ -z "$nvcc" ] || [ ! -x "$nvcc" ]; then
  echo "no nvcc: skipped"
  exit 77
fi
ptxas=$(dirname "$nvcc")/ptxas
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME SOURCE "NVCC FLAGS" REQUIRED_MMA_REGEX "WHAT IT MATCHES": compiles the source with
# the flags and checks the flash kernels' spills and tensor-core instructions.
check() {
  name=$1
  source=$2
  flags=$3
  want=$4
  what=$5
  echo "== $name build"
  # shellcheck disable=SC2086  # flags is a word list
  "$nvcc" -O3 -DNDEBUG -std=c++20 -arch=sm_90 $flags -I"$src" -x cu -ptx \
    "$src/$source" -o "$tmp/$name.ptx" || return 1
  "$ptxas" -arch=sm_90 -v "$tmp/$name.ptx" -o "$tmp/$name.cubin" > "$tmp/$name.txt" 2>&1 || {
    cat "$tmp/$name.txt"
    return 1
  }

  # Registers and spills per flash kernel.
  awk '
    /Compiling entry function/ { name = $0; flash = name ~ /flash_/ }
    flash && /spill stores/ { stores = $5; loads = $9 }
    flash && /Used [0-9]+ registers/ {
      match(name, /flash_[a-z_]*kernel/); name = substr(name, RSTART, RLENGTH)
      printf "%-28s %4d registers, %s bytes spill stores, %s bytes spill loads\n", name, $5, stores, loads
      kernels++
      if (stores != 0 || loads != 0) bad++
    }
    END {
      if (kernels < 3) { print "expected 3 flash kernels in the ptxas report, found " kernels; exit 1 }
      if (bad) { print bad " flash kernel(s) spill registers"; exit 1 }
    }' "$tmp/$name.txt" || return 1

  # Tensor-core instructions per flash kernel: at least one, and every one of the wanted kind.
  awk -v want="$want" '
    function close_entry() {
      if (name ~ /flash_/) {
        kernels++
        if (good == 0) { print short ": no mma of the wanted kind"; bad++ }
        if (other) { print short ": " other " mma instruction(s) of another kind, e.g. " example; bad++ }
      }
    }
    /\.entry / {
      close_entry()
      name = $NF; good = 0; other = 0
      short = name; if (match(name, /flash_[a-z_]*kernel/)) short = substr(name, RSTART, RLENGTH)
    }
    /(^|[ \t])(wmma\.mma|mma)\.sync/ {
      if ($0 ~ want) good++
      else { other++; example = $1 }
    }
    END {
      close_entry()
      if (kernels < 3) { print "expected 3 flash kernels in the PTX, found " kernels; exit 1 }
      if (bad) { print bad " flash kernel(s) without the wanted tensor-core instructions"; exit 1 }
    }' "$tmp/$name.ptx" || return 1
  echo "every flash kernel multiplies on tensor cores, only with $what"
}

tf32_mma='^[ \t]*wmma\.mma\.sync\.aligned\.(row|col)\.(row|col)\.m16n16k8\.f32\.tf32\.tf32\.f32[ \t]'
bf16_mma='^[ \t]*mma\.sync\.aligned\.m16n8k16\.row\.col\.f32\.bf16\.bf16\.f32[ \t]'

status=0
check fp32 kernels/attention.cu "" "$tf32_mma" "TF32 m16n16k8 wmma.mma" || status=1
check bf16 kernels/attention_bf16.cu "-DCHAMBER_BF16" "$bf16_mma" "bf16 m16n8k16 mma.sync" || status=1
exit $status
