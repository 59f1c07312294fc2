"""What a FlashDepth node does, once for every host: *Render depth*, *Preview frame*, *Finish*, *Cancel*, the status
check, the version menu, *Show partial*, *Delete old versions* and *Send to farm*.

A host adapter supplies a :class:`NodeHost` for one node: a few operations on the host's API (read the node's
source, show its status, load a version into its loader, ask a question, run a call on the main thread, report
progress) and nothing else; the verbs below decide what happens, in which thread and in which order. (As
OpenTimelineIO's core owns the dispatch and an adapter supplies a few functions.) So a fix to a verb lands once
for Nuke and Houdini; the Resolve and Fusion scripts, which have no node, share the lower-level modules.

Threads: the verbs are called on the host's main thread. A render or a prune plan runs in a worker thread
where the host has an event loop (``background``), else (hython) in the calling thread; every host call a
worker makes goes through :meth:`NodeHost.later` or :meth:`NodeHost.now`.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, NamedTuple, Optional, Protocol, Tuple, TypeVar, Union

from flashdepth_vfx.bridge import RenderJob, RenderResult
from flashdepth_vfx.bridge.runner import CANCELLED_EXIT_CODE
from flashdepth_vfx.errors import FlashDepthError

from . import farm, prune
from .camera import SolveRequest
from .export import ExportCache
from .render import BackgroundRender, RenderSlots, Report, error_line
from .settings import NodeSettings
from .versions import (
    DepthState, DepthVersion, NodeStatus, describe_versions, find_version, keep_shown, mark_shown, node_status,
    rendering_marker,
)

T = TypeVar("T")


@dataclass
class Source:
    """What a node renders from: its settings, the file frames asked, the export cache of a node tree (None for
    files), the shot solve and the engine options the host adds (how it names the depth channel)."""

    settings: NodeSettings
    frames: List[int]
    export: Optional[ExportCache] = None
    solve: SolveRequest = SolveRequest()
    engine_args: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.settings.output_args()  # a size or choice the engine refuses: FlashDepthError where the node is read

    def job(self, resume: bool = False) -> RenderJob:
        """The versioned engine job (``--resume`` with ``resume``)."""
        return self._with_engine_args(self.settings.versioned_job(resume=resume))

    def preview_job(self, frame: int) -> RenderJob:
        """The engine job of *Preview frame*: file frame ``frame`` into the settings' preview folder."""
        return self._with_engine_args(self.settings.preview_job(frame))

    def _with_engine_args(self, job: RenderJob) -> RenderJob:
        job.extra_args = tuple(job.extra_args) + self.engine_args
        return job


