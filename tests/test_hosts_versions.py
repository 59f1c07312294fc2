"""Choosing among a node's depth versions and pruning old ones (flashdepth_vfx/hosts/versions.py, prune.py and
``flashdepth-vfx hosts prune``), on real folders with real EXR files."""
from __future__ import annotations

import dataclasses
import json
import os
import struct
import time
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest
from click.testing import CliRunner

from flashdepth_vfx.cli import main
from flashdepth_vfx.hosts import prune
from flashdepth_vfx.hosts.settings import NodeSettings
from flashdepth_vfx.hosts.versions import (
    MANIFEST, RENDERING, DepthState, DepthVersion, describe_versions, find_version, mark_shown, node_status,
    shown_by,
)
from flashdepth_vfx.plates.image_io import write_exr

FRAMES = [1, 2, 3]
DAY = 24 * 3600.0


def depth_frame(path: str, ours: bool = True) -> None:
    """A small depth EXR; ``ours``: with the engine's ``flashdepth:`` metadata."""
    meta = {"flashdepth:version": "test", "flashdepth:frame": 1} if ours else {"Software": "someone else"}
    write_exr(path, {"Z": np.full((4, 6), 2.0, np.float32)}, metadata=meta)


def make_version(output_dir: Path, mode: str, frames: Sequence[int] = FRAMES, asked: Sequence[int] = FRAMES,
                 age_days: float = 2.0, precision: str = "default") -> DepthVersion:
    """A rendered version of a plate under ``output_dir``: its manifest (asking for ``asked``), depth frames
    ``frames`` and an engine snapshot, every file ``age_days`` old."""
    settings = NodeSettings(plate="/plates/shot.####.exr", output_dir=str(output_dir), mode=mode,
                            frames=f"{asked[0]}-{asked[-1]}", precision=precision)
    version = settings.version()
    version.write_manifest(settings.versioned_job())
    for frame in frames:
        depth_frame(version.frame_file(frame))
    snapshots = Path(version.folder) / ".flashdepth" / "0123456789abcdef"
    snapshots.mkdir(parents=True)
    header = json.dumps({"__metadata__": {"frame": str(frames[-1]), "checksum": "ab"}}).encode()
    (snapshots / f"state.{frames[-1]}.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    set_age(Path(version.folder), age_days)
    return version


def set_age(folder: Path, days: float) -> None:
    stamp = time.time() - days * DAY
    for path in folder.rglob("*"):
        os.utime(path, (stamp, stamp))


def test_versions_are_described_for_a_menu_newest_first_and_found_by_their_label(tmp_path: Path) -> None:
    old = make_version(tmp_path, "depth", age_days=3)
    partial = make_version(tmp_path, "disparity", frames=[1, 2], age_days=1, precision="fp16")
    infos = describe_versions(str(tmp_path))
    assert [info.version for info in infos] == [partial, old]
    assert [(info.frames, info.complete) for info in infos] == [(2, False), (3, True)]
    label = infos[1].label
    assert label.startswith(old.key[:8] + "  default model, depth, file colour space  3 fr complete  ")
    assert time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * DAY)) in label
    assert "fp16" in infos[0].label and "2 fr partial" in infos[0].label
    assert find_version(infos, label) == old and find_version(infos, "latest") is None
    (Path(old.folder) / MANIFEST).write_text("{}")  # a folder whose manifest is not a version's is no version
    assert [info.version for info in describe_versions(str(tmp_path))] == [partial]


def test_versions_are_found_where_the_project_is_now(tmp_path: Path) -> None:
    version = make_version(tmp_path / "before", "depth")
    (tmp_path / "before").rename(tmp_path / "after")
    [info] = describe_versions(str(tmp_path / "after"))
    assert info.version.folder == str(tmp_path / "after" / version.key) and info.complete


