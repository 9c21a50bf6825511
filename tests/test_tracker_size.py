"""The tracker's size budget: minified (terser, from package-lock.json) and gzipped, at most 3,200 B
(3,072 B before member ids and scroll depth; README "The tracker" says where the bytes went)."""

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 3200

pytestmark = pytest.mark.process


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_minified_gzipped_tracker_is_within_its_budget():
    if not (ROOT / "node_modules" / "terser").is_dir():
        pytest.fail("terser is missing: run `npm ci` in the repository root")
    run = subprocess.run(["node", "scripts/size.mjs", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    size = json.loads(run.stdout)
    assert size["gzipped"] <= BUDGET, run.stderr
    assert run.returncode == 0, run.stderr
    assert 0 < size["gzipped"] < size["minified"] < size["source"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_committed_minified_build_matches_the_source(tmp_path):
    if not (ROOT / "node_modules" / "terser").is_dir():
        pytest.fail("terser is missing: run `npm ci` in the repository root")
    fresh = tmp_path / "clickTracker.min.js"
    subprocess.run(["node", "scripts/size.mjs", "--out", str(fresh)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    committed = (ROOT / "static" / "clickTracker.min.js").read_text()
    assert committed == fresh.read_text(), "static/clickTracker.min.js is stale: run `npm run build`"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_size_script_fails_past_the_budget(tmp_path):
    if not (ROOT / "node_modules" / "terser").is_dir():
        pytest.fail("terser is missing: run `npm ci` in the repository root")
    # Random hex does not compress: 8 KB of it is far past 3 KB gzipped.
    bulky = tmp_path / "bulky.js"
    bulky.write_text("window.x = " + json.dumps(secrets.token_hex(4096)) + ";")
    run = subprocess.run(["node", "scripts/size.mjs", str(bulky)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 1
    assert "over budget" in run.stderr
