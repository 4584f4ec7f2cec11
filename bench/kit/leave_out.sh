# The shared libraries the GPU kit does not carry, by soname: the C runtime that every Linux has,
# and CUDA's, which belong to the GPU machine's driver and toolkit. Sourced by bench/kit/pack.sh
# (what to copy) and tests/kit_test.sh (what may load from outside the kit).
kit_leaves_out() {
  case $1 in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|linux-vdso*) return 0 ;;
    libcuda.so*|libcudart*|libcublas*|libcurand*|libnvToolsExt*|libnvrtc*) return 0 ;;
    *) return 1 ;;
  esac
}
