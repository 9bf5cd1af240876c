"""Scale-out overheads: Ray sweeps against local jobs, and distributed tuning with 2 workers against 1.

1. The same smoke sweep of NumPy configs (8 members) with ``--backend local --jobs 2`` and
   ``--backend ray --cpus-per-run 1`` (a local Ray on this machine, started by the sweep); the
   extra seconds per member are (median ray wall - median local wall) / members.
   Target: under 2 s extra per member.
2. ``tune-mnist-mlp --smoke --max-trials 4`` served by a chief on 127.0.0.1 to 1 worker, then to
   2 workers (the chief's wall time from start to metrics.json). Target: >= 1.6x on 2 cores.

    .venv/bin/python benchmarks/bench_scale_out.py --repeats 1
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time

from bench_common import dlab_command, run_captured

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


def tune_seconds(workers: int) -> float:
    search = ["tune-mnist-mlp", "--smoke", "--max-trials", "4", "--device", "cpu", "--no-save"]
    port = free_port()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        chief = subprocess.Popen(
            [
                *dlab_command(),
                "tune",
                *search,
                "--out",
                out,
                "--chief",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env_threads = {"TF_NUM_INTRAOP_THREADS": "1"}
        import os

        procs = [
            subprocess.Popen(
                [
                    *dlab_command(),
                    "tune",
                    *search,
                    "--worker",
                    str(n),
                    "--chief-address",
                    f"127.0.0.1:{port}",
                    "--connect-timeout",
                    "180",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **env_threads},
            )
            for n in range(1, workers + 1)
        ]
        for process in [chief, *procs]:
            process.wait(timeout=900)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-tune", action="store_true")
    args = parser.parse_args()
    local = statistics.median(sweep_seconds(["--jobs", "2"]) for _ in range(args.repeats))
    ray = statistics.median(
        sweep_seconds(["--backend", "ray", "--cpus-per-run", "1"]) for _ in range(args.repeats)
    )
    extra = (ray - local) / len(MEMBERS)
    print(
        f"sweep of {len(MEMBERS)} smoke members: local --jobs 2 {local:.1f} s, ray {ray:.1f} s; "
        f"{extra:+.2f} s per member (target < 2 s)",
        flush=True,
    )
    if args.skip_tune:
        return
    one = statistics.median(tune_seconds(1) for _ in range(args.repeats))
    two = statistics.median(tune_seconds(2) for _ in range(args.repeats))
    print(
        f"distributed tune, 4 trials: 1 worker {one:.1f} s, 2 workers {two:.1f} s; "
        f"speed-up x{one / two:.2f} (target >= 1.6)",
        flush=True,
    )


if __name__ == "__main__":
    main()
