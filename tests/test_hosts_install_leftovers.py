"""A hostile review of issue 18's installer: ``--dest`` installs keep what they still use when another install is
undone, doctor's advice for a hand-written Houdini package works, and the bridge config follows XDG."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import pytest
from click.testing import CliRunner

from flashdepth_vfx.bridge.engine import config_file, config_path, find_engine
from flashdepth_vfx.cli import main
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


# ----------------------------------------------------------------------------- XDG_CONFIG_HOME
def test_config_file_follows_the_xdg_spec_on_linux_only(tmp_path: Path) -> None:
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    legacy = home / ".config" / "flashdepth-vfx" / "bridge.json"
    assert config_path({"XDG_CONFIG_HOME": str(xdg)}, home, "Linux") == xdg / "flashdepth-vfx" / "bridge.json"
    assert config_file("install.json", {"XDG_CONFIG_HOME": str(xdg)}, home, "Linux") == \
        xdg / "flashdepth-vfx" / "install.json"
    for env in ({}, {"XDG_CONFIG_HOME": ""}, {"XDG_CONFIG_HOME": "relative/config"}):  # the spec ignores these
        assert config_path(env, home, "Linux") == legacy
    assert config_path({"XDG_CONFIG_HOME": str(xdg)}, home, "Darwin") == legacy
    assert config_path({"XDG_CONFIG_HOME": str(xdg), "FLASHDEPTH_VFX_CONFIG": "/studio/bridge.json"}, home,
                       "Linux") == Path("/studio/bridge.json")
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{}")  # a config written earlier at ~/.config: still found
    assert config_path({"XDG_CONFIG_HOME": str(xdg)}, home, "Linux") == legacy
    (xdg / "flashdepth-vfx").mkdir(parents=True)
    (xdg / "flashdepth-vfx" / "bridge.json").write_text("{}")  # one where XDG says wins
    assert config_path({"XDG_CONFIG_HOME": str(xdg)}, home, "Linux") == xdg / "flashdepth-vfx" / "bridge.json"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME is a Linux setting")
@pytest.mark.parametrize("earlier_at_dot_config", [False, True])
def test_install_writes_where_xdg_says_and_the_bridge_finds_it(
        checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier_at_dot_config: bool) -> None:
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    (home / "houdini20.5").mkdir(parents=True)
    xdg.mkdir()
    before = snapshot(home, xdg)
    engine = f"{sys.executable} -m flashdepth_vfx"
    if earlier_at_dot_config:  # installed before XDG_CONFIG_HOME was set: the hosts keep finding that config
        apply(plan(["nuke"], Layout("Linux", home, {}), engine=engine))
    layout = Layout("Linux", home, {"XDG_CONFIG_HOME": str(xdg)})
    apply(plan(["houdini"], layout, engine=engine))
    config = (home / ".config" if earlier_at_dot_config else xdg) / "flashdepth-vfx"
    assert layout.bridge_config() == config / "bridge.json" and layout.manifest() == config / "install.json"
    assert json.loads((config / "bridge.json").read_text())["engine"] == engine
    assert not (home / ".config").exists() or earlier_at_dot_config
    monkeypatch.delenv("FLASHDEPTH_VFX_BIN", raising=False)
    monkeypatch.delenv("FLASHDEPTH_VFX_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # only the config names the engine
    assert find_engine() == [sys.executable, "-m", "flashdepth_vfx"]  # the bridge looks where install wrote
    apply(plan(["nuke", "houdini"], layout, remove=True))
    assert snapshot(home, xdg) == before


def test_cli_uninstall_without_dest_then_with_it(checkout: Path, layout: Layout, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's set-up, through the command line."""
    monkeypatch.setenv("HOME", str(layout.home))
    monkeypatch.delenv("FLASHDEPTH_VFX_CONFIG", raising=False)
    before = snapshot(layout.home)
    dest, runner = tmp_path / "shared" / "nuke", CliRunner()
    assert runner.invoke(main, ["hosts", "install", "nuke", "--dest", str(dest)]).exit_code == 0
    engine = json.loads(layout.bridge_config().read_text())["engine"]
    undo = runner.invoke(main, ["hosts", "uninstall", "nuke"])
    assert undo.exit_code == 0 and undo.output == "nothing to remove\n", undo.output
    assert json.loads(layout.bridge_config().read_text())["engine"] == engine
    assert runner.invoke(main, ["hosts", "uninstall", "nuke", "--dest", str(dest)]).exit_code == 0
    assert not (tmp_path / "shared").exists() and snapshot(layout.home) == before
