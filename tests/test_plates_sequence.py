"""Sequence patterns, frame ranges, gaps and output naming on real folders of files."""
from __future__ import annotations

from pathlib import Path

import pytest

from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.plates.sequence import (
    compact_frames,
    find_sequence,
    frame_path,
    output_pattern,
    parse_frame_range,
)


def touch_frames(folder: Path, name: str, frames: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        (folder / (name % frame)).write_bytes(b"")


@pytest.fixture()
def gappy(tmp_path: Path) -> Path:
    """shot.1001-1010 with 1003 and 1007-1009 missing, plus files that are not part of it."""
    touch_frames(tmp_path, "shot.%04d.exr", [1001, 1002, 1004, 1005, 1006, 1010])
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / ".shot.1003.exr.tmp-1-ab.exr").write_bytes(b"")  # a hidden temp file never counts
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1010x3", [1001, 1004, 1007, 1010]),
        ("1001-1011x5", [1001, 1006, 1011]),
        ("1001", [1001]),
        ("1010-1012, 1001,1005", [1001, 1005, 1010, 1011, 1012]),
        ("1001-1003,1002-1004", [1001, 1002, 1003, 1004]),
        ("-3--1", [-3, -2, -1]),
    ],
)
def test_parse_frame_range(spec: str, expected: list[int]) -> None:
    assert parse_frame_range(spec) == expected


@pytest.mark.parametrize("spec", ["", "abc", "1001-1010x0", "1001-", "1001x2", "1-5,,7"])
def test_parse_frame_range_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(PlateError, match="Bad frame range"):
        parse_frame_range(spec)


def test_a_reversed_range_is_named_with_the_range_to_write() -> None:
    with pytest.raises(PlateError) as error:
        parse_frame_range("1001,1010-1003")
    assert str(error.value) == "Frame range '1001,1010-1003' runs backwards (1010-1003): give the first frame first, 1003-1010"


def test_compact_frames() -> None:
    assert compact_frames([1009, 1003, 1007, 1008]) == "1003, 1007-1009"
    assert compact_frames(list(range(1, 40, 2))).endswith(", …")


@pytest.mark.parametrize("syntax", ["shot.####.exr", "shot.%04d.exr", "shot.$F4.exr", "shot.@@@@.exr"])
def test_every_padded_syntax_finds_the_same_sequence(tmp_path: Path, syntax: str) -> None:
    touch_frames(tmp_path, "shot.%04d.exr", [1001, 1002, 1003])
    touch_frames(tmp_path, "shot.%d.exr", [7])  # unpadded, must not match a 4-padded pattern
    seq = find_sequence(str(tmp_path / syntax))
    assert seq.pattern == str(tmp_path / "shot.%04d.exr")
    assert seq.frames == (1001, 1002, 1003)
    assert seq.files[1002] == tmp_path / "shot.1002.exr"
    assert seq.display_name == "shot.####.exr"
    assert seq.missing() == []


@pytest.mark.parametrize("syntax", ["shot.#.exr", "shot.%d.exr", "shot.$F.exr", "shot.@.exr"])
def test_unpadded_syntax(tmp_path: Path, syntax: str) -> None:
    touch_frames(tmp_path, "shot.%d.exr", [8, 9, 10, 11])
    (tmp_path / "shot.0012.exr").write_bytes(b"")  # zero-padded: not this sequence
    seq = find_sequence(tmp_path / syntax)
    assert seq.pattern == str(tmp_path / "shot.%d.exr")
    assert seq.frames == (8, 9, 10, 11)
    assert frame_path(seq.pattern, 9) == tmp_path / "shot.9.exr"


def test_padding_must_match(tmp_path: Path) -> None:
    touch_frames(tmp_path, "shot.%04d.exr", [1, 2])
    with pytest.raises(PlateError, match=r"No files match shot\.###\.exr"):
        find_sequence(str(tmp_path / "shot.###.exr"))


def test_gap_is_an_error_naming_the_missing_frames(gappy: Path) -> None:
    with pytest.raises(PlateError) as caught:
        find_sequence(str(gappy / "shot.####.exr"))
    message = str(caught.value)
    assert "1003, 1007-1009" in message
    assert "--missing hold|black" in message
    assert "\n" not in message


