"""RenderJob: the settings of one depth render, as hosts store them and the engine's CLI takes them."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

# Job field -> the render CLI option that carries it, in the order they are passed.
_OPTIONS: Tuple[Tuple[str, str], ...] = (
    ("output", "-o"),
    ("frames", "--frames"),
    ("checkpoint", "--checkpoint"),
    ("model", "--model"),
    ("colorspace", "--colorspace"),
    ("ocio_config", "--ocio-config"),
    ("mode", "--mode"),
    ("device", "--device"),
    ("precision", "--precision"),
)


@dataclass
class RenderJob:
    """Settings of one render; every unset (None) option is left to the engine's default."""

    plate: str
    output: Optional[str] = None
    frames: Optional[str] = None
    checkpoint: Optional[str] = None
    model: Optional[str] = None
    colorspace: Optional[str] = None
    ocio_config: Optional[str] = None
    mode: Optional[str] = None
    device: Optional[str] = None
    precision: Optional[str] = None
    resume: bool = False
    extra_args: Tuple[str, ...] = ()

    def to_args(self) -> List[str]:
        """Engine arguments: ``["render", <set options>, [--resume], *extra_args, "--progress", "json", "--", plate]``.

        ``--`` ends the options, so a plate whose name starts with ``-`` is never read as one."""
        args = ["render"]
        for name, option in _OPTIONS:
            value = getattr(self, name)
            if value is not None:
                args += [option, str(value)]
        if self.resume:
            args.append("--resume")
        args += list(self.extra_args)
        args += ["--progress", "json", "--", self.plate]
        return args

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict of all fields (``extra_args`` as a list)."""
        data = dataclasses.asdict(self)
        data["extra_args"] = list(self.extra_args)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RenderJob:
        """Rebuild a job from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown render job setting(s): {', '.join(unknown)}")
        values = dict(data)
        values["extra_args"] = tuple(str(a) for a in values.get("extra_args") or ())
        return cls(**values)

    def fingerprint(self) -> str:
        """Stable 16-hex-digit hash of the settings that are set (adding a new optional field keeps old hashes:
        unset means None, False or an empty list)."""
        settings = {k: v for k, v in self.to_dict().items() if v is not None and v is not False and v != []}
        blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
