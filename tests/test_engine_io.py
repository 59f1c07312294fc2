"""The render's I/O stages end to end: worker pools (order, one failing frame, worker count), EXR compression,
and the device colour path (run on the CPU here)."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from engine_helpers import read_channel, write_plates
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings, decode, encode
from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.plates import write_exr

FRAMES = range(1001, 1013)


@pytest.fixture()
def plates(tmp_path) -> str:
    return write_plates(tmp_path / "plates", FRAMES)


class Frames(QuietEvents):
    def __init__(self) -> None:
        self.frames: list[tuple[int, int]] = []

    def frame(self, frame, index, total, path) -> None:
        self.frames.append((frame, index))


def _render(plates: str, out: Path, checkpoint: Path, events: QuietEvents | None = None, **options):
    settings = RenderSettings(plate=plates, output=str(out / "d.####.exr"), checkpoint=str(checkpoint), **options)
    return Render(settings, events or QuietEvents(), threading.Event()).run()


def _files(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_channel(p, "depth.Z") for p in sorted(folder.glob("d.*.exr"))}


def test_worker_count_changes_nothing_but_speed_and_events_stay_in_order(plates, tmp_path, checkpoint) -> None:
    one, many = Frames(), Frames()
    _render(plates, tmp_path / "one", checkpoint, one, io_workers=1)
    _render(plates, tmp_path / "many", checkpoint, many, io_workers=4)
    assert one.frames == many.frames == [(f, i) for i, f in enumerate(FRAMES, 1)]
    a, b = _files(tmp_path / "one"), _files(tmp_path / "many")
    assert list(a) == [f"d.{f}.exr" for f in FRAMES]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_a_damaged_plate_ends_the_render_with_one_line_keeping_the_frames_before(plates, tmp_path, checkpoint,
                                                                                monkeypatch) -> None:
    folder = Path(plates).parent
    damaged = folder / "shot.1005.exr"
    damaged.write_bytes(damaged.read_bytes()[:400])  # truncated: the header opens, the pixels do not
    read: list[int] = []
    real_decode = decode.PlateDecoder.decode

    def counting(self, frame):
        read.append(frame)
        return real_decode(self, frame)

    monkeypatch.setattr(decode.PlateDecoder, "decode", counting)
    with pytest.raises(PlateError) as failure:
        _render(plates, tmp_path / "out", checkpoint, io_workers=2)
    message = str(failure.value)
    assert "shot.1005.exr" in message and "\n" not in message
    written = sorted(_files(tmp_path / "out"))
    assert written == [f"d.{f}.exr" for f in range(1001, 1001 + len(written))] and len(written) < 5  # finished frames kept
    assert max(read) <= 1005 + 3  # the stream stopped at the failure: workers + ahead at most past it
    assert not list((tmp_path / "out").glob(".*tmp*"))


def test_a_failed_write_ends_the_render_and_leaves_no_partial_file(plates, tmp_path, checkpoint, monkeypatch) -> None:
    real_write = encode.write_exr

    def failing(path, channels, **kwargs):
        if Path(path).name == "d.1004.exr":
            raise OutputError(f"Cannot write {Path(path).name}: disk full")
        real_write(path, channels, **kwargs)

    monkeypatch.setattr(encode, "write_exr", failing)
    events = Frames()
    with pytest.raises(OutputError, match="Cannot write d.1004.exr: disk full"):
        _render(plates, tmp_path / "out", checkpoint, events, io_workers=2)
    written = sorted(_files(tmp_path / "out"))
    assert written[:3] == ["d.1001.exr", "d.1002.exr", "d.1003.exr"] and "d.1004.exr" not in written
    assert len(written) <= 3 + 3  # writes already running when it failed may finish; nothing after
    assert [f for f, _ in events.frames] == [1001, 1002, 1003]  # progress is reported in order, up to the failure
    assert not list((tmp_path / "out").glob(".*tmp*"))


@pytest.mark.parametrize(("half", "asked", "stored"), [(False, "auto", "none"), (True, "auto", "zip"), (False, "piz", "piz"),
                                                       (True, "zips", "zips")])
def test_compression(plates, tmp_path, checkpoint, half, asked, stored) -> None:
    _render(plates, tmp_path / "out", checkpoint, frames="1001-1002", half=half, compression=asked)
    spec = oiio.ImageInput.open(str(tmp_path / "out" / "d.1002.exr")).spec()
    assert spec.get_string_attribute("compression") == stored
    assert str(spec.format) == ("half" if half else "float")


def test_colour_on_the_device_matches_the_cpu_processor(plates, tmp_path, checkpoint, monkeypatch) -> None:
    """The GPU path (half upload, torch colour, resize) run on the CPU: depth close to OCIO's CPU processor's."""
    _render(plates, tmp_path / "cpu", checkpoint, exact_colour=True, mode="disparity", reset_on_cut=True)
    monkeypatch.setattr(decode, "colour_on_device", lambda settings, device: not settings.exact_colour)
    seen: list[str] = []
    real = decode.DeviceDisplayConverter.__call__

    def watched(self, x):
        seen.append(str(x.dtype))
        return real(self, x)

    monkeypatch.setattr(decode.DeviceDisplayConverter, "__call__", watched)
    _render(plates, tmp_path / "device", checkpoint, mode="disparity", reset_on_cut=True)
    assert seen == ["torch.float16"] * len(FRAMES)  # uploaded as read: half floats
    cpu, device = _files(tmp_path / "cpu"), _files(tmp_path / "device")
    assert list(cpu) == list(device)
    for name in cpu:
        scale = np.abs(cpu[name]).max()
        assert np.abs(device[name] - cpu[name]).max() < 0.02 * scale, name
        assert not np.array_equal(device[name], cpu[name])  # really another path


def test_converting_only_the_pixels_the_resize_reads_changes_nothing(tmp_path, checkpoint, monkeypatch) -> None:
    """Plates much larger than the model's input: colour only on the bicubic taps gives bit-identical depth."""
    folder = tmp_path / "big"
    folder.mkdir()
    rng = np.random.default_rng(3)
    base = rng.random((900, 1600, 3), dtype=np.float32) * 2
    for f in (1, 2, 3):
        write_exr(folder / f"big.{f:04d}.exr", {c: np.roll(base, 40 * f, axis=1)[..., i] for i, c in enumerate("RGB")}, half=True)
    plates = str(folder / "big.####.exr")
    converted: list[int] = []
    real = decode.DisplayConverter.__call__

    def counting(self, rgb):
        converted.append(rgb.shape[0] * rgb.shape[1])
        return real(self, rgb)

    monkeypatch.setattr(decode.DisplayConverter, "__call__", counting)
    _render(plates, tmp_path / "sparse", checkpoint, reset_on_cut=True)
    assert all(n < 0.4 * 900 * 1600 for n in converted) and len(converted) == 3
    monkeypatch.setattr(decode, "SPARSE_COLOUR_BELOW", 0.0)
    _render(plates, tmp_path / "full", checkpoint, reset_on_cut=True)
    assert converted[3:] == [900 * 1600] * 3
    sparse, full = _files(tmp_path / "sparse"), _files(tmp_path / "full")
    assert list(sparse) == ["d.0001.exr", "d.0002.exr", "d.0003.exr"]
    for name in sparse:
        np.testing.assert_array_equal(sparse[name], full[name], err_msg=name)


