"""flashdepth_vfx.hosts: settings -> jobs, result paths, frame mapping, colour, versions and node status,
the export cache, and renders driving the fake engine (tests/fake_engine.py) as a real subprocess."""
from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fake_engine
from flashdepth_vfx.bridge import RenderResult
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.colour import NUKE_DEFAULT_CONFIG, NUKE_DEFAULT_SPACES, EngineColour, engine_colour
from flashdepth_vfx.hosts.export import ExportCache, content_key, file_stamp
from flashdepth_vfx.hosts.frames import (
    BLACK, BOUNCE, EXPRESSION, HOLD, LOOP, OFFSET, START_AT, LoaderTiming, ReadTiming, format_frames, parse_frames,
)
from flashdepth_vfx.hosts.render import BackgroundRender, RenderSlots
from flashdepth_vfx.hosts.versions import (
    MANIFEST, STATE_COLOURS, DepthState, DepthVersion, list_versions, node_status, settings_key,
)
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
    assert job.to_args() == ["render", "-o", "/o/shot_depth.%04d.exr", "--mode", "depth",
                             "--device", "auto", "--progress", "json", "--", "/p/shot.####.exr"]
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


# --- frames: host time -> file frames ------------------------------------------------------------------------

def test_parse_and_format_frames() -> None:
    assert parse_frames("1001-1005x2, 1010 1012-1013") == [1001, 1003, 1005, 1010, 1012, 1013]
    assert parse_frames("-3--1") == [-3, -2, -1]
    assert format_frames([1013, 1, 2, 3, 7, 1012, 3]) == "1-3,7,1012-1013"
    for bad in ("", "a-b", "10-1", "1-5x0"):
        with pytest.raises(FlashDepthError, match="frame range"):
            parse_frames(bad)
    with pytest.raises(FlashDepthError) as error:
        parse_frames("1001 1100-1050")
    assert str(error.value) == "frame range '1001 1100-1050' runs backwards (1100-1050): give the first frame first, 1050-1100"


@pytest.mark.parametrize(("mode", "value", "script", "files"), [
    ("", "", (1, 12), (1, 12)),
    (START_AT, "1001", (1001, 1012), (1, 12)),
    (OFFSET, "1000", (1001, 1012), (1, 12)),
    (OFFSET, "-99", (-98, -87), (1, 12)),
])
def test_read_timing_start_at_and_offset(mode: str, value: str, script: Tuple[int, int],
                                         files: Tuple[int, int]) -> None:
    timing = ReadTiming(1, 12, mode, value)
    assert timing.script_range() == script
    assert [timing.file_frame(t) for t in range(script[0], script[1] + 1)] == list(range(files[0], files[1] + 1))
    assert timing.file_frames(range(script[0], script[1] + 1)) == list(range(1, 13))


def test_read_timing_expression_and_out_of_range() -> None:
    every_other = ReadTiming(1, 12, EXPRESSION, "frame*2")
    assert every_other.script_range() is None
    assert every_other.file_frames(range(1, 7), lambda t: t * 2) == [2, 4, 6, 8, 10, 12]
    assert every_other.file_frame(9, lambda t: t * 2) == 12  # past the range: held (the default)
    with pytest.raises(FlashDepthError):
        every_other.file_frame(1)
    shot = ReadTiming(1, 4, START_AT, "1001", before=LOOP, after=BOUNCE)
    assert [shot.file_frame(t) for t in range(997, 1001)] == [1, 2, 3, 4]            # loop before 1001
    assert [shot.file_frame(t) for t in range(1005, 1013)] == [4, 3, 2, 1, 1, 2, 3, 4]  # bounce after 1004
    black = ReadTiming(1, 4, OFFSET, "1000", before=BLACK, after=HOLD)
    assert (black.file_frame(1000), black.file_frame(1001), black.file_frame(2000)) == (None, 1, 4)
    assert black.file_frames(range(990, 1010)) == [1, 2, 3, 4]
    with pytest.raises(FlashDepthError, match="not a number"):
        ReadTiming(1, 4, START_AT, "soon").file_frame(1)


