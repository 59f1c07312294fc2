"""flashdepth_vfx.bridge: jobs, finding the engine, and real engine subprocesses (tests/fake_engine.py)."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

import fake_engine
from flashdepth_vfx.bridge import engine as bridge_engine
from flashdepth_vfx.bridge import preview as bridge_preview
from flashdepth_vfx.bridge import runner
from flashdepth_vfx.bridge import (
    EngineNotFound,
    PreviewError,
    RenderEvent,
    RenderJob,
    RenderProcess,
    config_path,
    find_engine,
    make_preview,
)

FAKE_ENGINE = [sys.executable, str(Path(fake_engine.__file__).resolve())]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX shell scripts and signals")


def make_job(tmp_path: Path, frames: str = "1001-1005") -> RenderJob:
    plate = tmp_path / "plates" / "shot.####.exr"
    return RenderJob(plate=str(plate), output=str(tmp_path / "out dir" / "shot_depth.%04d.exr"), frames=frames)


def run_fake(job: RenderJob, mode: str, events: List[RenderEvent] | None = None, **env: str) -> RenderProcess:
    process = RenderProcess(job, engine=FAKE_ENGINE, on_event=None if events is None else events.append,
                            env={"FAKE_ENGINE_MODE": mode, **env})
    process.start()
    return process


# --- RenderJob ---------------------------------------------------------------------------------------------

def test_to_args_passes_only_set_options_in_order_and_ends_options_before_the_plate() -> None:
    job = RenderJob(plate="/s/p.####.exr", output="/o/d.%04d.exr", frames="1001-1010x2", model="flashdepth-s",
                    colorspace="ACES - ACEScg", ocio_config="/show/config.ocio", mode="depth", device="cuda",
                    precision="fp16", resume=True, extra_args=("--half", "--missing", "hold"))
    assert job.to_args() == [
        "render", "-o", "/o/d.%04d.exr", "--frames", "1001-1010x2", "--model", "flashdepth-s",
        "--colorspace", "ACES - ACEScg", "--ocio-config", "/show/config.ocio", "--mode", "depth", "--device", "cuda",
        "--precision", "fp16", "--resume", "--half", "--missing", "hold", "--progress", "json", "--", "/s/p.####.exr",
    ]
    assert RenderJob(plate="a.exr", checkpoint="/c/w.safetensors").to_args() == [
        "render", "--checkpoint", "/c/w.safetensors", "--progress", "json", "--", "a.exr"]


def test_a_plate_named_like_an_option_reaches_the_engine_as_the_plate(tmp_path: Path) -> None:
    for plate in ("--help", "-o"):
        events: List[RenderEvent] = []
        job = RenderJob(plate=plate, output=str(tmp_path / "d.%04d.exr"), frames="1-2")
        result = RenderProcess(job, engine=FAKE_ENGINE, on_event=events.append).run()
        assert result.ok, result.error
        start = next(e for e in events if e.kind == "start")
        assert start.data["plate"] == plate and start.data["argv"][-2:] == ["--", plate]


def test_dict_round_trip_through_json() -> None:
    job = RenderJob(plate="p.####.exr", frames="1-3", precision="bf16", extra_args=("--half",))
    data = json.loads(json.dumps(job.to_dict()))
    assert data["extra_args"] == ["--half"]
    assert RenderJob.from_dict(data) == job
    with pytest.raises(ValueError, match="unknown render job setting.*colour"):
        RenderJob.from_dict({"plate": "p.exr", "colour": "x"})


def test_fingerprint_is_stable_and_follows_every_setting() -> None:
    job = RenderJob(plate="p.####.exr", frames="1-3", model="flashdepth")
    assert job.fingerprint() == "920c702576495b5e"  # unchanged by the later optional fields (ocio_config, resume)
    assert job.fingerprint() == RenderJob(model="flashdepth", frames="1-3", plate="p.####.exr").fingerprint()
    assert len(job.fingerprint()) == 16 and int(job.fingerprint(), 16) >= 0
    changed = [RenderJob(plate="p.####.exr", frames="1-4", model="flashdepth"),
               RenderJob(plate="p.####.exr", frames="1-3", model="flashdepth-l"),
               RenderJob(plate="p.####.exr", frames="1-3", model="flashdepth", extra_args=("--half",)),
               RenderJob(plate="q.####.exr", frames="1-3", model="flashdepth"),
               RenderJob(plate="p.####.exr", frames="1-3", model="flashdepth", ocio_config="/c.ocio"),
               RenderJob(plate="p.####.exr", frames="1-3", model="flashdepth", resume=True)]
    assert len({job.fingerprint()} | {other.fingerprint() for other in changed}) == 7
    # Same value in another interpreter (no per-process hash seed).
    code = ("from flashdepth_vfx.bridge import RenderJob;"
            "print(RenderJob(plate='p.####.exr', frames='1-3', model='flashdepth').fingerprint())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == job.fingerprint()


# --- events ------------------------------------------------------------------------------------------------

def test_event_parsing() -> None:
    frame = RenderEvent.from_line('{"event": "frame", "frame": 1003, "index": 3, "total": 4, "path": "/o/d.1003.exr"}\n')
    assert (frame.kind, frame.frame, frame.index, frame.total, frame.path) == ("frame", 1003, 3, 4, "/o/d.1003.exr")
    assert frame.fraction == pytest.approx(0.75)
    assert frame.message is None
    warning = RenderEvent.from_line('{"event": "warning", "message": "hold frame 1004"}')
    assert (warning.kind, warning.message, warning.frame, warning.fraction) == ("warning", "hold frame 1004", None, None)
    for text in ("Loading weights...", "[1, 2]", '{"frame": 3}', '{"event": 5}', ""):
        log = RenderEvent.from_line(text + "\r\n", "stdout")
        assert (log.kind, log.message, log.data["stream"]) == ("log", text, "stdout")
    assert RenderEvent("frame", {"index": 1, "total": 0}).fraction is None


# --- find_engine -------------------------------------------------------------------------------------------

def make_executable(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@posix_only
def test_find_engine_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = make_executable(tmp_path / "explicit", "fd")
    from_env = make_executable(tmp_path / "env", "fd-env")
    from_config = make_executable(tmp_path / "config tools", "fd-config")
    on_path = make_executable(tmp_path / "bin", "flashdepth-vfx")
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps({"engine": str(from_config)}))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("FLASHDEPTH_VFX_CONFIG", str(config))
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", str(from_env))

    assert find_engine(str(explicit)) == [str(explicit)]
    assert find_engine() == [str(from_env)]
    monkeypatch.delenv("FLASHDEPTH_VFX_BIN")
    assert find_engine() == [str(from_config)]  # a path with a space is kept whole
    config.write_text(json.dumps({"other": 1}))
    assert find_engine() == [str(on_path)]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EngineNotFound, match=r"not found on PATH: install it, or set \$FLASHDEPTH_VFX_BIN"):
        find_engine()


@posix_only
def test_find_engine_command_lines_and_default_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHDEPTH_VFX_BIN", raising=False)
    monkeypatch.delenv("FLASHDEPTH_VFX_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert config_path() == tmp_path / ".config" / "flashdepth-vfx" / "bridge.json"
    config_path().parent.mkdir(parents=True)
    config_path().write_text(json.dumps({"engine": f"{Path(sys.executable).name} -m flashdepth_vfx --quiet"}))
    assert find_engine() == [sys.executable, "-m", "flashdepth_vfx", "--quiet"]
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", "'/opt/flash depth/bin/flashdepth-vfx' --debug")
    with pytest.raises(EngineNotFound, match=r"\$FLASHDEPTH_VFX_BIN points at '/opt/flash depth/bin/flashdepth-vfx'"):
        find_engine()  # a broken setting is reported, never silently skipped
    monkeypatch.delenv("FLASHDEPTH_VFX_BIN")
    config_path().write_text("{engine: nope")
    with pytest.raises(EngineNotFound, match=r"bridge\.json is not valid JSON"):
        find_engine()


# --- RenderProcess with a real subprocess --------------------------------------------------------------------

def test_render_reports_events_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "host-python"))  # a host's Python must not leak into the engine
    job = make_job(tmp_path)
    events: List[RenderEvent] = []
    result = run_fake(job, "ok", events).wait(timeout=30)

    expected = [str(tmp_path / "out dir" / f"shot_depth.{frame}.exr") for frame in range(1001, 1006)]
    assert result.ok and result.returncode == 0 and result.error is None and not result.cancelled
    assert result.written == expected
    assert [Path(path).read_text() for path in expected] == [f"depth {frame}\n" for frame in range(1001, 1006)]
    assert result.output == job.output
    assert result.warnings == [fake_engine.WARNING_MESSAGE]
    assert result.stderr_tail == [fake_engine.STDERR_NOTE]

    kinds = [event.kind for event in events if event.kind != "log"]
    assert kinds == ["start", "warning", "frame", "frame", "frame", "frame", "frame", "done"]
    start = next(event for event in events if event.kind == "start")
    assert start.data["argv"] == job.to_args()  # arguments arrive intact (space in the output folder)
    assert [e.fraction for e in events if e.kind == "frame"] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert [e.frame for e in events if e.kind == "frame"] == list(range(1001, 1006))
    logs = {(e.data["stream"], e.message) for e in events if e.kind == "log"}
    assert logs == {("stdout", fake_engine.STRAY_STDOUT), ("stderr", fake_engine.STDERR_NOTE)}


def test_engine_error_is_reported_verbatim(tmp_path: Path) -> None:
    result = run_fake(make_job(tmp_path), "fail").wait(timeout=30)
    assert (result.ok, result.cancelled, result.returncode) == (False, False, 1)
    assert result.error == fake_engine.ERROR_MESSAGE
    assert result.written == []


def test_engine_crash_without_error_event_reports_last_stderr_line(tmp_path: Path) -> None:
    result = run_fake(make_job(tmp_path), "crash").wait(timeout=30)
    assert (result.ok, result.cancelled, result.returncode) == (False, False, 1)
    assert result.error is not None
    assert result.error.startswith(f"render engine exited with code 1: {fake_engine.CRASH_LINE}")
    assert "\n" not in result.error
    assert result.stderr_tail[0] == "Traceback (most recent call last):"
    assert result.written == [str(tmp_path / "out dir" / "shot_depth.1001.exr")]  # the finished frame stays
    assert Path(result.written[0]).is_file()


def wait_for_frames(count: int, events: List[RenderEvent], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(e.kind == "frame" for e in events) < count:
        assert time.monotonic() < deadline, "engine produced no frames"
        time.sleep(0.02)


@posix_only
def test_cancel_keeps_finished_frames(tmp_path: Path) -> None:
    events: List[RenderEvent] = []
    process = run_fake(make_job(tmp_path, frames="1001-1040"), "slow", events, FAKE_ENGINE_DELAY="0.1")
    wait_for_frames(2, events)
    assert process.running
    process.cancel()
    result = process.wait(timeout=10)

    assert result.cancelled and result.returncode == 130 and result.error is None and not result.ok
    assert 2 <= len(result.written) < 40
    on_disk = sorted(str(path) for path in (tmp_path / "out dir").iterdir())
    assert on_disk == result.written
    last = [event for event in events if event.kind != "log"][-1]
    assert last.kind == "cancelled"
    assert last.message == f"Cancelled at frame {1001 + len(result.written)}; {len(result.written)} frames kept"
    assert not process.running
    process.cancel()  # cancelling a finished render is harmless


@posix_only
def test_cancel_kills_an_engine_that_ignores_sigterm(tmp_path: Path) -> None:
    events: List[RenderEvent] = []
    process = run_fake(make_job(tmp_path, frames="1001-1400"), "stubborn", events, FAKE_ENGINE_DELAY="0.05")
    wait_for_frames(1, events)
    asked = time.monotonic()
    process.cancel(grace=0.3)
    result = process.wait(timeout=10)
    assert time.monotonic() - asked < 5
    assert result.returncode == -signal.SIGKILL
    assert result.cancelled and result.error is None
    assert all(Path(path).is_file() for path in result.written) and len(result.written) >= 1


class _WindowsPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen as on Windows, on this machine: records ``creationflags`` (which only Windows accepts) and plays
    what Ctrl-Break does from a GUI host: the send fails (no console) or is silently lost."""

    created: List[int] = []
    send_fails = True

    def __init__(self, *args: object, creationflags: int = 0, **kwargs: object) -> None:
        type(self).created.append(creationflags)
        super().__init__(*args, **kwargs)  # type: ignore[call-overload]

    def send_signal(self, sig: int) -> None:
        if sig != runner.CTRL_BREAK_EVENT:  # kill() (TerminateProcess on Windows)
            super().send_signal(sig)
        elif type(self).send_fails:
            raise OSError(6, "The handle is invalid")