@pytest.mark.parametrize(("full", "size"), [((1152, 2048), (126, 224)), ((900, 1600), (252, 448)),
                                            ((1080, 1920), (518, 924)), ((71, 130), (70, 126))])
def test_resize_from_the_taps_equals_torchs_bicubic(full, size) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(5)
    image = rng.random((*full, 3), dtype=np.float32) * 1.2  # above 1 too: the clamp
    want = F.interpolate(torch.from_numpy(image.transpose(2, 0, 1).copy())[None], size=size, mode="bicubic",
                         align_corners=False).clamp(0, 1)[0].numpy()
    rows, cols = decode.bicubic_taps(full[0], size[0]), decode.bicubic_taps(full[1], size[1])
    got = decode.bicubic_from_taps(image[np.ix_(rows, cols)], rows, cols, full, size)
    assert got.shape == (3, *size) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    more = np.union1d(rows, np.arange(0, full[0], 7))  # extra rows (the cut detector's grid) change nothing
    np.testing.assert_array_equal(decode.bicubic_from_taps(image[np.ix_(more, cols)], more, cols, full, size), got)


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_cli_makes_openmp_wait_passively_unless_told_otherwise(given, expected) -> None:
    """Busy-waiting OpenMP threads starve the I/O workers (bench_render.py --threads-check): the CLI chooses passive
    waiting before torch is imported; an explicit OMP_WAIT_POLICY wins."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, sys, flashdepth_vfx.cli; print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [expected, "False"]


def test_cancel_with_several_workers_keeps_a_prefix_of_whole_frames(plates, tmp_path, checkpoint) -> None:
    """Cancelled after two written frames with four workers a side: writes already running finish, none start after,
    and every frame reported is on disk, whole."""
    cancel = threading.Event()

    class CancelAfterTwo(Frames):
        def frame(self, frame, index, total, path) -> None:
            super().frame(frame, index, total, path)
            if index == 2:
                cancel.set()

    events = CancelAfterTwo()
    settings = RenderSettings(plate=plates, output=str(tmp_path / "out" / "d.####.exr"), checkpoint=str(checkpoint),
                              io_workers=4)
    summary = Render(settings, events, cancel).run()
    assert summary.cancelled
    written = sorted(_files(tmp_path / "out"))
    assert written == [f"d.{f}.exr" for f in range(1001, 1001 + len(written))] and 2 <= len(written) < len(FRAMES)
    assert [f for f, _ in events.frames] == list(range(1001, 1001 + len(written)))  # each file reported, in order
    assert not list((tmp_path / "out").glob(".*tmp*"))
