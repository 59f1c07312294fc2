"""Training loss terms on small sequences worked out by hand."""
from __future__ import annotations

import pytest
import torch

from flashdepth_vfx.train import LossWeights, TrainConfigError
from flashdepth_vfx.train.config import TINY, with_overrides
from flashdepth_vfx.train.losses import disparity_l1, sequence_losses, temporal_gradient


def _seq(*frames: list[list[float]]) -> torch.Tensor:
    """(1, T, H, W) from T frames of nested lists."""
    return torch.tensor([frames], dtype=torch.float32)


def test_l1_skips_invalid_pixels() -> None:
    target = _seq([[2.0, 0.0], [4.0, 1.0]])
    prediction = _seq([[3.0, 50.0], [4.0, 3.0]])
    assert disparity_l1(prediction, target).item() == pytest.approx((1 + 0 + 2) / 3)


def test_terms_are_zero_not_nan_without_pixels_to_score() -> None:
    # No valid truth at all, and (second case) no static pixel: nothing to score, and nothing to poison the sum.
    assert disparity_l1(_seq([[1.0, 2.0]]), _seq([[0.0, 0.0]])).item() == 0.0
    assert temporal_gradient(_seq([[1.0]], [[9.0]]), _seq([[1.0]], [[2.0]])).item() == 0.0


def test_temporal_gradient_counts_only_unexplained_change_on_static_pixels() -> None:
    # Pixel 0 is static (10 -> 10.2, 2%): the prediction moves 10 -> 11, the truth 0.2: unexplained 0.8.
    # Pixel 1 moves 10 -> 20 (not static): ignored. Pixel 2 is invalid in frame 2: ignored.
    # Pixel 3 is static and the prediction follows the truth exactly: 0.
    target = _seq([[10.0, 10.0, 5.0, 4.0]], [[10.2, 20.0, 0.0, 4.1]])
    prediction = _seq([[10.0, 3.0, 5.0, 7.0]], [[11.0, 90.0, 9.0, 7.1]])
    assert temporal_gradient(prediction, target).item() == pytest.approx((0.8 + 0.0) / 2)


def test_temporal_gradient_is_zero_for_a_prediction_off_by_a_constant() -> None:
    target = _seq([[4.0, 8.0]], [[4.1, 8.1]], [[4.0, 8.2]])
    assert temporal_gradient(target + 3.0, target).item() == pytest.approx(0.0, abs=1e-6)


def test_single_frames_have_no_temporal_term() -> None:
    target = _seq([[1.0, 2.0]])
    assert temporal_gradient(target * 2, target).item() == 0.0


def test_total_is_the_weighted_sum_and_gradients_reach_the_prediction() -> None:
    target = _seq([[10.0, 4.0]], [[10.1, 4.0]])
    prediction = _seq([[12.0, 4.0]], [[10.0, 5.0]]).requires_grad_()
    terms = sequence_losses(prediction, target, LossWeights(l1=2.0, temporal_gradient=0.5))
    expected = 2.0 * terms["l1"] + 0.5 * terms["temporal_gradient"]
    assert terms["total"].item() == pytest.approx(expected.item())
    terms["total"].backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    assert set(sequence_losses(prediction, target, LossWeights())) == {"l1", "total"}  # zero weights are skipped


def test_loss_weights_are_validated() -> None:
    with pytest.raises(TrainConfigError, match="loss weights"):
        with_overrides(TINY, loss=LossWeights(l1=0.0))
    with pytest.raises(TrainConfigError, match="loss weights"):
        with_overrides(TINY, loss=LossWeights(temporal_gradient=-1.0))
