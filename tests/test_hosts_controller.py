"""The verbs of a FlashDepth node (flashdepth_vfx/hosts/controller.py) against a minimal host: a dict of
settings, a main-thread queue, and a record of what the node showed. The fake engine (tests/fake_engine.py)
renders as a real subprocess."""
from __future__ import annotations

import contextlib
import queue
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple, TypeVar, Union

import pytest

import fake_engine
from depth_files import age, write_engine_frames
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts import controller, prune
from flashdepth_vfx.hosts.controller import NodeHost, Source
from flashdepth_vfx.hosts.export import ExportCache
from flashdepth_vfx.hosts.render import BackgroundRender, Report
from flashdepth_vfx.hosts.settings import NodeSettings
from flashdepth_vfx.hosts.versions import DepthState, DepthVersion, NodeStatus

FAKE_ENGINE = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(fake_engine.__file__).resolve()))}"
T = TypeVar("T")


class FakeHost:
    """One node of a host with an event loop (``background``: its main thread is the test's, which plays the loop
    with :meth:`idle`), or without one (hython-like: everything runs in the calling thread)."""

    file_input = "a plate file"

    def __init__(self, tmp_path: Path, background: bool = True, tree: bool = False) -> None:
        self.key = self.name = self.path = f"node{id(self)}"
        self.scene = str(tmp_path / "shot.scene")
        self.background = background
        self.main = threading.current_thread()
        self.settings = {"plate": str(tmp_path / "plates" / "shot.%04d.exr"), "output_dir": str(tmp_path / "depth"),
                         "mode": "depth"}
        self.frames = list(range(1001, 1006))
        self.tree = tree
        self.output_setting = ""
        self.lines: List[str] = []
        self.statuses: List[NodeStatus] = []
        self.loaded: Optional[DepthVersion] = None
        self.is_chosen = False
        self.answers: List[bool] = []
        self.questions: List[Tuple[str, str]] = []
        self.progress_lines: List[Tuple[Optional[float], Optional[str]]] = []
        self.exported: List[int] = []
        self.off_main: List[str] = []
        self._calls: "queue.Queue[Callable[[], None]]" = queue.Queue()

    def _main_only(self, what: str) -> None:
        if threading.current_thread() is not self.main:
            self.off_main.append(what)

    def read_source(self) -> Source:
        self._main_only("read_source")
        output_dir = self.settings["output_dir"]
        export = ExportCache.for_network(output_dir, self.name, "tree") if self.tree else None
        plate = export.pattern if export is not None else self.settings["plate"]
        settings = NodeSettings(plate=plate, output_dir=output_dir, mode=self.settings["mode"],
                                frames=f"{self.frames[0]}-{self.frames[-1]}")
        return Source(settings, list(self.frames), export)

    def say(self, text: str) -> None:
        self._main_only("say")
        self.lines.append(text)

    def show(self, status: Union[NodeStatus, FlashDepthError], message: Optional[str]) -> None:
        self._main_only("show")
        if isinstance(status, FlashDepthError):
            self.lines.append(f"{message}. {status}" if message else str(status))
            return
        self.statuses.append(status)
        self.lines.append(f"{message} | {status.line()}" if message else status.line())

    def shown(self) -> Optional[DepthVersion]:
        return self.loaded

    def chosen(self) -> bool:
        return self.is_chosen

    def choose(self, version: Optional[DepthVersion]) -> None:
        self._main_only("choose")
        self.is_chosen = version is not None

    def load(self, version: Optional[DepthVersion], source: Source, reload: bool) -> None:
        self._main_only("load")
        if version is not None:
            self.loaded = version

    def keep_output_dir(self, output_dir: str) -> None:
        self.output_setting = self.output_setting or output_dir

    def ask(self, question: str, details: str) -> bool:
        self._main_only("ask")
        self.questions.append((question, details))
        return self.answers.pop(0) if self.answers else False

    def later(self, call: Callable[[], None]) -> None:
        if self.background:
            self._calls.put(call)
        else:
            call()

    def now(self, call: Callable[[], T]) -> T:
        if not self.background or threading.current_thread() is self.main:
            return call()
        box: List[Any] = []
        done = threading.Event()
        def run() -> None:
            box.append(call())
            done.set()

        self._calls.put(run)
        assert done.wait(20)
        return box[0]  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def progress(self, task: BackgroundRender) -> Iterator[Report]:
        yield lambda fraction, message: None

    def show_progress(self, fraction: Optional[float], message: Optional[str]) -> None:
        self._main_only("show_progress")
        self.progress_lines.append((fraction, message))

    @contextlib.contextmanager
    def exporter(self, cache: ExportCache) -> Iterator[Callable[[int], None]]:
        def write(frame: int) -> None:
            def save() -> None:
                self._main_only("export")
                Path(cache.pattern % frame).write_text("exported")
                self.exported.append(frame)

            self.now(save)

        yield write

    def idle(self, until: Callable[[], bool], timeout: float = 20.0) -> None:
        """Play the event loop until ``until()``."""
        deadline = time.monotonic() + timeout
        while True:
            while not self._calls.empty():
                self._calls.get_nowait()()
            if until():
                return
            assert time.monotonic() < deadline, self.lines
            time.sleep(0.01)


def _typed(host: FakeHost) -> NodeHost:
    return host  # mypy checks that the fake has every operation of the protocol


@pytest.fixture(autouse=True)
def engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.delenv("FAKE_ENGINE_MODE", raising=False)
    (tmp_path / "plates").mkdir()
    for frame in range(1001, 1006):
        (tmp_path / "plates" / f"shot.{frame}.exr").write_text("plate")


