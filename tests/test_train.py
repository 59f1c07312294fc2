"""Training loop: learning, official checkpoints, exact resume, stage-2 freezing, config files, the CLI command."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.errors import CheckpointError
from flashdepth_vfx.model import build_model, load_checkpoint
from flashdepth_vfx.model.mamba2 import Mamba2
from flashdepth_vfx.model.stream import IMAGENET_MEAN, IMAGENET_STD
from flashdepth_vfx.train import DataConfig, LearningRates, TrainConfig, TrainConfigError, load_train_config, train
from flashdepth_vfx.train.checkpoints import list_checkpoints, load_training_checkpoint
from flashdepth_vfx.train.command import train_command
from flashdepth_vfx.train.data import ClipSampler
from flashdepth_vfx.train.loop import sequence_loss
from flashdepth_vfx.train.network import build_training_model
from flashdepth_vfx.train.optim import build_optimizer, parameter_groups

SMALL_DATA = DataConfig(scenes=4, render_size=(84, 126), crop=(70, 112), clip_frames=5, frames=3, max_stride=2)
SMALL = TrainConfig(
    model="flashdepth-tiny", steps=6, batch_size=2, seed=3, threads=1, data=SMALL_DATA,
    lr=LearningRates(vit=2e-3, dpt=2e-3, temporal=2e-3, warmup_steps=3, schedule="cosine"),
    checkpoint_every=3, keep_checkpoints=2, log_every=2,
)


def _optimizer_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["optimizer"]


def _assert_same_tree(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            _assert_same_tree(a[key], b[key])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    else:
        assert a == b


def test_a_few_steps_reduce_the_loss_and_write_an_official_checkpoint(tmp_path: Path) -> None:
    config = replace(SMALL, steps=24, checkpoint_every=10, log_every=4)
    held_batch = ClipSampler(config.data, seed=99).batch(0, 4)
    with torch.no_grad():
        before = sequence_loss(build_training_model(config), held_batch).item()

    final = train(config, tmp_path / "run", quiet=True)

    assert final == tmp_path / "run" / "iter_24.pth"
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [20, 24]  # keep_checkpoints=2 pruned iter_10
    model = load_checkpoint(final)
    assert model.cfg.name == "flashdepth-tiny" and not model.training
    with torch.no_grad():
        after = sequence_loss(model, held_batch).item()
    assert after < 0.75 * before, (before, after)
    payload = torch.load(final, map_location="cpu", weights_only=True)
    assert payload["step"] == 24 and set(payload) == {"model", "step", "optimizer"}
    header, *log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert header == {"flashdepth:kind": "train-log"}
    assert [entry["step"] for entry in log] == list(range(4, 25, 4))
    assert log[-1]["loss"] < log[0]["loss"]
    assert load_train_config(tmp_path / "run" / "config.json") == config


def test_resume_continues_exactly_where_the_run_stopped(tmp_path: Path) -> None:
    straight = train(SMALL, tmp_path / "straight", quiet=True)

    halfway = train(replace(SMALL, steps=3), tmp_path / "resumed", quiet=True)
    saved_state = _optimizer_state(halfway)
    model = build_training_model(SMALL)
    optimizer = build_optimizer(model, SMALL)
    assert load_training_checkpoint(halfway, model, optimizer) == 3
    _assert_same_tree(optimizer.state_dict(), saved_state)
    assert saved_state["state"], "the optimiser had moments to save"

    resumed = train(SMALL, tmp_path / "resumed", resume=True, quiet=True)

    assert resumed.name == "iter_6.pth"
    expected, got = load_checkpoint(straight).state_dict(), load_checkpoint(resumed).state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    _assert_same_tree(_optimizer_state(resumed), _optimizer_state(straight))
    assert train(SMALL, tmp_path / "resumed", resume=True, quiet=True) == resumed  # already finished: nothing to do
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_ctrl_c_saves_the_last_finished_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_batch = ClipSampler.batch

    def interrupted(self: ClipSampler, step: int, batch_size: int):  # type: ignore[no-untyped-def]
        if step == 4:
            raise KeyboardInterrupt
        return real_batch(self, step, batch_size)

    monkeypatch.setattr(ClipSampler, "batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(replace(SMALL, checkpoint_every=100), tmp_path / "run", quiet=True)
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [4]
    assert torch.load(tmp_path / "run" / "iter_4.pth", weights_only=True)["step"] == 4


def test_stage_two_trains_fusion_and_student_with_the_teacher_frozen(tmp_path: Path) -> None:
    torch.manual_seed(0)
    teacher_sd = build_model("flashdepth-tiny").state_dict()
    teacher_path = tmp_path / "teacher.pth"
    torch.save({"model": teacher_sd, "step": 1}, teacher_path)
    config = replace(
        load_train_config("tiny-hybrid"), steps=2, batch_size=1, teacher_checkpoint=str(teacher_path),
        data=replace(SMALL_DATA, render_size=(112, 140), crop=(112, 140), frames=2, clip_frames=3, max_stride=1),
    )
    model = build_training_model(config)
    groups = {g["name"]: g for g in parameter_groups(model, config.lr)}

    assert {name: g["lr"] for name, g in groups.items()} == {"vit": 1e-6, "dpt": 1e-6, "temporal": 1e-6, "fusion": 1e-4}
    grouped = {id(p) for g in groups.values() for p in g["params"]}
    teacher = {id(p) for p in model.teacher_model.parameters()}
    assert teacher and not teacher & grouped
    assert not any(p.requires_grad for p in model.teacher_model.parameters())
    assert grouped == {id(p) for p in model.parameters()} - teacher
    for key, value in model.teacher_model.state_dict().items():
        assert torch.equal(value, teacher_sd[key])  # the teacher came from its checkpoint

    final = load_checkpoint(train(config, tmp_path / "stage2", quiet=True)).state_dict()
    start = build_training_model(config).state_dict()
    changed = {k for k in start if not torch.equal(start[k], final[k])}
    assert not any(k.startswith("teacher_model.") for k in changed)
    assert any(k.startswith("hybrid_fusion.") for k in changed) and any(k.startswith("pretrained.") for k in changed)


def test_a_fresh_network_starts_with_every_output_pixel_trainable() -> None:
    model = build_training_model(SMALL)
    batch = ClipSampler(SMALL_DATA, seed=1).batch(0, 2)
    sequence_loss(model, batch).backward()
    with torch.no_grad():
        mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        state, outputs = None, []
        for t in range(batch.video.shape[1]):
            out, state = model((batch.video[:, t] - mean) / std, state)
            outputs.append(out)
        prediction = torch.stack(outputs, dim=1)
    assert (prediction > 0).all()  # the final ReLU is open everywhere
    # d(mean |pred - target|) / d(output bias) is the mean sign of the error only when every pixel passes gradient
    head = model.depth_head.scratch.output_conv2[2]
    expected = torch.sign(prediction - batch.disparity).mean()
    assert head.bias is not None and head.bias.grad is not None
    torch.testing.assert_close(head.bias.grad[0], expected, rtol=1e-4, atol=1e-6)


def test_temporal_decay_rates_start_in_the_configured_range() -> None:
    def rates(config: TrainConfig) -> torch.Tensor:
        model = build_training_model(config)
        return torch.cat([-torch.exp(m.A_log.detach()) for m in model.mamba.modules() if isinstance(m, Mamba2)])

    default, slow = rates(SMALL), rates(replace(SMALL, temporal_a_init=(0.01, 1.0)))
    assert default.numel() == slow.numel() > 4
    assert (-16.0 - 1e-4 <= default).all() and (default <= -1.0 + 1e-4).all()
    assert (-1.0 - 1e-6 <= slow).all() and (slow <= -0.01 + 1e-6).all()
    with pytest.raises(TrainConfigError, match="temporal_a_init"):
        replace(SMALL, temporal_a_init=(2.0, 1.0)).validate()


def test_sampled_targets_are_100_over_depth_of_the_rendered_frames() -> None:
    data = DataConfig(scenes=1, base_seed=2, render_size=(70, 112), crop=(70, 112), clip_frames=3, frames=3,
                      max_stride=1, flip=False, reverse=False, colour_jitter=0.0)
    sampler = ClipSampler(data, seed=5)
    batch = sampler.batch(7, 2)
    clip = render_sequence(SceneConfig(height=70, width=112, num_frames=3, seed=2))

    assert batch.video.shape == (2, 3, 3, 70, 112) and batch.disparity.shape == (2, 3, 70, 112)
    frames = torch.from_numpy(clip.rgb).permute(0, 3, 1, 2)
    torch.testing.assert_close(batch.video[0], frames, rtol=0, atol=0.5 / 255 + 1e-6)  # stored as 8-bit
    torch.testing.assert_close(batch.disparity[0], 100.0 / torch.from_numpy(clip.depth), rtol=1e-3, atol=0)


def test_exposure_pops_reach_the_training_clips() -> None:
    data = DataConfig(scenes=1, base_seed=2, render_size=(70, 112), crop=(70, 112), clip_frames=3, frames=3,
                      max_stride=1, flip=False, reverse=False, colour_jitter=0.0)
    plain = ClipSampler(data).batch(0, 1)
    popped = ClipSampler(replace(data, exposure_pops=1.0)).batch(0, 1)
    assert torch.equal(plain.disparity, popped.disparity)
    assert (popped.video.mean(dim=(0, 2, 3, 4)) > plain.video.mean(dim=(0, 2, 3, 4)) + 0.1).all()  # every frame


def test_batches_are_a_function_of_the_step() -> None:
    sampler = ClipSampler(SMALL_DATA, seed=5)
    first, again, other = sampler.batch(7, 3), ClipSampler(SMALL_DATA, seed=5).batch(7, 3), sampler.batch(8, 3)
    assert first.video.shape == (3, 3, 3, 70, 112)
    assert torch.equal(first.video, again.video) and torch.equal(first.disparity, again.disparity)
    assert not torch.equal(first.video, other.video)
    assert 0 <= first.video.min() and first.video.max() <= 1 and (first.disparity > 0).all()
    small_cache = ClipSampler(replace(SMALL_DATA, cache_mb=1), seed=5)  # room for 3 of the 4 clips: re-renders
    for step in range(6):
        assert torch.equal(small_cache.batch(step, 3).video, sampler.batch(step, 3).video)


def test_unusable_configs_and_runs_fail_with_one_line(tmp_path: Path) -> None:
    bad_key = tmp_path / "bad.json"
    bad_key.write_text(json.dumps({"preset": "tiny", "data": {"crops": [70, 98]}}))
    with pytest.raises(TrainConfigError, match=r"unknown setting\(s\) crops"):
        load_train_config(bad_key)
    odd_crop = tmp_path / "odd.json"
    odd_crop.write_text(json.dumps({"preset": "tiny", "data": {"crop": [100, 112]}}))
    with pytest.raises(TrainConfigError, match="multiples of 14"):
        load_train_config(odd_crop)
    with pytest.raises(TrainConfigError, match="no such config file or preset"):
        load_train_config("nonexistent-preset")
    with pytest.raises(TrainConfigError, match="stage 2 trains a hybrid model"):
        replace(SMALL, stage=2).validate()
    with pytest.raises(CheckpointError, match="needs a trained teacher"):
        build_training_model(replace(load_train_config("tiny-hybrid"), teacher_checkpoint=None))

    train(replace(SMALL, steps=1), tmp_path / "run", quiet=True)
    with pytest.raises(TrainConfigError) as err:
        train(SMALL, tmp_path / "run", quiet=True)
    assert "--resume" in str(err.value) and "\n" not in str(err.value)
    teacher = tmp_path / "teacher.pth"
    teacher.write_bytes((tmp_path / "run" / "iter_1.pth").read_bytes())
    with pytest.raises(CheckpointError, match="does not match this run's config"):
        train(replace(SMALL, model="flashdepth-tiny-hybrid", stage=2, teacher_checkpoint=str(teacher),
                      lr=replace(SMALL.lr, fusion=1e-4)), tmp_path / "run", resume=True, quiet=True)


def test_cli_trains_refuses_to_overwrite_and_resumes_from_the_run_config(tmp_path: Path) -> None:
    config = tmp_path / "small.json"
    config.write_text(json.dumps({**replace(SMALL, steps=2).to_dict()}))
    run = tmp_path / "run"
    runner = CliRunner()

    first = runner.invoke(train_command, [str(config), "--run-dir", str(run), "--quiet"])
    assert first.exit_code == 0, first.output
    assert f"final checkpoint: {run / 'iter_2.pth'}" in first.output

    again = runner.invoke(train_command, [str(config), "--run-dir", str(run), "--quiet"])
    assert again.exit_code == 1 and "pass --resume" in again.output

    more = runner.invoke(train_command, ["--run-dir", str(run), "--resume", "--steps", "3", "--quiet"])
    assert more.exit_code == 0, more.output
    assert torch.load(run / "iter_3.pth", weights_only=True)["step"] == 3

    usage = runner.invoke(train_command, ["--run-dir", str(run)])
    assert usage.exit_code == 2 and "preset" in usage.output
