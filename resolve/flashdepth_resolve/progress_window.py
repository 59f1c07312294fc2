"""A small window with the render's progress and a Cancel button, for the Resolve and Fusion scripts (which
otherwise have only the console, and no way to stop the engine).

Built with Fusion's UI Manager as Blackmagic's scripting UI works: ``ui = fusion.UIManager`` and
``disp = bmd.UIDispatcher(ui)``; ``disp.AddWindow({"ID", "WindowTitle", "Geometry"}, ui.VGroup([...]))`` with
``ui.Label`` / ``ui.Button`` items found by ``win.GetItems()[ID]``; handlers ``win.On.<ID>.Clicked`` /
``win.On.<window ID>.Close``; a ``ui.Timer({"ID", "Interval"})`` started with ``Start()`` whose
``disp.On.<timer ID>.Timeout`` handler runs in the dispatcher's loop; ``disp.RunLoop()`` until ``disp.ExitLoop()``.
The engine runs in its own process (:class:`flashdepth_vfx.hosts.render.NodeRender`): the timer polls its
progress, Cancel (or closing the window) asks it to stop and the bridge kills it after the grace period.

Where the UI Manager or ``bmd`` is missing (an external script, an old Fusion), progress goes to the console and
the render runs to the end, as before.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Optional, Tuple

from flashdepth_vfx.bridge import RenderJob, RenderResult
from flashdepth_vfx.hosts.render import NodeRender

from .console import console_report

Runner = Callable[[RenderJob], RenderResult]
"""Renders a job to the end (or until the artist cancels it) and returns the result."""
WINDOW_ID = "FlashDepthProgress"
TIMER_ID = "FlashDepthPoll"
POLL_MS = 200


def find_ui(namespace: Mapping[str, Any]) -> Optional[Tuple[Any, Any]]:
    """(UI Manager, ``bmd``) from a script's globals: the UI Manager of ``fusion`` / ``fu`` / ``app`` or of
    ``resolve.Fusion()``, and ``bmd`` (else the ``BlackmagicFusion`` module). None when either is missing."""
    apps = [namespace.get(name) for name in ("fusion", "fu", "app")]
    resolve = namespace.get("resolve")
    if resolve is not None and callable(getattr(resolve, "Fusion", None)):
        apps.append(resolve.Fusion())
    ui = next((getattr(app, "UIManager", None) for app in apps if getattr(app, "UIManager", None) is not None), None)
    bmd = namespace.get("bmd")
    if bmd is None:
        try:
            bmd = importlib.import_module("BlackmagicFusion")
        except ImportError:
            bmd = None
    if ui is None or not callable(getattr(bmd, "UIDispatcher", None)):
        return None
    return ui, bmd


def console_runner(title: str) -> Runner:
    """Render with progress printed to the console (no way to cancel)."""
    return lambda job: NodeRender(job).run(console_report(title))


def runner(namespace: Mapping[str, Any], title: str) -> Runner:
    """The window runner where the script has a UI Manager, else :func:`console_runner`."""
    found = find_ui(namespace)
    if found is None:
        return console_runner(title)
    ui, bmd = found
    return lambda job: run_in_window(job, ui, bmd, title)


def run_in_window(job: RenderJob, ui: Any, bmd: Any, title: str) -> RenderResult:
    """Render ``job`` with a progress window: a line of progress, the percentage and Cancel. The window closes
    itself when the engine exits; Cancel or closing it stops the engine (finished frames are kept). Every
    progress line also goes to the console, as a log. A window that cannot be built (a UI Manager that refuses
    it) leaves the render to the console, before the engine starts."""
    log = console_report(title)
    try:
        disp = bmd.UIDispatcher(ui)
        window = disp.AddWindow(
            {"ID": WINDOW_ID, "WindowTitle": f"{title}: rendering depth", "Geometry": [200, 200, 520, 110]},
            ui.VGroup([
                ui.Label({"ID": "Message", "Text": "Starting the depth engine", "WordWrap": True}),
                ui.HGroup([
                    ui.Label({"ID": "Percent", "Text": "0%"}),
                    ui.Button({"ID": "Cancel", "Text": "Cancel"}),
                ]),
            ]),
        )
        items = window.GetItems()
        timer = ui.Timer({"ID": TIMER_ID, "Interval": POLL_MS})
    except Exception as exc:  # noqa: BLE001 - any failure of the host's UI: the console still works
        log(None, f"no progress window ({' '.join(str(exc).split()) or type(exc).__name__}): progress here")
        return console_runner(title)(job)
    render = NodeRender(job)

    def cancel(event: Any) -> None:
        if items["Cancel"].Enabled:
            render.cancel()
            items["Cancel"].Enabled = False
            items["Message"].Text = "Cancelling: the frames already rendered are kept"
            log(None, "Cancelling")

    def poll(event: Any) -> None:
        if not render.running:
            disp.ExitLoop()
            return
        fraction, message = render.progress()
        log(fraction, message)
        if items["Cancel"].Enabled:
            items["Message"].Text = message
        items["Percent"].Text = f"{int(round(100 * (fraction or 0.0)))}%"

    window.On.Cancel.Clicked = cancel
    window.On.FlashDepthProgress.Close = cancel  # the loop still waits for the engine to stop
    disp.On.FlashDepthPoll.Timeout = poll
    render.start()
    window.Show()
    timer.Start()
    try:
        disp.RunLoop()
    finally:
        timer.Stop()
        window.Hide()
        if render.running:  # the loop ended some other way: never leave an engine behind
            render.cancel()
    result = render.wait()
    log(*render.progress())
    return result
