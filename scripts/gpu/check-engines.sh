#!/usr/bin/env bash
# The fused-kernel comparison on a GPU (run on the device machine from the project root, after
# bash ../shared/gpu/prepare.sh has filled .gpu/): batchtune bench of the book and the wide
# network with each engine (clblast, fused, auto), PyTorch's step time on the same GPU
# (scripts/gpu/torch_steps.py), and the default tune. Every step is bounded in time.
set -u
cd "$(dirname "$(readlink -f "$0")")/../.."
G=$PWD/.gpu
OUT=${OUT:-$G/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/engines.log") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | head -3
lib=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib -maxdepth 4 \
        -name 'libnvidia-opencl.so*' 2>/dev/null | sort | head -1)
sel=gpu
if [ -n "$lib" ]; then
  mkdir -p "$G/icd"; echo "$lib" > "$G/icd/nvidia.icd"; export OCL_ICD_VENDORS=$G/icd
else
  [ -n "${BT_GPU_DRY_RUN:-}" ] || { echo "no NVIDIA OpenCL library"; exit 3; }
  sel=0
fi
export LD_LIBRARY_PATH=$G/lib${lib:+:$(dirname "$lib")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XDG_CACHE_HOME=/tmp/bt-cache XDG_DATA_HOME=/tmp/bt-data BATCHTUNE_DEVICE=$sel
BT=$G/batchtune
ms=${BT_GPU_MS:-1,10,32,128,512,2048,8192}
wide="--layers 784,256,128,10 --hidden relu --output softmax --cost log-likelihood"
timeout 60 "$BT" devices || exit 4
timeout 120 "$BT" warmup
for net in book wide; do
  args=""; [ $net = wide ] && args=$wide
  for engine in clblast fused auto; do
    step "bench $net --engine $engine"
    timeout 90 "$BT" bench $args -m $ms --engine $engine --no-streaming --repeats 3 --seconds 0.2
  done
done
step "PyTorch steps on the same GPU"
timeout 150 ${BT_GPU_PYTHON:-python3} scripts/gpu/torch_steps.py --ms $ms
step "tune, default workload"
timeout 150 "$BT" tune --data "$G/data" --out /tmp/tune-book
cp /tmp/tune-book/summary.json "$OUT/tune-book.json" 2>/dev/null
step "done"
