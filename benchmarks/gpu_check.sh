#!/usr/bin/env bash
# The GPU checks of the scale-out work, for a machine with an NVIDIA GPU. Run from the repository
# root; PY is the Python that has dlab installed (default .venv/bin/python). Every Keras backend
# installed there among tensorflow, jax and torch is checked (BACKENDS overrides the list):
#   1. device choice: cnn-cifar10 (--smoke) with --device "$DEVICE" trains on the GPU (metrics.json's device);
#   2. TensorFlow only: a mirrored run on every visible GPU, with its replicas and final loss;
#   3. JAX only: two runs at once on one GPU both finish (dlab lets JAX allocate as it goes);
#   4. throughput of float32 / mixed_bfloat16 / mixed_float16, jit off and on, against float32
#      without jit, per config family (benchmarks/bench_precision.py; CONFIGS, SAMPLES, RUN_TIMEOUT;
#      TABLE_BACKENDS, default BACKENDS, picks the backends it runs on).
# Each step prints what it saw; a failed step is reported and the next one still runs.
set -uo pipefail
PY=${PY:-.venv/bin/python}
[[ "$PY" == /* ]] || PY="$PWD/$PY"  # absolute, but not resolved: a venv's python is a symlink
CONFIGS=${CONFIGS:-cnn-cifar10 mlp-mnist lstm-imdb}
SAMPLES=${SAMPLES:-4096}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
DEVICE=${DEVICE:-gpu}  # DEVICE=cpu: a dry run of this script on a machine without a GPU
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "${BACKENDS:-}" ]; then
  BACKENDS=$("$PY" -c "import importlib.util as u; print(' '.join(b for b in ('tensorflow', 'jax', 'torch') if u.find_spec(b)))")
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader
echo "backends: $BACKENDS"

summary() {  # one line from each metrics.json under $1
  "$PY" - "$1" "$2" <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/*/metrics.json")):
    m = json.loads(path.read_text())
    d, s, t = m["device"], m["scaling"], m["timing"]
    print(f"{sys.argv[2]}: status={m['status']} backend={m.get('backend')} device={d['used']} ({d['name']}, "
          f"{d['gpus_visible']} visible) strategy={s['strategy']} replicas={s['replicas']} "
          f"final_loss={m['final']['train']['loss']:.4f} steady samples/s={t.get('steady_train_samples_per_s')}")
PY
}

for backend in $BACKENDS; do
  out="$WORK/device-$backend"
  if "$PY" -m dlab run cnn-cifar10 --smoke --no-save --device "$DEVICE" --backend "$backend" --epochs 2 \
      --out "$out" >"$out.log" 2>&1; then
    summary "$out" "device $DEVICE, $backend"
  else
    echo "device $DEVICE, $backend: FAILED"; tail -5 "$out.log"
  fi
done

if [[ " $BACKENDS " == *" tensorflow "* ]]; then
  out="$WORK/mirrored"
  if "$PY" -m dlab run cnn-cifar10 --smoke --no-save --device "$DEVICE" --strategy mirrored --epochs 2 \
      --out "$out" >"$out.log" 2>&1; then
    summary "$out" "mirrored, tensorflow"
  else
    echo "mirrored, tensorflow: FAILED"; tail -5 "$out.log"
  fi
fi

if [[ " $BACKENDS " == *" jax "* ]]; then
  out="$WORK/shared"
  for i in 1 2; do
    "$PY" -m dlab run cnn-cifar10 --smoke --no-save --device "$DEVICE" --backend jax --epochs 2 \
      --out "$out" >"$out.$i.log" 2>&1 &
  done
  codes=""
  for job in $(jobs -p); do wait "$job"; codes="$codes $?"; done
  echo "two jax runs at once on one GPU: exit codes$codes, metrics files $(ls "$out"/*/*/metrics.json 2>/dev/null | wc -l)"
fi

for backend in ${TABLE_BACKENDS:-$BACKENDS}; do
  (cd benchmarks && "$PY" bench_precision.py --backend "$backend" --device "$DEVICE" --configs $CONFIGS \
    --samples "$SAMPLES" --epochs 3 --timeout "$RUN_TIMEOUT" --jits true false) || echo "precision table, $backend: FAILED"
done
