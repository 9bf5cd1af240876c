"""``dlab sweep``: many runs (a study, a list of configs, a grid, seeds), in parallel processes.

A sweep first plans every run and validates each one exactly as ``dlab run``
would (config, keys, values), so a typo in the 37th member stops the sweep
before the first run starts (exit code 2). Then it runs them, ``--jobs N`` at a
time, each as its own ``python -m dlab run ...`` process:

- TensorFlow fixes its thread pools and visible GPUs when it starts, so each
  job's share of CPU threads (``TF_NUM_INTRAOP_THREADS`` ...) and its GPU
  (``CUDA_VISIBLE_DEVICES``) must be in the environment before the process
  starts. A process pool that calls ``api.run`` would reuse a started
  TensorFlow for the next run and could not change either.
- A run that crashes hard (out of memory, a segfault in a native library) takes
  only its own process down; the sweep records it and goes on.
- The run is exactly what ``dlab run`` does, with its run directory, run.log and
  exit codes; the sweep keeps each process's console output in ``logs/``.

The price is TensorFlow's start-up per run (a few seconds), small next to any
real training run. Results land in ``OUT/sweeps/<name>-<time>-<id>/``
(see :mod:`dlab.sweep_summary`).

Example:
    >>> plan = plan_sweep(["xor-mlp", "softmax-decoder"], seeds=3, smoke=True)
    >>> len(plan.runs)
    6
"""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from dlab.config import config_names, find_config, read_yaml, resolve_config
from dlab.errors import ConfigError, UsageError, did_you_mean
from dlab.runs import check_writable, now_iso
from dlab.study import StudyConfig, expand_study, load_study, study_names
from dlab.sweep_summary import key_metrics, read_json, write_study_figures, write_summary

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RUN_DIR_LINE = re.compile(r"^dlab: run directory (.+)$", re.MULTILINE)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: a config, the overrides that make it this member, and a seed."""

    index: int
    config: str                 # what ``dlab run`` is given: a packaged name or a YAML path
    name: str                   # the config's name (its run folder)
    overrides: tuple[str, ...]  # the member's ``key=value`` sets (grid values)
    seed: int | None

    @property
    def label(self) -> str:
        seed = [f"seed={self.seed}"] if self.seed is not None else []
        return " ".join([self.name, *self.overrides, *seed])


@dataclass
class SweepPlan:
    """Every run of a sweep, validated, and what the sweep is (for its name and summary)."""

    name: str
    kind: str                             # study | configs | grid
    runs: list[PlannedRun]
    seeds: list[int] = field(default_factory=list)
    grid: dict[str, list[str]] = field(default_factory=dict)
    study: StudyConfig | None = None


@dataclass
class SweepResult:
    """The outcome of a sweep: its folder, one row per run, and the exit code it earns."""

    sweep_dir: Path
    rows: list[dict[str, Any]]
    figures: list[Path]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 when every run completed, 1 otherwise (failed, interrupted or skipped runs)."""
        return 0 if all(row["status"] == "completed" for row in self.rows) else 1


# --------------------------------------------------------------------------- planning


