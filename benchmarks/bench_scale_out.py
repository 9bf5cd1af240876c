"""Scale-out overheads: Ray sweeps against local jobs, and distributed tuning with 2 workers against 1.

1. The same smoke sweep of NumPy configs (8 members) with ``--executor local --jobs 2`` and
   ``--executor ray --cpus-per-run 1`` (a local Ray on this machine, started by the sweep); the
   extra seconds per member are (median ray wall - median local wall) / members.
   Target: under 2 s extra per member.
2. ``tune-mnist-mlp --smoke --max-trials 8 --epochs 5 --set data.train_samples=16384`` (trials of
   several seconds, so training dominates) served by a chief on 127.0.0.1 to 1 worker and to 2
   workers (interleaved, so that other work on the machine hits both alike), one TensorFlow
   thread each, chief and workers started together: wall time (start to every process's exit),
   the chief's search time (metrics.json), the CPU seconds other processes used and the load
   average. Target: >= 1.6x on 2 cores. The wall time holds serial parts that a second worker
   cannot shorten (start-up, the chief's retraining of the best config: wall - search); 8
   trials rather than 4 keep the search, which it can, the larger part. Chief and workers
   share a temporary folder (``--shared-dir``), so the chief takes the best trial's
   checkpoint; ``--no-shared-dir`` measures the chief retraining it instead.

    .venv/bin/python benchmarks/bench_scale_out.py --repeats 1
    .venv/bin/python benchmarks/bench_scale_out.py --skip-sweep --repeats 3   # the tune part only
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time

from bench_common import busy_cpu_seconds, children_cpu_seconds, dlab_command, run_captured

MEMBERS = [
    "perceptron-and",
    "perceptron-and-const10",
    "softmax-decoder",
    "softmax-decoder-sigmoid",
    "xor-mlp",
    "xor-mlp-tanh",
    "logreg-scratch",
    "linreg-scratch",
]


def sweep_seconds(backend: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        seconds, _, _ = run_captured([*dlab_command(), "sweep", *MEMBERS, "--smoke", "--out", out, *backend])
        return seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tune_seconds(workers: int, search: list[str], shared: bool = True) -> dict[str, float]:
    """One distributed search: wall time (chief start to every process's exit), the chief's
    search time (serving the oracle, from metrics.json) and the CPU seconds other processes used."""
    import json
    import os
    from pathlib import Path

    port = free_port()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as shared_dir:
        # chief and workers on one machine share its disk: the chief takes the best checkpoint
        search = [*search, *(["--shared-dir", shared_dir] if shared else [])]
        children_before, busy_before = children_cpu_seconds(), busy_cpu_seconds()
        started = time.perf_counter()
        chief = subprocess.Popen(
            [*dlab_command(), "tune", *search, "--out", out, "--chief", "--port", str(port)]
            + ["--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # one thread per worker in both cases: the comparison is 1 worker against 2 on 2 cores
        env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
        procs = [
            subprocess.Popen(
                [*dlab_command(), "tune", *search, "--worker", str(n)]
                + ["--chief-address", f"127.0.0.1:{port}", "--connect-timeout", "180"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            for n in range(1, workers + 1)
        ]
        for process in [chief, *procs]:
            process.wait(timeout=1800)
        wall = time.perf_counter() - started
        busy_after, children_after = busy_cpu_seconds(), children_cpu_seconds()
        (metrics_path,) = Path(out).glob("*/*/metrics.json")
        metrics = json.loads(metrics_path.read_text())
        other = None
        if busy_before is not None and busy_after is not None:
            other = max(busy_after - busy_before - (children_after - children_before), 0.0)
        return {
            "wall": wall,
            "search": float(metrics["tuner"]["search_seconds"]),
            "trials": metrics["tuner"]["trials"]["completed"],
            "best_model": (metrics.get("best_model") or {}).get("source", "?"),
            "other_cpu": other,
            "load": (load_before, os.getloadavg()[0]),
        }


def sweep(repeats: int) -> None:
    local = statistics.median(sweep_seconds(["--jobs", "2"]) for _ in range(repeats))
    ray = statistics.median(
        sweep_seconds(["--executor", "ray", "--cpus-per-run", "1"]) for _ in range(repeats)
    )
    extra = (ray - local) / len(MEMBERS)
    print(
        f"sweep of {len(MEMBERS)} smoke members: local --jobs 2 {local:.1f} s, ray {ray:.1f} s; "
        f"{extra:+.2f} s per member (target < 2 s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-tune", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--trials", type=int, default=8, help="trials in the tuned search")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial")
    parser.add_argument("--train-samples", type=int, default=16384, help="synthetic MNIST images per trial")
    parser.add_argument(
        "--no-shared-dir",
        action="store_true",
        help="no --shared-dir: the chief retrains the best config instead of taking its checkpoint",
    )
    args = parser.parse_args()
    if not args.skip_sweep:
        sweep(args.repeats)
    if args.skip_tune:
        return
    search = ["tune-mnist-mlp", "--smoke", "--max-trials", str(args.trials), "--device", "cpu", "--no-save"]
    search += ["--epochs", str(args.epochs), "--set", f"data.train_samples={args.train_samples}"]
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for n in (1, 2):
            result = tune_seconds(n, search, shared=not args.no_shared_dir)
            runs[n].append(result)
            other = "?" if result["other_cpu"] is None else f"{result['other_cpu']:.0f}"
            print(
                f"  {n} worker(s): wall {result['wall']:.1f} s, chief's search {result['search']:.1f} s "
                f"(serial parts {result['wall'] - result['search']:.1f} s), {result['trials']} trials "
                f"completed, best model {result['best_model']}; other processes used {other} CPU s "
                f"(load {result['load'][0]:.1f} -> {result['load'][1]:.1f})",
                flush=True,
            )
    wall = {n: statistics.median(r["wall"] for r in results) for n, results in runs.items()}
    searched = {n: statistics.median(r["search"] for r in results) for n, results in runs.items()}
    print(
        f"distributed tune, {args.trials} trials of {args.epochs} epoch(s) on {args.train_samples} samples: "
        f"1 worker {wall[1]:.1f} s, 2 workers {wall[2]:.1f} s: speed-up x{wall[1] / wall[2]:.2f} end to end, "
        f"x{searched[1] / searched[2]:.2f} for the search itself (target >= 1.6)",
        flush=True,
    )


if __name__ == "__main__":
    main()
