"""The GPU fast path, checked on CPU: graphed stream buffers, one compiled graph, precision, scan switches."""
from __future__ import annotations

import pytest
import torch

from flashdepth_vfx.engine.loading import load_model, resolve_precision
from flashdepth_vfx.engine.settings import RenderSettings
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.model import GraphedDepthStream, StreamState, build_model
from flashdepth_vfx.model import mamba2
from flashdepth_vfx.model.stream import IMAGENET_MEAN, IMAGENET_STD


@pytest.fixture(scope="module")
def hybrid() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("flashdepth-tiny-hybrid").optimize_for_inference()


@pytest.fixture(scope="module")
def clip() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    base = torch.rand(1, 3, 70, 112, generator=g)
    return [(base + 0.1 * torch.rand(1, 3, 70, 112, generator=g)).clamp(0, 1) for _ in range(6)]


@torch.inference_mode()
def test_graphed_stream_buffers_follow_the_eager_stream_across_a_reset(hybrid, clip) -> None:
    eager, graphed = hybrid.stream(), GraphedDepthStream(hybrid, capture=False)
    assert not graphed.capture  # off CUDA the same buffer logic runs eagerly
    outs = []
    for i, frame in enumerate(clip):
        if i == 3:
            eager.reset()
            graphed.reset()
            assert graphed.frames_seen == 0 and graphed.snapshot().states == []
            assert all(not b.any() for b in graphed._buffers)  # reset = zeroed state buffers
        want, got = eager.step(frame), graphed.step(frame)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        outs.append(got)
    # each output is the caller's own tensor, not the static buffer the next frame overwrites
    assert not torch.equal(outs[1], outs[2])
    torch.testing.assert_close(outs[3], hybrid.stream().step(clip[3]), rtol=0, atol=0)  # fresh after the reset
    assert graphed.frames_seen == eager.frames_seen == 3
    # the state is carried: a frame in the stream differs from the same frame alone
    assert not torch.allclose(outs[2], hybrid.stream().step(clip[2]), atol=1e-4)
    # one static input buffer per frame shape, one float32 state buffer per Mamba2 layer
    assert list(graphed._runners) == [(1, 3, 70, 112)]
    assert [b.dtype for b in graphed._buffers] == [torch.float32] * hybrid.cfg.temporal.num_blocks


@torch.inference_mode()
def test_graphed_stream_snapshot_and_restore_continue_identically(hybrid, clip, tmp_path) -> None:
    eager = hybrid.stream()
    expected = [eager.step(f) for f in clip]
    first = GraphedDepthStream(hybrid, capture=False)
    for f in clip[:3]:
        first.step(f)
    snap = first.snapshot()
    first.step(clip[3])  # the snapshot is a copy of the buffers, not a view of them
    snap.save(tmp_path / "state.safetensors")
    for source in (snap, StreamState.load(tmp_path / "state.safetensors")):
        resumed = GraphedDepthStream(hybrid, capture=False)
        resumed.restore(source)
        assert resumed.frames_seen == 3
        for f, want in zip(clip[3:], expected[3:]):
            torch.testing.assert_close(resumed.step(f), want, rtol=0, atol=0)
    # snapshots move between the eager and the graphed stream both ways
    eager2 = hybrid.stream()
    eager2.restore(first.snapshot())
    torch.testing.assert_close(eager2.step(clip[4]), expected[4], rtol=0, atol=0)
    # restoring an empty snapshot is a reset
    resumed.restore(StreamState([], 0))
    torch.testing.assert_close(resumed.step(clip[0]), expected[0], rtol=0, atol=0)


@torch.inference_mode()
def test_graphed_stream_takes_any_size_and_refuses_capture_off_cuda(hybrid, clip) -> None:
    graphed, eager = GraphedDepthStream(hybrid, capture=False), hybrid.stream()
    small = clip[0][..., :70, :84]
    for frame in (clip[0], small, clip[1]):  # a second shape gets its own input buffer; the state is shared
        torch.testing.assert_close(graphed.step(frame), eager.step(frame), rtol=0, atol=0)
    assert sorted(graphed._runners) == [(1, 3, 70, 84), (1, 3, 70, 112)]
    odd = torch.rand(1, 3, 61, 97)
    torch.testing.assert_close(graphed.step_any_size(odd), eager.step_any_size(odd), rtol=0, atol=0)
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        GraphedDepthStream(hybrid, capture=True)


@torch.inference_mode()
def test_a_failed_capture_is_one_clear_error_and_keeps_the_state(hybrid, clip) -> None:
    graphed = GraphedDepthStream(hybrid, capture=False)
    graphed.step(clip[0])
    before = graphed.snapshot()
    graphed.capture = True  # on this CPU the capture cannot even make its CUDA stream
    with pytest.raises(FlashDepthError, match=r"CUDA graph capture failed for 84x70 frames .*with --no-cuda-graphs"):
        graphed.step(clip[1][..., :70, :84])
    after = graphed.snapshot()
    assert after.frames_seen == 1 and all(torch.equal(a, b) for a, b in zip(after.states, before.states))


