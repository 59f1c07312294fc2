"""Numerical equivalence with the official FlashDepth implementation (golden outputs in ../shared/reference)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flashdepth_vfx.model import build_model
from reference import CONFIG_NAMES, REFERENCE, golden_cases, load_case, manifest, state_dict

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not found at {REFERENCE}")

# The reference README: float32 CPU reimplementations should agree within atol = rtol = 1e-4.
ATOL = RTOL = 1e-4


def _model_for(case: dict) -> torch.nn.Module:
    variant = str(case["config"])
    overrides = json.loads(str(case["overrides"]))
    model = build_model(CONFIG_NAMES[variant], teacher_resolution=overrides.get("teacher_resolution"))
    model.load_state_dict(state_dict(variant, int(case["seed"])), strict=True)
    return model


def _frame(case: dict, i: int) -> torch.Tensor:
    return torch.from_numpy(case["frames"][i]).float()[None] / 255.0


@pytest.mark.parametrize("variant", ["s", "l", "full"])
def test_state_dict_keys_and_shapes_equal_the_official_manifest(variant: str) -> None:
    model = build_model(CONFIG_NAMES[variant], device="meta")
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    official = [(t["key"], list(t["shape"])) for t in manifest(variant)]
    assert ours == official


@pytest.mark.parametrize("name", golden_cases())
def test_streaming_outputs_match_official(name: str) -> None:
    case = load_case(name)
    model = _model_for(case)
    with torch.inference_mode():
        stream = model.stream()
        for i in range(int(case["num_frames"])):
            out = stream.step(_frame(case, i))
            assert out.shape == (1, int(case["H"]), int(case["W"]))
            np.testing.assert_allclose(out[0].numpy(), case["outputs"][i], atol=ATOL, rtol=RTOL, err_msg=f"{name} frame {i}")
        k = int(case["alone_index"])
        alone = model.stream().step(_frame(case, k))[0].numpy()
    np.testing.assert_allclose(alone, case["output_alone"], atol=ATOL, rtol=RTOL, err_msg=f"{name} frame {k} alone")
    # the temporal path is exercised: the frame alone differs clearly from the same frame in the stream
    assert np.abs(alone - case["outputs"][k]).max() > 100 * ATOL


@pytest.mark.parametrize("name", ["s_126x224_f4_seed0", "full_140x252_tr70_f3_seed2"])
def test_intermediate_features_match_official(name: str) -> None:
    case = load_case(name)
    debug = load_case(name + "_debug")
    model = _model_for(case)
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.mamba.register_forward_hook(lambda m, args, out: seen.update(mamba_in=args[0], mamba_out=out[0])),
        model.depth_head.scratch.output_conv1.register_forward_hook(lambda m, args, out: seen.update(dpt_features=args[0])),
    ]
    if model.cfg.hybrid:
        hooks += [
            model.teacher_model.register_forward_hook(lambda m, args, out: seen.update(teacher_path4=out)),
            model.hybrid_fusion.register_forward_hook(
                lambda m, args, out: seen.update(student_path4=args[0], fused_path4=out)
            ),
        ]
    with torch.inference_mode():
        stream = model.stream()
        for i in range(2):
            seen.clear()
            stream.step(_frame(case, i))
            for key, value in seen.items():
                ref = debug[f"f{i}_{key}"]
                np.testing.assert_allclose(value.numpy(), ref, atol=ATOL, rtol=RTOL, err_msg=f"{name} f{i} {key}")
    assert {k.split("_", 1)[1] for k in debug} == set(seen)
    for h in hooks:
        h.remove()
