"""A hostile review of issue 18's installer: ``--dest`` installs keep what they still use when another install is
undone, doctor's advice for a hand-written Houdini package works, and the bridge config follows XDG."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from flashdepth_vfx.hosts.install import Layout, apply, plan

from test_hosts_install_safety import ENGINE, checkout, layout, snapshot  # noqa: F401 - fixtures


def run(layout: Layout, host: str, dest: Optional[Path] = None, remove: bool = False) -> None:
    apply(plan([host], layout, dest, remove=remove, engine=ENGINE))


def test_uninstall_without_dest_keeps_what_a_dest_install_uses(checkout: Path, layout: Layout, tmp_path: Path) -> None:
    before = snapshot(layout.home)
    dest = tmp_path / "shared" / "nuke"
    run(layout, "nuke", dest)
    config = layout.bridge_config().read_bytes()
    run(layout, "nuke", remove=True)  # nothing of the default install: the --dest install is untouched
    assert layout.bridge_config().read_bytes() == config
    assert (dest / "init.py").is_file() and layout.manifest().is_file()
    run(layout, "nuke", dest, remove=True)
    assert not (tmp_path / "shared").exists()  # the init.py and folders the install created went with its block
    assert snapshot(layout.home) == before


def test_uninstall_dest_keeps_the_default_install_and_a_users_init(checkout: Path, layout: Layout,
                                                                    tmp_path: Path) -> None:
    before = snapshot(layout.home)
    dest = tmp_path / "shared"
    dest.mkdir()
    (dest / "init.py").write_bytes(b"")  # the user's (empty) init.py: it stays, byte-identical
    run(layout, "nuke")
    run(layout, "nuke", dest)
    run(layout, "nuke", dest, remove=True)
    assert (dest / "init.py").read_bytes() == b""
    assert json.loads(layout.bridge_config().read_text())["engine"] == ENGINE  # the default install still uses it
    run(layout, "nuke", remove=True)
    assert snapshot(layout.home) == before
