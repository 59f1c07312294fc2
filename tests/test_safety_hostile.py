"""A hostile pass over issue 18's guarantees (install, uninstall, prune, farm): each set-up that once lost or
changed a file the project did not write, or left a link split."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from test_hosts_install_safety import COMP, ROOT, checkout, install, layout, uninstall  # noqa: F401 - fixtures

from flashdepth_vfx.hosts.install import InstallError, Layout, apply, plan
from flashdepth_vfx.hosts.versions import MANIFEST


def test_a_hard_linked_init_py_stays_one_file_with_its_other_name(checkout, layout: Layout, tmp_path: Path) -> None:
    """``~/.nuke/init.py`` hard-linked to a dotfiles copy: install and uninstall edit the one file both names
    share (an atomic rename would split them: the dotfiles copy would stop reaching Nuke)."""
    dotfiles = tmp_path / "dotfiles" / "init.py"
    dotfiles.parent.mkdir()
    dotfiles.write_bytes(b"import os\r\n")
    init = layout.home / ".nuke" / "init.py"
    init.parent.mkdir()
    os.link(dotfiles, init)
    install(layout, "nuke")
    assert os.path.samefile(init, dotfiles) and b"pluginAddPath" in dotfiles.read_bytes()
    uninstall(layout, "nuke")
    assert os.path.samefile(init, dotfiles) and dotfiles.read_bytes() == b"import os\r\n"


def submit(job: Path, plates: Path, *options: str) -> tuple[int, str]:
    """``farm submit-template`` of one small shot under ``plates`` (depth beside that folder) into ``job``."""
    from click.testing import CliRunner
    from engine_helpers import write_plates

    from flashdepth_vfx.farm.command import farm

    plate = write_plates(plates, range(1, 3))
    result = CliRunner().invoke(farm, ["submit-template", plate, "-o", str(job),
                                       "--output", str(plates.parent / "out" / "{shot}_depth.####.exr"), *options])
    return result.exit_code, result.output


def test_a_job_template_is_never_written_as_its_own_parameter_values(tmp_path: Path) -> None:
    """``-o bundle/parameter_values.json``: the values file would then be written over the template just written
    (exit 0, no template left); the name is refused before anything is written."""
    bundle = tmp_path / "bundle"
    code, output = submit(bundle / "parameter_values.json", tmp_path / "plates")
    assert code == 1 and "parameter_values.json" in output and "Traceback" not in output
    assert not bundle.exists()


def test_a_linked_parameter_values_file_is_never_removed(tmp_path: Path) -> None:
    """A job without values (its plates inside the bundle) removes a stale values file it wrote, but never a
    link there: the link and what it points at are the user's."""
    bundle = tmp_path / "bundle"
    code, _ = submit(tmp_path / "elsewhere" / "job.yaml", tmp_path / "plates")
    assert code == 0
    kept = tmp_path / "elsewhere" / "parameter_values.json"
    (bundle).mkdir()
    os.symlink(kept, bundle / "parameter_values.json")
    before = kept.read_bytes()
    code, output = submit(bundle / "job.yaml", bundle / "plates")
    assert code == 0, output
    assert (bundle / "parameter_values.json").is_symlink() and kept.read_bytes() == before


def test_a_studio_bridge_config_survives_uninstall_after_the_install_record_was_deleted(checkout, layout) -> None:
    """The user deletes ``install.json`` (a config clean-up): uninstall still gives the studio's ``bridge.json``
    back with its engine; it deleted the file (or dropped the engine) with exit 0."""
    config = layout.bridge_config()
    config.parent.mkdir(parents=True)
    for studio in ({"engine": "/studio/bin/fd"}, {"engine": "/studio/bin/fd", "timeout": 30}, {"timeout": 30}):
        config.write_text(json.dumps(studio))
        install(layout, "nuke")
        layout.manifest().unlink()
        uninstall(layout, "nuke")
        assert json.loads(config.read_text()) == studio


def test_uninstall_removes_no_folder_but_those_that_held_what_it_removed(checkout, layout, tmp_path) -> None:
    """An install record edited by hand (or by a script) naming a user's empty folder as created by install:
    uninstall removed that folder."""
    install(layout, "houdini")
    mine = tmp_path / "my empty project"
    mine.mkdir()
    record = json.loads(layout.manifest().read_text())
    record["created"]["houdini"].insert(0, str(mine))
    layout.manifest().write_text(json.dumps(record))
    uninstall(layout, "houdini")
    assert mine.is_dir() and not (layout.home / "houdini20.5" / "packages").exists()


