"""Render-farm jobs: Open Job Description templates that split shots into state-coherent chunks.

``build_job`` / ``write_job`` live in :mod:`flashdepth_vfx.farm.template` (they need the ``farm``
extra: openjd-model, PyYAML); the shot solve's last step per shot in :mod:`flashdepth_vfx.farm.solve`; the
``flashdepth-vfx farm`` command in :mod:`flashdepth_vfx.farm.command`.
Importing this package stays light: the template names load on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .options import DEFAULT_WARMUP

if TYPE_CHECKING:
    from .template import FarmError, FarmJob, build_job, template_yaml, validate_template, write_job, write_template

__all__ = ["DEFAULT_WARMUP", "FarmError", "FarmJob", "build_job", "template_yaml", "validate_template", "write_job",
           "write_template"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import template

        return getattr(template, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
