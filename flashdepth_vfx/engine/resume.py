"""What a render may keep from earlier ones: which output frames are finished, which plates they came from, and
the temporaries that killed renders left behind.

A frame counts as finished only when its file decodes, was written with the same output key (model, checkpoint,
colour, plate settings *and* output settings: see ``RenderSettings.output_key``) and carries the same *source
chain*: a running hash of the fingerprints of every plate from the shot's first frame to its own. The temporal
state carries each plate into every later frame, so a re-delivered plate makes its own frame and all later frames
stale, and the snapshots taken after it too.

None of it depends on where the show is mounted: the plates count by file name (:func:`source_id`) and content
(the chain), the OCIO config by content (:func:`colour_id`), the checkpoint by its hash. Another machine seeing the
same folders at ``/Volumes/show`` instead of ``/mnt/show`` (a farm worker with path mapping) finishes the render.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..bridge.runner import process_alive
from ..errors import PlateError
from ..hosts.colour import config_identity
from ..plates import FrameSequence, frame_path, probe, read_channels
from ..plates.colour import config_source
from ..sampling import hash_samples

SAMPLE_BYTES = 64 * 1024
SAMPLES = 8
"""A plate's fingerprint hashes ``SAMPLES`` evenly spaced blocks of ``SAMPLE_BYTES`` (first and last included)."""

STALE_AFTER_S = 300.0
"""A temporary file is stale when its process is gone and it has not changed for this long: a render on another
machine writing into the same folder (a farm) has a PID that means nothing here, but it keeps its file fresh."""

_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+\.exr$")


def file_fingerprint(path: Path) -> str:
    """Size, modification time (ns) and a hash of sampled blocks of a file: cheap, and changes when it is replaced."""
    try:
        stat = path.stat()
        digest = hashlib.blake2b(f"{stat.st_size}:{stat.st_mtime_ns}:".encode(), digest_size=16)
        with open(path, "rb") as handle:
            hash_samples(handle, stat.st_size, digest, SAMPLE_BYTES, SAMPLES)
    except OSError as exc:
        raise PlateError(f"Cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def source_id(seq: FrameSequence | None, movie: Path | None) -> str:
    """The plates by name, wherever they are mounted: a movie's file name, a sequence's file name with its frame
    token as printf (``shot.####.exr`` and ``shot.%04d.exr`` are one), or the listed files' names. What they hold
    is the :func:`source_chain`'s part of the keys."""
    if movie is not None:
        return movie.name
    assert seq is not None
    if seq.pattern is not None:
        return Path(seq.pattern).name
    return " ".join(seq.files[f].name for f in sorted(seq.files))


def colour_id(ocio_config: str | None) -> str:
    """The OCIO config a render reads (``--ocio-config``, ``$OCIO`` or the built-in one) by what it is: a built-in
    ``ocio://`` name as it is, a file by its text and the LUT files it reads. Two copies of one config (another
    mount, another install) are one; an edited config or LUT is another. (OCIO's own cache ID holds paths.)"""
    return config_identity(config_source(ocio_config), cached=False) or ""


def source_chain(seq: FrameSequence | None, movie: Path | None, frames: Iterable[int]) -> dict[int, str]:
    """For each frame (in stream order from the shot start), the hash of every plate fed to the model up to it."""
    running = hashlib.blake2b(digest_size=16)
    movie_print = file_fingerprint(movie) if movie is not None else ""
    chain: dict[int, str] = {}
    for frame in frames:
        if seq is not None:
            source = seq.source(frame)
            fingerprint = file_fingerprint(source) if source is not None else "black"
        else:
            fingerprint = movie_print
        running.update(f"{frame}:{fingerprint};".encode())
        chain[frame] = running.hexdigest()
    return chain


def finished_frames(pattern: str, wanted: Iterable[int], output_key: str, chain: Mapping[int, str], channel: str,
                    stop: threading.Event | None = None) -> set[int]:
    """Requested frames whose output exists, decodes, and was written from the same plates with the same settings.

    Decoding a long shot takes a while: when ``stop`` is set (Ctrl-C) the frames checked so far come back.
    """
    done: set[int] = set()
    for frame in wanted:
        if stop is not None and stop.is_set():
            break
        path = frame_path(pattern, frame)
        if not path.is_file():
            continue
        try:
            meta = probe(path).metadata
            if (meta.get("flashdepth:output_key") != output_key or meta.get("flashdepth:source") != chain.get(frame)
                    or meta.get("flashdepth:frame") != frame):
                continue
            if channel in read_channels(path):  # every pixel decodes: truncated or damaged files are rendered again
                done.add(frame)
        except PlateError:
            continue
    return done


def is_stale(path: Path, pid: int, now: float | None = None) -> bool:
    """A temporary of a process that is gone, untouched for ``STALE_AFTER_S``."""
    try:
        old = path.lstat().st_mtime < (now or time.time()) - STALE_AFTER_S
    except OSError:
        return False
    return old and not process_alive(pid)


def remove_stale_temporaries(pattern: str) -> list[Path]:
    """Delete ``.<frame file>.tmp-<pid>-<hex>.exr`` files of this output pattern left by killed renders."""
    folder = Path(pattern).parent
    own = re.compile(_pattern_regex(Path(pattern).name))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or not own.fullmatch(match.group("name")):
            continue
        path = Path(entry.path)
        if is_stale(path, int(match.group("pid"))):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                continue  # not ours to remove (permissions): leave it
            removed.append(path)
    return removed


def _pattern_regex(name: str) -> str:
    """A printf file name (``shot_depth.%04d.exr``) as a regular expression for its frame files."""
    parts = re.split(r"(%%|%0?\d*d)", name)
    return "".join("%" if p == "%%" else r"-?\d+" if p.startswith("%") else re.escape(p) for p in parts)
