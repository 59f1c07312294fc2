"""Status checks of FlashDepth nodes on network storage: a script of many nodes opened in Nuke (the fake
``tests/fakes/nuke.py``), every file-system call counted and delayed by a network round trip
(``tests/fakes/slowfs.py``); the host code at ``BEFORE`` and this tree's, each in its own process, in one run.

    python benchmarks/bench_status.py [--nodes 200] [--frames 48] [--versions 3] [--latency-ms 1]

Prints, before and after: file-system calls per node for the script's opening (a fresh session: nothing
remembered) and for a knob change, and the seconds the main thread spends in them at the given latency.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

BEFORE = "d33c2b7"
"""The commit whose host code is "before" (a look-up per frame, a manifest read twice and a stat per version)."""
ROOT = Path(__file__).resolve().parent.parent


def _forget() -> None:
    """A fresh session: drop what this tree's host code remembers between status checks (none before)."""
    from flashdepth_vfx.hosts import colour, export
    for name in ("_STAMPS", "_FIRST"):
        getattr(export, name, {}).clear()
    getattr(colour, "_CONFIGS", {}).clear()


def worker(tree: Path, data: Path, nodes: int, frames: int, versions: int, latency: float) -> Dict[str, Any]:
    """In this process: build a script of ``nodes`` FlashDepth nodes with the host code of ``tree``, then count
    the file-system calls of opening it and of one knob change."""
    sys.path[:0] = [str(tree), str(tree / "nuke"), str(ROOT / "tests")]
    from fakes import nuke
    from fakes.slowfs import SlowFileSystem
    sys.modules["nuke"] = nuke
    import dataclasses
    import flashdepth_nuke.node as fd

    nuke.reset()
    fd.register_callbacks()
    nuke.root()["name"].setValue(str(data / "comp" / "shot.nk"))
    modes = ("disparity", "normalized", "depth")[-versions:]
    delivered = time.time() - 86400
    groups = []
    for index in range(nodes):
        plates = data / f"sh{index:03d}" / "plates"
        plates.mkdir(parents=True)
        for frame in range(1001, 1001 + frames):
            (plates / f"shot.{frame:04d}.exr").write_bytes(f"plate {index} {frame}".encode() * 40)
        os.utime(plates, (delivered, delivered))
        read = nuke.nodes.Read(file=str(plates / "shot.%04d.exr"), first=1001, last=1000 + frames, origfirst=1001,
                               origlast=1000 + frames, colorspace="default (sRGB)")
        group = fd.create_node(read)
        group.setName(f"Depth{index:03d}")
        group["output"].setValue(str(data / f"sh{index:03d}" / "depth"))
        settings = fd.read_source(group).settings
        for mode in modes:
            version = dataclasses.replace(settings, mode=mode).version()
            version.write_manifest(dataclasses.replace(settings, mode=mode).versioned_job())
            for frame in range(1001, 1001 + frames):
                Path(version.frame_file(frame)).write_text("depth")
        fd.refresh_status(group)
        assert str(group["status"].value()).startswith("Current"), group["status"].value()
        groups.append(group)
    result: Dict[str, Any] = {}
    _forget()
    with SlowFileSystem(latency) as fs:
        start = time.perf_counter()
        nuke.load_script(str(data / "comp" / "shot.nk"))
        result["open_s"] = time.perf_counter() - start
    result["open_calls"] = fs.total
    with SlowFileSystem(latency) as fs:
        start = time.perf_counter()
        groups[0]["frames"].setValue(f"1001-{1000 + frames}")  # the artist retypes the range: same version
        nuke.knob_changed(groups[0], "frames")
        result["knob_s"] = time.perf_counter() - start
    result["knob_calls"] = fs.total
    assert all(str(g["status"].value()).startswith("Current") for g in groups)
    return result


def _run(tree: Path, data: Path, args: argparse.Namespace) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--worker", str(tree), str(data), "--nodes", str(args.nodes),
               "--frames", str(args.frames), "--versions", str(args.versions), "--latency-ms", str(args.latency_ms)]
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--versions", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--latency-ms", type=float, default=1.0)
    parser.add_argument("--worker", nargs=2, metavar=("TREE", "DATA"))
    args = parser.parse_args()
    if args.worker:
        tree, data = map(Path, args.worker)
        print(json.dumps(worker(tree, data, args.nodes, args.frames, args.versions, args.latency_ms / 1000)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", BEFORE, "flashdepth_vfx", "nuke"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        results = {}
        for label, tree in (("before", before), ("after", ROOT)):
            data = Path(tmp) / f"data-{label}"
            results[label] = _run(tree, data, args)
            shutil.rmtree(data)
    print(f"{args.nodes} FlashDepth nodes, {args.frames}-frame plates, {args.versions} versions each; "
          f"{args.latency_ms:g} ms per file-system call (host code at {BEFORE} = before; this tree = after)")
    for label, r in results.items():
        print(f"  {label:6s} script open: {r['open_calls'] / args.nodes:6.1f} calls/node, {r['open_s']:6.2f} s   "
              f"knob change: {r['knob_calls']:4d} calls, {r['knob_s'] * 1000:6.1f} ms")
    b, a = results["before"], results["after"]
    print(f"  after/before: script open {a['open_s'] / b['open_s']:.2f}x the time, "
          f"knob change {a['knob_calls'] / b['knob_calls']:.2f}x the calls")


if __name__ == "__main__":
    main()