def test_loader_timing_for_a_depth_clip_of_a_sub_range() -> None:
    # Plate files 1001-1100 trimmed to clip frames 10-59 (files 1011-1060), placed at comp frame 1, held 2 frames.
    plate = LoaderTiming(clip_first=1001, global_in=1, trim_in=10, trim_out=59, hold_first=2)
    assert plate.file_frames()[:2] == [1011, 1012] and plate.global_out == 52
    assert [plate.file_frame(t) for t in (0, 1, 2, 3, 52, 53)] == [None, 1011, 1011, 1011, 1060, None]
    whole = plate.for_clip(range(1011, 1061))
    assert whole == LoaderTiming(1011, 1, 0, 49, 2, 0)
    depth = plate.for_clip(range(1031, 1041))  # only files 1031-1040 were rendered
    assert depth is not None and depth.file_frames() == list(range(1031, 1041))
    for comp_frame in range(depth.global_in, depth.global_out + 1):
        assert depth.file_frame(comp_frame) == plate.file_frame(comp_frame)
    assert plate.for_clip([2000]) is None and plate.for_clip([]) is None


@given(st.lists(st.integers(-50, 5000), min_size=1, max_size=40))
def test_format_then_parse_frames_round_trips(frames: List[int]) -> None:
    assert parse_frames(format_frames(frames)) == sorted(set(frames))


@given(first=st.integers(-100, 2000), length=st.integers(1, 60), mode=st.sampled_from([START_AT, OFFSET, ""]),
       value=st.integers(-3000, 3000), before=st.sampled_from([HOLD, LOOP, BOUNCE, BLACK]),
       after=st.sampled_from([HOLD, LOOP, BOUNCE, BLACK]), probe=st.integers(-5000, 5000))
def test_read_timing_maps_its_script_range_onto_its_files_and_never_outside(
        first: int, length: int, mode: str, value: int, before: str, after: str, probe: int) -> None:
    timing = ReadTiming(first, first + length - 1, mode, str(value), before, after)
    range_ = timing.script_range()
    assert range_ is not None and range_[1] - range_[0] == length - 1
    shown = [timing.file_frame(t) for t in range(range_[0], range_[1] + 1)]
    assert shown == list(range(first, first + length))  # frame for frame, in order
    anywhere = timing.file_frame(probe)
    outside = probe < range_[0] and before == BLACK or probe > range_[1] and after == BLACK
    assert (anywhere is None) == outside
    assert anywhere is None or first <= anywhere <= first + length - 1


@given(clip_first=st.integers(0, 2000), global_in=st.integers(-100, 2000), trim_in=st.integers(0, 30),
       shown=st.integers(1, 40), hold_first=st.integers(0, 5), hold_last=st.integers(0, 5),
       depth_start=st.integers(-10, 80), depth_length=st.integers(1, 80))
def test_a_depth_loader_shows_the_same_file_frame_as_the_plate_loader_wherever_it_has_one(
        clip_first: int, global_in: int, trim_in: int, shown: int, hold_first: int, hold_last: int,
        depth_start: int, depth_length: int) -> None:
    plate = LoaderTiming(clip_first, global_in, trim_in, trim_in + shown - 1, hold_first, hold_last)
    rendered = range(clip_first + depth_start, clip_first + depth_start + depth_length)
    depth = plate.for_clip(rendered)
    for comp_frame in range(plate.global_in - 2, plate.global_out + 3):
        plate_frame = plate.file_frame(comp_frame)
        depth_frame = depth.file_frame(comp_frame) if depth is not None else None
        assert depth_frame == (plate_frame if plate_frame in rendered else None)


# --- colour --------------------------------------------------------------------------------------------------