def test_a_chosen_older_version_stays_shown_and_is_stale_while_its_settings_differ(tmp_path: Path) -> None:
    old = make_version(tmp_path, "depth")
    new = make_version(tmp_path, "disparity")
    auto = node_status(new, FRAMES, old)
    assert auto.state is DepthState.CURRENT and auto.show == new  # not chosen: the knobs' complete version wins
    chosen = node_status(new, FRAMES, old, chosen=True)
    assert (chosen.state, chosen.show, chosen.label) == (DepthState.STALE, old, "stale (chosen version)")
    assert chosen.line().startswith(f"Stale: showing version {old.key[:8]} chosen by hand (default model, depth, ")
    assert "their version is complete" in chosen.line()
    same = node_status(old, FRAMES, old, chosen=True)  # chosen and the knobs agree: current
    assert (same.state, same.show) == (DepthState.CURRENT, old)
    for frame in FRAMES:
        os.remove(old.frame_file(frame))
    gone = node_status(new, FRAMES, old, chosen=True)
    assert (gone.state, gone.show) == (DepthState.MISSING, None)


def test_exr_header_check_tells_the_engines_frames_from_other_files(tmp_path: Path) -> None:
    depth_frame(str(tmp_path / "ours.exr"))
    depth_frame(str(tmp_path / "theirs.exr"), ours=False)
    (tmp_path / "fake.exr").write_text("not an exr")
    assert prune.exr_is_ours(str(tmp_path / "ours.exr"))
    assert not prune.exr_is_ours(str(tmp_path / "theirs.exr"))
    assert not prune.exr_is_ours(str(tmp_path / "fake.exr"))
    assert not prune.exr_is_ours(str(tmp_path / "missing.exr"))


def folders(path: Path) -> List[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir())


def test_prune_keeps_the_newest_complete_the_shown_the_rendering_and_a_newer_partial(tmp_path: Path) -> None:
    out = tmp_path / "FlashDepth1"
    oldest = make_version(out, "depth", age_days=9)
    shown = make_version(out, "depth", age_days=8, precision="fp32")
    rendering = make_version(out, "depth", age_days=7, precision="bf16")
    old_partial = make_version(out, "disparity", frames=[1], age_days=6)
    older = make_version(out, "normalized", age_days=5)
    newest = make_version(out, "disparity", age_days=4, precision="fp16")
    new_partial = make_version(out, "normalized", frames=[1, 2], age_days=3, precision="fp16")
    script = tmp_path / "comp" / "shot_v002.nk"
    script.parent.mkdir()
    script.write_text("a saved script")
    mark_shown(shown, str(script), "FlashDepth1")
    gone = make_version(out, "depth", age_days=9.5, precision="fp16")  # shown by a script deleted since
    mark_shown(gone, str(tmp_path / "comp" / "shot_v001.nk"), "FlashDepth1")
    (Path(rendering.folder) / RENDERING).write_text(json.dumps(
        {"flashdepth:kind": "rendering", "host": os.uname().nodename, "pid": os.getpid()}))
    foreign = Path(older.folder) / "notes.txt"
    foreign.write_text("the artist's notes")
    depth_frame(str(Path(older.folder) / "someone_else.0001.exr"), ours=False)
    for version, days in ((gone, 9.5), (shown, 8), (rendering, 7), (older, 5)):
        set_age(Path(version.folder), days)

    plan = prune.plan_folder(str(out), keep=1)
    assert {r.version for r in plan.remove} == {gone, oldest, old_partial, older}
    reasons = {k.version: k.reason for k in plan.keep}
    assert reasons[shown] == f"shown by {script} FlashDepth1"
    assert reasons[rendering] == f"a render (process {os.getpid()}) is writing it"
    assert reasons[newest] == "one of the 1 newest complete versions"
    assert reasons[new_partial].startswith("partial and newer than every complete version")
    [kept_files] = [r for r in plan.remove if r.version == older]
    assert sorted(kept_files.foreign) == ["notes.txt", "someone_else.0001.exr"]
    assert MANIFEST in kept_files.files and os.path.join(".flashdepth", "0123456789abcdef", "state.3.safetensors") \
        in kept_files.files

    assert prune.apply(plan) == []
    assert folders(out) == sorted([shown.key, rendering.key, older.key, newest.key, new_partial.key])
    assert sorted(p.name for p in Path(older.folder).rglob("*")) == ["notes.txt", "someone_else.0001.exr"]
    assert foreign.read_text() == "the artist's notes"
    assert shown_by(shown.folder) == [f"{script} FlashDepth1"] and shown.frames_on_disk(FRAMES) == FRAMES


