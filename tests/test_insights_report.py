"""The HTML report (hmspark.insights.report) after a full pipeline backtest on a small simulated
dataset plus segments and CLTV (one module fixture): rendered in headless Chromium, every image
must load and no section may be empty; MAP@12 by segment must agree with metrics.json.  And a
warehouse with only the ingest tables: each section says what to run instead of crashing.

Chromium is required (Debian's ``chromium`` package; ``.ci/run`` installs it when missing)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from factories import articles_df, customers_df, transactions_df
from hmspark.config import apply_override
from hmspark.insights.report import SECTIONS, write_report
from hmspark.pipeline import run_pipeline
from hmspark.synth import write_kaggle_csvs
from hmspark.tables import write_table

CHECK_SCRIPT = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.alt; });
  var sections = Array.prototype.slice.call(document.querySelectorAll('section.report-section'));
  var empty = sections.filter(function (s) {
    return s.querySelector('.missing') ||
           !(s.querySelector('img') || s.querySelector('table tbody tr'));
  }).map(function (s) { return s.id; });
  var out = document.createElement('pre');
  out.id = 'hmspark-check';
  out.textContent = JSON.stringify({images: imgs.length, bad: bad, empty: empty,
                                    sections: sections.map(function (s) { return s.id; })});
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium not found: install Debian's 'chromium' package "
                "(apt-get install -y chromium; .ci/run does this when it is missing)")


def check_in_chromium(report: Path, tmp_path: Path) -> dict:
    """Load the report (with the check script appended) in headless Chromium and return what the
    script found."""
    page = tmp_path / "check.html"
    page.write_text(report.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"),
                    encoding="utf-8")
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=10000",
           "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="hmspark-check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no check result in Chromium's DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


def small_settings(settings):
    for item in ("train.train_weeks=2", "train.num_boost_round=40", "train.threads=1",
                 "train.num_leaves=15", "segments.k_min=2", "segments.k_max=4",
                 "cltv.holdout_weeks=3", "cltv.horizon_weeks=26"):
        settings = apply_override(settings, item)
    return settings


@pytest.fixture(scope="module")
def pipeline_output(spark, settings, tmp_path_factory):
    """A backtest of the whole pipeline on ~9 weeks of 1,500 simulated customers, then segments,
    CLTV and the report as the pipeline calls them."""
    root = tmp_path_factory.mktemp("insights-report")
    data, wh, out = root / "data", str(root / "wh"), root / "out"
    write_kaggle_csvs(data, "tiny", seed=5, n_customers=1500, n_articles=600, days=63)
    cfg = small_settings(settings)
    result = run_pipeline(spark, cfg, input_dir=str(data), warehouse=wh, output_dir=str(out),
                          as_of="last-week")
    assert result.mode == "ranker"
    return result.report, result


@pytest.mark.slow
def test_report_renders_in_chromium_with_no_empty_section(pipeline_output, tmp_path):
    report, _ = pipeline_output
    assert report.name == "report.html" and report.is_file()
    text = report.read_text(encoding="utf-8")
    assert "src=\"http" not in text and "<link" not in text  # self-contained
    found = check_in_chromium(report, tmp_path)
    assert found["sections"] == [sid for sid, _, _ in SECTIONS]
    assert found["images"] >= 12, found
    assert found["bad"] == [], found
    assert found["empty"] == [], found


@pytest.mark.slow
def test_map_by_segment_matches_the_backtest(pipeline_output):
    report, result = pipeline_output
    text = report.read_text(encoding="utf-8")
    section = text[text.index('id="map-by-segment"'):text.index('id="segments"')]
    ranker = result.metrics["ranker"]
    assert f"MAP@12 {ranker['map_at_k']:.5f} over {ranker['buyers']:,} buyers" in section
    assert "MAP@12 by RFM segment" in section and "MAP@12 by cluster" in section


def test_missing_inputs_are_named_not_crashed(spark, tmp_path):
    """Only the ingest tables: the overview is drawn, every other section says what to run."""
    wh = str(tmp_path / "wh")
    rows = [("2020-09-01", 1, 1, 0.02), ("2020-09-08", 1, 2, 0.03), ("2020-09-20", 2, 1, 0.02)]
    write_table(transactions_df(spark, rows), wh, "transactions")
    write_table(customers_df(spark, [(1, 30), (2, None)]), wh, "customers")
    write_table(articles_df(spark, [{"article_id": 1}, {"article_id": 2}]), wh, "articles")
    path = write_report(spark, wh, tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section class="report-section" id="([^"]+)">(.*?)</section>',
                               text, re.S))
    assert list(sections) == [sid for sid, _, _ in SECTIONS]
    assert 'class="missing"' not in sections["overview"]
    hints = {"recall": "jobs/candidates.py", "map": "--as-of", "importance": "--as-of",
             "map-by-segment": "recommendations", "segments": "jobs/segments.py",
             "preferences": "jobs/segments.py", "cltv": "jobs/cltv.py"}
    for sid, hint in hints.items():
        assert 'class="missing"' in sections[sid], sid
        assert hint in sections[sid], (sid, sections[sid])
