"""dlab runs (every run, whatever its state) and dlab report (one self-contained HTML file)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from fake_runs import make_run, tiny_png


@pytest.fixture
def outputs(tmp_path):
    root = tmp_path / "outputs"
    make_run(root, run_id="20261122-100000-aaaaaa", accuracy=0.71)
    make_run(root, run_id="20261122-110000-bbbbbb", status="failed")
    make_run(root, config="mlp-imdb", run_id="20261122-120000-cccccc", status="running")
    make_run(root, config="mlp-imdb-small", run_id="20261122-130000-dddddd", smoke=True, accuracy=0.5)
    partial = root / "cnn-cifar10" / "20261122-140000-eeeeee"
    partial.mkdir(parents=True)
    (partial / "metrics.json").write_text('{"status": "runn')  # cut off mid-write by a crash
    return root


def test_runs_lists_every_run_with_status_metrics_and_time(cli, outputs):
    result = cli("runs", "--out", str(outputs))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["config", "label", "status", "wall_s", "key", "metrics", "error", "folder"]
    body = "\n".join(lines[1:])
    completed = next(line for line in lines if "100000-aaaaaa" in line)
    assert completed.split()[:3] == ["cnn-cifar10", "aaaaaa", "completed"]
    assert "test.accuracy 0.71" in completed
    failed = next(line for line in lines if "110000-bbbbbb" in line)
    assert "failed" in failed and "RuntimeError: loss became NaN <at epoch 2>" in failed
    running = next(line for line in lines if "120000-cccccc" in line)
    assert re.search(r"running \(updated \d+ s ago\)", running) and " - " in running
    assert "completed (smoke)" in next(line for line in lines if "130000-dddddd" in line)
    partial = next(line for line in lines if "140000-eeeeee" in line)
    assert "unknown" in partial and "metrics.json cannot be read" in partial
    assert "5 runs" in body


def test_runs_filters_by_experiment_and_status(cli, outputs):
    by_glob = cli("runs", "--out", str(outputs), "--experiment", "mlp-imdb*", "-f", "json")
    assert {row["config"] for row in json.loads(by_glob.stdout)} == {"mlp-imdb", "mlp-imdb-small"}
    by_experiment = cli("runs", "--out", str(outputs), "-e", "cnn_cifar10", "-f", "json")
    assert [row["status"] for row in json.loads(by_experiment.stdout)] == ["completed", "failed"]
    failed = cli("runs", "--out", str(outputs), "--status", "failed", "-f", "json")
    rows = json.loads(failed.stdout)
    assert len(rows) == 1 and rows[0]["error"].startswith("RuntimeError")
    assert rows[0]["key_metrics"] == {
        "final.val.loss": pytest.approx(0.95),
        "final.val.accuracy": 0.69,
    }  # no test metrics: last epoch


def test_runs_formats_parse(cli, outputs):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(cli("runs", "--out", str(outputs), "-f", "csv").stdout)))
    assert len(rows) == 5 and {"run", "status", "wall_s", "key metrics"} <= set(rows[0])
    markdown = cli("runs", "--out", str(outputs), "-f", "markdown").stdout.splitlines()
    assert len(markdown) == 7 and all(line.startswith("|") for line in markdown)


def test_runs_bad_input(cli, tmp_path, outputs):
    missing = cli("runs", "--out", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "No outputs folder" in missing.output
    status = cli("runs", "--out", str(outputs), "--status", "complete")
    assert status.exit_code == 2 and "Did you mean 'completed'" in status.output


# --------------------------------------------------------------------------- report


def test_report_holds_every_run_and_its_images_embedded(cli, tmp_path, outputs):
    result = cli("report", str(outputs), "-o", "out/report.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    for run_id in ("100000-aaaaaa", "110000-bbbbbb", "120000-cccccc", "130000-dddddd", "140000-eeeeee"):
        assert run_id in page, run_id
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    decoded = [base64.b64decode(image) for image in images]
    assert decoded.count(tiny_png(0)) == 4  # every run's plots/loss.png, byte for byte
    assert len(decoded) > 4  # plus the overlaid learning curves of all runs
    assert all(png.startswith(b"\x89PNG") for png in decoded)
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert "<script" not in page and "<link" not in page
    summary = page.split("<h2>Summary</h2>")[1].split("</table>")[0]
    assert "<th>test.accuracy</th>" in summary and '<td class="num">0.71</td>' in summary
    assert "<th>optimizer</th><td>name adam, learning_rate 0.001</td>" in page  # config essentials


def test_report_escapes_text_from_runs(cli, tmp_path):
    run = make_run(tmp_path / "outputs", description="<script>alert('x')</script> & more", status="failed")
    result = cli("report", str(run), "-o", "r.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "loss became NaN &lt;at epoch 2&gt;" in page


def test_report_of_a_sweep_directory(cli, tmp_path):
    runs = [
        make_run(tmp_path / "outputs", run_id=f"20261122-10000{i}-aaaaa{i}", plots=("loss", "accuracy"))
        for i in range(2)
    ]
    sweep = tmp_path / "outputs" / "sweeps" / "s-20261122-100000-abcdef"
    sweep.mkdir(parents=True)
    (sweep / "summary.json").write_text(
        json.dumps([{"run_dir": str(run), "status": "completed"} for run in runs])
    )
    result = cli("report", str(sweep))
    assert result.exit_code == 0 and "report: report.html" in result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count('<h2 id="run-') == 2 and page.count("<figcaption>accuracy.png</figcaption>") == 2


def test_report_bad_input(cli, tmp_path, outputs):
    not_html = cli("report", str(outputs), "-o", "report.pdf")
    assert not_html.exit_code == 2 and "ending in .html" in not_html.output
    (tmp_path / "empty").mkdir()
    not_runs = cli("report", "empty")
    assert not_runs.exit_code == 2 and "is not a run" in not_runs.output
    assert not (tmp_path / "report.html").exists()


@pytest.mark.subprocess
def test_reading_saved_runs_never_imports_tensorflow(tmp_path, outputs):
    import subprocess
    import sys

    run = str(outputs / "cnn-cifar10" / "20261122-100000-aaaaaa")
    code = f"""
import sys
from dlab.cli import app
for args in (["runs", "--out", {str(outputs)!r}], ["compare", {run!r}, "--fail-if", "test.loss > 5"],
             ["check", {run!r}]):
    try:
        app(args)
    except SystemExit as exit:
        assert exit.code in (0, None), (args, exit.code)
print("HEAVY=" + ",".join(n for n in ("tensorflow", "keras", "matplotlib", "pandas", "numpy")
                          if n in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "HEAVY=", result.stdout
