"""A hostile review of issue 18's installer: ``--dest`` installs keep what they still use when another install is
undone, doctor's advice for a hand-written Houdini package works, and the bridge config follows XDG."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from flashdepth_vfx.hosts.install import InstallError, Layout, apply, host_checks, plan

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


def test_doctor_advice_for_a_hand_written_houdini_package_works(checkout: Path, layout: Layout,
                                                                tmp_path: Path) -> None:
    package = layout.home / "houdini20.5" / "packages" / "flashdepth_vfx.json"
    package.parent.mkdir()
    hand = {"env": [{"PYTHONPATH": {"value": "$FLASHDEPTH_VFX", "method": "append"}}], "hpath": "$FLASHDEPTH_VFX/houdini"}
    package.write_text(json.dumps(hand))
    [check] = [c for c in host_checks(layout) if c.name == "houdini"]
    assert check.ok is False and "hosts install houdini" in check.detail
    with pytest.raises(InstallError, match="move it out of packages/"):
        plan(["houdini"], layout, engine=ENGINE)  # install refuses the user's file, as the advice says
    entry = json.dumps({"FLASHDEPTH_VFX": str(checkout)})
    assert f"add {entry} to its \"env\" list" in check.detail and "move it out of packages/" in check.detail
    # the first way: the user adds the entry the advice names
    package.write_text(json.dumps({**hand, "env": [json.loads(entry)] + hand["env"]}))
    assert [c.ok for c in host_checks(layout) if c.name == "houdini"] == [True]
    # the second way: the file moved away, install manages the package
    package.write_text(json.dumps(hand))
    package.rename(tmp_path / "mine.json")
    run(layout, "houdini")
    assert [c.ok for c in host_checks(layout) if c.name == "houdini"] == [True]


@pytest.mark.parametrize("edited_since", [False, True])
def test_doctor_advice_for_an_installed_package_that_lost_its_setting_works(
        checkout: Path, layout: Layout, tmp_path: Path, edited_since: bool) -> None:
    run(layout, "houdini")
    package = layout.home / "houdini20.5" / "packages" / "flashdepth_vfx.json"
    data = json.loads(package.read_text())
    if not edited_since:  # the install record is gone (a first-release install, a lost config folder)
        layout.manifest().unlink()
    package.write_text(json.dumps({**data, "env": data["env"][1:]}))
    [check] = [c for c in host_checks(layout) if c.name == "houdini"]
    assert check.ok is False and check.detail.endswith("run `flashdepth-vfx hosts install houdini`")
    if edited_since:
        assert "move your version out of packages/" in check.detail
        package.rename(tmp_path / "mine.json")
    run(layout, "houdini")  # the advice works
    assert [c.ok for c in host_checks(layout) if c.name == "houdini"] == [True]