def test_engine_colour_passes_the_hosts_config_or_maps_nuke_default_names() -> None:
    assert engine_colour("ACES - ACEScg", "/show/config.ocio") == EngineColour("ACES - ACEScg", "/show/config.ocio")
    assert engine_colour("linear", "/show/config.ocio").ocio_config == "/show/config.ocio"  # that config's linear
    assert engine_colour("default (Cineon)", None) == EngineColour("Cineon", NUKE_DEFAULT_CONFIG)
    assert engine_colour("srgb", None) == EngineColour("sRGB", NUKE_DEFAULT_CONFIG)
    assert engine_colour("ACEScg", None) == EngineColour("ACEScg", None)  # left to $OCIO / the studio config
    assert engine_colour("", None) == EngineColour(None, None)


@pytest.mark.parametrize(("name", "code", "linear"), [
    ("linear", 0.5, 0.5),
    ("sRGB", 0.5, ((0.5 + 0.055) / 1.055) ** 2.4),
    ("sRGB", 0.02, 0.02 / 12.92),
    ("rec709", 0.5, ((0.5 + 0.099) / 1.099) ** (1 / 0.45)),
    ("Cineon", 685 / 1023, 1.0),
    ("Cineon", 95 / 1023, 0.0),
    ("Cineon", 445 / 1023, (10 ** ((445 - 685) / 300) - 10 ** (-590 / 300)) / (1 - 10 ** (-590 / 300))),
    ("Gamma2.2", 0.5, 0.5 ** 2.2),
    ("AlexaV3LogC", 0.391007, 0.18),
    ("SLog3", 0.5, 10 ** ((0.5 * 1023 - 420) / 261.5) * 0.19 - 0.01),
    ("raw", 0.3, 0.3),
])
def test_nuke_default_config_gives_nukes_curves(name: str, code: float, linear: float) -> None:
    ocio = pytest.importorskip("PyOpenColorIO")
    config = ocio.Config.CreateFromFile(NUKE_DEFAULT_CONFIG)
    config.validate()
    assert set(NUKE_DEFAULT_SPACES) == {space.getName() for space in config.getColorSpaces()}
    rgb = config.getProcessor(name, "linear").getDefaultCPUProcessor().applyRGB([code] * 3)
    assert rgb == pytest.approx([linear] * 3, abs=2e-5, rel=2e-5)


# --- versions and status -------------------------------------------------------------------------------------

def _write(version: DepthVersion, frames: range) -> None:
    for frame in frames:
        Path(version.frame_file(frame)).parent.mkdir(parents=True, exist_ok=True)
        Path(version.frame_file(frame)).write_text("depth")


def test_versions_are_named_by_the_settings_that_change_the_depth(tmp_path: Path) -> None:
    base = NodeSettings(plate="/p/shot.####.exr", output_dir=str(tmp_path), frames="1-12")
    same = [dataclasses.replace(base, frames="1-3")]
    other = [dataclasses.replace(base, mode="disparity"), dataclasses.replace(base, colorspace="Cineon"),
             dataclasses.replace(base, ocio_config="/c.ocio"), dataclasses.replace(base, model="flashdepth-l"),
             dataclasses.replace(base, plate="/p/other.####.exr")]
    assert {s.key() for s in same} == {base.key()}
    assert len({s.key() for s in other} | {base.key()}) == 6
    version = base.version()
    assert version.pattern == str(tmp_path / base.key() / "shot_depth.%04d.exr")
    job = base.versioned_job(resume=True)
    assert job.output == version.pattern and job.resume and settings_key(job) == base.key()
    assert DepthVersion.from_json(version.to_json()) == version
    for text in ("", "nope", "[1]", '{"key": 3, "pattern": "x"}'):
        assert DepthVersion.from_json(text) is None
    version.write_manifest(job)
    later = dataclasses.replace(base, mode="disparity")
    later.version().write_manifest(later.versioned_job())
    os.utime(Path(later.version().folder) / MANIFEST, (time.time() + 5, time.time() + 5))
    assert list_versions(str(tmp_path)) == [later.version(), version]
    assert version.manifest() is not None and version.manifest()["settings"]["mode"] == "depth"  # type: ignore[index]


