#!/usr/bin/env bash
# The GPU checks of the scale-out issue, for a machine with NVIDIA GPUs (run from the repository root
# with the .venv installed with the [gpu] extra). One line per setting:
#   1. a mirrored run of cnn-cifar10 (--smoke-sized data) on every visible GPU: replicas and final loss;
#   2. throughput of float32 / mixed_bfloat16 / mixed_float16, jit off and on, against float32 without jit.
set -euo pipefail
PY=$(realpath "${PY:-.venv/bin/python}")
export TF_CPP_MIN_LOG_LEVEL=2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$PY" -m dlab run cnn-cifar10 --smoke --no-save --device gpu --strategy mirrored --epochs 2 --out "$OUT" >/dev/null
"$PY" - "$OUT" <<'PY'
import json, pathlib, sys
m = json.loads(next(pathlib.Path(sys.argv[1]).glob("*/*/metrics.json")).read_text())
s = m["scaling"]
print(f"mirrored cnn-cifar10: status={m['status']} replicas={s['replicas']} devices={','.join(s['devices'])} "
      f"final_loss={m['final']['train']['loss']:.4f} samples/s={m['timing']['train_samples_per_s']}")
PY
cd benchmarks && "$PY" bench_precision.py --configs cnn-cifar10 --device gpu --epochs 2 --samples 8192
