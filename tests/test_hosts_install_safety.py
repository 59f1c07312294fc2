"""Issue 18: `hosts install` / `uninstall` never touch a file the user made (each set-up of the issue, in a fake home
and a fake checkout), and a property test over generated homes: install + uninstall leaves every file and link as
it was, and nothing is ever written into the checkout."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Iterator, Tuple
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashdepth_vfx.cli import main
from flashdepth_vfx.hosts import install as inst
from flashdepth_vfx.hosts.install import InstallError, Layout, apply, installed, plan

ROOT = Path(__file__).resolve().parent.parent
ENGINE = "/opt/flashdepth/bin/flashdepth-vfx"
SCRIPTS = ".local/share/DaVinciResolve/Fusion/Scripts"
COMP = f"{SCRIPTS}/Comp/FlashDepth.py"
UTILITY = f"{SCRIPTS}/Utility/FlashDepth Timeline Clip.py"
Entry = Tuple[str, object]


def snapshot(*folders: Path) -> Dict[str, Entry]:
    """Every file (bytes), link (its target) and folder under ``folders``, links not followed."""
    found: Dict[str, Entry] = {}
    for folder in folders:
        for base, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(base) / name
                if path.is_symlink():
                    found[str(path)] = ("link", os.readlink(path))
                elif path.is_dir():
                    found[str(path)] = ("dir", None)
                else:
                    found[str(path)] = ("file", path.read_bytes())
    return found


def make_checkout(root: Path) -> Path:
    """A stand-in checkout: the folders the installer reads (its own files must stay as they are)."""
    (root / "nuke").mkdir(parents=True)
    (root / "nuke" / "menu.py").write_text("# the plugin\n")
    (root / "houdini" / "packages").mkdir(parents=True)
    shutil.copy(ROOT / "houdini" / "packages" / "flashdepth_vfx.json", root / "houdini" / "packages")
    for script in ("Comp/FlashDepth.py", "Utility/FlashDepth Timeline Clip.py"):
        path = root / "resolve" / "Fusion" / "Scripts" / script
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# the checkout's own {script}\n")
    return root


@pytest.fixture()
def checkout(tmp_path: Path) -> Iterator[Path]:
    root = make_checkout(tmp_path / "checkout")
    with mock.patch.object(inst, "project_root", return_value=root):
        yield root


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    home = tmp_path / "home"
    (home / "houdini20.5").mkdir(parents=True)
    return Layout("Linux", home, {})


def install(layout: Layout, *hosts: str) -> None:
    apply(plan(list(hosts), layout, engine=ENGINE))


def uninstall(layout: Layout, *hosts: str) -> None:
    apply(plan(list(hosts), layout, remove=True))


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------- item 1
@pytest.mark.parametrize("script", [COMP, UTILITY])
def test_a_users_own_resolve_script_of_the_same_name_is_refused_and_kept(checkout, layout, tmp_path, script) -> None:
    mine = write(layout.home / script, b"print('my own tool')\n")
    before = snapshot(tmp_path)
    with pytest.raises(InstallError, match=rf"nothing written: {mine} exists and was not written by flashdepth-vfx "
                                           r"as a host-launcher file: rename or move it"):
        plan(["resolve"], layout, engine=ENGINE)
    uninstall(layout, "resolve")
    assert snapshot(tmp_path) == before


def test_cli_install_refuses_in_one_line_and_writes_nothing(checkout, layout, tmp_path, monkeypatch) -> None:
    write(layout.home / COMP, b"print('my own tool')\n")
    monkeypatch.setattr(Layout, "current", classmethod(lambda cls: layout))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["hosts", "install", "nuke", "resolve"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "FlashDepth.py exists and was not written" in result.output
    assert snapshot(tmp_path) == before  # nothing for Nuke either: a refusal stops the whole install


# ------------------------------------------------------------------------------------------- item 2
def test_a_houdini_package_installed_by_hand_keeps_its_settings(checkout, layout, tmp_path) -> None:
    package = layout.home / "houdini20.5/packages/flashdepth_vfx.json"
    text = (checkout / "houdini/packages/flashdepth_vfx.json").read_text().replace("/path/to/flashdepth-vfx", str(checkout))
    hand = json.loads(text)
    hand["env"].append({"STUDIO_TOOLS": "/studio/tools"})
    hand["load_package_once"] = True
    write(package, json.dumps(hand, indent=2).encode())
    before = snapshot(tmp_path)
    changes = plan(["houdini"], layout, engine=ENGINE)
    assert [(c.action, c.note) for c in changes if c.owner == "houdini"] == [("keep", "installed by hand for this checkout")]
    apply(changes)
    assert package.read_bytes() == before[str(package)][1]
    uninstall(layout, "houdini")
    assert snapshot(tmp_path) == before  # the package and packages/ stay


def test_a_houdini_package_by_hand_for_another_folder_is_refused(checkout, layout) -> None:
    write(layout.home / "houdini20.5/packages/flashdepth_vfx.json",
          b'{"env": [{"FLASHDEPTH_VFX": "/elsewhere"}], "hpath": "$FLASHDEPTH_VFX/houdini"}')
    with pytest.raises(InstallError, match="a package installed by hand.*move it out of packages/"):
        plan(["houdini"], layout, engine=ENGINE)


# ------------------------------------------------------------------------------------------- item 3
def test_a_scripts_folder_linked_into_the_checkout_is_never_written(checkout, layout, tmp_path) -> None:
    scripts = layout.home / SCRIPTS
    scripts.parent.mkdir(parents=True)
    scripts.symlink_to(checkout / "resolve/Fusion/Scripts")
    before = snapshot(tmp_path)
    changes = plan(["resolve"], layout, engine=ENGINE)
    assert {c.action for c in changes if c.owner == "resolve"} == {"keep"}
    apply(changes)
    assert snapshot(checkout) == {k: v for k, v in before.items() if k.startswith(str(checkout) + os.sep)}
    uninstall(layout, "resolve")
    assert snapshot(tmp_path) == before


def test_linked_launcher_files_are_the_users(checkout, layout, tmp_path) -> None:
    own = write(tmp_path / "tools/mine.py", b"print('mine')\n")
    comp, utility = layout.home / COMP, layout.home / UTILITY
    comp.parent.mkdir(parents=True)
    utility.parent.mkdir(parents=True)
    comp.symlink_to(checkout / "resolve/Fusion/Scripts/Comp/FlashDepth.py")  # "copy (or link)" by hand
    utility.symlink_to(own)
    before = snapshot(tmp_path)
    with pytest.raises(InstallError, match=r"FlashDepth Timeline Clip\.py is a link \(to .*mine\.py\)"):
        plan(["resolve"], layout, engine=ENGINE)
    utility.unlink()
    apply(plan(["resolve"], layout, engine=ENGINE))
    assert comp.is_symlink() and installed("resolve", layout)  # the Utility launcher was installed beside it
    uninstall(layout, "resolve")
    utility.symlink_to(own)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------- item 7
def test_a_dotfiles_init_py_link_stays_a_link(checkout, layout, tmp_path) -> None:
    dotfile = write(layout.home / "dotfiles/nuke/init.py", b"import nuke\nnuke.pluginAddPath('/studio')\n")
    init = layout.home / ".nuke/init.py"
    init.parent.mkdir()
    init.symlink_to(Path("..", "dotfiles", "nuke", "init.py"))
    before = snapshot(tmp_path)
    changes = plan(["nuke"], layout, engine=ENGINE)
    assert [c.describe() for c in changes if c.owner == "nuke"] == [f"write  {init} (the file {init} links to)"]
    apply(changes)
    assert init.is_symlink() and os.readlink(init) == str(Path("..", "dotfiles", "nuke", "init.py"))
    assert dotfile.read_bytes().startswith(b"import nuke\nnuke.pluginAddPath('/studio')\n# >>> flashdepth-vfx")
    assert installed("nuke", layout)
    uninstall(layout, "nuke")
    assert snapshot(tmp_path) == before


def test_a_dangling_init_py_link_is_one_line(checkout, layout) -> None:
    (layout.home / ".nuke").mkdir()
    (layout.home / ".nuke/init.py").symlink_to(layout.home / "gone.py")
    with pytest.raises(InstallError, match=r"init\.py is a link to .*gone\.py, which is not a file: fix the link"):
        plan(["nuke"], layout, engine=ENGINE)


# ------------------------------------------------------------------------------------------- item 8
def test_a_damaged_nuke_block_is_refused_and_nothing_is_removed_across_blocks(checkout, layout, tmp_path) -> None:
    init = write(layout.home / ".nuke/init.py", b"import nuke\n")
    install(layout, "nuke")
    damaged = init.read_text().replace(inst._BLOCK_END + "\n", "") + "nuke.pluginAddPath('/my/own')\n"
    init.write_text(damaged)
    before = snapshot(tmp_path)
    for remove in (False, True):
        with pytest.raises(InstallError, match=r"init\.py has a damaged flashdepth-vfx block \(its end line .* is "
                                               r"missing after line 2\): delete the block's lines by hand"):
            plan(["nuke"], layout, remove=remove, engine=ENGINE)
    assert snapshot(tmp_path) == before
    result = CliRunner().invoke(main, ["hosts", "uninstall", "nuke"], env={"HOME": str(layout.home)})
    assert result.exit_code == 1 and "damaged" in result.output and init.read_text() == damaged


def test_an_intact_block_keeps_its_place_on_reinstall(checkout, layout) -> None:
    init = write(layout.home / ".nuke/init.py", b"a = 1\n")
    install(layout, "nuke")
    text = init.read_text()
    init.write_text(text + "b = 2\n")
    install(layout, "nuke")
    assert init.read_text() == text + "b = 2\n"
    uninstall(layout, "nuke")
    assert init.read_text() == "a = 1\nb = 2\n"


# ------------------------------------------------------------------------------------------- item 10
@pytest.mark.parametrize("data", [
    b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n",  # not UTF-8
    b"import nuke\r\nnuke.pluginAddPath('/studio')\r\n",  # CRLF
    b"import nuke\r\nnuke.pluginAddPath('/studio')",  # CRLF, no final newline
    b"import nuke\nnuke.pluginAddPath('/studio')",  # no final newline
    b"",  # an empty init.py that existed before
])
def test_init_py_round_trip_is_byte_identical(checkout, layout, tmp_path, data) -> None:
    init = write(layout.home / ".nuke/init.py", data)
    before = snapshot(tmp_path)
    install(layout, "nuke")
    written = init.read_bytes()
    assert written.startswith(data) and installed("nuke", layout)
    if b"\r\n" in data:
        assert written.count(b"\n") == written.count(b"\r\n")  # the block has CRLF line ends too
    uninstall(layout, "nuke")
    assert snapshot(tmp_path) == before


def test_a_non_utf8_init_py_is_no_traceback(checkout, layout, tmp_path) -> None:
    write(layout.home / ".nuke/init.py", b"name = 'caf\xe9'\n")
    runner, env = CliRunner(), {"HOME": str(layout.home), "FLASHDEPTH_VFX_CONFIG": None, "HOUDINI_USER_PREF_DIR": None}
    result = runner.invoke(main, ["hosts", "install", "nuke"], env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["hosts", "uninstall", "nuke"], env=env).exit_code == 0
    assert (layout.home / ".nuke/init.py").read_bytes() == b"name = 'caf\xe9'\n"


def test_folders_that_existed_before_stay(checkout, layout, tmp_path) -> None:
    (layout.home / ".nuke").mkdir()
    (layout.home / "houdini20.5/packages").mkdir()
    (layout.home / f"{SCRIPTS}/Comp").mkdir(parents=True)
    (layout.home / ".config").mkdir()
    before = snapshot(tmp_path)
    install(layout, *inst.HOSTS)
    uninstall(layout, *inst.HOSTS)
    assert snapshot(tmp_path) == before


def test_a_file_changed_between_plan_and_apply_is_not_overwritten(checkout, layout) -> None:
    init = write(layout.home / ".nuke/init.py", b"a = 1\n")
    changes = plan(["nuke"], layout, engine=ENGINE)
    init.write_bytes(b"a = 2\n")
    with pytest.raises(InstallError, match=r"init\.py changed while installing: run the command again"):
        apply(changes)
    assert init.read_bytes() == b"a = 2\n"


# ----------------------------------------------------------------------------------- the property
NUKE_INIT = {
    "absent": None,
    "empty": b"",
    "plain": b"import nuke\nnuke.pluginAddPath('/studio')\n",
    "crlf-no-final-newline": b"import nuke\r\nnuke.pluginAddPath('/studio')",
    "latin-1": b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n",
    "dotfiles-link": b"import nuke\n",
}


@st.composite
def homes(draw: st.DrawFn) -> Dict[str, str]:
    return {
        "nuke_dir": draw(st.sampled_from(["absent", "folder", "linked-folder"])),
        "init": draw(st.sampled_from(sorted(NUKE_INIT))),
        "houdini": draw(st.sampled_from(["none", "empty", "packages", "hand-package", "foreign-package"])),
        "scripts": draw(st.sampled_from(["absent", "folder", "linked-into-checkout"])),
        "comp": draw(st.sampled_from(["absent", "own-file", "link-to-checkout", "link-to-own"])),
        "bridge": draw(st.sampled_from(["absent", "studio", "other-keys", "link-to-dotfiles"])),
        "hosts": draw(st.lists(st.sampled_from(inst.HOSTS), min_size=1, max_size=3, unique=True)),
    }


def build(base: Path, checkout: Path, case: Dict[str, str]) -> Layout:
    """A home folder for ``case`` (and a dotfiles folder beside it)."""
    home, dotfiles = base / "home", base / "dotfiles"
    home.mkdir()
    (dotfiles / "nuke").mkdir(parents=True)
    nuke = home / ".nuke"
    if case["nuke_dir"] == "linked-folder":
        nuke.symlink_to(dotfiles / "nuke")
    elif case["nuke_dir"] == "folder" or case["init"] != "absent":
        nuke.mkdir()
    data = NUKE_INIT[case["init"]]
    if case["init"] == "dotfiles-link":
        write(dotfiles / "init.py", data or b"")
        (nuke / "init.py").symlink_to(dotfiles / "init.py")
    elif data is not None:
        write(nuke / "init.py", data)
    prefs = home / "houdini20.5"
    if case["houdini"] != "none":
        prefs.mkdir()
        (prefs / "houdini.env").write_bytes(b"# mine\r\n")
    if case["houdini"] == "packages":
        (prefs / "packages").mkdir()
    elif case["houdini"] in ("hand-package", "foreign-package"):
        where = str(checkout) if case["houdini"] == "hand-package" else "/elsewhere"
        write(prefs / "packages/flashdepth_vfx.json", json.dumps({"env": [{"FLASHDEPTH_VFX": where}], "x": 1}).encode())
    scripts = home / SCRIPTS
    if case["scripts"] == "linked-into-checkout":
        scripts.parent.mkdir(parents=True)
        scripts.symlink_to(checkout / "resolve/Fusion/Scripts")
    else:
        if case["scripts"] == "folder":
            scripts.mkdir(parents=True)
        comp = scripts / "Comp/FlashDepth.py"
        if case["comp"] == "own-file":
            write(comp, b"print('mine')\n")
        elif case["comp"] != "absent":
            comp.parent.mkdir(parents=True)
            comp.symlink_to(checkout / "resolve/Fusion/Scripts/Comp/FlashDepth.py" if case["comp"] == "link-to-checkout"
                            else write(dotfiles / "mine.py", b"print('mine')\n"))
    config = home / ".config/flashdepth-vfx/bridge.json"
    if case["bridge"] == "studio":
        write(config, b'{"engine": "/studio/bin/flashdepth-vfx", "cache": "/big/disk"}')
    elif case["bridge"] == "other-keys":
        write(config, b'{\n  "cache": "/big/disk"\n}')
    elif case["bridge"] == "link-to-dotfiles":
        config.parent.mkdir(parents=True)
        config.symlink_to(write(dotfiles / "bridge.json", b'{"engine": "/studio/bin/flashdepth-vfx"}\r\n'))
    return Layout("Linux", home, {})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=homes())
def test_install_then_uninstall_leaves_every_file_and_link_as_it_was(case: Dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        checkout = make_checkout(base / "checkout")
        with mock.patch.object(inst, "project_root", return_value=checkout):
            layout = build(base, checkout, case)
            before, own = snapshot(base), snapshot(checkout)
            try:
                install(layout, *case["hosts"])
            except InstallError:
                assert snapshot(base) == before  # a refusal writes nothing at all
                return
            assert snapshot(checkout) == own  # never written through a link into the checkout
            assert {c.action for c in plan(case["hosts"], layout, engine=ENGINE)} <= {"unchanged", "keep"}  # idempotent
            for path, (kind, value) in before.items():  # install only adds: every file and link is still what it was,
                now = snapshot(Path(path).parent).get(path)  # apart from its own marked block / engine setting
                assert now is not None and now[0] == kind, (path, now)
                if kind == "link":
                    assert now == (kind, value)
            uninstall(layout, *case["hosts"])
            assert snapshot(base) == before


def test_the_installer_and_the_guard_import_with_the_standard_library_only() -> None:
    """Host Pythons import :mod:`flashdepth_vfx.hosts`; the guard they decide through loads no image library."""
    import subprocess
    import sys

    code = ("import sys, flashdepth_vfx.hosts.install, flashdepth_vfx.plates.output_guard; "
            "print(sorted(m for m in ('OpenImageIO', 'PyOpenColorIO', 'numpy', 'torch', 'click') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_files_of_the_first_release_are_still_the_installers(checkout, layout, tmp_path) -> None:
    """An upgrade: the launcher, package and bridge config the first release wrote are replaced and removed as the
    installer's own (they carry only its comment), without a manifest to say which folders it created."""
    launcher = write(layout.home / COMP, b'"""FlashDepth launcher (flashdepth-vfx hosts install; remove with '
                                          b'`flashdepth-vfx hosts uninstall resolve`):\nruns it."""\n')
    package = write(layout.home / "houdini20.5/packages/flashdepth_vfx.json", json.dumps(
        {"_comment": "written by `flashdepth-vfx hosts install`; remove with `flashdepth-vfx hosts uninstall houdini`",
         "env": [{"FLASHDEPTH_VFX": "/old/checkout"}]}).encode())
    bridge = write(layout.home / ".config/flashdepth-vfx/bridge.json",
                   json.dumps({"engine": "/old/engine", "installed_by": inst.MARKER}).encode())
    install(layout, "resolve", "houdini")
    assert launcher.read_text().startswith("# flashdepth:kind=host-launcher")
    assert json.loads(package.read_text())["env"][0] == {"FLASHDEPTH_VFX": str(checkout)}
    uninstall(layout, "resolve", "houdini")
    assert not launcher.exists() and not package.exists() and not bridge.exists()
    assert launcher.parent.is_dir() and package.parent.is_dir()  # folders nobody recorded stay