def test_node_status_from_disk(tmp_path: Path) -> None:
    old = NodeSettings(plate="/p/shot.####.exr", output_dir=str(tmp_path), frames="1-12")
    new = dataclasses.replace(old, mode="disparity")
    frames = list(range(1, 13))
    status = node_status(old.version(), frames, None)
    assert (status.state, status.show, status.line()) == (DepthState.NONE, None, "Not rendered yet: press Render depth")

    _write(old.version(), range(1, 13))
    status = node_status(old.version(), frames, None)
    assert (status.state, status.show, status.done, status.colour) == (DepthState.CURRENT, old.version(), 12,
                                                                       STATE_COLOURS[DepthState.CURRENT])
    assert status.line().startswith("Current: 12 frames rendered with these settings")

    status = node_status(new.version(), frames, old.version())  # settings changed: the old depth stays shown
    assert (status.state, status.show, status.label) == (DepthState.STALE, old.version(), "stale")
    _write(new.version(), range(1, 6))  # a cancelled re-render
    status = node_status(new.version(), frames, old.version())
    assert (status.state, status.show, status.done, status.total, status.can_finish) == (
        DepthState.PARTIAL, old.version(), 5, 12, True)
    assert status.line() == ("Partial: 5 of 12 frames rendered with these settings; press Finish to render the rest; "
                             "showing the previous version until then")
    assert node_status(new.version(), frames, None).show == new.version()  # nothing older: show what there is
    _write(new.version(), range(6, 13))
    assert node_status(new.version(), frames, old.version()).show == new.version()  # complete: the loader switches
    assert node_status(new.version(), list(range(13, 20)), new.version()).state is DepthState.PARTIAL  # more frames

    for frame in frames:
        Path(old.version().frame_file(frame)).unlink()
    status = node_status(old.version(), frames, old.version())
    assert (status.state, status.show) == (DepthState.MISSING, None)
    assert status.line() == f"Missing: the depth files are gone from {old.version().folder}; press Render depth"


# --- export cache --------------------------------------------------------------------------------------------

def test_export_cache_keys_by_content_and_exports_only_missing_frames(tmp_path: Path) -> None:
    plate = tmp_path / "plate.0001.exr"
    plate.write_text("x")
    key = content_key(["Grade white=2", file_stamp(str(plate))])
    assert key == content_key(["Grade white=2", file_stamp(str(plate))]) != content_key(["Grade white=3", "x"])
    assert content_key(["ab", "c"]) != content_key(["a", "bc"])
    assert file_stamp(str(tmp_path / "none.exr")).endswith(":missing")
    cache = ExportCache.for_network(str(tmp_path), "FlashDepth1", key)
    assert cache.pattern == str(tmp_path / "source" / key / "FlashDepth1.%04d.exr")
    assert cache.missing(range(1, 6)) == [1, 2, 3, 4, 5]
    for frame in (1, 2, 3):
        Path(cache.pattern % frame).parent.mkdir(parents=True, exist_ok=True)
        Path(cache.pattern % frame).write_text("f")
    cache.mark_done([1, 2])  # frame 3 was being written when the export stopped
    assert cache.done() == [1, 2] and cache.missing(range(1, 6)) == [3, 4, 5]
    Path(cache.pattern % 2).unlink()
    assert cache.missing([1, 2]) == [2]