@posix_only
@pytest.mark.parametrize("send_fails", [True, False], ids=["send fails", "send lost"])
def test_windows_cancel_ends_the_engine_after_the_grace_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                send_fails: bool) -> None:
    monkeypatch.setattr(bridge_engine, "WINDOWS", True)
    monkeypatch.setattr(_WindowsPopen, "created", [])
    monkeypatch.setattr(_WindowsPopen, "send_fails", send_fails)
    monkeypatch.setattr(runner.subprocess, "Popen", _WindowsPopen)
    events: List[RenderEvent] = []
    process = run_fake(make_job(tmp_path, frames="1001-1400"), "slow", events, FAKE_ENGINE_DELAY="0.05")
    assert _WindowsPopen.created == [0x00000200 | 0x08000000]  # CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    wait_for_frames(1, events)
    asked = time.monotonic()
    process.cancel(grace=0.3)
    result = process.wait(timeout=10)
    assert 0.25 < time.monotonic() - asked < 5
    assert result.returncode == -signal.SIGKILL and result.cancelled and result.error is None
    assert len(result.written) >= 1 and all(Path(path).is_file() for path in result.written)


def test_windows_preview_opens_no_console_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[dict] = []
    real_run = subprocess.run

    def run(*args: object, creationflags: int = 0, **kwargs: object) -> object:
        calls.append({"creationflags": creationflags})
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(bridge_engine, "WINDOWS", True)
    monkeypatch.setattr(bridge_preview.subprocess, "run", run)
    plate, depth = tmp_path / "shot.1001.exr", tmp_path / "depth.1001.exr"
    plate.write_text("plate")
    depth.write_text("depth")
    make_preview(plate, depth, tmp_path / "preview.png", engine=FAKE_ENGINE)
    assert calls == [{"creationflags": 0x08000000}]  # CREATE_NO_WINDOW


