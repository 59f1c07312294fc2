"""A hostile pass over issue 18's guarantees (install, uninstall, prune, farm): each set-up that once lost or
changed a file the project did not write, or left a link split."""
from __future__ import annotations

import os
from pathlib import Path

from test_hosts_install_safety import checkout, install, layout, uninstall  # noqa: F401 - fixtures

from flashdepth_vfx.hosts.install import Layout


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
