"""The test lanes: the default run is the fast lane, every slow test says why, a hang fails fast."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_a_test_that_sleeps_past_its_timeout_fails_with_its_name(tmp_path):
    (tmp_path / "test_hang.py").write_text(
        textwrap.dedent(
            """
            import time
            import pytest

            @pytest.mark.timeout(1)
            def test_waits_for_an_engine_that_never_answers():
                time.sleep(60)
            """
        )
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_hang.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Timeout" in done.stdout and "test_waits_for_an_engine_that_never_answers" in done.stdout
    assert time.monotonic() - started < 50  # failed at its timeout, not after its sleep


def test_the_default_run_is_the_fast_lane_with_a_timeout_per_test():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-m 'not slow'" in options["addopts"] and int(options["timeout"]) > 0
    declared = {marker.split(":")[0] for marker in options["markers"]}
    from conftest import SLOW_BECAUSE

    assert set(SLOW_BECAUSE) | {"slow"} == declared


COLLECTION_PROBE = """
import sys, pytest
HEAVY = ("keras", "tensorflow", "jax", "torch", "keras_tuner", "mlflow", "ray")
pytest.main(["--collect-only", "-q", "-m", "", "-p", "no:cacheprovider", "tests"])
print("HEAVY:", ",".join(m for m in HEAVY if m in sys.modules))
"""


@pytest.mark.subprocess
def test_collecting_every_lane_imports_no_framework():
    """Collection runs before any test: a module that imports Keras (or JAX, Ray, MLflow) at its top
    costs every run of the suite, the one-file runs included, seconds before the first test starts."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTION_PROBE], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("HEAVY:")]
    assert line == "HEAVY: ", f"imported while collecting: {line.removeprefix('HEAVY: ')}"


class _Item:
    """What conftest.xdist_group reads of a collected test."""

    def __init__(self, nodeid: str, markers: tuple[str, ...] = (), fixturenames: tuple[str, ...] = ()):
        self.nodeid, self.markers, self.fixturenames = nodeid, markers, list(fixturenames)

    def get_closest_marker(self, name: str):
        return name if name in self.markers else None


def test_engines_run_one_at_a_time_and_a_module_stays_on_one_worker():
    """Under ``pytest -n 2 --dist loadgroup`` a group runs on one worker: every engine test in
    one group (two Ray clusters at once would fight for 2 cores), a module's tests in its own."""
    from conftest import xdist_group

    assert xdist_group(_Item("tests/sweep/test_sweep_ray.py::test_x", ("engine",))) == "engines"
    assert xdist_group(_Item("tests/results/test_report_browser.py::t", ("browser",))) == "engines"
    assert xdist_group(_Item("tests/tracking/test_tracking.py::t", (), ("tracked_run",))) == "engines"
    assert xdist_group(_Item("tests/use/test_use.py::t", ("heavy",), ("runs", "tmp_path"))) == "trained-runs"
    assert xdist_group(_Item("tests/cli/test_cli.py::test_y", ("subprocess",))) == "tests/cli/test_cli.py"
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--dist loadgroup" in options["addopts"]