def test_gap_with_hold_uses_the_nearest_earlier_frame(gappy: Path) -> None:
    seq = find_sequence(str(gappy / "shot.####.exr"), missing="hold")
    assert seq.frames == tuple(range(1001, 1011))
    assert seq.missing() == [1003, 1007, 1008, 1009]
    assert seq.source(1003) == gappy / "shot.1002.exr"
    assert seq.source(1009) == gappy / "shot.1006.exr"
    assert seq.source(1010) == gappy / "shot.1010.exr"


def test_hold_before_the_first_frame_uses_the_first_existing(gappy: Path) -> None:
    seq = find_sequence(str(gappy / "shot.####.exr"), frames="999-1002", missing="hold")
    assert seq.missing() == [999, 1000]
    assert seq.source(999) == gappy / "shot.1001.exr"


def test_gap_with_black_gives_no_source(gappy: Path) -> None:
    seq = find_sequence(str(gappy / "shot.####.exr"), missing="black")
    assert seq.source(1007) is None
    assert seq.source(1006) == gappy / "shot.1006.exr"


def test_range_with_step(gappy: Path) -> None:
    with pytest.raises(PlateError, match=r"missing frames 1007 \(1 of 4\)"):
        find_sequence(str(gappy / "shot.####.exr"), frames="1001-1010x3")
    seq = find_sequence(str(gappy / "shot.####.exr"), frames="1001-1010x3", missing="black")
    assert seq.frames == (1001, 1004, 1007, 1010)
    assert [seq.source(f) is None for f in seq.frames] == [False, False, True, False]


def test_range_inside_the_found_frames_needs_no_policy(gappy: Path) -> None:
    seq = find_sequence(str(gappy / "shot.####.exr"), frames="1004-1006")
    assert seq.frames == (1004, 1005, 1006)


def test_requested_frames_that_all_do_not_exist(gappy: Path) -> None:
    with pytest.raises(PlateError, match="none of the requested frames 2001-2003 exist"):
        find_sequence(str(gappy / "shot.####.exr"), frames="2001-2003", missing="black")


def test_unknown_policy_and_missing_plate(gappy: Path) -> None:
    with pytest.raises(PlateError, match="missing-frame policy"):
        find_sequence(str(gappy / "shot.####.exr"), missing="skip")
    with pytest.raises(PlateError, match="Plate not found"):
        find_sequence(str(gappy / "other.exr"))
    with pytest.raises(PlateError, match="No files match"):
        find_sequence(str(gappy / "other.####.exr"))


def test_folder_of_frames(gappy: Path) -> None:
    seq = find_sequence(gappy, missing="hold")
    assert seq.pattern == str(gappy / "shot.%04d.exr")
    assert seq.frames == tuple(range(1001, 1011))


def test_folder_with_two_sequences_names_both(tmp_path: Path) -> None:
    touch_frames(tmp_path, "a.%04d.exr", [1, 2])
    touch_frames(tmp_path, "b_%03d.dpx", [1, 2])
    with pytest.raises(PlateError, match=r"holds 2 sequences \(a\.####\.exr, b_###\.dpx\)"):
        find_sequence(tmp_path)


