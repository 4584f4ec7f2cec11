#!/usr/bin/env bash
# Restores the GPU kit's compressed libraries: pack.sh stores the largest ones (OpenBLAS above all)
# as lib/NAME.xz so that the kit travels under its 60 MiB budget. Decompresses each into lib/NAME
# next to it, once (a library already there is kept); run.sh calls this first. Needs python3
# (its lzma module), which the GPU machines have, or xz.
#
#   bash gpu-kit/unpack.sh
set -euo pipefail
lib=$(cd "$(dirname "$0")" && pwd)/lib
for packed in "$lib"/*.xz; do
  [[ -e $packed ]] || continue
  target=${packed%.xz}
  [[ -s $target ]] && continue
  if command -v xz >/dev/null; then
    xz -dc "$packed" >"$target.part"
  else
    python3 - "$packed" "$target.part" <<'PY'
import lzma, shutil, sys
with lzma.open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  fi
  mv "$target.part" "$target"
done
