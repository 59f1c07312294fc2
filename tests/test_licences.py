"""Licences of the weights, where a user decides: `weights list`, `weights download` and `hosts doctor` say them."""
from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from flashdepth_vfx.cli import main
from flashdepth_vfx.errors import CheckpointError
from flashdepth_vfx.model import checkpoint as ckpt

ROOT = Path(__file__).resolve().parent.parent
DA_V2 = "github.com/DepthAnything/Depth-Anything-V2"


def test_licence_of_each_model() -> None:
    lic = {name: known.licence for name, known in ckpt.KNOWN_CHECKPOINTS.items()}
    assert (lic["flashdepth-s"].name, lic["flashdepth-s"].commercial) == ("Apache-2.0", True)
    assert (lic["flashdepth-l"].name, lic["flashdepth-l"].commercial) == ("CC-BY-NC-4.0", False)
    assert (lic["flashdepth"].name, lic["flashdepth"].commercial) == ("CC-BY-NC-4.0", False)
    assert "Depth-Anything-V2-Small" in lic["flashdepth-s"].source and "Large" in lic["flashdepth-l"].source
    assert "FlashDepth-L" in lic["flashdepth"].source
    assert all(DA_V2 in licence.source for licence in lic.values())
    project = re.search(r'^license = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert (ckpt.EMBEDDED_LICENCE.name, ckpt.EMBEDDED_LICENCE.commercial) == (project, True) == ("Apache-2.0", True)
    assert " ".join((ROOT / "LICENSE").read_text().split()[:4]) == "Apache License Version 2.0,"


def test_weights_list_shows_licence_and_source(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path))
    result = CliRunner().invoke(main, ["weights", "list"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    licence_of = {lines[i].split()[0]: lines[i + 1].strip() for i in range(0, len(lines), 3)}
    assert list(licence_of) == ["flashdepth", "flashdepth-l", "flashdepth-s", "flashdepth-tiny"]
    assert licence_of["flashdepth-l"].startswith("licence CC-BY-NC-4.0 (non-commercial use only): from Depth-Anything-V2-Large")
    assert licence_of["flashdepth"].startswith("licence CC-BY-NC-4.0 (non-commercial use only)")
    assert licence_of["flashdepth-s"].startswith("licence Apache-2.0: from Depth-Anything-V2-Small")
    assert all(f"source: {DA_V2}" in licence_of[n] for n in ("flashdepth", "flashdepth-l", "flashdepth-s"))
    assert licence_of["flashdepth-tiny"] == "licence Apache-2.0: this project's own, trained from scratch; source: LICENSE, pyproject.toml"


def test_download_names_a_non_commercial_licence_first_in_one_line(tmp_path, monkeypatch) -> None:
    fetched = []

    def fake_download(name: str) -> Path:
        fetched.append(name)
        if name == "flashdepth-l":
            raise CheckpointError("download of flashdepth-l failed: no network")
        return tmp_path / name

    monkeypatch.setattr(ckpt, "download_checkpoint", fake_download)
    result = CliRunner().invoke(main, ["weights", "download", "flashdepth-s"], input="")
    assert result.exit_code == 0 and result.stderr == "" and fetched == ["flashdepth-s"]

    result = CliRunner().invoke(main, ["weights", "download", "flashdepth-l"], input="")  # stdin is no terminal: no prompt
    assert result.exit_code == 1 and fetched == ["flashdepth-s", "flashdepth-l"]
    note, error = result.stderr.splitlines()  # the note comes before the download is tried
    assert note.startswith("note: flashdepth-l is licensed CC-BY-NC-4.0 (non-commercial use only): from Depth-Anything-V2-Large")
    assert error == "error: download of flashdepth-l failed: no network"


def test_hosts_doctor_shows_each_models_licence(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path / "cache"))
    for var in ("FLASHDEPTH_VFX_BIN", "FLASHDEPTH_VFX_CONFIG", "HOUDINI_USER_PREF_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    downloaded = tmp_path / "cache" / ckpt.KNOWN_CHECKPOINTS["flashdepth"].filename
    downloaded.parent.mkdir(parents=True)
    downloaded.write_bytes(b"")
    result = CliRunner().invoke(main, ["hosts", "doctor"])
    licences = [line for line in result.stdout.splitlines() if line.split()[1] == "licence"]
    assert licences == [
        "--  licence  flashdepth-tiny Apache-2.0: this project's own, trained from scratch; source: LICENSE, pyproject.toml",
        "--  licence  flashdepth CC-BY-NC-4.0 (non-commercial use only): its teacher FlashDepth-L is from "
        f"Depth-Anything-V2-Large; source: {DA_V2} README",
    ]


def test_farm_examples_use_a_commercially_usable_model() -> None:
    """A studio copies the farm page's commands: none names a non-commercial checkpoint."""
    text = (ROOT / "docs" / "farm.md").read_text(encoding="utf-8")
    named = re.findall(r"(?:--checkpoint[ =]|Checkpoint=)(\S+)", text)
    assert len(named) >= 4
    models = {Path(value.strip("`'\"")).stem for value in named}
    non_commercial = {name for name, known in ckpt.KNOWN_CHECKPOINTS.items() if not known.licence.commercial}
    assert non_commercial == {"flashdepth", "flashdepth-l"} and not models & non_commercial, models