def render(host: FakeHost, resume: bool = False) -> BackgroundRender:
    task = controller.render(_typed(host), resume)
    assert task is not None, host.lines
    host.idle(lambda: controller.running(host) is None and not task.is_alive() and bool(host.statuses))
    return task


def test_render_runs_in_a_worker_and_every_host_call_on_the_main_thread(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    host = FakeHost(tmp_path)
    task = controller.render(host)
    assert task is not None and task.is_alive() and controller.running(host) is task
    assert controller.render(host) is None and host.lines[-1] == "Already rendering: press Cancel to stop"
    host.idle(lambda: not task.is_alive() and controller.running(host) is None)
    host.idle(lambda: bool(host.statuses))
    assert host.off_main == []
    assert host.progress_lines[0] == (0.0, "Starting the depth engine") and host.progress_lines[-1] == (1.0, None)
    frames = [m for _, m in host.progress_lines if m and m.startswith("Frame ")]
    assert frames and len(frames) == len(set(frames))  # each new message once, on the main thread
    status = host.statuses[-1]
    assert status.state is DepthState.CURRENT and host.loaded == status.wanted
    assert host.lines[-1].startswith("Done: 5 frames in ")
    assert host.output_setting == str(tmp_path / "depth")  # the versions stay where they are if the scene moves


def test_without_an_event_loop_the_verbs_run_to_the_end_in_the_calling_thread(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, background=False)
    task = controller.render(host)
    assert task is not None and not task.is_alive() and task.result is not None and not task.result.cancelled
    assert host.statuses[-1].state is DepthState.CURRENT
    host.settings["mode"] = "disparity"
    controller.render(host)
    assert controller.delete_old_versions(host) is None  # asked and planned here: nothing to wait for
    assert host.lines[-1].startswith("No old versions to delete")


def test_a_node_tree_is_exported_on_the_main_thread_once_and_refused_by_the_farm(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, tree=True)
    render(host)
    assert host.exported == list(range(1001, 1006)) and host.off_main == []
    assert host.progress_lines[0] == (0.0, "Exporting the input")
    host.settings["mode"] = "disparity"
    render(host)
    assert host.exported == list(range(1001, 1006))  # the same tree: no second export
    assert controller.send_to_farm(host) is None
    assert host.lines[-1] == ("Error: Send to farm needs a plate file: farm machines render files, not this node tree "
                              "(render it locally, or write the tree to files and read them)")


def test_choosing_versions_and_latest(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    render(host)
    first = host.loaded
    host.settings["mode"] = "disparity"
    render(host)
    second = host.loaded
    assert first is not None and second is not None and first != second
    controller.choose_version(host, first.key[:8] + "  whatever the menu says")
    assert host.loaded == first and host.is_chosen and host.statuses[-1].state is DepthState.STALE
    controller.refresh(host)  # a chosen version stays shown whatever the settings
    assert host.loaded == first
    controller.choose_version(host, "0123abcd  gone")
    assert host.lines[-1].startswith("Version 0123abcd is no longer on disk | Stale: showing version")
    controller.choose_version(host, None)
    assert host.loaded == second and not host.is_chosen and host.statuses[-1].state is DepthState.CURRENT


def test_a_choice_during_a_render_puts_the_menu_back_to_latest(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost(tmp_path)
    render(host)
    first = host.loaded
    assert first is not None
    host.settings["mode"] = "disparity"
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    task = controller.render(host)
    assert task is not None
    host.is_chosen = True  # the artist picks a version in the menu while it renders
    controller.choose_version(host, first.key)
    assert not host.is_chosen and host.lines[-1] == "Rendering: choose a version when the render is done"
    controller.cancel(host)
    assert host.lines[-1] == "Cancelling..."
    host.idle(lambda: not task.is_alive() and controller.running(host) is None)
    controller.cancel(host)
    assert host.lines[-1] == "Nothing to cancel"


def test_delete_old_versions_plans_in_a_worker_and_asks_on_the_main_thread(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    made = []
    for mode in ("depth", "disparity", "normalized"):
        host.settings["mode"] = mode
        render(host)
        assert host.loaded is not None
        made.append(Path(host.loaded.folder))
    write_engine_frames(made[0])
    age(made[0], 3600)
    planned_in: List[str] = []
    real_plan = prune.plan_folder

    def plan_folder(*args: Any, **kwargs: Any) -> Any:
        planned_in.append(threading.current_thread().name)
        return real_plan(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prune, "plan_folder", plan_folder)
        thread = controller.delete_old_versions(host)
        assert thread is not None and host.lines[-1] == "Looking for old versions"
        assert controller.delete_old_versions(host) is None and host.lines[-1] == "Already looking for old versions"
        running = thread
        host.idle(lambda: not running.is_alive())
    assert planned_in == [thread.name] and thread.name != host.main.name
    [(question, details)] = host.questions
    assert question.startswith(f"Delete 1 old depth versions of {host.name} (") and made[0].name in details
    assert host.off_main == [] and all(path.is_dir() for path in made)  # the artist said No
    host.answers.append(True)
    thread = controller.delete_old_versions(host)
    assert thread is not None
    host.idle(lambda: not thread.is_alive() and host.lines[-1].startswith("Deleted 1 old versions ("))
    assert not made[0].exists() and made[1].is_dir() and made[2].is_dir()


def test_a_failure_in_the_prune_worker_becomes_the_status_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost(tmp_path)
    monkeypatch.setattr(prune, "plan_folder", lambda *a, **k: 1 / 0)
    thread = controller.delete_old_versions(host)
    assert thread is not None
    host.idle(lambda: not thread.is_alive() and host.lines[-1].startswith("Error: unexpected ZeroDivisionError"))