def test_callback_error_is_raised_from_wait_without_blocking_the_engine(tmp_path: Path) -> None:
    seen = threading.Event()

    def broken_callback(event: RenderEvent) -> None:
        seen.set()
        raise KeyError("host bug")

    process = RenderProcess(make_job(tmp_path), engine=FAKE_ENGINE, on_event=broken_callback)
    process.start()
    with pytest.raises(KeyError, match="host bug"):
        process.wait(timeout=30)
    assert seen.is_set()
    assert len(list((tmp_path / "out dir").iterdir())) == 5  # the engine still ran to the end


def test_unstartable_engine_raises_engine_not_found(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-engine")
    process = RenderProcess(make_job(tmp_path), engine=[missing])
    with pytest.raises(EngineNotFound, match="cannot start render engine .*no-such-engine"):
        process.start()
    with pytest.raises(RuntimeError, match="call start"):
        process.wait()


# --- previews ------------------------------------------------------------------------------------------------

def test_make_preview_writes_png_or_reports_engine_error(tmp_path: Path) -> None:
    plate, depth = tmp_path / "shot.1001.exr", tmp_path / "depth.1001.exr"
    plate.write_text("plate")
    depth.write_text("depth")
    out = make_preview(plate, depth, tmp_path / "preview.png", engine=FAKE_ENGINE)
    data = out.read_bytes()
    assert out == tmp_path / "preview.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == fake_engine.PREVIEW_SIZE

    with pytest.raises(PreviewError) as failure:
        make_preview(plate, tmp_path / "missing.exr", tmp_path / "p2.png", engine=FAKE_ENGINE)
    assert str(failure.value) == fake_engine.PREVIEW_ERROR


# --- import weight -------------------------------------------------------------------------------------------

def test_bridge_import_pulls_in_neither_torch_nor_numpy() -> None:
    code = ("import sys, flashdepth_vfx.bridge; "
            "print(sorted(m for m in ('torch', 'numpy', 'PySide6') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.stdout.strip() == "[]"
