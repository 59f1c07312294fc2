"""Shared fixtures. Qt must run offscreen before any QApplication exists."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from flashdepth_vfx.cpu_budget import configure_openmp

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests that fake HOME must not write config files into the real $XDG_CONFIG_HOME (tests set it themselves).
os.environ.pop("XDG_CONFIG_HOME", None)
configure_openmp()  # as the CLI does, before torch is imported: busy-waiting threads crawl on a shared machine

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``../shared`` folder (reference data and test plates)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def testdata_dir(shared_dir: Path) -> Path:
    """``../shared/testdata``: real EXR files and a short movie."""
    path = shared_dir / "testdata"
    if not path.is_dir():
        pytest.skip(f"test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """``../shared/reference``: official manifests, weight generator, golden outputs."""
    path = shared_dir / "reference"
    if not path.is_dir():
        pytest.skip(f"reference data not found at {path}")
    return path


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flashdepth-tiny checkpoint with seeded random weights (read-only: shared by every test that renders)."""
    from engine_helpers import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")
