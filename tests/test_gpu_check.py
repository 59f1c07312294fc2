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

STEPS = ["environment", "cuda_tests", "timings", "attention", "uploads", "colour", "render_2k"]


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
                         capture_output=True, text=True, env={**env, "GPU_CHECK_BUDGET_S": "900"}, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert list(report["steps"]) == STEPS and report["finished"] and report["mode"] == "tiny"
    status = {name: step["status"] for name, step in report["steps"].items()}
    assert status == {"environment": "ok", "cuda_tests": "skipped", "timings": "ok", "attention": "ok",
                      "uploads": "skipped", "colour": "ok", "render_2k": "ok"}, report
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
    assert attention["render_option"].startswith("--attention ")
    colour = steps["colour"]["result"]
    # the baked ACES 2.0 tail: ~1e-3 on average; the synthetic frame's saturated HDR corners are where it is worst
    assert 0 < colour["mean_abs_error"] < 2e-3 and colour["p999_abs_error"] <= colour["max_abs_error"] < 0.25, colour
    assert colour["ms_per_frame"] > 0 and colour["summary_of"] == "synthetic_acescg_256x144, TF32 off"
    synthetic = colour["synthetic_acescg_256x144"]
    assert synthetic["tf32_on"]["max_abs_error"] == synthetic["tf32_off"]["max_abs_error"]  # no TF32 in the colour
    if SHARED.joinpath("testdata").is_dir():
        assert colour["plate_Carrots.exr"]["tf32_off"]["p999_abs_error"] < 0.01
    render = steps["render_2k"]["result"]
    assert render["plates"] == "14 half ACEScg EXR (zip) of 224x126" and render["model_input"].startswith("224x126")
    assert render["fps_steady"] > 0 and render["load_seconds"] > 0 and render["fastest"] == "eager_fp32"
    eager = render["eager_fp32"]
    assert eager["frames"] == 14 and eager["fps_steady"] == render["fps_steady"] and eager["first_frame_seconds"] >= 0
    assert json.loads((tmp_path / "handed_back" / out.name).read_text()) == report  # a device machine hands back $OUT
    table = (tmp_path / "handed_back" / "report.md").read_text()  # the docs' tables
    assert "| flashdepth-tiny-hybrid | 112x70 | fp32_graphed |" in table and table == out.with_suffix(".md").read_text()
    assert "| eager_fp32 | " in table and "| synthetic_acescg_256x144 | tf32_on |" in table


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

    def download_wheels(folder: Path) -> list[Path]:  # the real one asks the package index (run by hand)
        folder.mkdir(parents=True)
        wheels = [folder / "openimageio-3.2.2.0-cp312-cp312-manylinux_2_28_x86_64.whl"]
        wheels[0].write_bytes(b"PK")
        return wheels

    monkeypatch.setattr(module, "download_wheels", download_wheels)
    module.prepare()
    data = tmp_path / "gpu_check_data"
    assert (data / "shared" / "testdata" / "exr" / "basic" / "Carrots.exr").read_bytes() == \
        (SHARED / "testdata" / "exr" / "basic" / "Carrots.exr").read_bytes()
    assert (data / "commit.txt").read_text().strip() == "unknown"  # tmp_path is no git checkout
    reference = tmp_path / "gpu_check_data" / "shared" / "reference"
    golden = sorted(p.name for p in (SHARED / "reference" / "golden").iterdir())
    assert sorted(p.name for p in (reference / "golden").iterdir()) == golden
    assert (reference / "make_weights.py").is_file() and (reference / "manifest_full.json").is_file()
    site = tmp_path / "gpu_check_data" / "site"
    for package in ("einops", "pytest", "_pytest", "pluggy", "iniconfig"):
        assert (site / package / "__init__.py").is_file(), package
    assert not list(site.rglob("__pycache__"))
    assert "benchmarks/gpu_check_data/" in (ROOT / ".gitignore").read_text().splitlines()


def test_cuda_tests_stop_at_the_deadline_keeping_every_finished_result(tmp_path) -> None:
    """The cuda_tests step's pytest plugin: each result is written as its test ends (a run killed later keeps it),
    with its recorded properties, and tests that would start past the deadline are skipped, so pytest ends on its own
    before the step's limit."""
    (tmp_path / "test_slow.py").write_text(
        "import os, time\n\n"
        "def test_first(record_property):\n    record_property('max_abs_error', 1e-5)\n"
        "    os.environ['GPU_CHECK_DEADLINE'] = str(time.time() - 1)  # the step's time runs out during this test\n\n"
        "def test_second():\n    pass\n\n"
        "def test_third():\n    pass\n")
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks"), "GPU_CHECK_RESULTS": str(results),
           "GPU_CHECK_DEADLINE": str(time.time() + 600)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "gpu_check_pytest",
                          "test_slow.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(t["test"], t["outcome"]) for t in lines] == [("test_slow.py::test_first", "passed"),
                                                         ("test_slow.py::test_second", "skipped"),
                                                         ("test_slow.py::test_third", "skipped")]
    assert lines[0]["measured"] == {"max_abs_error": 1e-05} and "time for this step was up" in lines[1]["reason"]


def test_on_cuda_missing_carried_data_is_a_loud_failure_not_a_skip(tmp_path, monkeypatch, capsys) -> None:
    module = gpu_check()
    monkeypatch.setattr(module, "reference_dir", lambda: None)
    args = module.argparse.Namespace(device="cuda", tiny=False)
    with pytest.raises(RuntimeError, match="no golden reference data: run `benchmarks/gpu_check.sh --prepare`"):
        module.step_cuda_tests(args, {})
    assert "gpu_check: ERROR: no golden reference data" in capsys.readouterr().err
    with pytest.raises(module.Skip):
        module.step_cuda_tests(module.argparse.Namespace(device="cpu", tiny=True), {})


def test_tf32_is_restored_after_the_fp32_mode() -> None:
    import torch

    from flashdepth_vfx.engine.tuning import tf32

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with tf32(not before[0]):
        assert torch.backends.cuda.matmul.allow_tf32 is (not before[0])
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
