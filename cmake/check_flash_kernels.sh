#!/bin/sh
# The flash attention kernels (kernels/attention.cu, flash_*_kernel) must compile for sm_90 to
# tensor-core code that keeps everything in registers: in ptxas's report each must have 0 bytes
# of spill stores and loads, and its PTX must contain wmma.mma instructions (HMMA in the SASS).
# A spill would put the fragments the kernels keep per warp (Q, O, K, V, the gradients) in local
# memory and cost more than the tiling saves. Run by ctest (label build); exits 77, ctest's skip,
# when there is no nvcc.
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

"$nvcc" -O3 -DNDEBUG -std=c++20 -arch=sm_90 -I"$src" -x cu -ptx "$src/kernels/attention.cu" \
  -o "$tmp/attention.ptx" || exit 1
"$ptxas" -arch=sm_90 -v "$tmp/attention.ptx" -o "$tmp/attention.cubin" > "$tmp/ptxas.txt" 2>&1 || {
  cat "$tmp/ptxas.txt"
  exit 1
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
  }' "$tmp/ptxas.txt" || exit 1

# Tensor-core instructions per flash kernel.
awk '
  /\.entry / { if (name ~ /flash_/ && mma == 0) missing++; name = $NF; mma = 0 }
  /wmma\.mma|mma\.sync/ { mma++ }
  END {
    if (name ~ /flash_/ && mma == 0) missing++
    if (missing) { print missing " flash kernel(s) without wmma.mma in their PTX"; exit 1 }
    print "every flash kernel uses tensor cores (wmma.mma)"
  }' "$tmp/attention.ptx"
