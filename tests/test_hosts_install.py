"""`flashdepth-vfx hosts install / uninstall / doctor`: each host and OS layout in a temporary home."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from flashdepth_vfx.cli import main
from flashdepth_vfx.hosts import install as inst
from flashdepth_vfx.hosts.install import Layout, apply, host_checks, installed, plan

ROOT = Path(__file__).resolve().parent.parent
ENGINE = f"{sys.executable} -m flashdepth_vfx"


def tree(home: Path) -> dict[str, str]:
    """Every file and folder under ``home`` with the file contents."""
    return {str(p.relative_to(home)): (p.read_text() if p.is_file() else "<dir>") for p in sorted(home.rglob("*"))}


def make_home(tmp_path: Path, system: str) -> Layout:
    home = tmp_path / "home"
    prefs = {"Linux": home / "houdini20.5", "Darwin": home / "Library/Preferences/houdini/21.0",
             "Windows": home / "Documents/houdini20.5"}[system]
    prefs.mkdir(parents=True)
    (prefs / "houdini.env").write_text("# the user's own\n")
    (home / ".nuke").mkdir()
    (home / ".nuke" / "init.py").write_text("import nuke\nnuke.pluginAddPath('/studio/tools')\n")
    env = {"APPDATA": str(home / "AppData" / "Roaming")} if system == "Windows" else {}
    return Layout(system, home, env)


EXPECTED = {
    "Linux": {"houdini": "houdini20.5/packages/flashdepth_vfx.json",
              "resolve": ".local/share/DaVinciResolve/Fusion/Scripts/Comp/FlashDepth.py"},
    "Darwin": {"houdini": "Library/Preferences/houdini/21.0/packages/flashdepth_vfx.json",
               "resolve": "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Comp/FlashDepth.py"},
    "Windows": {"houdini": "Documents/houdini20.5/packages/flashdepth_vfx.json",
                "resolve": "AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Comp/FlashDepth.py"},
}


@pytest.mark.parametrize("system", ["Linux", "Darwin", "Windows"])
def test_install_each_os_layout_is_idempotent_and_uninstall_restores_the_home(tmp_path, system) -> None:
    layout = make_home(tmp_path, system)
    before = tree(layout.home)
    changes = plan(list(inst.HOSTS), layout, engine=ENGINE)
    apply(changes)
    home = layout.home
    package = json.loads((home / EXPECTED[system]["houdini"]).read_text())
    assert {"FLASHDEPTH_VFX": str(ROOT)} in package["env"] and package["hpath"] == "$FLASHDEPTH_VFX/houdini"
    assert f"runpy.run_path({str(ROOT / 'resolve/Fusion/Scripts/Comp/FlashDepth.py')!r}" in \
        (home / EXPECTED[system]["resolve"]).read_text()
    init = (home / ".nuke" / "init.py").read_text()
    assert init.startswith("import nuke\nnuke.pluginAddPath('/studio/tools')\n")  # the user's lines kept
    assert f"nuke.pluginAddPath({str(ROOT / 'nuke')!r})" in init
    assert json.loads((home / ".config/flashdepth-vfx/bridge.json").read_text())["engine"] == ENGINE
    assert all(installed(h, layout) for h in inst.HOSTS)
    assert all(c.ok for c in host_checks(layout)), host_checks(layout)

    again = plan(list(inst.HOSTS), layout, engine=ENGINE)
    assert {c.action for c in again} == {"unchanged"}
    after_install = tree(home)
    apply(again)
    assert tree(home) == after_install

    apply(plan(list(inst.HOSTS), layout, remove=True))
    assert tree(home) == before  # nothing left behind, the user's own files untouched
    assert not any(installed(h, layout) for h in inst.HOSTS)


def test_uninstalling_one_host_keeps_the_others_and_the_engine_config(tmp_path) -> None:
    layout = make_home(tmp_path, "Linux")
    apply(plan(["nuke", "houdini"], layout, engine=ENGINE))
    apply(plan(["nuke"], layout, remove=True))
    assert not installed("nuke", layout) and installed("houdini", layout)
    assert (layout.home / ".config/flashdepth-vfx/bridge.json").is_file()
    apply(plan(["houdini"], layout, remove=True))
    assert not (layout.home / ".config/flashdepth-vfx").exists()


def test_bridge_config_keeps_the_users_other_settings_and_gets_the_studio_engine_back(tmp_path) -> None:
    """Issue 18 item 5: uninstall restores the studio's own engine setting (it dropped the key)."""
    layout = make_home(tmp_path, "Linux")
    config = layout.home / ".config/flashdepth-vfx/bridge.json"
    config.parent.mkdir(parents=True)
    studio = json.dumps({"engine": "/studio/bin/flashdepth-vfx", "cache": "/big/disk"})
    config.write_text(studio)
    apply(plan(["nuke"], layout, engine=ENGINE))
    assert json.loads(config.read_text()) == {"engine": ENGINE, "cache": "/big/disk", "installed_by": inst.MARKER,
                                                "engine_before_install": "/studio/bin/flashdepth-vfx"}
    apply(plan(["nuke"], layout, remove=True))
    assert config.read_text() == studio  # byte for byte
    assert sorted(p.name for p in config.parent.iterdir()) == ["bridge.json"]  # the install record went too
    # someone edits the config while installed: their edit stays, the studio's engine comes back
    apply(plan(["nuke"], layout, engine=ENGINE))
    config.write_text(json.dumps({**json.loads(config.read_text()), "cache": "/faster/disk"}))
    apply(plan(["nuke"], layout, remove=True))
    assert json.loads(config.read_text()) == {"engine": "/studio/bin/flashdepth-vfx", "cache": "/faster/disk"}


