"""Evaluation as the FlashDepth paper measures it (AbsRel, delta1 after one scale-and-shift alignment per sequence),
plus Depth Pro's boundary F1 and two temporal-consistency measures. numpy + OpenImageIO; no torch.
"""
from flashdepth_vfx.eval.io import load_frames
from flashdepth_vfx.eval.metrics import EvalResult, evaluate_sequence
from flashdepth_vfx.eval.plot import plot_metrics
from flashdepth_vfx.eval.report import format_table, run_eval

__all__ = ["EvalResult", "evaluate_sequence", "format_table", "load_frames", "plot_metrics", "run_eval"]
