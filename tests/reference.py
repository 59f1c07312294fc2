"""Access to ../shared/reference: official manifests, synthetic weights and golden outputs."""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from conftest import SHARED

REFERENCE = SHARED / "reference"
CONFIG_NAMES = {"s": "flashdepth-s", "l": "flashdepth-l", "full": "flashdepth"}


@lru_cache(maxsize=1)
def make_weights() -> ModuleType:
    """The reference's make_weights.py, imported from ../shared (never copied)."""
    spec = importlib.util.spec_from_file_location("make_weights", REFERENCE / "make_weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest(variant: str) -> list[dict]:
    """The official state-dict manifest (ordered) of 's', 'l' or 'full'."""
    return json.loads((REFERENCE / f"manifest_{variant}.json").read_text())["tensors"]


@lru_cache(maxsize=2)
def state_dict(variant: str, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic synthetic weights, as the golden outputs were made with."""
    mw = make_weights()
    sd = mw.make_state_dict(mw.load_manifest(str(REFERENCE / f"manifest_{variant}.json")), seed)
    return {k: torch.from_numpy(v) for k, v in sd.items()}


def golden_cases() -> list[str]:
    """Names of the golden streaming runs (without the _debug companions)."""
    folder = REFERENCE / "golden"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz") if not p.stem.endswith("_debug"))


def load_case(name: str) -> dict[str, np.ndarray]:
    """One golden case as a dict of arrays."""
    with np.load(REFERENCE / "golden" / f"{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def case_path(name: str) -> Path:
    """Path of a golden .npz file."""
    return REFERENCE / "golden" / f"{name}.npz"