def test_prune_keep_counts_the_complete_versions_in_use(tmp_path: Path) -> None:
    """--keep N is the newest N complete versions counting those in use (storage stays near N versions a node),
    and a version in use is kept even beyond N."""
    oldest = make_version(tmp_path, "depth", age_days=3)
    middle = make_version(tmp_path, "disparity", age_days=2)
    shown = make_version(tmp_path, "normalized", age_days=1)
    assert {r.version for r in prune.plan_folder(str(tmp_path), keep=1, protect=[shown]).remove} == {oldest, middle}
    assert {r.version for r in prune.plan_folder(str(tmp_path), keep=2, protect=[shown]).remove} == {oldest}
    assert {r.version for r in prune.plan_folder(str(tmp_path), keep=1, protect=[oldest]).remove} == {middle}


def test_prune_leaves_versions_in_use_a_node_names_and_recent_ones(tmp_path: Path) -> None:
    first = make_version(tmp_path, "depth", age_days=3)
    second = make_version(tmp_path, "disparity", age_days=2)
    third = make_version(tmp_path, "normalized", age_days=1)
    plan = prune.plan_folder(str(tmp_path), keep=0, protect=[first])
    assert {r.version for r in plan.remove} == {second, third}
    depth_frame(third.frame_file(4))  # a farm render writing into it now
    plan = prune.plan_folder(str(tmp_path), keep=0, protect=[first])
    assert {r.version for r in plan.remove} == {second}
    assert {k.version: k.reason for k in plan.keep}[third].startswith("written in the last 10 minutes")


def test_a_rendering_marker_of_a_process_that_is_gone_does_not_keep_a_version(tmp_path: Path) -> None:
    version = make_version(tmp_path, "depth")
    with version.rendering():
        marker = json.loads((Path(version.folder) / RENDERING).read_text())
        assert marker["pid"] == os.getpid()
        set_age(Path(version.folder), 1)
        assert prune.plan_folder(str(tmp_path), keep=0).remove == []
        marker["pid"] = 2 ** 22 + 12345  # no such process
        (Path(version.folder) / RENDERING).write_text(json.dumps(marker))
        set_age(Path(version.folder), 1)
        assert [r.version for r in prune.plan_folder(str(tmp_path), keep=0).remove] == [version]
    assert not (Path(version.folder) / RENDERING).exists()