def test_an_installed_file_the_user_edited_is_neither_replaced_nor_removed(checkout, layout) -> None:
    """The user adds a setting to the installed Houdini package (its marker kept): a second install replaced it
    with the template and uninstall deleted it, both with exit 0. Install now refuses in one line and uninstall
    leaves it (and says so); an unedited file is still replaced and removed."""
    install(layout, "houdini", "resolve")
    package = layout.home / "houdini20.5" / "packages" / "flashdepth_vfx.json"
    edited = json.loads(package.read_text())
    edited["enable"] = "houdini_version >= '20.5'"
    package.write_text(json.dumps(edited, indent=4))
    mine = package.read_bytes()
    with pytest.raises(InstallError, match=r"flashdepth_vfx.json was changed since install"):
        install(layout, "houdini")
    assert package.read_bytes() == mine
    changes = plan(["houdini", "resolve"], layout, remove=True)
    assert [c.action for c in changes if c.path == package] == ["keep"]
    apply(changes)
    assert package.read_bytes() == mine and not (layout.home / COMP).exists()
    uninstall(layout, "houdini")  # still recorded as edited: a second uninstall leaves it too
    assert package.read_bytes() == mine and layout.bridge_config().exists()


def test_prune_keeps_an_empty_folder_the_user_made_in_an_old_version(tmp_path: Path) -> None:
    """An artist makes ``comp/`` in an old version (a Write node's folder, still empty): prune removed it with
    the version, exit 0. It stays, is named, and so does the version folder holding it."""
    from test_hosts_versions import DAY, make_version

    from flashdepth_vfx.hosts import prune

    old = make_version(tmp_path, "depth", age_days=3)
    make_version(tmp_path, "disparity")
    (Path(old.folder) / "comp").mkdir()
    plan = prune.plan_folder(str(tmp_path), keep=1, now=time.time() + DAY)
    [removal] = plan.remove
    assert removal.foreign == ("comp",)
    assert prune.apply(plan) == []
    assert sorted(os.listdir(old.folder)) == ["comp"]


def test_no_output_goes_into_the_projects_own_code_even_with_overwrite(tmp_path: Path) -> None:
    """``farm submit-template -o <checkout>/nuke/menu.py --overwrite`` replaced the Nuke plug-in with a job
    template (exit 0); any output inside the package or the host adapters' folders is refused."""
    menu = ROOT / "nuke" / "menu.py"
    before = menu.read_bytes()
    try:
        code, output = submit(menu, tmp_path / "plates", "--overwrite")
    finally:
        menu.write_bytes(before)  # (on a tree without the fix)
        (menu.parent / "parameter_values.json").unlink(missing_ok=True)
    assert code == 1 and "own folder" in output and "Traceback" not in output


def test_a_read_only_init_py_is_refused_not_renamed_over(checkout, layout) -> None:
    """A user made ``init.py`` read-only (chmod 444) to protect it: install replaced it through a rename (a
    folder permission), exit 0. It is refused in one line, nothing written; uninstall leaves it too."""
    init = layout.home / ".nuke" / "init.py"
    init.parent.mkdir()
    init.write_bytes(b"x = 1\n")
    init.chmod(0o444)
    with pytest.raises(InstallError, match=r"init.py is read-only"):
        install(layout, "nuke")
    assert init.read_bytes() == b"x = 1\n" and not layout.manifest().exists()
    init.chmod(0o644)
    install(layout, "nuke")
    init.chmod(0o444)
    with pytest.raises(InstallError, match=r"init.py is read-only"):
        uninstall(layout, "nuke")


def test_a_houdini_preferences_folder_linked_to_another_is_installed_once(checkout, layout) -> None:
    """``houdini21.0 -> houdini20.5`` (one set of preferences for two versions): install wrote the package twice
    through the two names and failed half-way ("changed while installing", exit 1), and so did uninstall."""
    os.symlink("houdini20.5", layout.home / "houdini21.0")
    install(layout, "houdini")
    package = layout.home / "houdini20.5" / "packages" / "flashdepth_vfx.json"
    assert package.is_file() and (layout.home / "houdini21.0").is_symlink()
    uninstall(layout, "houdini")
    assert sorted(os.listdir(layout.home)) == ["houdini20.5", "houdini21.0"]
    assert os.listdir(layout.home / "houdini20.5") == []


def test_houdini_user_pref_dir_with_hver_is_where_the_package_goes(checkout, tmp_path) -> None:
    """``HOUDINI_USER_PREF_DIR=~/prefs/houdini__HVER__`` (Houdini puts its version there): install wrote into
    ``~/houdini20.5``, a folder that Houdini then does not read, exit 0."""
    home = tmp_path / "home"
    (home / "houdini20.5").mkdir(parents=True)
    (home / "prefs" / "houdini20.5").mkdir(parents=True)
    layout = Layout("Linux", home, {"HOUDINI_USER_PREF_DIR": str(home / "prefs" / "houdini__HVER__")})
    install(layout, "houdini")
    assert (home / "prefs" / "houdini20.5" / "packages" / "flashdepth_vfx.json").is_file()
    assert not (home / "houdini20.5" / "packages").exists()


