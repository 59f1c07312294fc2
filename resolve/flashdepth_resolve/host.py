"""Reaching Resolve and Fusion from a script, and where FlashDepth writes there.

Inside Resolve (Workspace > Scripts, the Fusion page) and Fusion Studio, a script gets its host as globals:
``resolve`` (Resolve), ``fusion`` / ``app`` (Fusion; ``app:GetResolve()`` in Lua), ``comp`` (the current
composition) and ``bmd`` (``bmd.scriptapp``). ``import DaVinciResolveScript`` is for external scripting and often
fails inside Resolve, so it is only the last resort, for a script run from outside.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Mapping, Optional

from flashdepth_vfx.hosts.paths import RESULT_FOLDER

CACHE_ROOT_ENV = "FLASHDEPTH_VFX_CACHE"
"""A folder for all FlashDepth results (``<root>/<project>/<clip>``); unset: beside each clip's media."""


def find_resolve(namespace: Mapping[str, Any], external: bool = True) -> Optional[Any]:
    """The Resolve scripting object: the injected ``resolve``, else the Fusion app's ``GetResolve()``, else
    ``bmd.scriptapp("Resolve")``, else (``external``) ``DaVinciResolveScript.scriptapp("Resolve")``, the module
    external scripts use. None in Fusion Studio, or when Resolve cannot be reached."""
    resolve = namespace.get("resolve")
    if resolve is not None:
        return resolve
    for name in ("fusion", "app"):
        app = namespace.get(name)
        get_resolve = getattr(app, "GetResolve", None)
        found = get_resolve() if callable(get_resolve) else None
        if found is not None:
            return found
    bmd = namespace.get("bmd")
    if bmd is not None and callable(getattr(bmd, "scriptapp", None)):
        found = bmd.scriptapp("Resolve")
        if found is not None:
            return found
    if not external:
        return None
    try:
        module = importlib.import_module("DaVinciResolveScript")
    except ImportError:
        return None
    return module.scriptapp("Resolve")


def find_comp(namespace: Mapping[str, Any]) -> Optional[Any]:
    """The current Fusion composition: the injected ``comp``, else ``fusion`` / ``app``'s ``GetCurrentComp()``,
    else the Fusion page's comp through Resolve."""
    comp = namespace.get("comp")
    if comp is not None:
        return comp
    apps = [namespace.get("fusion"), namespace.get("app")]
    resolve = namespace.get("resolve")
    if resolve is not None and callable(getattr(resolve, "Fusion", None)):
        apps.append(resolve.Fusion())
    for app in apps:
        get_comp = getattr(app, "GetCurrentComp", None)
        found = get_comp() if callable(get_comp) else None
        if found is not None:
            return found
    return None


def result_dir(media_dir: str, name: str, project: Optional[str] = None) -> str:
    """Where a clip's depth goes: ``$FLASHDEPTH_VFX_CACHE/<project>/<name>`` when that root is configured, else
    ``<media folder>/flashdepth/<name>``, beside the plate (never a temporary folder, which the OS may empty)."""
    root = os.environ.get(CACHE_ROOT_ENV, "").strip()
    if root:
        return os.path.join(os.path.expanduser(root), project or "default", name)
    return os.path.join(media_dir, RESULT_FOLDER, name)