def test_folder_without_frames(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(PlateError, match="No numbered image files"):
        find_sequence(tmp_path)


def test_single_numbered_file_is_that_frame_unless_a_range_is_given(gappy: Path) -> None:
    seq = find_sequence(str(gappy / "shot.1004.exr"))
    assert seq.frames == (1004,)
    assert seq.pattern == str(gappy / "shot.%04d.exr")
    wider = find_sequence(str(gappy / "shot.1004.exr"), frames="1004-1006")
    assert wider.frames == (1004, 1005, 1006)


def test_still_without_frame_number(tmp_path: Path) -> None:
    still = tmp_path / "photo.png"
    still.write_bytes(b"")
    seq = find_sequence(still)
    assert seq.pattern is None
    assert seq.frames == (1,)
    assert seq.source(1) == still
    assert output_pattern(seq) == str(tmp_path / "photo_depth.%04d.exr")


def test_explicit_list_uses_frame_numbers(gappy: Path) -> None:
    seq = find_sequence([gappy / "shot.1010.exr", gappy / "shot.1001.exr"])
    assert seq.pattern is None
    assert seq.frames == (1001, 1010)  # the files given, no gaps in between
    assert seq.display_name == "shot.1001.exr … shot.1010.exr (2 files)"
    assert output_pattern(seq) == str(gappy / "shot_depth.%04d.exr")


def test_explicit_list_without_frame_numbers_is_numbered_in_order(tmp_path: Path) -> None:
    names = ["zeta.exr", "alpha.exr", "mid.exr"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    seq = find_sequence([str(tmp_path / n) for n in names])
    assert seq.frames == (1, 2, 3)
    assert [seq.source(f).name for f in seq.frames] == names  # type: ignore[union-attr]


def test_explicit_list_with_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlateError, match="Plate not found"):
        find_sequence([tmp_path / "nope.0001.exr"])


@pytest.mark.parametrize(
    ("plate_name", "expected"),
    [
        ("shot.%04d.exr", "shot_depth.%04d.exr"),
        ("shot_%04d.dpx", "shot_depth_%04d.exr"),
        ("shot.%d.tif", "shot_depth.%d.exr"),
        ("%04d.png", "depth.%04d.exr"),
    ],
)
def test_default_output_is_beside_the_plates(tmp_path: Path, plate_name: str, expected: str) -> None:
    touch_frames(tmp_path, plate_name, [1, 2])
    seq = find_sequence(str(tmp_path / plate_name))
    assert output_pattern(seq) == str(tmp_path / expected)
    assert output_pattern(seq, suffix="_Z") == str(tmp_path / expected.replace("_depth", "_Z").replace("depth.", "Z."))


def test_output_overrides(gappy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = find_sequence(str(gappy / "shot.####.exr"), missing="hold")
    out = tmp_path / "renders"
    out.mkdir()
    assert output_pattern(seq, str(out)) == str(out / "shot_depth.%04d.exr")
    assert output_pattern(seq, str(tmp_path / "new") + "/") == str(tmp_path / "new" / "shot_depth.%04d.exr")
    assert output_pattern(seq, str(tmp_path / "noext")) == str(tmp_path / "noext" / "shot_depth.%04d.exr")
    assert output_pattern(seq, str(tmp_path / "z.####.tif")) == str(tmp_path / "z.%04d.exr")
    assert output_pattern(seq, str(tmp_path / "z.$F3.exr")) == str(tmp_path / "z.%03d.exr")
    assert output_pattern(seq, str(tmp_path / "z_@@@@@")) == str(tmp_path / "z_%05d.exr")
    assert output_pattern(seq, str(tmp_path / "z.%d.exr")) == str(tmp_path / "z.%d.exr")
    monkeypatch.chdir(tmp_path)
    assert output_pattern(seq, "rel/d.####.exr") == str(tmp_path / "rel" / "d.%04d.exr")
    with pytest.raises(OutputError, match="no frame number but 10 frames"):
        output_pattern(seq, str(tmp_path / "one.exr"))
    single = find_sequence(str(gappy / "shot.1001.exr"))
    assert frame_path(output_pattern(single, str(tmp_path / "one.png")), 1001) == tmp_path / "one.exr"


def test_percent_in_a_folder_name_survives(tmp_path: Path) -> None:
    folder = tmp_path / "100%_shot"
    touch_frames(folder, "plate.%04d.exr", [5, 6])
    seq = find_sequence(str(folder / "plate.####.exr"))
    assert frame_path(seq.pattern or "", 6) == folder / "plate.0006.exr"
    assert frame_path(output_pattern(seq), 6) == folder / "plate_depth.0006.exr"


def test_frame_path() -> None:
    assert frame_path("/x/shot.%04d.exr", 7) == Path("/x/shot.0007.exr")
    assert frame_path("/x/shot.%04d.exr", 12345) == Path("/x/shot.12345.exr")
    assert frame_path("/x/shot.%d.exr", 7) == Path("/x/shot.7.exr")