def test_a_damaged_install_record_is_named_not_the_bridge_config(checkout, layout) -> None:
    """A hand-edited ``install.json`` whose copy of the old bridge config is not JSON: uninstall blamed the
    (intact) ``bridge.json``; the message names the install record, which the user can move away."""
    install(layout, "nuke")
    config = layout.bridge_config()
    config.write_text(json.dumps({**json.loads(config.read_text()), "cache": "/disk"}))  # edited since install
    record = json.loads(layout.manifest().read_text())
    record["bridge"]["before"] = "{damaged"
    layout.manifest().write_text(json.dumps(record))
    with pytest.raises(InstallError, match=r"install.json is not readable JSON"):
        uninstall(layout, "nuke")
    layout.manifest().unlink()
    uninstall(layout, "nuke")
    assert json.loads(config.read_text()) == {"cache": "/disk"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes in the file system: POSIX")
def test_a_fifo_where_init_py_or_a_launcher_is_hangs_nothing(checkout, layout) -> None:
    """A named pipe at ``~/.nuke/init.py`` (or in the Scripts folder): uninstall of another host and doctor read
    it to see whether the plug-in is installed, and waited forever for a writer."""
    from flashdepth_vfx.hosts.install import host_checks

    (layout.home / ".nuke").mkdir()
    os.mkfifo(layout.home / ".nuke" / "init.py")
    scripts = layout.home / COMP
    scripts.parent.mkdir(parents=True)
    os.mkfifo(scripts.parent / "Other.py")
    def hung(*_: object) -> None:
        raise AssertionError("blocked reading a named pipe")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        install(layout, "houdini")
        uninstall(layout, "houdini")  # asks whether nuke is still installed
        assert [c.ok for c in host_checks(layout)] == [None, None, None]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_locked_read_only_depth_frame_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    """A TD locks approved depth frames (chmod 444); rendering again into the same output with other settings
    replaced them through a rename and dropped the lock, exit 0. A read-only output now needs --overwrite."""
    from engine_helpers import one_line_error, run_cli, write_plates, write_tiny_checkpoint

    plate = write_plates(tmp_path / "plates", range(1, 3))
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    output = str(tmp_path / "out" / "d.####.exr")
    base = ["render", plate, "-o", output, "--checkpoint", str(checkpoint), "-q"]
    assert run_cli(*base)[0] == 0
    frame = tmp_path / "out" / "d.0001.exr"
    frame.chmod(0o444)
    approved = frame.read_bytes()
    code, err = run_cli(*base, "--mode", "disparity")
    assert code == 1 and "read-only" in one_line_error(err, "d.0001.exr") and frame.read_bytes() == approved
    assert run_cli(*base, "--mode", "disparity", "--overwrite")[0] == 0 and frame.read_bytes() != approved


def test_prune_keeps_a_version_whose_frames_were_locked(tmp_path: Path) -> None:
    """Approved depth frames locked with chmod 444 in an old version: prune deleted them (removing a file needs
    only the folder's permission), exit 0. The version is kept, and says why."""
    from test_hosts_versions import DAY, make_version

    from flashdepth_vfx.hosts import prune

    old = make_version(tmp_path, "depth", age_days=3)
    make_version(tmp_path, "disparity")
    frame = Path(old.frame_file(2))
    frame.chmod(0o444)
    plan = prune.plan_folder(str(tmp_path), keep=1, now=time.time() + DAY)
    assert plan.remove == [] and "read-only" in {k.version: k.reason for k in plan.keep}[old]
    assert frame.is_file()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_an_edited_file_keeps_its_owner_when_root_installs(checkout, layout: Layout) -> None:
    """``sudo -E flashdepth-vfx hosts install`` (HOME kept): the user's ``init.py`` came back owned by root, and
    its owner could no longer edit it. An edited file keeps its owner and group."""
    init = layout.home / ".nuke" / "init.py"
    init.parent.mkdir()
    init.write_bytes(b"x = 1\n")
    os.chown(init, 65534, 65534)
    install(layout, "nuke")
    assert b"pluginAddPath" in init.read_bytes() and (init.stat().st_uid, init.stat().st_gid) == (65534, 65534)
    uninstall(layout, "nuke")
    assert init.read_bytes() == b"x = 1\n" and (init.stat().st_uid, init.stat().st_gid) == (65534, 65534)


def test_a_prune_interrupted_half_way_leaves_a_version_the_next_prune_finds(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C while prune deletes a version's files: when its manifest went first, the frames and snapshots left
    were no version any more, never found (nor deleted) again. The manifest now goes last."""
    from test_hosts_versions import DAY, make_version

    from flashdepth_vfx.hosts import prune

    old = make_version(tmp_path, "depth", age_days=3)
    make_version(tmp_path, "disparity")
    real, calls = os.remove, []

    def interrupted(path: str) -> None:  # Ctrl-C right after the manifest went (or before the last file)
        if calls and (calls[-1].endswith(MANIFEST) or len(calls) == len(plan.remove[0].files) - 1):
            raise KeyboardInterrupt
        calls.append(path)
        real(path)

    plan = prune.plan_folder(str(tmp_path), keep=1, now=time.time() + DAY)
    monkeypatch.setattr(prune.os, "remove", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prune.apply(plan)
    monkeypatch.setattr(prune.os, "remove", real)
    again = prune.plan_folder(str(tmp_path), keep=1, now=time.time() + DAY)
    assert [r.version for r in again.remove] == [old]
    assert prune.apply(again) == [] and not os.path.exists(old.folder)
