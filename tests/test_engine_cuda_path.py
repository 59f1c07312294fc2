"""The render's CUDA discipline, checked on the CPU through a fake of its CUDA calls (tests/fakes/cuda.py): graphs
captured before the reader and writer threads start, eager after one warning when capture fails, uploads and colour
on their own stream handed to the model's stream by events, copies back on a third stream, sleeping waits."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine_helpers import read_channel, write_plates
from fakes.cuda import FakeCuda
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.loading import load_model
from flashdepth_vfx.engine.pools import default_io_workers
from flashdepth_vfx.model import GraphedDepthStream, cuda_calls

FRAMES = range(1001, 1005)
IO_THREAD = ("flashdepth-read", "flashdepth-write")


class Warnings(QuietEvents):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, frame: int | None = None) -> None:
        self.warnings.append(message)


def render(plates: str, out: Path, checkpoint: Path, graphs: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    loaded = dataclasses.replace(load_model(str(checkpoint), None, torch.device("cpu")), cuda_graphs=graphs)
    events = Warnings()
    settings = RenderSettings(plate=plates, output=str(out / "depth.####.exr"), checkpoint=str(checkpoint), io_workers=2)
    Render(settings, events, loaded=loaded).run()
    return {p.name: read_channel(p, "depth.Z") for p in sorted(out.glob("depth.*.exr"))}, events.warnings


@pytest.fixture(scope="module")
def plates(tmp_path_factory) -> str:
    return write_plates(tmp_path_factory.mktemp("plates"), FRAMES)


@pytest.fixture(scope="module")
def eager(plates, tmp_path_factory, checkpoint) -> dict[str, np.ndarray]:
    depth, warnings = render(plates, tmp_path_factory.mktemp("eager"), checkpoint, graphs=False)
    assert len(depth) == len(FRAMES) and not warnings
    return depth


def use_fake(monkeypatch, fake: FakeCuda) -> FakeCuda:
    monkeypatch.setattr(cuda_calls, "for_device", lambda device: fake)
    return fake


def test_the_fake_fails_a_call_of_another_thread_during_a_capture() -> None:
    fake = FakeCuda(capture_seconds=0.3)
    errors: list[BaseException] = []
    started = threading.Event()

    def step() -> torch.Tensor:
        started.set()
        return torch.zeros(1)

    def foreign() -> None:
        started.wait()
        try:
            fake.event()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=foreign, name="flashdepth-read")
    thread.start()
    fake.capture(torch.device("cpu"), step)
    thread.join()
    assert [str(e) for e in errors] == ["operation not permitted when stream is capturing"]
    assert fake.violations == ["flashdepth-read: event during a capture"]


def test_graphs_are_captured_before_the_io_threads_and_uploads_run_on_their_own_streams(
        plates, tmp_path, checkpoint, eager, monkeypatch) -> None:
    fake = use_fake(monkeypatch, FakeCuda())
    depth, warnings = render(plates, tmp_path / "graphed", checkpoint, graphs=True)
    assert not warnings and not fake.violations
    assert depth.keys() == eager.keys()
    for name in depth:  # replaying the captured step gives the eager render's depth
        np.testing.assert_array_equal(depth[name], eager[name])
    captures = [i for i, entry in enumerate(fake.log) if entry[1] == "capture"]
    io_calls = [i for i, entry in enumerate(fake.log) if entry[0].startswith(IO_THREAD)]
    assert len(captures) == 1 and io_calls and captures[0] < io_calls[0]  # captured before the threads' first call
    assert fake.log[captures[0]][0] == "MainThread"
    assert len(fake.calls("replay")) == len(FRAMES)  # every frame replays the graph: the shot's size was prepared
    check_side_streams(fake)


def next_of_thread(log: list, index: int) -> tuple:
    """The call after ``log[index]`` made by the same thread (the other threads' calls interleave with it)."""
    return next(entry for entry in log[index + 1:] if entry[0] == log[index][0])


def check_side_streams(fake: FakeCuda) -> None:
    """Uploads and colour on their own stream, handed to the model's stream by events; copies back on a third."""
    log = fake.log
    upload, copy = (entry[2] for entry in fake.calls("stream")[:2])  # the render's streams, made in this order
    # the reader uploads on the upload stream, never on the model's
    uploads = [e for e in log if e[1] == "to_device"]
    assert len(uploads) == len(FRAMES) and {e[0] for e in uploads} == {"flashdepth-read"} and {e[2] for e in uploads} == {upload}
    # each frame: handed over to the model's stream, then its ready event recorded on the upload stream ...
    ready = [next_of_thread(log, i)[2] for i, e in enumerate(log)
             if e[1] == "hand_over" and e[2] == "model" and e[0] == "flashdepth-read"]
    assert len(ready) == len(FRAMES)
    assert all(e[1:] == ("record", name, upload) for name in ready for e in log if e[1] == "record" and e[2] == name)
    # ... and the model's stream waits for it (on the device) before the frame's replay, frame after frame
    main = [e for e in log if e[0] == "MainThread" and e[1] in ("wait_event", "replay") and (e[1] == "replay" or e[2] == "model")]
    assert [e[1] for e in main] == ["wait_event", "replay"] * len(FRAMES)
    assert [e[3] for e in main if e[1] == "wait_event"] == ready
    # a pinned staging buffer is refilled only after its copy of two frames before has left it (a host wait)
    staged = [next_of_thread(log, i)[2] for i, e in enumerate(log) if e[1] == "to_device"]
    waits = [e[2] for e in log if e[1] == "synchronize" and e[0] == "flashdepth-read"]
    assert waits == staged[: len(FRAMES) - 2]
    # copies back: after an event of the model's stream, on the copy stream; the writers wait for them
    copied_after = [e[3] for e in log if e[1] == "wait_event" and e[2] == copy]
    assert len(copied_after) == len(FRAMES)
    assert all(("MainThread", "record", name, "model") in log for name in copied_after)
    done = [e[2] for e in log if e[1] == "record" and e[3] == copy]
    assert sorted(e[2] for e in log if e[1] == "synchronize" and e[0].startswith("flashdepth-write")) == sorted(done)
    # only the render's own thread issues work to the model's stream
    on_model = [e for e in log if (e[1] == "record" and e[3] == "model") or (e[1] in ("wait_event", "replay", "wait_stream")
                                                                           and e[2] == "model")]
    assert on_model and {e[0] for e in on_model} == {"MainThread"}


def test_a_failed_capture_renders_eagerly_after_one_warning(plates, tmp_path, checkpoint, eager, monkeypatch) -> None:
    fake = use_fake(monkeypatch, FakeCuda(capture_seconds=0.0, fail_capture=True))
    depth, warnings = render(plates, tmp_path / "fallback", checkpoint, graphs=True)
    assert len(warnings) == 1, warnings
    assert "CUDA graph capture failed for 126x84 frames" in warnings[0] and "rendering without CUDA graphs" in warnings[0]
    assert not fake.calls("replay") and not fake.violations
    for name in eager:
        np.testing.assert_array_equal(depth[name], eager[name])


def test_a_plate_of_another_size_mid_shot_runs_eagerly_with_one_warning(tmp_path, checkpoint, monkeypatch) -> None:
    import OpenImageIO as oiio

    plates = write_plates(tmp_path / "plates", FRAMES)
    small = str(tmp_path / "plates" / "shot.1003.exr")  # a smaller plate mid-shot: another model input size
    out = oiio.ImageOutput.create(small)
    assert out is not None and out.open(small, oiio.ImageSpec(112, 70, 3, oiio.HALF))
    assert out.write_image(np.full((70, 112, 3), 0.2, np.float32))
    out.close()
    fake = use_fake(monkeypatch, FakeCuda(capture_seconds=0.0))
    depth, warnings = render(plates, tmp_path / "out", checkpoint, graphs=True)
    assert len(depth) == len(FRAMES) and depth["depth.1003.exr"].shape == (70, 112)
    assert warnings == ["frame 1003: 112x70 model input, not the shot's first size: frames of this size run without "
                        "CUDA graphs"]
    assert len(fake.calls("capture")) == 1 and len(fake.calls("replay")) == len(FRAMES) - 1 and not fake.violations


def test_a_sealed_stream_runs_a_new_size_eagerly(tmp_path, checkpoint, monkeypatch) -> None:
    fake = use_fake(monkeypatch, FakeCuda(capture_seconds=0.0))
    model = load_model(str(checkpoint), None, torch.device("cpu")).model
    stream = GraphedDepthStream(model)
    stream.prepare((1, 3, 84, 126))
    stream.seal()
    stream.step(torch.rand(1, 3, 84, 126))
    stream.step(torch.rand(1, 3, 70, 112))  # not captured: the I/O threads may be running
    assert len(fake.calls("capture")) == 1 and len(fake.calls("replay")) == 1
    assert stream.graphed((1, 3, 84, 126)) and not stream.graphed((1, 3, 70, 112))


def test_io_workers_leave_the_thread_feeding_a_gpu_a_core() -> None:
    assert default_io_workers(16) == 16 and default_io_workers(16, feeding_device=True) == 7
    assert default_io_workers(2, feeding_device=True) == 2


def test_graphs_are_the_cuda_default_and_combine_with_compile(checkpoint) -> None:
    from flashdepth_vfx.errors import FlashDepthError

    assert RenderSettings("shot.####.exr").cuda_graphs is None  # None: on with CUDA
    cpu = torch.device("cpu")
    assert load_model(str(checkpoint), None, cpu).cuda_graphs is False  # off CUDA: eager, no error
    with pytest.raises(FlashDepthError, match="--cuda-graphs needs a CUDA device"):
        load_model(str(checkpoint), None, cpu, cuda_graphs=True)
    assert load_model(str(checkpoint), None, cpu, compile=True).cuda_graphs is False  # no longer exclusive


def test_render_tuning_pins_attention_and_tunes_cudnn_for_the_render_only() -> None:
    from flashdepth_vfx.engine.tuning import render_tuning
    from flashdepth_vfx.errors import OptionError

    with pytest.raises(OptionError, match="--attention 'fastest': use one of auto, flash, efficient, cudnn, math"):
        RenderSettings("shot.####.exr", attention="fastest")
    before = (torch.backends.cudnn.benchmark, torch.backends.cuda.flash_sdp_enabled(), torch.backends.cuda.math_sdp_enabled())
    with render_tuning(torch.device("cuda"), "math"):  # flags only: no CUDA call, so this runs on a CPU too
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.math_sdp_enabled()
        assert not torch.backends.cuda.flash_sdp_enabled() and not torch.backends.cuda.mem_efficient_sdp_enabled()
    assert (torch.backends.cudnn.benchmark, torch.backends.cuda.flash_sdp_enabled(),
            torch.backends.cuda.math_sdp_enabled()) == before
    with render_tuning(torch.device("cpu"), "flash"):  # nothing changes off CUDA
        assert torch.backends.cudnn.benchmark == before[0] and torch.backends.cuda.math_sdp_enabled() == before[2]