class NodeHost(Protocol):
    """The host operations on one node that the verbs use (an adapter's small class over its API).

    Main-thread only, except :meth:`later`, :meth:`now` and :meth:`progress`, which a worker calls."""

    key: str
    """The node's identity in this session (one render at a time per key)."""
    name: str
    """The node as messages name it."""
    scene: str
    """The saved scene (script, .hip) that holds the node; "" while unsaved."""
    path: str
    """The node's path in its scene (for the record of who shows a version)."""
    background: bool
    """Work runs in a worker thread (a host with an event loop); False: in the calling thread (hython)."""
    file_input: str
    """What Send to farm needs instead of a node tree ("a Read input")."""

    def read_source(self) -> Source:
        """The node's settings and frames (FlashDepthError, one line, when it cannot render)."""

    def say(self, text: str) -> None:
        """Show one line in the node's status (an error, how something went)."""

    def show(self, status: Union[NodeStatus, FlashDepthError], message: Optional[str]) -> None:
        """Show ``status`` (after ``message``, how something ended): status line, tile colour, version menu; or
        why the node cannot render."""

    def shown(self) -> Optional[DepthVersion]:
        """The version the node's loader shows (its record on the node)."""

    def chosen(self) -> bool:
        """Whether the artist chose the shown version in the version menu."""

    def choose(self, version: Optional[DepthVersion]) -> None:
        """Record the artist's choice (None: follow the settings) and show it in the version menu."""

    def load(self, version: Optional[DepthVersion], source: Source, reload: bool) -> None:
        """Point the loader at ``version`` (None: no depth) and record it as shown; ``reload`` re-reads files."""

    def keep_output_dir(self, output_dir: str) -> None:
        """Fill an empty output folder setting with ``output_dir`` (versions stay put when the scene moves)."""

    def ask(self, question: str, details: str) -> bool:
        """A Yes / No question (True without a UI to ask in)."""

    def later(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the main thread when it is idle (at once without an event loop); skipped when the node
        is gone by then."""

    def now(self, call: Callable[[], T]) -> T:
        """Run ``call`` on the main thread and wait for its result (from a worker)."""

    def progress(self, task: BackgroundRender) -> ContextManager[Report]:
        """(Worker) the host's progress display for ``task``'s whole work: a report called at every poll, which
        may cancel ``task`` (the artist's Cancel, Esc)."""

    def current_frame(self) -> int:
        """The file frame the artist is looking at (the host's current frame, through the plate's timing)."""

    def show_progress(self, fraction: Optional[float], message: Optional[str]) -> None:
        """(Main thread) a render's progress on the node; ``message`` None: the render is over."""

    def exporter(self, cache: ExportCache) -> ContextManager[Callable[[int], None]]:
        """(Worker) a writer of one frame of the node's input tree into ``cache`` (on the main thread)."""


SLOTS = RenderSlots()
"""The renders in progress, one per node."""
_PRUNING: Dict[str, threading.Thread] = {}


def running(host: NodeHost) -> Optional[BackgroundRender]:
    """The node's render in progress, if any."""
    return SLOTS.get(host.key)


def status_of(host: NodeHost, source: Source) -> NodeStatus:
    """The node's status against the disk: the version its settings make, and the one its loader shows."""
    return node_status(source.settings.version(), source.frames, host.shown(), host.chosen())


def load(host: NodeHost, version: Optional[DepthVersion], source: Source, reload: bool = False) -> None:
    """Show ``version`` in the node's loader, moving the node's record of what it shows (pruning keeps it)."""
    shown = host.shown()
    if version is not None and version != shown and not version.is_preview:  # a preview is no version to keep
        mark_shown(version, host.scene, host.path, shown if shown is not None and not shown.is_preview else None)
    host.load(version, source, reload)


def refresh(host: NodeHost, message: Optional[str] = None, reload: bool = False) -> Optional[NodeStatus]:
    """Compare the depth on disk with the node's settings, show the version that should be shown and say how
    things stand (not while the node renders). ``message`` (how something ended) leads the status."""
    if running(host) is not None:
        return None
    try:
        source = host.read_source()
    except FlashDepthError as exc:
        host.show(exc, message)
        return None
    status = status_of(host, source)
    if status.show != host.shown() or reload:
        load(host, status.show, source, reload)
    if status.show is not None and not status.show.is_preview:  # a node pasted from another scene, a scene renamed
        keep_shown(status.show, host.scene, host.path)
    host.show(status, message)
    return status


def render(host: NodeHost, resume: bool = False) -> Optional[BackgroundRender]:
    """*Render depth* (*Finish* with ``resume``): export the node's input tree if it has one, then run the engine,
    in the background where the host has an event loop; afterwards show the version that should now be shown.
    Returns the render, or None when it could not start (the status says why)."""
    return _render(host, resume, preview=False)


def preview(host: NodeHost) -> Optional[BackgroundRender]:
    """*Preview frame*: render the frame the artist is on (the nearest one the node renders) with the node's
    settings into their preview folder (:data:`.versions.PREVIEW_FOLDER`: never a version) and show it in the node
    until the shot is rendered; the status says *preview*."""
    return _render(host, False, preview=True)


def _nearest(frame: int, frames: List[int]) -> int:
    return min(frames, key=lambda candidate: (abs(candidate - frame), candidate))


def _render(host: NodeHost, resume: bool, preview: bool) -> Optional[BackgroundRender]:
    if running(host) is not None:
        host.say("Already rendering: press Cancel to stop")
        return None
    try:
        source = host.read_source()
        host.keep_output_dir(source.settings.output_dir)
        frames = [_nearest(host.current_frame(), source.frames)] if preview else source.frames
        job = source.preview_job(frames[0]) if preview else source.job(resume)
        target = source.settings.preview() if preview else source.settings.version()
    except FlashDepthError as exc:
        host.say(f"Error: {exc}")
        return None
    if host.chosen():  # rendering the settings' version: the node follows the settings again
        host.choose(None)
    over = threading.Event()

    def report_to_host(fraction: Optional[float], message: str) -> None:
        host.later(lambda: None if over.is_set() else host.show_progress(fraction, message))

    def work(task: BackgroundRender) -> RenderResult:
        with host.progress(task) as tick:
            last = [""]

            def report(fraction: Optional[float], message: str) -> None:
                tick(fraction, message)
                if message != last[0]:
                    last[0] = message
                    report_to_host(fraction, message)

            if source.export is not None and not _export(task, host, source.export, frames, report):
                return RenderResult(CANCELLED_EXIT_CODE, True, None)
            source.solve.write()
            if preview:
                try:
                    with rendering_marker(target.folder):
                        return task.run_engine(job, report)
                finally:
                    if not target.on_disk():  # a preview that failed leaves no folder behind
                        prune.clear_preview(target)
            target.write_manifest(job)
            with target.rendering():
                return task.run_engine(job, report)

    def done(task: BackgroundRender, result: Optional[RenderResult], message: str) -> None:
        over.set()
        host.later(lambda: finished(host, message, target))

    task = BackgroundRender(host.key, work, done, SLOTS)
    host.show_progress(0.0, "Exporting the input" if source.export is not None else
                       f"Previewing frame {frames[0]}" if preview else "Starting the depth engine")
    if host.background:
        SLOTS.start(task)
    else:
        task.run()
    return task


def _export(task: BackgroundRender, host: NodeHost, cache: ExportCache, frames: List[int], report: Report) -> bool:
    """(Worker) write the frames of the node's input tree that ``cache`` lacks, one frame at a time on the main
    thread, stopping between frames when cancelled (False)."""
    missing = cache.missing(frames)
    if not missing:
        return True
    os.makedirs(cache.folder, exist_ok=True)
    with host.exporter(cache) as write_frame:
        for index, frame in enumerate(missing, start=1):
            if task.cancelled:
                return False
            report(0.0, f"Exporting the input: frame {frame} ({index}/{len(missing)})")
            write_frame(frame)
            cache.mark_done([frame])
    return not task.cancelled


def finished(host: NodeHost, message: str, target: Optional[DepthVersion] = None) -> None:
    """(Main thread) a render into ``target`` ended: show the version that should now be shown (reloaded) and how
    it ended. A preview that rendered is shown; a shot rendered whole takes the node's previews away."""
    if target is not None and target.is_preview and target.on_disk():
        with contextlib.suppress(FlashDepthError):
            load(host, target, host.read_source())
    status = refresh(host, message, reload=True)
    if target is not None and not target.is_preview and status is not None and status.state is DepthState.CURRENT:
        with contextlib.suppress(FlashDepthError):
            settings = host.read_source().settings
            prune.clear_previews(settings.output_dir, settings.plate)
    host.show_progress(1.0 if status is not None and status.state is DepthState.CURRENT else 0.0, None)


def finish(host: NodeHost) -> Optional[BackgroundRender]:
    """*Finish*: render the frames a cancelled or failed render left out (``--resume``)."""
    return render(host, resume=True)


def cancel(host: NodeHost) -> None:
    """*Cancel*: stop the node's render (between exported frames, or the engine); finished frames are kept."""
    task = running(host)
    if task is None:
        host.say("Nothing to cancel")
        return
    task.cancel()
    host.say("Cancelling...")


def _source_or_say(host: NodeHost) -> Optional[Source]:
    """The node's source, or None after the status bar says why it cannot be read."""
    try:
        return host.read_source()
    except FlashDepthError as exc:
        host.say(f"Error: {exc}")
        return None


def choose_version(host: NodeHost, choice: Optional[str]) -> None:
    """The version menu changed to ``choice`` (a version's menu label or key; None: latest): show the version
    chosen (it stays, whatever the settings), or follow the settings again. During a render the menu goes back
    to latest (the render follows the settings) and the status says why."""
    if running(host) is not None:
        host.choose(None)
        host.say("Rendering: choose a version when the render is done")
        return
    source = _source_or_say(host)
    if source is None:
        return
    if choice is None:
        if host.chosen():
            host.choose(None)
        refresh(host)
        return
    version = find_version(describe_versions(source.settings.output_dir), choice)
    if version is None:
        refresh(host, f"Version {choice.split(' ', 1)[0][:8]} is no longer on disk")
        return
    if not version.on_disk():  # a render that ended before its first frame: nothing to show
        refresh(host, f"Version {version.key[:8]} has no depth frames on disk: render it with its settings, or "
                      "choose another")
        return
    if host.chosen() and version == host.shown():
        return
    load(host, version, source, reload=True)
    host.choose(version)
    refresh(host)


def show_partial(host: NodeHost) -> None:
    """*Show partial*: the artist chooses the unfinished version of the current settings over the previous one."""
    source = _source_or_say(host)
    if source is None:
        return
    wanted = source.settings.version()
    if not wanted.frames_on_disk(source.frames):
        host.say("Nothing rendered with these settings yet: press Render depth")
        return
    if host.chosen():  # the settings' own version: the node follows the settings again
        host.choose(None)
    load(host, wanted, source, reload=True)
    refresh(host)


def _in_worker(host: NodeHost, name: str, work: Callable[[], None]) -> Optional[threading.Thread]:
    """Run ``work`` in a daemon thread (returned) where the host has an event loop, else here; an exception
    becomes the node's status line."""
    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - the artist gets one line, never a dead thread
            if not isinstance(exc, FlashDepthError):
                traceback.print_exc(file=sys.stderr)
            text = error_line(exc)
            host.later(lambda: host.say(text))

    if not host.background:
        guarded()
        return None
    thread = threading.Thread(target=guarded, name=f"FlashDepth {name} {host.name}", daemon=True)
    thread.start()
    return thread


def delete_old_versions(host: NodeHost) -> Optional[threading.Thread]:
    """*Delete old versions*: plan in a worker (reading the versions' files takes time on network storage),
    ask on the main thread, then remove the versions of this node nobody uses (see :mod:`.prune`); the one shown
    and the settings' one always stay. Returns the worker thread (None without one, or when nothing started)."""
    busy = _PRUNING.get(host.key)
    if busy is not None and busy.is_alive():
        host.say("Already looking for old versions")
        return None
    source = _source_or_say(host)
    if source is None:
        return None
    shown = host.shown()
    protect = [source.settings.version()] + ([shown] if shown is not None else [])
    output_dir = source.settings.output_dir

    def work() -> None:
        found = prune.plan_folder(output_dir, protect=protect)
        failed: List[str] = []
        if found.remove:
            question = (f"Delete {len(found.remove)} old depth versions of {host.name} "
                        f"({prune.size_text(found.size)}) from {output_dir}?")
            if not host.now(lambda: host.ask(question, "\n".join(found.lines()))):
                return
            failed = prune.apply(found)
        text = prune.summary(found, failed)
        host.later(lambda: _pruned(host, text))

    host.say("Looking for old versions")
    thread = _in_worker(host, "prune", work)
    if thread is not None:
        _PRUNING[host.key] = thread
    return thread


def _pruned(host: NodeHost, text: str) -> None:
    """(Main thread) how a prune went, with the status (or alone while the node renders)."""
    if running(host) is not None:
        host.say(text)
    else:
        refresh(host, text)


def send_to_farm(host: NodeHost) -> Optional[threading.Thread]:
    """*Send to farm*: write the farm job for the node's settings and frames (into its version's ``farm`` folder)
    and submit it where the Deadline Cloud client is installed, in a worker thread (returned) where the host
    has an event loop; how it went becomes the status line."""
    try:
        source = host.read_source()
        if source.export is not None:
            raise FlashDepthError(f"Send to farm needs {host.file_input}: farm machines render files, not this node "
                                  "tree (render it locally, or write the tree to files and read them)")
        host.keep_output_dir(source.settings.output_dir)
        job = dataclasses.replace(source.job(), frames=f"{min(source.frames)}-{max(source.frames)}")
    except FlashDepthError as exc:
        host.say(f"Error: {exc}")
        return None
    bundle = farm.bundle_folder(source.settings.output_dir, source.settings.key())
    host.say("Writing the farm job")
    if not host.background:  # hython: no event loop to come back to
        host.say(farm.farm_outcome(job, bundle, source.solve))
        return None
    return farm.send_in_background(job, bundle, lambda message: host.later(lambda: host.say(message)), host.name,
                                   source.solve)


def _bind(verb: Callable[..., T], host: Callable[[Any], NodeHost]) -> Callable[..., T]:
    def call(node: Any, *args: Any, **kwargs: Any) -> T:
        return verb(host(node), *args, **kwargs)

    call.__name__, call.__doc__ = verb.__name__, verb.__doc__
    return call


class Verbs(NamedTuple):
    """The verbs, each called with the host's own node object (what its buttons and callbacks hold)."""

    refresh: Callable[..., Optional[NodeStatus]]
    render: Callable[..., Optional[BackgroundRender]]
    preview: Callable[..., Optional[BackgroundRender]]
    finish: Callable[..., Optional[BackgroundRender]]
    cancel: Callable[..., None]
    show_partial: Callable[..., None]
    delete_old_versions: Callable[..., Optional[threading.Thread]]
    send_to_farm: Callable[..., Optional[threading.Thread]]
    running: Callable[..., Optional[BackgroundRender]]


def verbs(host: Callable[[Any], NodeHost]) -> Verbs:
    """The verbs for an adapter whose :class:`NodeHost` is ``host(node)``: its module unpacks them under the
    names its buttons call (``render, finish, ... = controller.verbs(NukeNode)``)."""
    return Verbs(refresh=_bind(refresh, host), render=_bind(render, host), preview=_bind(preview, host),
                 finish=_bind(finish, host), cancel=_bind(cancel, host), show_partial=_bind(show_partial, host),
                 delete_old_versions=_bind(delete_old_versions, host), send_to_farm=_bind(send_to_farm, host),
                 running=_bind(running, host))
