"""benchmarks/gpu_check.sh: the tiny CPU run CI keeps alive, step limits, and the --prepare copy."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT, SHARED

STEPS = ["environment", "cuda_tests", "timings", "attention", "uploads", "render_2k"]


def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_cpu_run_reports_every_step(tmp_path) -> None:
    out = tmp_path / "report.json"
    (tmp_path / "handed_back").mkdir()
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "handed_back")}
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--tiny", "--device", "cpu", "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert list(report["steps"]) == STEPS and report["finished"] and report["mode"] == "tiny"
    status = {name: step["status"] for name, step in report["steps"].items()}
    assert status == {"environment": "ok", "cuda_tests": "skipped", "timings": "ok", "attention": "ok",
                      "uploads": "skipped", "render_2k": "ok"}, report
    steps = report["steps"]
    assert steps["environment"]["result"]["cuda_available"] is False and steps["environment"]["result"]["torch"]
    # the CUDA tests ran under pytest and were skipped, each for a stated reason; what was skipped is listed
    reason = steps["cuda_tests"]["reason"]
    assert "needs a CUDA device" in reason if SHARED.joinpath("reference").is_dir() else "no reference data" in reason
    assert any(line.startswith("uploads: ") and "needs CUDA" in line for line in report["skipped"])
    for model in ("flashdepth-tiny-hybrid", "flashdepth-tiny"):
        timings = steps["timings"]["result"][model]
        for mode in ("fp32_eager", "fp32_graphed"):
            assert timings[mode]["median_ms"] > 0 and timings[mode]["fps"] > 0, timings
    attention = steps["attention"]["result"]
    assert attention["math"]["median_ms"] > 0 and attention["fastest"] in attention
    assert "unsupported" in attention["efficient_attention"] or "median_ms" in attention["efficient_attention"]
    render = steps["render_2k"]["result"]
    assert render["fps"] > 0 and render["plates"].startswith("4 half ACEScg EXR")
    assert json.loads((tmp_path / "handed_back" / out.name).read_text()) == report  # a device machine hands back $OUT
    table = (tmp_path / "handed_back" / "report.md").read_text()  # the README table
    assert "| flashdepth-tiny-hybrid | 112x70 | fp32_graphed |" in table and table == out.with_suffix(".md").read_text()


def test_a_step_past_its_limit_is_cut_keeps_what_it_measured_and_the_run_goes_on(tmp_path, monkeypatch) -> None:
    module = gpu_check()

    def slow(args, result) -> None:
        result["first"] = 1.0
        time.sleep(30)

    def quick(args, result) -> None:
        result["value"] = 2

    monkeypatch.setattr(module, "STEPS", {"environment": slow, "timings": quick})
    monkeypatch.setattr(module, "STEP_LIMITS", {"environment": 0.5, "timings": 10})
    code = module.main(["--device", "cpu", "--out", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 1
    cut = report["steps"]["environment"]
    assert cut["status"] == "timeout" and "limit" in cut["reason"] and cut["result"] == {"first": 1.0}
    assert cut["seconds"] < 5
    assert report["steps"]["timings"] == {"status": "ok", "result": {"value": 2}, "seconds": 0.0}


def test_report_is_written_before_any_step_runs(tmp_path) -> None:
    module = gpu_check()
    args = module.argparse.Namespace(tiny=False, device="cuda")
    module.Report(tmp_path / "r.json", args, STEPS)
    report = json.loads((tmp_path / "r.json").read_text())
    assert {s["status"] for s in report["steps"].values()} == {"pending"} and report["finished"] is None


@pytest.mark.skipif(not (SHARED / "reference" / "golden").is_dir(), reason="no ../shared/reference here")
def test_prepare_copies_the_reference_data_and_pure_python_test_dependencies(tmp_path, monkeypatch) -> None:
    module = gpu_check()
    monkeypatch.setattr(module, "DATA", tmp_path / "gpu_check_data")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setenv("FLASHDEPTH_SHARED", str(SHARED))
    module.prepare()
    reference = tmp_path / "gpu_check_data" / "shared" / "reference"
    golden = sorted(p.name for p in (SHARED / "reference" / "golden").iterdir())
    assert sorted(p.name for p in (reference / "golden").iterdir()) == golden
    assert (reference / "make_weights.py").is_file() and (reference / "manifest_full.json").is_file()
    site = tmp_path / "gpu_check_data" / "site"
    for package in ("einops", "pytest", "_pytest", "pluggy", "iniconfig"):
        assert (site / package / "__init__.py").is_file(), package
    assert not list(site.rglob("__pycache__"))
    assert "benchmarks/gpu_check_data/" in (ROOT / ".gitignore").read_text().splitlines()