# --- background renders --------------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [FlashDepthError("plate gone: check the Read"), KeyError("knob"), None])
def test_a_background_render_always_ends_and_frees_its_node(tmp_path: Path, failure: Optional[Exception]) -> None:
    slots = RenderSlots()
    ended: List[Tuple[Optional[RenderResult], str]] = []
    go = threading.Event()

    def work(render: BackgroundRender) -> RenderResult:
        go.wait(10)
        if failure is not None:
            raise failure
        return render.run_engine(_job(tmp_path).job(), lambda fraction, message: None, engine=FAKE_ENGINE, poll=0.01)

    render = BackgroundRender("FlashDepth1", work, lambda r, result, message: ended.append((result, message)), slots)
    assert slots.start(render) and slots.get("FlashDepth1") is render
    assert not slots.start(BackgroundRender("FlashDepth1", work, lambda *a: None, slots))  # one render per node
    go.set()
    render.join(30)
    assert slots.get("FlashDepth1") is None and len(ended) == 1
    result, message = ended[0]
    if failure is None:
        assert result is not None and result.ok and message.startswith("Done: 5 frames")
    elif isinstance(failure, FlashDepthError):
        assert (result, message) == (None, "Error: plate gone: check the Read")
    else:
        assert result is None and message.startswith("Error: unexpected KeyError: 'knob'")
    again = BackgroundRender("FlashDepth1", lambda r: RenderResult(0, False, None), lambda *a: None, slots)
    assert slots.start(again)  # the node can render again
    again.join(5)


def test_a_failing_done_callback_still_frees_the_node_and_cancel_before_the_engine(tmp_path: Path) -> None:
    slots = RenderSlots()

    def done(render: BackgroundRender, result: Optional[RenderResult], message: str) -> None:
        raise RuntimeError("host callback bug")

    def work(render: BackgroundRender) -> RenderResult:
        render.cancel()  # the artist cancels during the export, before the engine starts
        return render.run_engine(_job(tmp_path).job(), lambda fraction, message: None, engine=FAKE_ENGINE)

    render = BackgroundRender("n", work, done, slots)
    slots.start(render)
    render.join(10)
    assert slots.get("n") is None and render.result is not None and render.result.cancelled
    assert render.message == "Cancelled: 0 frames kept" and render.engine is None


def test_host_side_code_is_python_3_9_syntax() -> None:
    """Nuke 14 runs Python 3.9: the shared host logic, the bridge and the Nuke plugin must parse there."""
    root = Path(__file__).resolve().parent.parent
    files = [*(root / "flashdepth_vfx" / "hosts").glob("*.py"), *(root / "flashdepth_vfx" / "bridge").glob("*.py"),
             *(root / "nuke").rglob("*.py")]
    assert len(files) > 15
    for path in files:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


def test_node_render_reports_the_solve_after_the_stream() -> None:
    from flashdepth_vfx.bridge import RenderEvent, RenderJob
    from flashdepth_vfx.hosts.render import NodeRender

    render = NodeRender(RenderJob(plate="shot.####.exr"), engine=["flashdepth-vfx"])
    for line in ('{"event": "start", "plate": "shot.####.exr", "total": 3}',
                 '{"event": "frame", "frame": 3, "index": 3, "total": 3, "path": "d.0003.exr"}',
                 '{"event": "done", "written": 3, "output": "d.%04d.exr"}',
                 '{"event": "solve", "index": 1, "total": 3}'):
        render._on_event(RenderEvent.from_line(line))
    fraction, message = render.progress()
    assert fraction == pytest.approx(1 / 3) and message == "Solving to the camera: frame 1/3"
    render._on_event(RenderEvent.from_line('{"event": "solve_step", "phase": "stabilize", "index": 4, "total": 10}'))
    fraction, message = render.progress()  # a long stabilise shows where it is, not the last frame event
    assert fraction == pytest.approx(0.4) and message == "Solving to the camera: stabilising, 5/10"
    render._on_event(RenderEvent.from_line('{"event": "solve_step", "phase": "fit", "index": 0, "total": 1}'))
    assert render.progress() == (0.0, "Solving to the camera: fitting the shot")
