"""Property-based tests (Hypothesis) for frame ranges, sequence patterns and where a render writes (issue 11).

Generated ranges, pattern spellings and output spellings: only the project's own errors, never an output outside
the output pattern (snapshots aside), never a changed input file.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from engine_helpers import write_plates, write_tiny_checkpoint
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.loading import load_model
from flashdepth_vfx.errors import FlashDepthError, PlateError
from flashdepth_vfx.plates.sequence import MAX_RANGE_FRAMES, find_sequence, frame_path, output_pattern, parse_frame_range

FAST = settings(max_examples=40, deadline=None)

# ------------------------------------------------------------------------------------------------ frame ranges
frame = st.integers(-50, 2000)
run = st.tuples(frame, st.integers(0, 300), st.integers(1, 7))  # (first, length, step)


def spell(first: int, length: int, step: int) -> str:
    last = first + length
    return str(first) if length == 0 and step == 1 else f"{first}-{last}" + (f"x{step}" if step > 1 else "")


@FAST
@given(runs=st.lists(run, min_size=1, max_size=4))
def test_parsed_ranges_are_exactly_the_frames_asked_for(runs: list[tuple[int, int, int]]) -> None:
    spec = ",".join(spell(*r) for r in runs)
    expected = sorted({f for first, length, step in runs for f in range(first, first + length + 1, step)})
    assert parse_frame_range(spec) == expected
    lo, hi = expected[0] + 5, expected[-1] - 5
    if lo <= hi:
        with pytest.raises(PlateError, match="only; check --frames"):
            parse_frame_range(spec, (lo, hi))  # bounded: the first and last frame are outside
    assert parse_frame_range(spec, (expected[0], expected[-1])) == expected


@FAST
@given(spec=st.text(alphabet="0123456789-x, ", max_size=24) | st.text(max_size=12))
def test_any_text_is_frames_or_a_plate_error(spec: str) -> None:
    try:
        frames = parse_frame_range(spec, (-10, 10**6))
    except PlateError as exc:
        assert "\n" not in str(exc)
        return
    assert frames == sorted(set(frames)) and frames and -10 <= frames[0] and frames[-1] <= 10**6


@FAST
@given(first=st.integers(-10**9 + 1, 10**9 - 1), length=st.integers(10**6, 10**9))
def test_huge_ranges_are_refused_before_they_are_expanded(first: int, length: int) -> None:
    spec = f"{first}-{min(first + length, 10**9 - 1)}"
    assume(min(first + length, 10**9 - 1) - first >= MAX_RANGE_FRAMES)
    with pytest.raises(PlateError):
        parse_frame_range(spec)  # no window: refused by size, without building the list
    with pytest.raises(PlateError):
        parse_frame_range(spec, (1, 100))


# ------------------------------------------------------------------------------------------------ patterns
TOKENS = {  # artist spelling -> padding it means
    "####": 4, "%04d": 4, "$F4": 4, "@@@@": 4, "###": 3, "%03d": 3, "$F3": 3, "#": 0, "%d": 0, "$F": 0, "@": 0,
}
heads = st.text(alphabet="abcXYZ_-. %é", min_size=1, max_size=6).filter(lambda h: not h.startswith(".") and "%" not in h[-1:])


@FAST
@given(head=heads, token=st.sampled_from(sorted(TOKENS)), frames=st.sets(st.integers(0, 1200), min_size=1, max_size=5),
       ext=st.sampled_from([".exr", ".dpx", ".tif"]))
def test_every_spelling_finds_exactly_its_files(head: str, token: str, frames: set[int], ext: str) -> None:
    padding = TOKENS[token]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        names = {f: (f"{head}{f:0{padding}d}{ext}" if padding else f"{head}{f}{ext}") for f in frames}
        for name in names.values():
            (root / name).write_bytes(b"")
        (root / f"{head}x{ext}").write_bytes(b"")  # not a frame
        seq = find_sequence(str(root / f"{head}{token}{ext}"), missing="black")
        assert {f: p.name for f, p in seq.files.items()} == names
        assert seq.frames == tuple(range(min(frames), max(frames) + 1))
        for f in seq.files:
            assert frame_path(seq.pattern, f) == seq.files[f]  # the pattern round-trips
        out = output_pattern(seq)
        assert not set(frame_path(out, f) for f in seq.frames) & set(seq.files.values())


# ------------------------------------------------------------------------------------------------ real renders
def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def _printf_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(%%|%0?\d*d)", pattern)
    return re.compile("".join("%" if p == "%%" else r"-?\d+" if p.startswith("%") else re.escape(p) for p in parts))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    checkpoint = write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")
    return load_model(str(checkpoint), None, torch.device("cpu"))


OUTPUT_FOLDERS = ["plates", "alias", "out", "plates/sub"]  # alias: a symlink to plates
OUTPUT_NAMES = ["shot.####.exr", "shot.%04d.exr", "shot.$F4.exr", "shot.@@@@.exr", "shot.#.exr", "shot_depth.####.exr",
                "depth.%03d.exr", "shot.0002.exr", "x.png", "", "shot.####.png"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=st.sampled_from(OUTPUT_FOLDERS), name=st.sampled_from(OUTPUT_NAMES),
       frames=st.sampled_from([None, "1", "2-3", "1-3x2", "3", "0-9"]), missing=st.sampled_from(["error", "black"]),
       foreign=st.booleans(), overwrite=st.booleans())
def test_renders_write_only_inside_their_output_pattern(loaded, folder: str, name: str, frames: str | None, missing: str,
                                                        foreign: bool, overwrite: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_plates(root / "plates", [1, 2, 3] if missing == "error" else [1, 3])
        (root / "alias").symlink_to(root / "plates")
        (root / "out").mkdir()
        if foreign:  # someone else's file where the default depth output goes
            (root / "out" / "shot_depth.0001.exr").write_bytes(b"not ours")
        inputs = _hashes(root)
        settings_ = RenderSettings(plate=str(root / "plates" / "shot.####.exr"), output=str(root / folder / name) + ("/" if not name else ""),
                                   frames=frames, missing=missing, overwrite=overwrite)
        try:
            summary = Render(settings_, QuietEvents(), loaded=loaded).run()
        except FlashDepthError as exc:
            event(f"refused: {str(exc).split(':')[0][-20:]}")
            summary = None
        after = _hashes(root)
        changed = {p for p in inputs if after.get(p) != inputs[p]}
        if summary is not None:
            event("rendered")
            allowed = _printf_regex(os.path.realpath(Path(summary.output).parent) + "/" + Path(summary.output).name)
            created = [root / p for p in after if p not in inputs]
            for path in created + [root / p for p in changed]:
                real = os.path.realpath(path)
                assert allowed.fullmatch(real) or "/.flashdepth/" in real, (real, summary.output)
            assert all(p.startswith("out/shot_depth") for p in changed) and (overwrite or not changed)
        else:
            assert not changed
        for plate in ("plates/shot.0001.exr", "plates/shot.0003.exr"):
            assert after[plate] == inputs[plate]
