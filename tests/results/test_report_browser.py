"""The HTML report in a real headless browser: every image loads, the key table fits a 1280 px page.

Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) opens a copy of
the report with a small script appended that measures the page after it loaded
(the report itself holds no scripts) and writes the result into the DOM, which
``--dump-dom`` prints; ``--screenshot`` takes the picture. Without a browser the
test skips with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml
from fake_runs import make_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,2400",
    "--virtual-time-budget=5000",
]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const table = document.getElementById("summary");
  const result = {
    images: images.length,
    broken: images.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.alt),
    tableWidth: table ? table.scrollWidth : -1,
    pageWidth: document.documentElement.clientWidth,
    lastHeader: table
      ? table.rows[0].cells[table.rows[0].cells.length - 1].getBoundingClientRect().right
      : -1,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it): the report is not opened")


def study_sweep(root):
    """A 2x2 grid over seeds as a study sweep: summary.json names the runs and the compare block."""
    runs = []
    for index, (hidden, seed, loss) in enumerate(
        [([2], 1, 0.30), ([2], 2, 0.26), ([4, 2], 1, 0.12), ([4, 2], 2, 0.15)]
    ):
        run = make_run(
            root,
            config="playground-mlp",
            run_id=f"20261122-10000{index}-aaaaa{index}",
            loss=loss,
            plots=("loss", "decision_boundary"),
            extra={"test_loss": loss, "long_metric_name_that_would_push_the_table_wide": 123456.789},
        )
        data = yaml.safe_load((run / "config.yaml").read_text())
        data.update(seed=seed, model={"hidden": hidden, "activation": "tanh", "l1": 0.0, "l2": 0.0})
        (run / "config.yaml").write_text(yaml.safe_dump(data))
        runs.append(run)
    make_run(root, config="cnn-cifar10", run_id="20261122-110000-bbbbbb", smoke=True)
    sweep = root / "sweeps" / "playground-architectures-20261122-100000-abcdef"
    sweep.mkdir(parents=True)
    summary = {
        "study": "playground-architectures",
        "compare": {"metric": "test_loss", "goal": "min", "threshold": 0.177},
        "runs": [{"run_dir": str(run), "status": "completed"} for run in runs],
    }
    (sweep / "summary.json").write_text(json.dumps(summary))
    return sweep


@pytest.mark.browser
def test_report_opens_in_a_browser_with_every_image_and_a_table_that_fits(cli, tmp_path):
    chromium = browser()
    sweep = study_sweep(tmp_path / "outputs")
    smoke = tmp_path / "outputs" / "cnn-cifar10"
    result = cli("report", str(sweep), str(smoke), "-o", "report.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "Compared metric" in page and "smoke: synthetic data" in page
    assert "hidden=[4,2] seed=1" in page and "Over seeds" in page
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    env = {**os.environ, "HOME": str(tmp_path)}
    common = [chromium, *FLAGS, f"--user-data-dir={profile}"]
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", probe_page.as_uri()],
        capture_output=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG"), "no screenshot taken"
    dom = subprocess.run(
        [*common, "--dump-dom", probe_page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    ).stdout
    assert '<pre id="probe">' in dom, dom[-2000:]
    measured = json.loads(dom.split('<pre id="probe">')[1].split("</pre>")[0].replace("&quot;", '"'))
    assert measured["images"] >= 10 and measured["broken"] == [], measured
    assert measured["tableWidth"] <= measured["pageWidth"], measured
    assert measured["lastHeader"] <= 1280, measured
