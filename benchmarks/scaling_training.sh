#!/usr/bin/env bash
# Time `neurosolve train fno` on 2 torchrun processes against 1, side by side with farm-bench.
# Usage: bash benchmarks/scaling_training.sh [OUT_DIR]
set -euo pipefail
out=${1:-/tmp/neurosolve-scaling-training}
venv=$(cd "$(dirname "$0")/.." && pwd)/.venv/bin
mkdir -p "$out"
data="$out/darcy.h5"
[ -f "$data" ] || "$venv/neurosolve" generate darcy --samples 200 --resolution 64 --seed 0 --out "$data"
train() {
    echo "OMP_NUM_THREADS=1 $venv/torchrun --standalone --nproc_per_node $1 -m neurosolve train fno \
--data $data --epochs 2 --batch-size 8 --hidden-channels 32 --n-modes 12 --out $out/fno-$1.pt --no-progress"
}
farm-bench -n 2 --warmup 0 --timeout 1800 --vs "sh -c '$(train 1)'" -- sh -c "$(train 2)"