def test_prune_command_dry_run_then_delete_over_a_tree_of_nodes(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    a_old = make_version(shots / "sh010" / "flashdepth" / "FlashDepth1", "depth", age_days=3)
    a_new = make_version(shots / "sh010" / "flashdepth" / "FlashDepth1", "disparity", age_days=2)
    b_only = make_version(shots / "sh020" / "flashdepth" / "FlashDepth1", "depth", age_days=3)
    (shots / "sh010" / "plates").mkdir()
    runner = CliRunner()
    dry = runner.invoke(main, ["hosts", "prune", str(shots), "--keep", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove {a_old.folder} (" in dry.output and dry.output.strip().endswith("; 2 kept")
    assert os.path.isdir(a_old.folder)
    done = runner.invoke(main, ["hosts", "prune", str(shots), "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1].startswith("Deleted 1 old versions (")
    assert not os.path.exists(a_old.folder) and os.path.isdir(a_new.folder) and os.path.isdir(b_only.folder)
    again = runner.invoke(main, ["hosts", "prune", str(shots), "--keep", "1"])
    assert again.output.strip().splitlines()[-1] == "No old versions to delete (2 kept)"
    empty = runner.invoke(main, ["hosts", "prune", str(tmp_path / "shots" / "sh010" / "plates")])
    assert empty.output.strip() == f"no depth versions under {tmp_path / 'shots' / 'sh010' / 'plates'}"


def test_a_rerender_keeps_the_date_the_version_was_made(tmp_path: Path) -> None:
    settings = NodeSettings(plate="/plates/shot.####.exr", output_dir=str(tmp_path), frames="1-3")
    version = settings.version()
    version.write_manifest(settings.versioned_job())
    first = version.manifest()
    assert first is not None and first["flashdepth:kind"] == "version" and first["frames"] == "1-3"
    version.write_manifest(dataclasses.replace(settings, frames="1-5").versioned_job(resume=True))
    second = version.manifest()
    assert second is not None and second["created"] == first["created"] and second["frames"] == "1-5"


def test_prune_recognises_everything_the_real_engine_writes(tmp_path: Path) -> None:
    """Two versions rendered by the real engine (depth EXRs, snapshots, manifest, markers): pruning the older
    one leaves nothing of it behind, and nothing of the newer one is touched."""
    import sys

    from engine_helpers import write_plates, write_tiny_checkpoint
    from flashdepth_vfx.bridge import RenderProcess

    plate = write_plates(tmp_path / "plates", range(1, 4))
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    made = []
    for mode in ("depth", "disparity"):
        settings = NodeSettings(plate=plate, output_dir=str(tmp_path / "out"), checkpoint=str(checkpoint), mode=mode)
        version = settings.version()
        job = settings.versioned_job()
        version.write_manifest(job)
        with version.rendering():
            result = RenderProcess(job, engine=[sys.executable, "-m", "flashdepth_vfx"]).run()
        assert result.ok and len(result.written) == 3, result.error
        made.append(version)
    mark_shown(made[1], "", "FlashDepth1")  # an unsaved script: kept, to be safe
    assert list((Path(made[0].folder) / ".flashdepth").rglob("state.*.safetensors"))  # the engine's snapshots
    set_age(Path(made[0].folder), 1)
    newer = sorted(str(p) for p in Path(made[1].folder).rglob("*"))
    plan = prune.plan_folder(str(tmp_path / "out"), keep=0)
    [removal] = plan.remove
    assert removal.version.key == made[0].key and removal.foreign == ()
    assert prune.apply(plan) == []
    assert not os.path.exists(made[0].folder)
    assert sorted(str(p) for p in Path(made[1].folder).rglob("*")) == newer


def test_a_render_starting_while_the_artist_reads_the_question_keeps_its_version(tmp_path: Path) -> None:
    """Delete old versions plans, asks, then deletes: a render (another node, script or machine) that starts into
    a planned version meanwhile (its manifest rewritten, its rendering marker, its first temporaries) keeps it,
    and so does a node that starts showing it."""
    resumed = make_version(tmp_path, "depth", frames=[1, 2], age_days=3)
    shown = make_version(tmp_path, "disparity", age_days=2.5)
    idle = make_version(tmp_path, "normalized", age_days=2)
    plan = prune.plan_folder(str(tmp_path), keep=0, protect=[make_version(tmp_path, "depth", precision="fp16")])
    assert {r.version for r in plan.remove} == {resumed, shown, idle}

    settings = NodeSettings(plate="/plates/shot.####.exr", output_dir=str(tmp_path), mode="depth", frames="1-3")
    assert settings.version() == resumed
    resumed.write_manifest(settings.versioned_job(resume=True))  # Finish pressed in another script
    script = tmp_path / "other.nk"
    script.write_text("an open script")
    mark_shown(shown, str(script), "FlashDepth2")
    assert prune.apply(plan) == []
    assert resumed.frames_on_disk(FRAMES) == [1, 2] and shown.frames_on_disk(FRAMES) == FRAMES
    assert not os.path.exists(idle.folder)
    assert [r.version for r in plan.remove] == [idle]
    assert {k.version: k.reason for k in plan.keep}[resumed] == prune.CHANGED
    assert prune.summary(plan).startswith("Deleted 1 old versions (")


def test_a_version_shown_on_another_machine_is_kept_whatever_its_scene_path_says_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``hosts prune`` on a server, or a node on another workstation: a scene on that machine's disk (or a Windows
    path) does not exist here, yet its node shows the version."""
    from flashdepth_vfx.hosts import versions

    on_windows = make_version(tmp_path, "depth", age_days=3)
    deleted_here = make_version(tmp_path, "disparity", age_days=3)
    monkeypatch.setattr(versions.socket, "gethostname", lambda: "ws-artist-07")
    mark_shown(on_windows, "P:\\shots\\sh010\\comp\\sh010_v003.nk", "FlashDepth1")
    monkeypatch.undo()
    mark_shown(deleted_here, str(tmp_path / "deleted_v001.nk"), "FlashDepth1")
    set_age(tmp_path, 3)
    plan = prune.plan_folder(str(tmp_path), keep=0)
    assert [r.version for r in plan.remove] == [deleted_here]
    assert {k.version: k.reason for k in plan.keep}[on_windows] == \
        "shown by P:\\shots\\sh010\\comp\\sh010_v003.nk FlashDepth1"


def test_a_link_in_a_version_folder_is_never_deleted_even_to_one_of_our_frames(tmp_path: Path) -> None:
    """An artist patched a bad frame by linking it to another version's: the link is not a file the engine wrote,
    so it stays (with its folder), and so does what it points at."""
    patch = make_version(tmp_path / "other", "depth", age_days=3)
    old = make_version(tmp_path / "node", "disparity", age_days=3)
    os.remove(old.frame_file(3))
    os.symlink(patch.frame_file(3), old.frame_file(3))
    os.symlink(patch.folder, os.path.join(old.folder, "shot_depth.9999.exr"))  # a link to a folder, named like ours
    set_age(Path(old.folder), 3)
    plan = prune.plan_folder(str(tmp_path / "node"), keep=0, now=time.time() + DAY)  # the links are new
    [removal] = plan.remove
    assert sorted(removal.foreign) == [os.path.basename(old.frame_file(3)), "shot_depth.9999.exr"]
    assert prune.apply(plan) == []
    assert os.path.islink(old.frame_file(3)) and os.path.isfile(patch.frame_file(3))
    assert sorted(p.name for p in Path(old.folder).iterdir()) == ["shot_depth.0003.exr", "shot_depth.9999.exr"]


def test_keep_shown_writes_a_missing_record_of_a_saved_scene_only(tmp_path: Path) -> None:
    from flashdepth_vfx.hosts.versions import keep_shown

    version = make_version(tmp_path / "out", "depth")
    keep_shown(version, "", "FlashDepth1")  # an unsaved script: a record that could never be found stale
    assert shown_by(version.folder) == []
    script = tmp_path / "shot_v002.nk"
    script.write_text("saved")
    keep_shown(version, str(script), "FlashDepth1")
    [record] = (Path(version.folder) / ".flashdepth_shown").iterdir()
    stamp = record.stat().st_mtime_ns
    keep_shown(version, str(script), "FlashDepth1")  # already there: untouched
    assert record.stat().st_mtime_ns == stamp and shown_by(version.folder) == [f"{script} FlashDepth1"]
    gone = DepthVersion(version.key, str(tmp_path / "gone" / "shot_depth.%04d.exr"))
    keep_shown(gone, str(script), "FlashDepth1")  # no folder: none is made
    assert not (tmp_path / "gone").exists()


def test_prune_deletes_only_the_files_of_the_version_and_names_the_rest(tmp_path: Path) -> None:
    """A version is its manifest, the frames of its own pattern, its markers, snapshots and temporaries. A renamed
    copy of a depth frame kept for a comp, a precomp whose writer kept the engine's metadata, a frame-named file
    in a subfolder, and temporaries of other files carry ``flashdepth:`` headers or look like ours, yet stay."""
    import shutil

    old = make_version(tmp_path, "depth", age_days=3)
    make_version(tmp_path, "disparity", age_days=1)
    folder = Path(old.folder)
    shutil.copy(old.frame_file(2), folder / "shot_depth_keep.0002.exr")  # renamed copies, for a comp
    shutil.copy(old.frame_file(2), folder / "hero_depth.exr")
    shutil.copy(old.frame_file(2), folder / "shot_depth.0002.exr.bak")
    (folder / "precomp").mkdir()
    depth_frame(str(folder / "precomp" / "comp.0001.exr"))  # a precomp whose writer kept the input's metadata
    depth_frame(str(folder / "precomp" / "shot_depth.0001.exr"))
    (folder / ".notes.txt.tmp-4206649").write_text("an editor's temporary")
    (folder / ".comp.0001.exr.tmp-4206649-abcd1234.exr").write_text("someone else's temporary")
    depth_frame(str(folder / "shot_depth_raw.0001.exr"))  # the raw disparity of a shot solve: the version's own
    (folder / ".shot_depth.0003.exr.tmp-4206649-abcd1234.exr").write_bytes(b"half a frame of a killed render")
    (folder / (MANIFEST + ".tmp-4206649")).write_text("{")
    foreign = sorted(["shot_depth_keep.0002.exr", "hero_depth.exr", "shot_depth.0002.exr.bak",
                      os.path.join("precomp", "comp.0001.exr"), os.path.join("precomp", "shot_depth.0001.exr"),
                      ".notes.txt.tmp-4206649", ".comp.0001.exr.tmp-4206649-abcd1234.exr"])
    before = {name: (folder / name).read_bytes() for name in foreign}
    set_age(folder, 3)

    plan = prune.plan_folder(str(tmp_path), keep=1)
    [removal] = plan.remove
    assert sorted(removal.foreign) == foreign
    assert sorted(removal.files) == sorted([
        MANIFEST, *(os.path.basename(old.frame_file(f)) for f in FRAMES), "shot_depth_raw.0001.exr",
        ".shot_depth.0003.exr.tmp-4206649-abcd1234.exr", MANIFEST + ".tmp-4206649",
        os.path.join(".flashdepth", "0123456789abcdef", "state.3.safetensors")])
    assert plan.lines()[0].endswith(f"; 7 files not written by flashdepth-vfx stay: {', '.join(foreign[:3])}, ...")
    assert prune.apply(plan) == []
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == foreign
    assert {name: (folder / name).read_bytes() for name in foreign} == before


def test_deleting_old_versions_reads_exr_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 versions x 50 frames of 2K depth (one real 2K float EXR written by OpenImageIO, linked under every
    frame name): planning reads a few KiB of each frame, not 1 MiB."""
    import builtins

    frames = list(range(1001, 1051))
    rng = np.random.default_rng(0)
    master = tmp_path / "master.exr"
    write_exr(str(master), {"Z": rng.random((1080, 2048), dtype=np.float32)},
              metadata={"flashdepth:version": "test", "flashdepth:frame": 1001}, compression="none")
    assert master.stat().st_size > 8 << 20
    versions = []
    for mode in ("depth", "disparity", "normalized"):
        settings = NodeSettings(plate="/plates/shot.####.exr", output_dir=str(tmp_path / "out"), mode=mode,
                                frames="1001-1050")
        version = settings.version()
        version.write_manifest(settings.versioned_job())
        for frame in frames:
            os.link(master, version.frame_file(frame))
        versions.append(version)
    set_age(tmp_path / "out", 2)
    read: dict = {}

    class Counting:
        def __init__(self, handle, path) -> None:
            self.handle, self.path = handle, str(path)

        def read(self, *args):
            data = self.handle.read(*args)
            read[self.path] = read.get(self.path, 0) + len(data)
            return data

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

    monkeypatch.setattr(prune, "open", lambda path, *a, **k: Counting(builtins.open(path, *a, **k), path),
                        raising=False)
    plan = prune.plan_folder(str(tmp_path / "out"), keep=0, protect=[versions[0]])
    assert sorted(len(r.files) for r in plan.remove) == [51, 51]  # the frames and the manifest
    exr = {path: size for path, size in read.items() if path.endswith(".exr")}
    assert len(exr) == 100 and max(exr.values()) <= 8 << 10, max(exr.values())
    assert sum(read.values()) < 1 << 20  # today: 1 MiB a frame, 100 MiB


def test_a_render_loading_its_model_keeps_the_old_version_it_renders_into(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI or farm render into an old version writes nothing while its model loads (seconds with the official
    models): the engine marks the folder first, so a prune in that window keeps the version; the marker goes
    with the render, and the version stays whole."""
    import threading

    from engine_helpers import write_plates, write_tiny_checkpoint
    from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
    from flashdepth_vfx.engine import pipeline

    plate = write_plates(tmp_path / "plates", range(1, 4))
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    old = make_version(tmp_path / "out", "depth", age_days=3)
    idle = make_version(tmp_path / "out", "disparity", age_days=1)
    loading, release = threading.Event(), threading.Event()
    real_load = pipeline.load_model

    def slow_load(*args, **kwargs):  # the official model takes seconds to load
        loading.set()
        assert release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pipeline, "load_model", slow_load)
    settings = RenderSettings(plate=plate, output=old.pattern, checkpoint=str(checkpoint))
    done: list = []
    render = threading.Thread(target=lambda: done.append(Render(settings, QuietEvents()).run()))
    render.start()
    try:
        assert loading.wait(30)
        plan = prune.plan_folder(str(tmp_path / "out"), keep=0)
        assert [r.version for r in plan.remove] == [idle]
        assert {k.version: k.reason for k in plan.keep}[old] == f"a render (process {os.getpid()}) is writing it"
        assert prune.apply(plan) == []
    finally:
        release.set()
        render.join(60)
    [summary] = done
    assert len(summary.written) == 3 and old.frames_on_disk(FRAMES) == FRAMES and old.manifest() is not None
    assert not [name for name in os.listdir(old.folder) if name.startswith(".flashdepth_rendering")]


def test_a_rendering_marker_of_another_machine_keeps_its_version_while_its_heartbeat_is_recent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A farm render on another machine: its marker keeps the version while the render touches it; one not
    touched for 10 minutes was left by a render that died there. A marker of a dead process here is stale, and
    the next render into the folder removes it."""
    from flashdepth_vfx.hosts import versions

    version = make_version(tmp_path, "depth", age_days=3)
    monkeypatch.setattr(versions.socket, "gethostname", lambda: "farm-node-12")
    with versions.rendering_marker(version.folder, versions.engine_marker_name()) as marker:
        monkeypatch.undo()
        set_age(Path(version.folder), 3)
        os.utime(marker)  # its heartbeat
        kept = prune.plan_folder(str(tmp_path), keep=0)
        assert kept.remove == [] and kept.keep[0].reason == "a render on farm-node-12 is writing it"
        set_age(Path(version.folder), 3)  # no heartbeat for days: that render died
        [removal] = prune.plan_folder(str(tmp_path), keep=0).remove
        assert os.path.basename(marker) in removal.files
    monkeypatch.setattr(versions, "HEARTBEAT_S", 0.01)
    with versions.rendering_marker(version.folder) as marker:  # a host node's, touched while it renders
        os.utime(marker, (0, 0))
        deadline = time.time() + 10
        while os.path.getmtime(marker) == 0 and time.time() < deadline:
            time.sleep(0.01)
        assert os.path.getmtime(marker) > time.time() - 60
    dead = Path(version.folder) / ".flashdepth_rendering.4206649-0badf00d.json"
    dead.write_text(json.dumps({"flashdepth:kind": "rendering", "host": os.uname().nodename, "pid": 4206649}))
    set_age(Path(version.folder), 3)
    assert [r.version for r in prune.plan_folder(str(tmp_path), keep=0).remove] == [version]
    with versions.rendering_marker(version.folder, versions.engine_marker_name()):
        assert not dead.exists()


def test_prune_keep_0_asks_before_deleting_the_newest_complete_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--keep 0`` would delete a node's newest complete version (a node on another machine may show it): without
    anyone to ask it refuses in one line unless --yes; at a terminal it asks. Older versions alone need no question."""
    from flashdepth_vfx.hosts import command

    old = make_version(tmp_path, "depth", age_days=3)
    newest = make_version(tmp_path, "disparity", age_days=2)
    runner = CliRunner()
    refused = runner.invoke(main, ["hosts", "prune", str(tmp_path), "--keep", "0"])
    assert refused.exit_code == 1 and os.path.isdir(old.folder) and os.path.isdir(newest.folder)
    [error] = [line for line in refused.output.splitlines() if line.startswith("Error:")]
    assert error == (f"Error: --keep 0 would delete the newest complete version of 1 node ({newest.folder}), which a "
                     "node on another machine may show: pass --yes to delete it, or keep it with --keep 1")
    assert runner.invoke(main, ["hosts", "prune", str(tmp_path), "--keep", "1"]).exit_code == 0  # no question
    assert not os.path.exists(old.folder) and os.path.isdir(newest.folder)

    monkeypatch.setattr(command, "_interactive", lambda: True)
    declined = runner.invoke(main, ["hosts", "prune", str(tmp_path), "--keep", "0"], input="n\n")
    assert declined.exit_code == 1 and "Delete the newest complete version of 1 node" in declined.output
    assert declined.output.strip().endswith("nothing deleted") and os.path.isdir(newest.folder)
    accepted = runner.invoke(main, ["hosts", "prune", str(tmp_path), "--keep", "0"], input="y\n")
    assert accepted.exit_code == 0 and not os.path.exists(newest.folder)

    monkeypatch.setattr(command, "_interactive", lambda: False)
    again = make_version(tmp_path, "normalized", age_days=2)
    assert runner.invoke(main, ["hosts", "prune", str(tmp_path), "--keep", "0", "--yes"]).exit_code == 0
    assert not os.path.exists(again.folder)