def test_houdini_without_preferences_is_one_clear_error(tmp_path) -> None:
    layout = Layout("Linux", tmp_path, {})
    with pytest.raises(inst.InstallError, match=r"no Houdini preferences folder found .*--dest"):
        plan(["houdini"], layout, engine=ENGINE)
    changes = plan(["houdini"], Layout("Linux", tmp_path, {"HOUDINI_USER_PREF_DIR": str(tmp_path / "h")}), engine=ENGINE)
    assert [c.path for c in changes if c.owner == "houdini"] == [tmp_path / "h" / "packages" / "flashdepth_vfx.json"]


def test_nuke_block_adds_the_plugin_folder(tmp_path, monkeypatch) -> None:
    layout = make_home(tmp_path, "Linux")
    apply(plan(["nuke"], layout, engine=ENGINE))
    added: list[str] = []
    monkeypatch.setitem(sys.modules, "nuke", types.SimpleNamespace(pluginAddPath=added.append))
    runpy.run_path(str(layout.home / ".nuke" / "init.py"))
    assert added == ["/studio/tools", str(ROOT / "nuke")] and (Path(added[1]) / "menu.py").is_file()


def test_resolve_launcher_runs_the_checkout_script_with_the_injected_objects(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkout"
    script = root / "resolve/Fusion/Scripts/Comp/Probe.py"
    script.parent.mkdir(parents=True)
    script.write_text("import os\nRESULT.append((comp, os.environ['FLASHDEPTH_VFX_PATH']))\n")
    launcher = tmp_path / "Probe.py"
    launcher.write_text(inst._launcher(root, Path("Comp/Probe.py")))
    monkeypatch.delenv("FLASHDEPTH_VFX_PATH", raising=False)
    result: list[object] = []
    runpy.run_path(str(launcher), init_globals={"comp": "the comp", "RESULT": result})
    assert result == [("the comp", str(root))]


def test_cli_install_doctor_uninstall(tmp_path, monkeypatch) -> None:
    layout = make_home(tmp_path, "Linux")
    monkeypatch.setenv("HOME", str(layout.home))
    monkeypatch.delenv("FLASHDEPTH_VFX_BIN", raising=False)
    monkeypatch.delenv("FLASHDEPTH_VFX_CONFIG", raising=False)
    monkeypatch.delenv("HOUDINI_USER_PREF_DIR", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no flashdepth-vfx on PATH: the bridge config must find it
    before = tree(layout.home)
    runner = CliRunner()
    dry = runner.invoke(main, ["hosts", "install", "all", "--dry-run"])
    assert dry.exit_code == 0 and "would write" in dry.output and tree(layout.home) == before

    assert runner.invoke(main, ["hosts", "install", "all"]).exit_code == 0
    doctor = runner.invoke(main, ["hosts", "doctor"])
    assert doctor.exit_code == 0, doctor.output
    lines = {line.split()[1]: line.split()[0] for line in doctor.output.splitlines()}
    assert lines["engine"] == lines["nuke"] == lines["houdini"] == lines["resolve"] == "ok"

    assert runner.invoke(main, ["hosts", "uninstall", "all"]).exit_code == 0
    assert tree(layout.home) == before
    doctor = runner.invoke(main, ["hosts", "doctor"])
    assert doctor.exit_code == 1 and doctor.output.startswith("FIX engine")


def test_doctor_names_a_broken_installation(tmp_path) -> None:
    layout = make_home(tmp_path, "Linux")
    apply(plan(["houdini"], layout, engine=ENGINE))
    package = layout.home / "houdini20.5/packages/flashdepth_vfx.json"
    package.write_text(package.read_text().replace(str(ROOT), str(tmp_path / "moved")))
    houdini = [c for c in host_checks(layout) if c.name == "houdini"]
    assert houdini[0].ok is False and "hosts install houdini" in houdini[0].detail


def test_unknown_host_and_conflicting_options(tmp_path) -> None:
    with pytest.raises(inst.InstallError, match="unknown host"):
        plan(["maya"], Layout("Linux", tmp_path, {}))
    result = CliRunner().invoke(main, ["hosts", "install", "nuke", "--user", "--dest", str(tmp_path)])
    assert result.exit_code == 2


# ----------------------------------------------------------------------------- issue 19 item 8: OSes, all, doctor
def test_windows_nuke_and_houdini_follow_home_and_the_redirected_documents(tmp_path) -> None:
    profile, home, onedrive = tmp_path / "Users/ana", tmp_path / "H/ana", tmp_path / "Users/ana/OneDrive/Documents"
    for prefs in (home / "houdini20.5", onedrive / "houdini21.0", profile / "Documents/houdini20.0"):
        prefs.mkdir(parents=True)
    with_home = Layout("Windows", profile, {"HOME": str(home)})
    assert with_home.nuke_dir() == home / ".nuke"  # Foundry: .nuke under %HOME% when set
    assert with_home.houdini_dirs() == [home / "houdini20.5"]  # SideFX: %HOME%/houdiniX.Y
    plain = Layout("Windows", profile, {}, documents=onedrive)
    assert plain.nuke_dir() == profile / ".nuke"  # else under %USERPROFILE%
    assert plain.houdini_dirs() == [onedrive / "houdini21.0"]  # Houdini's HOME is the (OneDrive) Documents folder
    assert Layout("Windows", profile, {}).houdini_dirs() == [profile / "Documents/houdini20.0"]
    assert Layout("Linux", profile, {"HOME": str(home)}).nuke_dir() == profile / ".nuke"  # Path.home() elsewhere


def test_install_all_installs_every_host_it_can_and_names_the_rest(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(Layout, "current", classmethod(lambda cls: Layout("Linux", home, {})))
    runner = CliRunner()
    result = runner.invoke(main, ["hosts", "install", "all"])
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if line.startswith("skip")]
    assert skipped == [f"skip   houdini: no Houdini preferences folder found (looked for houdiniX.Y under {home}): "
                       "start Houdini once, set $HOUDINI_USER_PREF_DIR, or pass --dest"]
    layout = Layout("Linux", home, {})
    assert installed("nuke", layout) and installed("resolve", layout) and not installed("houdini", layout)
    named = runner.invoke(main, ["hosts", "install", "houdini"])
    assert named.exit_code == 1 and "no Houdini preferences folder found" in named.output
    assert runner.invoke(main, ["hosts", "uninstall", "all"]).exit_code == 0
    assert sorted(p.name for p in home.iterdir()) == []


def test_doctor_with_a_torch_that_does_not_import_is_one_fix_line(tmp_path) -> None:
    broken = tmp_path / "site" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libtorch_cuda.so: cannot open shared object file')\n")
    (tmp_path / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)]),
           "FLASHDEPTH_VFX_BIN": f"{sys.executable} -m flashdepth_vfx"}
    env.pop("FLASHDEPTH_VFX_CONFIG", None)
    env.pop("HOUDINI_USER_PREF_DIR", None)
    done = subprocess.run([sys.executable, "-m", "flashdepth_vfx", "hosts", "doctor"], capture_output=True, text=True,
                          env=env, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    fix = [line for line in output.splitlines() if line.startswith("FIX")]
    assert fix == ["FIX torch    torch does not import (ImportError: libtorch_cuda.so: cannot open shared object file): "
                   f"reinstall it in the engine's Python ({sys.executable} -m pip install --force-reinstall torch)"]
