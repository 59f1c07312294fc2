"""Which colour space and OCIO config a host node hands the engine.

The engine resolves a colour-space name against one OCIO config: ``--ocio-config`` when given, else ``$OCIO``,
else its built-in studio config. A host's name only means what the host means against the host's own config,
so the nodes pass that config along; when the host has no OCIO config active (Nuke's "Nuke" colour
management), its names (``linear``, ``sRGB``, ``rec709``, ``Cineon``, ...) are Nuke's built-in curves, which
:data:`NUKE_DEFAULT_CONFIG` spells out exactly as an OCIO config.

A depth version is keyed by what the config *is* (:func:`config_identity`), not where it is installed: the
project's own nuke-default in another artist's checkout, or a Nuke point release's copy of its bundled configs,
is the same config.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .export import content_stamp

NUKE_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nuke-default.ocio")
"""An OCIO config holding Nuke's non-OCIO colour spaces (Rec.709 primaries, each with its transfer curve)."""
NUKE_DEFAULT_SPACES = ("linear", "sRGB", "rec709", "Cineon", "Gamma1.8", "Gamma2.2", "Gamma2.4",
                       "AlexaV3LogC", "SLog3", "raw")
"""The names :data:`NUKE_DEFAULT_CONFIG` defines (the rest of Nuke's menu has no exact analytic form here)."""
_BY_LOWER = {name.lower(): name for name in NUKE_DEFAULT_SPACES}


def menu_colorspace(value: str) -> str:
    """A colour-space menu value as a name: Nuke shows its defaults as ``default (sRGB)``, and an OCIO menu
    may show a family path (``Utility/Linear - sRGB``)."""
    value = value.strip()
    if value.startswith("default") and "(" in value and value.endswith(")"):
        value = value[value.find("(") + 1: -1].strip()
    return value


@dataclass(frozen=True)
class EngineColour:
    """What the engine gets: ``--colorspace`` and ``--ocio-config`` (None: the engine's default)."""

    colorspace: Optional[str]
    ocio_config: Optional[str]


def engine_colour(colorspace: str, active_config: Optional[str]) -> EngineColour:
    """The engine settings for a host's colour-space name and its active OCIO config (None when the host
    uses no OCIO config). Without one, a Nuke built-in name maps to :data:`NUKE_DEFAULT_CONFIG`; any other
    name is left to the engine's own config (``$OCIO`` or its studio config), which names the error."""
    name = menu_colorspace(colorspace) or None
    if active_config:
        return EngineColour(name, active_config)
    if name is not None and name.lower() in _BY_LOWER:
        return EngineColour(_BY_LOWER[name.lower()], NUKE_DEFAULT_CONFIG)
    return EngineColour(name, None)


BUILTIN_PREFIX = "ocio://"
_CONFIGS: Dict[str, Tuple[int, int, str]] = {}  # config path -> (size, mtime_ns, identity)
_SEARCH_PATH = re.compile(r"^search_path\s*:[ \t]*(?P<value>.*)$", re.MULTILINE)
_LIST_ITEM = re.compile(r"\A(?:[ \t]*\n)*?(?P<items>(?:[ \t]*-[ \t]*.*\n?)+)")
_SRC = re.compile(r"\bsrc\s*:\s*(?P<value>\"[^\"]*\"|'[^']*'|[^,}\s][^,}\n]*)")


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'" else text


def _search_dirs(text: str, folder: str) -> List[str]:
    """The config's ``search_path`` folders (a ``:``-separated string or a YAML list), relative to its folder."""
    match = _SEARCH_PATH.search(text)
    if match is None:
        return [folder]
    value = match.group("value").strip()
    if value.startswith("["):
        entries = [_unquote(part) for part in value.strip("[]").split(",")]
    elif value:
        entries = _unquote(value).split(":")
    else:
        items = _LIST_ITEM.match(text[match.end() + 1:])
        entries = [_unquote(line.strip()[1:]) for line in items.group("items").splitlines()] if items else []
    dirs = [os.path.join(folder, os.path.expandvars(entry)) for entry in entries if entry.strip()]
    return dirs or [folder]


def _referenced(text: str, folder: str) -> List[str]:
    """``src=<content stamp>`` of every file the config's transforms read, looked up as OCIO does (an absolute
    path, else along the ``search_path``): a changed LUT is a changed config."""
    dirs = _search_dirs(text, folder)
    parts = []
    for src in sorted({_unquote(m.group("value")) for m in _SRC.finditer(text)}):
        name = os.path.expandvars(src)
        candidates = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in dirs]
        found = next((path for path in candidates if os.path.isfile(path)), None)
        parts.append(f"{src}={content_stamp(found) if found else 'missing'}")
    return parts


def config_identity(config: Optional[str], cached: bool = True) -> Optional[str]:
    """What an OCIO config is, wherever it is installed: a built-in ``ocio://`` name as it is; a config file as a
    hash of its text and of the files it references (so the same config in two install folders, or in two Nuke
    point releases, is one config, and an edited one is another). The config is read once per change of its
    file (one ``stat`` after that), so a LUT edited since is seen only with ``cached=False`` (the engine's resume
    key: it reads the config again, the LUTs once per change of each). None for no config."""
    if not config:
        return None
    if config.startswith(BUILTIN_PREFIX):
        return config
    try:
        stat = os.stat(config)
    except OSError:
        return f"missing:{os.path.basename(config)}"
    known = _CONFIGS.get(config) if cached else None
    if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
        return known[2]
    if config.lower().endswith(".ocioz"):  # an archive holds its LUTs
        identity = f"ocioz:{content_stamp(config)}"
    else:
        try:
            with open(config, "rb") as handle:
                data = handle.read()
        except OSError:
            return f"unreadable:{os.path.basename(config)}"
        text = data.decode("utf-8", "replace")
        digest = hashlib.sha256(data)
        for part in _referenced(text, os.path.dirname(config)):
            digest.update(b"\0" + part.encode("utf-8"))
        identity = f"config:{digest.hexdigest()[:16]}"
    _CONFIGS[config] = (stat.st_size, stat.st_mtime_ns, identity)
    return identity
