"""Checkpoint loading: official formats, variant detection, clear errors, conversion, download."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from flashdepth_vfx.errors import CheckpointError
from flashdepth_vfx.model import build_model, convert_to_safetensors, download_checkpoint, load_checkpoint
from flashdepth_vfx.model import checkpoint as ckpt
from reference import REFERENCE, state_dict

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")


@pytest.fixture(scope="module")
def official_pth(tmp_path_factory) -> Path:
    """An official-format FlashDepth-S checkpoint ({'model': sd, 'step': n})."""
    path = tmp_path_factory.mktemp("ckpt") / "iter_14001.pth"
    torch.save({"model": state_dict("s", 0), "step": 14001}, path)
    return path


def _same_weights(model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())


def test_loads_official_pth_and_detects_variant(official_pth: Path) -> None:
    model = load_checkpoint(official_pth)
    assert model.cfg.name == "flashdepth-s"
    assert not model.training
    assert _same_weights(model, state_dict("s", 0))


def test_loads_bare_state_dict_and_safetensors(official_pth: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.pth"
    torch.save(state_dict("s", 0), bare)
    assert load_checkpoint(bare).cfg.name == "flashdepth-s"
    st = tmp_path / "s.safetensors"
    assert convert_to_safetensors(official_pth, st) == "flashdepth-s"
    assert _same_weights(load_checkpoint(st), state_dict("s", 0))


def test_detects_every_variant_from_keys_and_shapes() -> None:
    for name in ("flashdepth", "flashdepth-s", "flashdepth-l", "flashdepth-tiny"):
        assert ckpt.detect_model(build_model(name, device="meta").state_dict()) == name


def test_wrong_keys_name_missing_unexpected_and_shapes(tmp_path: Path) -> None:
    sd = dict(state_dict("s", 0))
    for key in [k for k in sd if k.startswith("mamba.blocks.0.3.")]:
        del sd[key]
    sd["extra.weight"] = torch.zeros(3)
    sd["depth_head.scratch.output_conv1.bias"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "closest: flashdepth-s" in msg
    assert "16 missing keys: mamba.blocks.0.3." in msg and "(+13 more)" in msg
    assert "1 unexpected keys: extra.weight" in msg
    assert "depth_head.scratch.output_conv1.bias [5] (expected [32])" in msg


@pytest.mark.parametrize("kind", ["truncated", "garbage", "pickle", "missing", "not_a_dict"])
def test_damaged_files_give_one_clear_line(official_pth: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.pth"
    if kind == "truncated":
        path.write_bytes(official_pth.read_bytes()[:50_000])
    elif kind == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 100)
    elif kind == "pickle":  # arbitrary objects are refused by weights_only loading
        path.write_bytes(pickle.dumps({"model": Path("/etc/passwd")}))
    elif kind == "not_a_dict":
        torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "Traceback" not in msg


def test_download_uses_hub_into_cache(monkeypatch, official_pth: Path, tmp_path: Path) -> None:
    """The download path, against a local file standing in for the hub (nothing is fetched)."""
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, revision=None, local_dir=None):
        calls.append((repo_id, filename, local_dir))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(official_pth.read_bytes())
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path / "cache"))
    path = download_checkpoint("flashdepth-s")
    assert calls == [("Eyeline-Labs/FlashDepth", "flashdepth-s/iter_14001.pth", str(tmp_path / "cache"))]
    assert ckpt.cached_checkpoint("flashdepth-s") == path
    assert load_checkpoint(path).cfg.name == "flashdepth-s"
    with pytest.raises(CheckpointError, match="no released checkpoint named 'nope'"):
        download_checkpoint("nope")


def test_cache_dir_follows_the_xdg_spec(monkeypatch, tmp_path: Path) -> None:
    """$XDG_CACHE_HOME counts only when absolute; empty or relative falls back to ~/.cache (XDG Base Directory spec)."""
    monkeypatch.delenv("FLASHDEPTH_VFX_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ckpt.cache_dir() == tmp_path / "xdg" / "flashdepth-vfx"
    for ignored in ("", "relative/cache"):
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert ckpt.cache_dir() == tmp_path / "home" / ".cache" / "flashdepth-vfx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ckpt.cache_dir() == tmp_path / "home" / ".cache" / "flashdepth-vfx"
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", "/studio/cache")
    assert ckpt.cache_dir() == Path("/studio/cache")


class _RunsCode:
    """Unpickling this would call os.system: the shape of a malicious checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_without_suggesting_weights_only_false(tmp_path: Path) -> None:
    """Issue 11 item 12: name what the file holds and how to convert a trusted one; never torch's weights_only hint."""
    marker, path = tmp_path / "code-ran", tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "extra": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "not a plain checkpoint" in msg and "system" in msg and "weights convert" in msg
    assert "weights_only" not in msg and "trusted source" not in msg
    assert not marker.exists()
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"garbage" * 10)  # an unpickler error that is not a blocked object: damaged, still no hint
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint file") as err:
        load_checkpoint(garbage)
    assert "weights_only" not in str(err.value)
