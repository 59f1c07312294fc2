"""flashdepth_vfx.hosts.common: settings -> jobs, result paths, the cached-result check, and NodeRender
driving the fake engine (tests/fake_engine.py) as a real subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

import fake_engine
from flashdepth_vfx.bridge import RenderResult
from flashdepth_vfx.hosts.common import (
    DEFAULT,
    CachedRender,
    CacheState,
    NodeRender,
    NodeSettings,
    cache_state,
    default_output_dir,
    frame_file,
    houdini_pattern,
    output_pattern,
    sequence_from_frame_file,
    status_line,
    summary,
)

FAKE_ENGINE = [sys.executable, str(Path(fake_engine.__file__).resolve())]


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("/p/shot.####.exr", "/o/shot_depth.%04d.exr"),
        ("/p/shot.%05d.exr", "/o/shot_depth.%05d.exr"),
        ("/p/shot.$F3.exr", "/o/shot_depth.%03d.exr"),
        ("/p/shot_v002.@@@@@@.exr", "/o/shot_v002_depth.%06d.exr"),
        ("/p/shot_0101.dpx", "/o/shot_depth.%04d.exr"),
        ("/m/clip.mov", "/o/clip_depth.%04d.exr"),
    ],
)
def test_output_pattern_names_depth_after_the_plate_with_its_padding(plate: str, expected: str) -> None:
    assert output_pattern(plate, "/o") == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/p/shot.1001.exr", "/p/shot.####.exr"),
        ("/p/a_00001.dpx", "/p/a_#####.dpx"),
        ("/p/shot_v001.exr", "/p/shot_v001.exr"),  # a version number is not a frame
        ("/m/clip.mov", "/m/clip.mov"),
    ],
)
def test_sequence_from_frame_file(path: str, expected: str) -> None:
    assert sequence_from_frame_file(path) == expected


def test_houdini_pattern_and_default_output_dir() -> None:
    assert houdini_pattern("/o/shot_depth.%04d.exr") == "/o/shot_depth.$F4.exr"
    assert houdini_pattern("/o/s.%d.exr") == "/o/s.$F.exr"
    assert default_output_dir("/show/comp", "FlashDepth1") == os.path.join("/show/comp", "flashdepth", "FlashDepth1")
    assert default_output_dir(None, "n") == os.path.join(tempfile.gettempdir(), "flashdepth-vfx", "flashdepth", "n")


def test_settings_job_leaves_defaults_to_the_engine_and_checkpoint_wins_over_model() -> None:
    job = NodeSettings(plate="/p/shot.####.exr", output_dir="/o").job()
    assert job.to_args() == ["render", "/p/shot.####.exr", "-o", "/o/shot_depth.%04d.exr", "--mode", "depth",
                             "--device", "auto", "--progress", "json"]
    job = NodeSettings(plate="/p/s.%04d.exr", output_dir="/o", checkpoint=" /c/fd.safetensors ", model="flashdepth-l",
                       colorspace="ACES - ACEScg", frames="1001-1010", precision="fp16", device=DEFAULT).job()
    assert (job.checkpoint, job.model, job.colorspace, job.frames, job.precision, job.device) == (
        "/c/fd.safetensors", None, "ACES - ACEScg", "1001-1010", "fp16", None)
    assert NodeSettings(plate="/p/s.%04d.exr", output_dir="/o", model="flashdepth-s").job().model == "flashdepth-s"


def _cached(tmp_path: Path, written: int = 3, total: int = 3, fingerprint: str = "") -> CachedRender:
    pattern = str(tmp_path / "shot_depth.%04d.exr")
    for frame in range(1001, 1001 + written):
        Path(pattern % frame).write_text("depth")
    return CachedRender(fingerprint, pattern, 1001, 1000 + total, written, total)


def test_cached_render_json_round_trip_and_unreadable_records(tmp_path: Path) -> None:
    cached = _cached(tmp_path, fingerprint="abc")
    assert CachedRender.from_json(cached.to_json()) == cached
    wrong_type = json.dumps({**json.loads(cached.to_json()), "first": "1001"})
    for text in ("", "not json", "[1, 2]", '{"fingerprint": "abc"}', wrong_type):
        assert CachedRender.from_json(text) is None


def test_cache_state_and_status_lines(tmp_path: Path) -> None:
    job = NodeSettings(plate="/p/shot.####.exr", output_dir=str(tmp_path)).job()
    fresh = _cached(tmp_path, fingerprint=job.fingerprint())
    assert cache_state(None, job) is CacheState.NONE
    assert cache_state(fresh, job) is CacheState.FRESH
    assert status_line(CacheState.FRESH, fresh) == f"Up to date: 3 frames (1001-1003) in {fresh.output}"
    changed = NodeSettings(plate="/p/shot.####.exr", output_dir=str(tmp_path), mode="disparity").job()
    assert cache_state(fresh, changed) is CacheState.STALE
    assert status_line(CacheState.STALE, fresh).startswith("Stale: settings changed")
    partial = CachedRender(job.fingerprint(), fresh.output, 1001, 1010, 3, 10)
    assert cache_state(partial, job) is CacheState.PARTIAL
    assert status_line(CacheState.PARTIAL, partial) == "Partial: 3 of 10 frames rendered; press Render depth to finish"
    Path(fresh.frame_file(1001)).unlink()
    assert cache_state(fresh, job) is CacheState.MISSING
    assert fresh.frame_file(1001) in status_line(CacheState.MISSING, fresh)
    assert status_line(CacheState.NONE, None) == "Not rendered yet: press Render depth"


def test_summary_lines() -> None:
    done = RenderResult(0, False, None, ["/o/a.1001.exr", "/o/a.1002.exr"], "/o/a.%04d.exr", ["12 NaNs"])
    assert summary(done) == "Done: 2 frames in /o/a.%04d.exr (1 warnings, last: 12 NaNs)"
    assert summary(RenderResult(130, True, None, ["/o/a.1001.exr"])) == "Cancelled: 1 frames kept"
    assert summary(RenderResult(1, False, "Checkpoint x not found: pass --checkpoint")) == (
        "Error: Checkpoint x not found: pass --checkpoint")


def _job(tmp_path: Path, frames: str = "1001-1005") -> NodeSettings:
    return NodeSettings(plate=str(tmp_path / "plates" / "shot.####.exr"), output_dir=str(tmp_path / "out"),
                        frames=frames)


def test_node_render_reports_progress_and_makes_the_cache_record(tmp_path: Path) -> None:
    settings = _job(tmp_path)
    work = NodeRender(settings.job(), engine=FAKE_ENGINE)
    reports: List[Tuple[Optional[float], str]] = []
    result = work.run(lambda fraction, message: reports.append((fraction, message)), poll=0.01)
    assert result.ok and len(result.written) == 5
    assert reports[-1][0] == 1.0 and reports[-1][1].startswith("Frame 1005 (5/5)")
    fractions = [f for f, _ in reports if f is not None]
    assert fractions == sorted(fractions)
    cached = work.cached(result)
    assert cached == CachedRender(settings.job().fingerprint(), str(tmp_path / "out" / "shot_depth.%04d.exr"),
                                  1001, 1005, 5, 5)
    assert cache_state(cached, settings.job()) is CacheState.FRESH


def test_node_render_cancels_when_the_host_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.1")
    work = NodeRender(_job(tmp_path, "1001-1100").job(), engine=FAKE_ENGINE)
    progress: List[Optional[float]] = []
    result = work.run(lambda fraction, message: progress.append(fraction),
                      is_cancelled=lambda: any(f for f in progress), poll=0.01)
    assert result.cancelled and 1 <= len(result.written) < 100
    cached = work.cached(result)
    assert cached is not None and (cached.written, cached.total) == (len(result.written), 100)


def test_node_render_cancels_when_report_raises_and_wait_gives_the_result(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.1")
    work = NodeRender(_job(tmp_path, "1001-1100").job(), engine=FAKE_ENGINE)

    def interrupt(fraction: Optional[float], message: str) -> None:
        if fraction:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        work.run(interrupt, poll=0.01)
    result = work.wait()
    assert result.cancelled and work.cancel_requested
    assert work.cached(RenderResult(1, False, "boom")) is None  # nothing written: nothing to remember


def test_host_side_modules_import_without_numpy_or_torch() -> None:
    """Host Pythons (Nuke, Houdini, Resolve) have neither: the shared module and the Resolve adapter must not
    pull them in."""
    code = ("import sys; import flashdepth_vfx.hosts.common, flashdepth_resolve.fusion_comp, "
            "flashdepth_resolve.timeline; print(sorted({'numpy', 'torch'} & set(sys.modules)))")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "resolve")])})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_frame_patterns_for_pickers_and_previews() -> None:
    assert sequence_from_frame_file("/x/sh010.1001.exr") == "/x/sh010.####.exr"
    assert sequence_from_frame_file("/x/sh010_v002_00120.DPX") == "/x/sh010_v002_#####.DPX"
    assert sequence_from_frame_file("/x/clip_v002.mov") == "/x/clip_v002.mov"  # movies stay whole
    assert sequence_from_frame_file("/x/clip_0002.mov") == "/x/clip_0002.mov"
    assert sequence_from_frame_file("/x/still.exr") == "/x/still.exr"
    assert frame_file("/x/a.####.exr", 1001) == "/x/a.1001.exr"
    assert frame_file("/x/a.%04d.exr", 7) == "/x/a.0007.exr"
    assert frame_file("/x/a.%d.exr", 7) == "/x/a.7.exr"
    assert frame_file("/x/a.$F4.exr", 12) == "/x/a.0012.exr"
    assert frame_file("/x/a.@@@.exr", 5) == "/x/a.005.exr"
    assert frame_file("/x/v#1/a.##.exr", 5) == "/x/v#1/a.05.exr"  # only the last token is the frame
    assert frame_file("/x/a.exr", 5) == "/x/a.exr"
