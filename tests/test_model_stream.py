"""Streaming semantics: the temporal state, snapshots, resets and frame sizing."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from flashdepth_vfx.errors import PlateError
from flashdepth_vfx.model import StreamState, build_model, get_config, inference_size
from flashdepth_vfx.model.mamba2 import ssd_scan
from reference import REFERENCE, state_dict

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    m = build_model("flashdepth-s")
    m.load_state_dict(state_dict("s", 0))
    return m


@pytest.fixture(scope="module")
def frames() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    base = torch.rand(1, 3, 84, 140, generator=g)
    return [(base + 0.05 * k * torch.rand(1, 3, 84, 140, generator=g)).clamp(0, 1) for k in range(6)]


@torch.inference_mode()
def test_state_changes_later_frames(model, frames) -> None:
    stream = model.stream()
    outs = [stream.step(f) for f in frames[:3]]
    alone = model.stream().step(frames[2])
    assert not torch.allclose(outs[2], alone, atol=1e-3)
    # and the first frame of any stream is the frame alone
    assert torch.equal(outs[0], model.stream().step(frames[0]))


@torch.inference_mode()
def test_snapshot_restore_continues_identically(model, frames, tmp_path) -> None:
    straight = model.stream()
    expected = [straight.step(f) for f in frames]

    first = model.stream()
    for f in frames[:3]:
        first.step(f)
    snap = first.snapshot()
    snap.save(tmp_path / "state.safetensors")
    first.step(frames[3])  # the snapshot is a copy: stepping on does not change it

    resumed = model.stream()
    resumed.restore(StreamState.load(tmp_path / "state.safetensors"))
    assert resumed.frames_seen == 3
    for f, want in zip(frames[3:], expected[3:]):
        torch.testing.assert_close(resumed.step(f), want, rtol=0, atol=0)


@torch.inference_mode()
def test_reset_starts_fresh(model, frames) -> None:
    stream = model.stream()
    for f in frames[:4]:
        stream.step(f)
    stream.reset()
    assert stream.frames_seen == 0
    assert torch.equal(stream.step(frames[4]), model.stream().step(frames[4]))


@torch.inference_mode()
def test_snapshot_is_small(model, frames) -> None:
    stream = model.stream()
    stream.step(frames[0])
    snap = stream.snapshot()
    assert len(snap.states) == 4
    assert all(s.shape == (1, 8, 32, 256) for s in snap.states)
    assert sum(s.numel() * s.element_size() for s in snap.states) == 4 * 8 * 32 * 256 * 4  # 1 MiB


def test_chunked_scan_equals_sequential_recurrence() -> None:
    g = torch.Generator().manual_seed(0)
    b, length, h, p, n = 2, 37, 3, 4, 5
    x = torch.randn(b, length, h, p, generator=g, dtype=torch.float64)
    dt = torch.rand(b, length, h, generator=g, dtype=torch.float64) * 0.5
    a = -torch.rand(h, generator=g, dtype=torch.float64) * 4
    bm = torch.randn(b, length, n, generator=g, dtype=torch.float64)
    cm = torch.randn(b, length, n, generator=g, dtype=torch.float64)
    s0 = torch.randn(b, h, p, n, generator=g, dtype=torch.float64)
    state = s0.clone()
    ys = []
    for t in range(length):
        decay = torch.exp(dt[:, t] * a)[:, :, None, None]
        state = decay * state + (dt[:, t, :, None] * x[:, t])[..., None] * bm[:, t, None, None, :]
        ys.append(torch.einsum("bhpn,bn->bhp", state, cm[:, t]))
    want = torch.stack(ys, dim=1)
    for chunk in (4, 8, 64):  # several chunks with padding, and a single chunk
        y, final = ssd_scan(x, dt, a, bm, cm, s0, chunk=chunk)
        torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(final.double(), state, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((126, 224), 2044, (126, 224)),  # already multiples of 14
        ((1080, 1920), 2044, (1092, 1932)),  # rounded up to multiples of 14
        ((2160, 3840), 2044, (1162, 2044)),  # long side capped at 2044 as the official inference does
        ((50, 100), 2044, (70, 140)),  # too small for the temporal grid: scaled up
    ],
)
def test_inference_size(size, max_side, expected) -> None:
    assert inference_size(*size, max_side=max_side) == expected


@pytest.mark.parametrize(("size", "max_side", "expected"), [
    ((1, 1), 2044, (70, 70)),  # a one-pixel plate: scaled up to the smallest input
    ((1, 100), 2044, (70, 7000)),  # the thinnest strip taken
    ((10, 1000), 224, (70, 7840)),  # capped to 2 x 224 (truncated, as the official code does), then scaled up
])
def test_inference_size_of_tiny_and_thin_frames(size, max_side, expected) -> None:
    assert inference_size(*size, max_side=max_side) == expected


@pytest.mark.parametrize(("size", "max_side", "needle"), [
    ((1, 3000), 2044, "3000x1 frame (3000:1) is too thin"),  # was a ZeroDivisionError
    ((2000, 1), None, "1x2000 frame (2000:1)"),
    ((0, 50), 2044, "no pixels"),
    ((1, 80), 70, "--max-size 81"),  # 80:1 capped at 70 pixels would be 0 high
])
def test_inference_size_refuses_frames_it_cannot_size(size, max_side, needle) -> None:
    with pytest.raises(PlateError, match=re.escape(needle)):
        inference_size(*size, max_side=max_side)


@torch.inference_mode()
def test_any_size_frames_come_back_at_their_size(model) -> None:
    frame = torch.rand(1, 3, 61, 97)
    out = model.stream().step_any_size(frame)
    assert out.shape == (1, 61, 97)
    assert torch.isfinite(out).all() and (out >= 0).all()


@torch.inference_mode()
def test_any_size_caps_the_input_at_the_models_own_long_side() -> None:
    torch.manual_seed(0)
    tiny = build_model("flashdepth-tiny").eval()
    assert tiny.cfg.max_side == 224 and get_config("flashdepth-s").max_side == 2044
    frame = torch.rand(1, 3, 252, 448)
    seen: list[tuple[int, ...]] = []
    hook = tiny.register_forward_pre_hook(lambda _module, args: seen.append(tuple(args[0].shape[-2:])))
    try:
        out = tiny.stream().step_any_size(frame)
        tiny.stream().step_any_size(frame, max_side=448)
    finally:
        hook.remove()
    assert seen == [(126, 224), (252, 448)]
    assert out.shape == (1, 252, 448)


@torch.inference_mode()
def test_rejects_sizes_not_multiple_of_14(model) -> None:
    with pytest.raises(ValueError, match="multiple of 14"):
        model.stream().step(torch.rand(1, 3, 100, 140))


def test_tiny_model_runs_and_trains() -> None:
    torch.manual_seed(0)
    model = build_model("flashdepth-tiny").train()
    frames = torch.rand(2, 1, 3, 70, 98)
    state = None
    loss = torch.zeros(())
    for t in range(2):
        out, state = model(frames[t], state)
        loss = loss + out.mean()
    loss.backward()
    grads = [p.grad for p in model.mamba.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert np.isfinite(loss.item())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stream_matches_cpu(model, frames) -> None:
    gpu = build_model("flashdepth-s", device="cuda")
    gpu.load_state_dict(model.state_dict())
    with torch.inference_mode():
        cpu_stream, gpu_stream = model.stream(), gpu.stream()
        cpu_out = [cpu_stream.step(f) for f in frames[:3]]
        gpu_out = [gpu_stream.step(f.cuda()).cpu() for f in frames[:3]]
    for c, g in zip(cpu_out, gpu_out):
        torch.testing.assert_close(g, c, rtol=1e-2, atol=1e-2)


@torch.inference_mode()
def test_bfloat16_follows_float32(model, frames) -> None:
    """Reduced precision is a choice: the bf16 network tracks the fp32 one (relative L1 ~1e-2, as the reference README says)."""
    low = build_model("flashdepth-s", dtype=torch.bfloat16)
    low.load_state_dict(model.state_dict())
    full_stream, low_stream = model.stream(), low.stream()
    for f in frames[:3]:
        want, got = full_stream.step(f), low_stream.step(f)
        assert got.dtype == torch.float32
        assert ((got - want).abs().mean() / want.abs().mean()).item() < 0.05


@torch.inference_mode()
def test_cached_position_embedding_follows_new_weights(frames) -> None:
    m = build_model("flashdepth-s")
    sd = state_dict("s", 0)
    m.load_state_dict(sd)
    before = m.stream().step(frames[0])  # fills the position-embedding cache for this size
    m.load_state_dict({**sd, "pretrained.pos_embed": sd["pretrained.pos_embed"] * 5})
    after = m.stream().step(frames[0])
    fresh = build_model("flashdepth-s")
    fresh.load_state_dict({**sd, "pretrained.pos_embed": sd["pretrained.pos_embed"] * 5})
    assert not torch.allclose(before, after)
    assert torch.equal(after, fresh.stream().step(frames[0]))