def split_values(text: str) -> list[str]:
    """Split ``1,[3,3],{a: 1}`` at the commas outside brackets, braces and quotes.

    Raises:
        ValueError: unbalanced brackets or quotes.
    """
    items, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"'{char}' at position {position + 1} closes nothing")
        elif char == "," and depth == 0:
            items.append(text[start:position].strip())
            start = position + 1
    if depth or quote:
        raise ValueError("a bracket or quote is not closed")
    items.append(text[start:].strip())
    return items


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``--grid key=v1,v2`` flags -> key -> the values (as ``--set`` would read them).

    Raises:
        UsageError: no ``=``, a key that is not dotted, no values, an empty value,
            a value that is not YAML, or the same key twice.
    """
    grid: dict[str, list[str]] = {}
    example = "e.g. --grid train.optimizer.learning_rate=0.01,0.1 --grid model.hidden=[3],[3,3]"
    for spec in specs:
        key, equals, text = spec.partition("=")
        key = key.strip()
        if not equals:
            raise UsageError(f"--grid expects KEY=V1,V2,... ({example}), got '{spec}': there is no '='.")
        if not _KEY.match(key):
            raise UsageError(f"--grid '{spec}': '{key}' is not a dotted key such as "
                             f"train.optimizer.learning_rate ({example}).")
        if key in grid:
            raise UsageError(f"--grid '{spec}': the key '{key}' is given twice; put all its values "
                             "in one --grid flag.")
        try:
            values = split_values(text)
        except ValueError as error:
            raise UsageError(f"--grid '{spec}': {error}.") from None
        if not text.strip():
            raise UsageError(f"--grid '{spec}': no values after '='. Give at least one ({example}).")
        if any(not value for value in values):
            raise UsageError(f"--grid '{spec}': an empty value between commas. Give values such "
                             f"as {key}=1,2,3.")
        for value in values:
            try:
                yaml.safe_load(value)
            except yaml.YAMLError:
                raise UsageError(f"--grid '{spec}': the value '{value}' is not valid YAML.") from None
        grid[key] = values
    return grid


def parse_seeds(seeds: int | str | Sequence[int] | None) -> list[int]:
    """``--seeds 5`` -> seeds 1..5; ``--seeds 7,11,13`` -> those seeds; None -> no seed axis.

    Raises:
        UsageError: a count below 1, or something that is neither a count nor a list of integers.
    """
    if seeds is None:
        return []
    if isinstance(seeds, str):
        parts = [part.strip() for part in seeds.split(",")]
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            raise UsageError(f"--seeds '{seeds}': give a count (--seeds 5 runs seeds 1..5) or a "
                             "comma-separated list of integer seeds (--seeds 7,11,13).") from None
        seeds = numbers[0] if len(numbers) == 1 and "," not in seeds else numbers
    if isinstance(seeds, int):
        if seeds < 1:
            raise UsageError(f"--seeds {seeds}: the number of seeds must be at least 1.")
        return list(range(1, seeds + 1))
    seeds = list(seeds)
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {','.join(map(str, seeds))}: a seed is repeated.")
    return seeds


def _is_study_file(path: Path) -> bool:
    return "study" in read_yaml(path)


def _expand_targets(targets: Sequence[str]) -> tuple[list[str], str | None]:
    """Targets -> (config refs, study ref); globs expanded, a study recognized."""
    if not targets:
        raise UsageError("dlab sweep needs something to run: a study (`dlab sweep imdb-capacity`), "
                         "configs or globs (`dlab sweep 'configs/*.yaml'`, `dlab sweep 'mnist-*'`).")
    configs: list[str] = []
    studies: list[str] = []
    packaged_studies = set(study_names())
    for target in targets:
        path_like = target.endswith((".yaml", ".yml")) or "/" in target or "\\" in target
        if _GLOB_CHARS & set(target):
            if path_like:
                matches = sorted(glob.glob(os.path.expanduser(target)))
            else:
                matches = fnmatch.filter(config_names(), target)
            if not matches:
                where = "no file" if path_like else "no packaged config name (see `dlab list`)"
                raise UsageError(f"'{target}' matches {where}. Check the pattern; packaged configs "
                                 "also take name patterns, e.g. dlab sweep 'mnist-*'.")
            for match in matches:
                (studies if path_like and _is_study_file(Path(match)) else configs).append(match)
        elif path_like and Path(target).expanduser().is_file() and _is_study_file(Path(target)):
            studies.append(target)
        elif not path_like and target in packaged_studies:
            studies.append(target)
        else:
            configs.append(target)
    if studies and (configs or len(studies) > 1):
        raise UsageError(f"A study runs on its own: got study {', '.join(studies)} together with "
                         f"{', '.join(configs + studies[1:])}. Run one study per sweep.")
    for ref in configs:
        try:
            find_config(ref)
        except ConfigError as error:
            close = did_you_mean(ref, sorted(packaged_studies))
            hint = f" Studies too can be swept:{close.removeprefix(' Did you mean')}" if close else ""
            raise ConfigError(f"{error}{hint}") from None
    return list(dict.fromkeys(configs)), (studies[0] if studies else None)


def plan_sweep(targets: Sequence[str], *, grid: Sequence[str] = (),
               seeds: int | str | Sequence[int] | None = None, epochs: int | None = None,
               sets: Sequence[str] = (), smoke: bool = False) -> SweepPlan:
    """Expand the targets into concrete runs and validate every one of them.

    Args:
        targets: one study (name or file), or configs: names, YAML files, globs of files
            (``configs/*.yaml``) or of packaged names (``mnist-*``).
        grid: ``key=v1,v2`` specs; every combination runs for every config.
        seeds: a count (seeds 1..N) or a list; replaces a study's ``seeds:``.
        epochs, sets, smoke: what every run gets (as ``dlab run`` flags).

    Raises:
        UsageError / ConfigError: anything ``dlab run`` would refuse for any run, an empty or
            malformed grid, bad seeds, a study mixed with configs or with ``--grid``.
    """
    config_refs, study_ref = _expand_targets(targets)
    grid_values = parse_grid(grid)
    seed_list = parse_seeds(seeds)
    clash = sorted(set(grid_values) & {s.partition("=")[0].strip() for s in sets})
    if clash:
        raise UsageError(f"{', '.join(clash)} is both a --grid axis and a --set override; "
                         "drop one of them.")
    study = None
    if study_ref is not None:
        if grid_values:
            raise UsageError(f"Study '{study_ref}' has its own runs or grid:; --grid works on "
                             "configs (dlab sweep CONFIG --grid KEY=V1,V2).")
        study = load_study(study_ref)
        if seed_list:
            study = study.model_copy(update={"seeds": seed_list})
        members = [(member.config, member.sets, member.seed) for member in expand_study(study)]
        name, kind, seed_list = study.study, "study", list(study.seeds)
    else:
        keys = list(grid_values)
        combos = [tuple(f"{key}={value}" for key, value in zip(keys, values, strict=True))
                  for values in itertools.product(*(grid_values[key] for key in keys))]
        members = [(ref, combo, seed) for ref in config_refs for combo in combos
                   for seed in (seed_list or [None])]
        names = [Path(ref).stem for ref in config_refs]
        name = names[0] if len(names) == 1 else "configs"
        kind = "grid" if grid_values else "configs"

    runs = []
    for index, (ref, overrides, seed) in enumerate(members, start=1):
        label = " ".join([ref, *overrides] + ([f"seed={seed}"] if seed is not None else []))
        try:
            config = resolve_config(ref, flags={"train.epochs": epochs, "seed": seed},
                                    sets=[*sets, *overrides], smoke=smoke)
        except ConfigError as error:
            raise ConfigError(f"Sweep run {index} ({label}): {error}") from None
        runs.append(PlannedRun(index, ref, config.name, tuple(overrides), seed))
    return SweepPlan(name=name, kind=kind, runs=runs, seeds=seed_list, grid=grid_values, study=study)


# --------------------------------------------------------------------------- resources


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """GPU ids for CUDA_VISIBLE_DEVICES, found without starting TensorFlow.

    The parent's CUDA_VISIBLE_DEVICES when set (``-1`` or empty: none), else ``nvidia-smi``.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        listing = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.stdout.splitlines() if line.strip().isdigit()]


def job_environment(slot: int, threads: int, gpus: Sequence[str]) -> dict[str, str]:
    """The environment of the run in job slot ``slot``: its CPU threads and its GPU.

    TensorFlow reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS when it starts;
    OMP/OpenBLAS/MKL bound oneDNN's and NumPy's pools the same way.
    """
    env = dict(os.environ)
    env.update({
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(min(threads, 2)),
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    })
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


# --------------------------------------------------------------------------- running


@dataclass
class RunSettings:
    """What every run of a sweep gets: the ``dlab run`` flags passed through."""

    out: Path
    device: str = "auto"
    smoke: bool = False
    epochs: int | None = None
    sets: tuple[str, ...] = ()
    save_model: bool = True

    def argv(self, run: PlannedRun) -> list[str]:
        """The ``python -m dlab run ...`` command line of one run."""
        argv = [sys.executable, "-m", "dlab", "run", run.config, "--out", str(self.out),
                "--device", self.device]
        if self.smoke:
            argv.append("--smoke")
        if self.epochs is not None:
            argv += ["--epochs", str(self.epochs)]
        if run.seed is not None:
            argv += ["--seed", str(run.seed)]
        for assignment in (*self.sets, *run.overrides):
            argv += ["--set", assignment]
        if not self.save_model:
            argv.append("--no-save")
        return argv


@dataclass
class _Job:
    run: PlannedRun
    slot: int
    process: subprocess.Popen
    log_path: Path
    log: IO[bytes]
    started: float


def create_sweep_dir(root: Path, name: str) -> Path:
    """A new folder ``root/sweeps/<name>-<YYYYmmdd-HHMMSS>-<id>`` (never an existing one)."""
    parent = root / "sweeps"
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        path = parent / f"{name}-{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _row(run: PlannedRun, status: str) -> dict[str, Any]:
    return {"index": run.index, "config": run.name, "overrides": list(run.overrides),
            "seed": run.seed, "status": status, "exit_code": None, "error": None,
            "wall_time_s": None, "metrics": {}, "run_dir": None, "log": None}


def _error_from_log(text: str, exit_code: int) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if starts:  # dlab's own message, possibly several lines: from its "error:" to the end
        return " ".join(lines[starts[-1]:]).removeprefix("error: ")[:2000]
    if exit_code < 0:
        return f"killed by signal {-exit_code}" + (f"; last output: {lines[-1]}" if lines else "")
    return f"exit code {exit_code}" + (f"; last output: {lines[-1]}" if lines else "")


def collect(job: _Job, exit_code: int, extra_metrics: Sequence[str]) -> dict[str, Any]:
    """A finished run's row: status, error, metrics and run directory, read from what it wrote."""
    job.log.close()
    row = _row(job.run, "failed")
    row.update(exit_code=exit_code, log=str(job.log_path.resolve()),
               wall_time_s=round(time.perf_counter() - job.started, 3))
    text = job.log_path.read_text(encoding="utf-8", errors="replace")
    found = _RUN_DIR_LINE.search(text)
    metrics = None
    if found:
        run_dir = Path(found.group(1).strip())
        row["run_dir"] = str(run_dir.resolve())
        metrics = read_json(run_dir / "metrics.json")
    if metrics is not None:
        row["status"] = str(metrics.get("status"))
        row["metrics"] = key_metrics(metrics, extra_metrics)
        if isinstance(metrics.get("error"), dict):
            row["error"] = f"{metrics['error'].get('type')}: {metrics['error'].get('message')}"
    if row["status"] == "running":  # killed before it could write its final metrics.json
        row["status"] = "failed"
    if exit_code in (130, -signal.SIGINT) and row["status"] != "completed":
        row["status"] = "interrupted"
    if exit_code != 0 and row["status"] == "completed":
        row["status"] = "failed"
    if row["status"] == "interrupted" and row["error"] is None:
        row["error"] = "interrupted (Ctrl-C, or --fail-fast after another run failed)"
    if row["status"] != "completed" and row["error"] is None:
        row["error"] = _error_from_log(text, exit_code)
    return row


def run_sweep(plan: SweepPlan, settings: RunSettings, *, jobs: int = 1, fail_fast: bool = False,
              progress: Callable[[str, dict[str, Any]], None] | None = None) -> SweepResult:
    """Run a planned sweep and write its folder; see the module docstring.

    Args:
        plan: from :func:`plan_sweep`.
        settings: the flags every run gets.
        jobs: runs at a time, each in its own process with ``cpu_count() // jobs`` threads
            and, where GPUs exist, one GPU (round-robin over job slots).
        fail_fast: at the first failed run, interrupt the running ones and start no more.
        progress: called as ``progress(event, info)`` for ``start``, ``launch``, ``finish``,
            ``tick`` and ``end`` (see :class:`ConsoleProgress`).

    Returns:
        The sweep folder and its rows; ``exit_code`` is 0 only when every run completed.

    Raises:
        UsageError: ``jobs`` < 1 or an outputs folder that cannot be written.
        KeyboardInterrupt: after interrupting the running runs and writing the summary.
    """
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: the number of parallel runs must be at least 1.")
    root = check_writable(Path(settings.out))
    threads = max(1, cpu_count() // jobs)
    gpus = [] if settings.device == "cpu" else visible_gpus()
    sweep_dir = create_sweep_dir(root, re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.name))
    (sweep_dir / "logs").mkdir()
    extra = [plan.study.compare.metric] if plan.study else []
    header = {
        "sweep": plan.name, "kind": plan.kind, "started_at": now_iso(), "finished_at": None,
        "study": plan.study.model_dump() if plan.study else None,
        "grid": plan.grid, "seeds": plan.seeds, "jobs": jobs, "threads_per_job": threads,
        "gpus": gpus, "fail_fast": fail_fast,
        "run_flags": {"out": str(settings.out), "device": settings.device, "smoke": settings.smoke,
                      "epochs": settings.epochs, "sets": list(settings.sets),
                      "save_model": settings.save_model},
    }
    rows = {run.index: _row(run, "pending") for run in plan.runs}
    notify = progress or (lambda event, info: None)

    def save() -> None:
        write_summary(sweep_dir, header, [rows[i] for i in sorted(rows)], bool(plan.seeds), extra)

    save()
    notify("start", {"plan": plan, "sweep_dir": sweep_dir, "jobs": jobs, "threads": threads,
                     "gpus": gpus})
    pending = list(plan.runs)
    running: dict[int, _Job] = {}
    started = time.perf_counter()
    stopping = False

    def finish(slot: int, exit_code: int) -> None:
        nonlocal stopping
        job = running.pop(slot)
        row = collect(job, exit_code, extra)
        rows[job.run.index] = row
        save()
        notify("finish", {"row": row, "label": job.run.label, "counts": _counts(rows)})
        if fail_fast and row["status"] != "completed" and not stopping:
            stopping = True
            _interrupt(running.values())

    try:
        while pending or running:
            while pending and len(running) < jobs and not stopping:
                run = pending.pop(0)
                slot = min(set(range(jobs)) - set(running))
                log_path = sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
                log = open(log_path, "wb")  # noqa: SIM115 - closed in collect()
                process = subprocess.Popen(settings.argv(run), stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL,
                                           env=job_environment(slot, threads, gpus))
                running[slot] = _Job(run, slot, process, log_path, log, time.perf_counter())
                rows[run.index] = {**_row(run, "running"), "log": str(log_path.resolve())}
                notify("launch", {"label": run.label, "counts": _counts(rows)})
            for slot, job in list(running.items()):
                exit_code = job.process.poll()
                if exit_code is not None:
                    finish(slot, exit_code)
            if stopping and not running:
                break
            notify("tick", {"counts": _counts(rows), "elapsed": time.perf_counter() - started})
            time.sleep(0.1)
    except KeyboardInterrupt:
        _interrupt(running.values())
        for slot, job in list(running.items()):
            finish(slot, _wait(job.process))
        _skip_unstarted(rows)
        header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
        save()
        raise
    _skip_unstarted(rows)  # --fail-fast stopped the sweep
    header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
    save()
    figures = []
    ordered = [rows[i] for i in sorted(rows)]
    if plan.study is not None:
        compare = plan.study.compare
        figures = write_study_figures(sweep_dir, ordered, compare.metric, compare.goal,
                                      compare.threshold, title=plan.study.study)
    result = SweepResult(sweep_dir, ordered, figures)
    notify("end", {"result": result, "plan": plan, "elapsed": header["wall_time_s"]})
    return result


def _skip_unstarted(rows: dict[int, dict[str, Any]]) -> None:
    """Runs that never got to finish once the sweep stops are ``skipped``."""
    for index, row in rows.items():
        if row["status"] in ("pending", "running"):
            rows[index] = {**row, "status": "skipped"}


def _counts(rows: dict[int, dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _interrupt(jobs: Any) -> None:
    """Ask running runs to stop the way Ctrl-C does (each marks itself interrupted)."""
    for job in jobs:
        if job.process.poll() is None:
            try:
                job.process.send_signal(signal.SIGINT)
            except OSError:
                pass


def _wait(process: subprocess.Popen, grace_s: float = 30.0) -> int:
    """Wait for an interrupted run to write its files; kill it after ``grace_s``."""
    try:
        return process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        process.kill()
        return process.wait()


# --------------------------------------------------------------------------- console


class ConsoleProgress:
    """The console view of a sweep: one line per finished run, and on a terminal a status
    line (done / running / failed / pending, elapsed time) rewritten in place."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = 0
        self.done = 0
        self.metric: str | None = None
        self._last_status = ""
        self._last_tick = 0.0

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        getattr(self, f"_on_{event}")(info)

    def _write(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._last_status:
            self.stream.write("\r" + " " * len(self._last_status) + "\r")
            self._last_status = ""

    def _on_start(self, info: dict[str, Any]) -> None:
        plan = info["plan"]
        self.total = len(plan.runs)
        self.metric = plan.study.compare.metric if plan.study else None
        gpus = ", ".join(info["gpus"]) or "none"
        self._write(f"sweep {plan.name}: {self.total} runs, {info['jobs']} at a time, "
                    f"{info['threads']} CPU thread(s) each, GPUs: {gpus}")
        self._write(f"sweep directory: {info['sweep_dir']}")

    def _on_launch(self, info: dict[str, Any]) -> None:
        self._status(info["counts"], None)

    def _on_finish(self, info: dict[str, Any]) -> None:
        row = info["row"]
        self.done += 1
        width = len(str(self.total))
        candidates = dict.fromkeys((self.metric, "test_accuracy", "test_loss", "val_loss"))
        shown = [name for name in candidates if name and name in row["metrics"]][:2]
        metrics = "  ".join(f"{name} {row['metrics'][name]:.4g}" for name in shown)
        line = (f"[{self.done:>{width}}/{self.total}] {row['status']:<11} {info['label']}  "
                f"{row['wall_time_s']:.1f} s" + (f"  {metrics}" if metrics else ""))
        if row["status"] != "completed":
            line += f"\n    {row['error']}\n    log: {row['log']}"
        self._write(line)
        self._status(info["counts"], None)

    def _on_tick(self, info: dict[str, Any]) -> None:
        if time.perf_counter() - self._last_tick >= 1.0:
            self._status(info["counts"], info["elapsed"])

    def _status(self, counts: dict[str, int], elapsed: float | None) -> None:
        if not self.live:
            return
        self._last_tick = time.perf_counter()
        failed = sum(n for status, n in counts.items()
                     if status not in ("completed", "running", "pending"))
        text = (f"  {counts.get('completed', 0) + failed}/{self.total} done, "
                f"{counts.get('running', 0)} running, {failed} failed, "
                f"{counts.get('pending', 0)} pending"
                + (f"  ({elapsed:.0f} s)" if elapsed is not None else ""))
        self._clear()
        self.stream.write(text)
        self.stream.flush()
        self._last_status = text

    def _on_end(self, info: dict[str, Any]) -> None:
        result: SweepResult = info["result"]
        counts = ", ".join(f"{n} {status}" for status, n in result.counts.items())
        self._write(f"sweep finished in {info['elapsed']:.1f} s: {counts} (of {len(result.rows)})")
        plan: SweepPlan = info["plan"]
        if plan.seeds and len(plan.seeds) > 1:
            self._write(seed_table(result.sweep_dir, self.metric))
        for figure in result.figures:
            self._write(f"figure: {figure}")
        self._write(f"summary: {result.sweep_dir / 'summary.csv'}")


def seed_table(sweep_dir: Path, metric: str | None) -> str:
    """Mean +- 95% interval per member, for the compare metric (or test metrics), as text."""
    summary = read_json(sweep_dir / "summary.json") or {}
    lines = ["across seeds (mean, 95% interval):"]
    for entry in summary.get("seed_statistics", []):
        names = [metric] if metric and metric in entry["metrics"] else [
            name for name in entry["metrics"] if name.startswith("test_")][:2]
        cells = []
        for name in names:
            stats = entry["metrics"][name]
            interval = ("" if stats["ci95_low"] is None
                        else f" [{stats['ci95_low']:.4g}, {stats['ci95_high']:.4g}]")
            cells.append(f"{name} {stats['mean']:.4g}{interval}")
        label = " ".join([entry["config"], *entry["overrides"]])
        lines.append(f"  {label} ({entry['completed']}/{entry['runs']} seeds): "
                     + ("; ".join(cells) or "no completed run"))
    return "\n".join(lines)