def test_the_compiled_region_of_the_hybrid_model_is_one_graph(hybrid, clip) -> None:
    """Position-embedding caches are looked up outside ``core``: dynamo sees one graph, no breaks."""
    torch._dynamo.reset()
    with torch.inference_mode():
        _, state = hybrid(clip[0])
        pos = hybrid.position_embeddings(70, 112)
        explained = torch._dynamo.explain(hybrid.core)(clip[0], state, pos)
    torch._dynamo.reset()
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
    assert explained.graph_count == 1


@torch.inference_mode()
def test_bf16_network_gets_its_input_normalised_in_float32(clip) -> None:
    low = build_model("flashdepth-tiny", dtype=torch.bfloat16)
    x = low.stream().normalise(clip[0])
    assert x.dtype == torch.bfloat16
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    exact = ((clip[0] - mean) / std).to(torch.bfloat16)
    in_bf16 = (clip[0].bfloat16() - mean.bfloat16()) / std.bfloat16()
    assert torch.equal(x, exact)
    assert not torch.equal(in_bf16, exact)  # the difference the float32 arithmetic makes
    assert low.stream().step(clip[0]).dtype == torch.float32


def test_scan_masks_are_cached_and_safe_for_training_after_inference() -> None:
    with torch.inference_mode():
        first = mamba2._upper_masks(5, torch.device("cpu"))
    assert mamba2._upper_masks(5, torch.device("cpu")) is first
    assert torch.equal(first[0], torch.triu(torch.ones(5, 5, dtype=torch.bool)))
    # a mask cached under inference mode is a normal tensor: autograd can save it in a training step
    x = torch.randn(1, 7, 2, 3, requires_grad=True)
    dt, a = torch.rand(1, 7, 2), -torch.rand(2)
    b, c = torch.randn(1, 7, 4), torch.randn(1, 7, 4)
    y, state = mamba2.ssd_scan(x, dt, a, b, c, None, chunk=5)
    (y.sum() + state.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_fused_scan_switch_and_float32_state() -> None:
    previous = mamba2.use_fused_scan(False)
    try:
        assert mamba2._fused_enabled is False
        assert mamba2.use_fused_scan(True) is False
        assert mamba2._fused_enabled is True
    finally:
        mamba2.use_fused_scan(previous)
    layer = mamba2.Mamba2(16, 8, 4, 2, 8).to(torch.bfloat16)
    with torch.inference_mode():
        _, state = layer(torch.randn(1, 20, 16, dtype=torch.bfloat16), None)
        _, state2 = layer(torch.randn(1, 20, 16, dtype=torch.bfloat16), state)
    assert state.dtype == state2.dtype == torch.float32  # the carried state is never rounded to bf16


@torch.inference_mode()
def test_teacher_side_stream_switch_is_inert_off_cuda(hybrid, clip) -> None:
    want = hybrid.stream().step(clip[0])
    hybrid.teacher_on_side_stream = True
    try:
        got = hybrid.stream().step(clip[0])
    finally:
        hybrid.teacher_on_side_stream = False
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_precision_auto_is_fp32_off_cuda_and_keys_snapshots_by_the_resolved_precision(tmp_path) -> None:
    from engine_helpers import write_tiny_checkpoint

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(FlashDepthError, match="--precision fp64"):
        resolve_precision("fp64", cpu)
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    loaded = load_model(str(ckpt), None, cpu)
    assert loaded.precision == "fp32" and next(loaded.model.parameters()).dtype == torch.float32
    assert type(loaded.stream()).__name__ == "DepthStream"
    settings = RenderSettings(plate="shot.####.exr")
    assert settings.precision == "auto"
    keys = {settings.state_key("m", "s", precision=p) for p in ("fp32", "bf16")}
    assert len(keys) == 2 and settings.state_key("m", "s", precision="fp32") == \
        RenderSettings("shot.####.exr", precision="fp32").state_key("m", "s")
    with pytest.raises(FlashDepthError, match="--cuda-graphs needs a CUDA device"):
        load_model(str(ckpt), None, cpu, cuda_graphs=True)


@torch.inference_mode()
def test_the_decoder_views_tokens_channels_last_without_a_copy(clip) -> None:
    torch.manual_seed(0)
    plain = build_model("flashdepth-tiny-hybrid").eval()
    fast = build_model("flashdepth-tiny-hybrid")
    fast.load_state_dict(plain.state_dict())
    fast.optimize_for_inference()  # channels-last decoder convolutions
    seen = []
    project = fast.depth_head.projects[0]
    handle = project.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        got = fast.stream().step(clip[0])
    finally:
        handle.remove()
    torch.testing.assert_close(got, plain.stream().step(clip[0]), rtol=1e-5, atol=1e-5)
    x = seen[0]  # the (B, C, h, w) feature map the decoder's first projection reads: a view of the tokens
    assert x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
