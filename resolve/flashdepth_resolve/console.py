"""What the Fusion and Resolve scripts say on the console they share: render progress, how a render ended, and any
error as one line."""
from __future__ import annotations

from typing import Any, Callable, Optional

from flashdepth_vfx.bridge import RenderJob, RenderResult
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.render import error_line, summary
from flashdepth_vfx.hosts.versions import DepthVersion


def console_report(prefix: str) -> Callable[[Optional[float], str], None]:
    """A NodeRender ``report`` callback that prints each new progress message once."""
    shown = [""]

    def report(fraction: Optional[float], message: str) -> None:
        if message != shown[0]:
            shown[0] = message
            print(f"{prefix}: {message}")

    return report


def render_version(title: str, version: DepthVersion, job: RenderJob,
                   run: Callable[[RenderJob], RenderResult]) -> RenderResult:
    """Render ``job`` into ``version`` (its manifest first, marked as being rendered meanwhile, so pruning leaves it)
    with ``run``, and print how it ended."""
    version.write_manifest(job)
    with version.rendering():
        result = run(job)
    print(f"{title}: {summary(result)}")
    return result


def run_script(title: str, host: Any, missing: str, action: Callable[[Any], object]) -> None:
    """A script's run: ``<title>: <missing>`` when its host object (a comp, Resolve) is None, else ``action(host)``,
    any error it raises as one console line ``<title>: ...``, never a traceback."""
    if host is None:
        print(f"{title}: {missing}")
        return
    try:
        action(host)
    except FlashDepthError as exc:
        print(f"{title}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the artist gets one line, never a traceback
        print(f"{title}: {error_line(exc)}")
