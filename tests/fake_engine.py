"""A stand-in for the flashdepth-vfx engine CLI, for bridge and UI tests (standard library only).

``python fake_engine.py render PLATE [-o PATTERN] [--frames A-B] ... --progress json`` prints the JSON
events of the render contract and writes one small text file per frame. ``FAKE_ENGINE_MODE`` picks
the behaviour:

* ``ok`` (default): every frame, one warning, one stray stdout line and one stderr line.
* ``fail``: an ``error`` event with :data:`ERROR_MESSAGE`, exit 1.
* ``crash``: one frame, then a traceback on stderr and exit 1 with no error event.
* ``slow``: ``FAKE_ENGINE_DELAY`` seconds (default 0.25) per frame; on SIGTERM drops the current
  frame, prints a ``cancelled`` event and exits 130.
* ``stubborn``: like ``slow`` but ignores SIGTERM (has to be killed).

``--resume`` skips the frames whose output file exists, as the engine skips frames already rendered with the
same settings (the ``start`` event's ``total`` counts the frames left to write, as the engine's does).

``python fake_engine.py preview PLATE DEPTH -o OUT.png`` writes a small side-by-side PNG, or fails
with :data:`PREVIEW_ERROR` on stderr when DEPTH does not exist.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable, List, Tuple

ERROR_MESSAGE = "Checkpoint /nowhere/flashdepth.safetensors not found: pass --checkpoint with an existing file"
WARNING_MESSAGE = "12 non-finite pixels replaced by 0"
STRAY_STDOUT = "libfake: deprecated option ignored"
STDERR_NOTE = "fake engine: loading model"
CRASH_LINE = "RuntimeError: CUDA error: out of memory"
PREVIEW_ERROR = "Error: depth file not found: render the frame first"
PREVIEW_SIZE = (192, 64)


def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def parse_frames(spec: str) -> List[int]:
    frames: List[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        frames += range(int(first), int(last or first) + 1)
    return frames


def write_png(path: Path, width: int, height: int, colour: Callable[[int, int], Tuple[int, int, int]]) -> None:
    """Write an 8-bit RGB PNG, one pixel at a time from ``colour(x, y)``."""
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in colour(x, y)) for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def preview_colour(x: int, y: int) -> Tuple[int, int, int]:
    """Left half: a grey 'plate'; right half: a blue-to-red 'depth' ramp."""
    width, height = PREVIEW_SIZE
    half = width // 2
    if x < half:
        grey = 60 + (120 * y) // height
        return grey, grey, grey
    t = (x - half) / (half - 1)
    return int(255 * t), int(80 + 100 * (1 - abs(2 * t - 1))), int(255 * (1 - t))


def preview(args: argparse.Namespace) -> int:
    if not Path(args.depth).is_file():
        print(PREVIEW_ERROR, file=sys.stderr)
        return 1
    write_png(Path(args.output), *PREVIEW_SIZE, preview_colour)
    return 0


def render(args: argparse.Namespace, argv: List[str]) -> int:
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    delay = float(os.environ.get("FAKE_ENGINE_DELAY", "0.25")) if mode in ("slow", "stubborn") else 0.0
    stop = []
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))

    if mode == "fail":
        emit(event="error", message=ERROR_MESSAGE)
        return 1
    if args.camera and not os.path.isfile(args.camera):
        emit(event="error", message=f"Cannot read {args.camera}")
        return 1
    wanted = parse_frames(args.frames or "1001-1005")
    output = args.output or str(Path(args.plate).resolve().parent / "depth.####.exr")
    output = re.sub(r"#+", lambda run: f"%0{len(run.group())}d", output)  # events carry printf patterns
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    frames = [f for f in wanted if not (args.resume and Path(output % f).is_file())]
    emit(event="start", plate=Path(args.plate).name, output=output, first=wanted[0], last=wanted[-1],
         total=len(frames), argv=argv)
    if mode == "ok":
        print(STDERR_NOTE, file=sys.stderr, flush=True)
        print(STRAY_STDOUT, flush=True)
    started = time.monotonic()
    written = 0
    for index, frame in enumerate(frames, start=1):
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not stop:
            time.sleep(0.01)
        if stop:
            emit(event="cancelled", written=written,
                 message=f"Cancelled at frame {frame}; {written} frames kept")
            return 130
        path = Path(output % frame)
        path.write_text(f"depth {frame}\n")
        written += 1
        if mode == "ok" and index == 1:
            emit(event="warning", message=WARNING_MESSAGE, frame=frame)
        emit(event="frame", frame=frame, index=index, total=len(frames), path=str(path),
             fps=round(index / max(time.monotonic() - started, 1e-3), 2))
        if mode == "crash":
            print("Traceback (most recent call last):\n  File \"engine.py\", line 1, in <module>\n" + CRASH_LINE,
                  file=sys.stderr, flush=True)
            return 1
    emit(event="done", written=written, output=output, seconds=round(time.monotonic() - started, 3))
    return 0


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="fake-engine")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("render")
    run.add_argument("plate")
    run.add_argument("-o", "--output")
    for option in ("--frames", "--checkpoint", "--model", "--colorspace", "--ocio-config", "--mode", "--device",
                   "--precision", "--progress", "--missing", "--max-size", "--compression"):
        run.add_argument(option)
    run.add_argument("--half", action="store_true")
    run.add_argument("--channel")  # the host adapters' depth channel name
    run.add_argument("--passthrough", action="store_true")  # plate RGBA beside the depth (Houdini)
    run.add_argument("--resume", action="store_true")
    for option in ("--camera", "--filmback", "--rotation-order", "--points", "--position", "--normals"):
        run.add_argument(option)  # the shot solve (the host adapters' Camera input and P / N passes)
    show = commands.add_parser("preview")
    show.add_argument("plate")
    show.add_argument("depth")
    show.add_argument("-o", "--output", required=True)
    show.add_argument("--colorspace")
    args = parser.parse_args(argv)
    return preview(args) if args.command == "preview" else render(args, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
