"""The Resolve/Fusion scripts (resolve/) against tests/fakes/fusion.py and tests/fakes/DaVinciResolveScript.py,
rendering with the fake engine (tests/fake_engine.py) as a real subprocess."""
from __future__ import annotations

import runpy
import shlex
import sys
import time
import types
from pathlib import Path
from typing import Any, List, Optional

import pytest

import fake_engine
from fakes import DaVinciResolveScript as fake_resolve
from fakes.fusion import Bmd, Comp, Fusion, Tool
from flashdepth_vfx.bridge import RenderJob
from flashdepth_vfx.hosts.common import MODES, NodeRender
from flashdepth_vfx.hosts.versions import DepthVersion

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "resolve" / "Fusion" / "Scripts"
COMP_SCRIPT = SCRIPTS / "Comp" / "FlashDepth.py"
TIMELINE_SCRIPT = SCRIPTS / "Utility" / "FlashDepth Timeline Clip.py"
FAKE_ENGINE = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(fake_engine.__file__).resolve()))}"


@pytest.fixture(autouse=True)
def host(monkeypatch: pytest.MonkeyPatch) -> List[RenderJob]:
    """Scripts find the project through FLASHDEPTH_VFX_PATH; the jobs they render are recorded."""
    monkeypatch.setenv("FLASHDEPTH_VFX_PATH", str(ROOT))
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.delenv("FAKE_ENGINE_MODE", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in (str(ROOT), str(ROOT / "resolve"))])
    for name in [m for m in sys.modules if m.startswith("flashdepth_resolve")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "DaVinciResolveScript", fake_resolve)
    monkeypatch.setattr(fake_resolve, "app", None)
    monkeypatch.delenv("FLASHDEPTH_VFX_CACHE", raising=False)
    jobs: List[RenderJob] = []

    class RecordingRender(NodeRender):
        def __init__(self, job: RenderJob, engine: Optional[List[str]] = None) -> None:
            jobs.append(job)
            super().__init__(job, engine)

    monkeypatch.setattr("flashdepth_vfx.hosts.render.NodeRender", RecordingRender)
    return jobs


def write_plates(tmp_path: Path, frames: Any = range(1001, 1006)) -> None:
    """Stand-in plate files tmp/plates/shot.####.exr (unless the test wrote real ones): Fusion's Loader finds
    its sequence on disk."""
    plates = tmp_path / "plates"
    plates.mkdir(exist_ok=True)
    if not list(plates.glob("shot.*.exr")):
        for frame in frames:
            (plates / f"shot.{frame}.exr").write_text("plate")


def comp_with_plate(tmp_path: Path) -> Comp:
    """A comp with a Loader "Plate" on tmp/plates/shot.1001.exr (frames 1001-1005) at Global In 1001."""
    write_plates(tmp_path)
    comp = Comp(str(tmp_path / "comp" / "shot.comp"))
    plate = comp.add(Tool("Loader", "Plate", Clip=str(tmp_path / "plates" / "shot.1001.exr"), GlobalIn=1001.0),
                     x=3.0, y=5.0)
    plate.selected = True
    comp.ActiveTool = plate
    return comp


def run_comp_script(comp: Comp, **host: Any) -> None:
    """Run the comp script as Fusion does: ``comp`` (and ``fusion``) are globals."""
    runpy.run_path(str(COMP_SCRIPT), init_globals={"comp": comp, **host})


def test_comp_script_renders_the_selected_loader_and_adds_a_depth_loader(
        tmp_path: Path, host: List[RenderJob], capsys: pytest.CaptureFixture[str]) -> None:
    comp = comp_with_plate(tmp_path)
    comp.answers = {"mode": float(MODES.index("disparity")), "colorspace": "ACES - ACEScg"}
    run_comp_script(comp)

    [(title, controls)] = comp.dialogs
    assert title == "FlashDepth"
    out_dir = tmp_path / "plates" / "flashdepth" / "Plate"  # beside the plate's media
    defaults = {c[1]: c["Default"] for c in controls.values()}
    assert (defaults["output"], defaults["frames"]) == (str(out_dir), "1001-1005")
    [job] = host
    assert (job.plate, job.mode, job.colorspace) == (str(tmp_path / "plates" / "shot.####.exr"), "disparity",
                                                     "ACES - ACEScg")
    assert job.extra_args == ("--channel", "Z")  # Fusion's Loader reads an EXR channel Z as its depth channel
    out_dir = Path(job.output).parent
    assert out_dir.parent == tmp_path / "plates" / "flashdepth" / "Plate"  # a version folder per settings
    depth = comp.tools[-1]
    assert depth.GetAttrs()["TOOLS_Name"] == "Plate_depth" and depth.GetAttrs()["TOOLS_RegID"] == "Loader"
    assert depth.GetInput("Clip") == str(out_dir / "shot_depth.1001.exr")
    assert depth.GetInput("GlobalIn") == 1001.0
    assert comp.CurrentFrame.FlowView.GetPosTable(depth) == {1: 4.0, 2: 5.0}
    assert comp.lock_depth == 0 and comp.undo == ["start FlashDepth", "end True"]
    assert (out_dir / "shot_depth.1005.exr").is_file()
    lines = capsys.readouterr().out.splitlines()
    assert "FlashDepth: Frame 1005 (5/5)" in "\n".join(lines)
    assert lines[-1].startswith("FlashDepth: Done: 5 frames in ")


def test_comp_script_finds_a_selected_loader_when_another_tool_is_active(tmp_path: Path,
                                                                         host: List[RenderJob]) -> None:
    comp = comp_with_plate(tmp_path)
    comp.ActiveTool = comp.add(Tool("Merge", "Merge1"))
    run_comp_script(comp)
    assert host[0].plate.endswith("shot.####.exr") and comp.tools[-1].GetAttrs()["TOOLS_Name"] == "Plate_depth"


def test_comp_script_cancelled_dialog_renders_nothing(tmp_path: Path, host: List[RenderJob]) -> None:
    comp = comp_with_plate(tmp_path)
    comp.answers = None
    run_comp_script(comp)
    assert host == [] and len(comp.tools) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no loader", "FlashDepth: no Loader or MediaIn selected: select the plate's Loader or MediaIn in the Flow "
                      "view and run FlashDepth again"),
        ("empty loader", "FlashDepth: Plate has no clip: load the plate sequence into it first"),
        ("engine error", f"FlashDepth: Error: {fake_engine.ERROR_MESSAGE}"),
    ],
)
def test_comp_script_problems_are_one_console_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], setup: str,
                                                   message: str) -> None:
    comp = comp_with_plate(tmp_path)
    loader = comp.tools[0]
    if setup == "no loader":
        loader.selected = False
        comp.ActiveTool = None
    elif setup == "empty loader":
        loader.SetInput("Clip", "")
    else:
        monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    run_comp_script(comp)
    assert capsys.readouterr().out.splitlines()[-1] == message
    assert len(comp.tools) == 1


def resolve_with_clip(tmp_path: Path, file_path: str) -> Any:
    media = fake_resolve.MediaPoolItem("shot", file_path)
    project = fake_resolve.Project(fake_resolve.Timeline(fake_resolve.TimelineItem("shot", media)))
    fake_resolve.app = fake_resolve.Resolve(project)
    return project


def test_timeline_script_renders_the_current_clip_and_attaches_the_depth_as_its_matte(
        tmp_path: Path, host: List[RenderJob], capsys: pytest.CaptureFixture[str]) -> None:
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    runpy.run_path(str(TIMELINE_SCRIPT))  # run from outside Resolve: DaVinciResolveScript reaches it
    [job] = host
    assert (job.plate, job.frames) == (str(tmp_path / "plates" / "shot.%04d.exr"), "1001-1005")
    assert (job.mode, job.extra_args) == ("normalized", ("--channel", "Y"))  # a 0-1 matte for Resolve
    out = Path(job.output)
    assert out.parent.parent == tmp_path / "plates" / "flashdepth" / "shot" and out.name == "shot_depth.%04d.exr"
    media = project.timeline.item.media  # the depth is the clip's matte, not a clip of its own
    assert project.media_pool.imports == [] and project.media_pool.GetClipMatteList(media) == [str(out) % 1001]
    assert Path(str(out) % 1003).is_file()
    assert capsys.readouterr().out.splitlines()[-1].startswith("FlashDepth: Done: 5 frames")


def test_depth_imported_into_the_media_pool_is_kept_from_pruning(tmp_path: Path, host: List[RenderJob]) -> None:
    """The timeline script attaches the depth to a clip of the project's media pool: that version is in use (pruning it
    would take the clips offline), whatever its age and however many versions are newer."""
    from flashdepth_vfx.hosts import prune

    resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    runpy.run_path(str(TIMELINE_SCRIPT))
    version = Path(host[0].output).parent
    plan = prune.plan_folder(str(version.parent), keep=0, now=time.time() + 30 * 24 * 3600)
    assert plan.remove == [] and [k.reason for k in plan.keep] == ["shown by DaVinci Resolve project Show shot depth"]


def test_media_plate_reads_resolve_sequence_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "resolve"))
    from flashdepth_resolve.timeline import media_plate

    assert media_plate("/p/shot_v2.[0990-1010].dpx") == ("/p/shot_v2.%04d.dpx", "990-1010")
    assert media_plate("/p/shot.1001.exr") == ("/p/shot.####.exr", None)
    assert media_plate("/m/clip.mov") == ("/m/clip.mov", None)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no resolve", "FlashDepth: cannot reach DaVinci Resolve: start it and allow scripting (Preferences > General)"),
        ("no timeline", "FlashDepth: no timeline is open: open the timeline with the plate and run FlashDepth again"),
        ("no clip", "FlashDepth: no clip under the playhead: park the playhead on the plate's clip"),
        ("title", "FlashDepth: Title 1 has no media (a title or generator): pick a clip from a file"),
        ("matte refused", "FlashDepth: Resolve did not attach {out} to shot as a matte: add it from the Media page "
                          "(right-click the clip, Add as Matte)"),
    ],
)
def test_timeline_script_problems_are_one_console_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       case: str, message: str) -> None:
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    if case == "no resolve":
        fake_resolve.app = None
    elif case == "no timeline":
        project.timeline = None
    elif case == "no clip":
        project.timeline.item = None
    elif case == "title":
        project.timeline.item = fake_resolve.TimelineItem("Title 1", None)
    else:
        fake_resolve.app.media_storage.accept = False
    runpy.run_path(str(TIMELINE_SCRIPT))
    versions = [p.parent for p in (tmp_path / "plates" / "flashdepth" / "shot").glob("*/flashdepth_version.json")]
    out = (versions or [Path("none")])[0] / "shot_depth.%04d.exr"
    assert capsys.readouterr().out.splitlines()[-1] == message.format(out=out)


@pytest.mark.parametrize("injected", ["resolve", "fusion", "bmd"])
def test_timeline_script_uses_the_objects_resolve_injects(tmp_path: Path, host: List[RenderJob],
                                                           monkeypatch: pytest.MonkeyPatch, injected: str) -> None:
    resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    app = fake_resolve.app
    monkeypatch.setattr(fake_resolve, "app", None)  # nothing to reach from outside ...
    monkeypatch.setitem(sys.modules, "DaVinciResolveScript", None)  # ... and the module does not even import
    objects = {"resolve": app, "fusion": Fusion(None, app), "bmd": types.SimpleNamespace(scriptapp=lambda name: app)}
    runpy.run_path(str(TIMELINE_SCRIPT), init_globals={injected: objects[injected]})
    assert len(host) == 1 and app.project_manager.project.timeline.item.media.mattes


def test_comp_script_finds_the_comp_through_fusion_and_reads_path_maps(tmp_path: Path, host: List[RenderJob]) -> None:
    comp = comp_with_plate(tmp_path)
    comp.path_maps["Plates:"] = str(tmp_path / "plates")
    comp.tools[0].SetInput("Clip", "Plates:shot.1001.exr")
    runpy.run_path(str(COMP_SCRIPT), init_globals={"fusion": Fusion(comp)})  # no `comp` global
    [job] = host
    assert job.plate == str(tmp_path / "plates" / "shot.####.exr")  # mapped, as Fusion itself reads it


def test_comp_script_accepts_a_mediain_and_reads_its_resolve_clip(tmp_path: Path, host: List[RenderJob]) -> None:
    comp = Comp("")  # the Fusion page: the comp lives in the Resolve project, it has no file
    media_in = comp.add(Tool("MediaIn", "MediaIn1", GlobalIn=0.0), x=1.0, y=1.0)  # no trims set: the whole clip
    comp.ActiveTool = media_in
    resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    run_comp_script(comp, fusion=Fusion(comp, fake_resolve.app))
    [job] = host
    assert (job.plate, job.frames) == (str(tmp_path / "plates" / "shot.%04d.exr"), "1001-1005")
    depth = comp.tools[-1]
    out_dir = Path(job.output).parent
    assert out_dir.parent == tmp_path / "plates" / "flashdepth" / "MediaIn1"  # beside the media, never a temp folder
    assert depth.GetAttrs()["TOOLS_Name"] == "MediaIn1_depth" and depth.GetInput("Clip") == str(
        out_dir / "shot_depth.1001.exr")


def test_a_configured_cache_root_holds_the_results(tmp_path: Path, host: List[RenderJob],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path / "cache"))
    run_comp_script(comp_with_plate(tmp_path))
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    runpy.run_path(str(TIMELINE_SCRIPT))
    assert [Path(job.output).parent.parent for job in host] == [tmp_path / "cache" / "shot" / "Plate",
                                                                tmp_path / "cache" / project.GetName() / "shot"]


def test_depth_loader_shows_the_plates_file_frame_at_every_comp_frame(tmp_path: Path, host: List[RenderJob]) -> None:
    """A trimmed plate Loader with held frames, rendered whole and as a sub-range: the depth Loader shows the same
    file frame as the plate wherever it shows one (Fusion starts a new Loader at its first file)."""
    write_plates(tmp_path, range(1001, 1011))
    comp = comp_with_plate(tmp_path)
    plate = comp.tools[0]
    for name, value in (("GlobalIn", 1001.0), ("ClipTimeStart", 2.0), ("ClipTimeEnd", 7.0), ("HoldFirstFrame", 3.0),
                        ("HoldLastFrame", 2.0)):
        plate.SetInput(name, value)
    run_comp_script(comp)
    assert host[-1].frames == "1003-1008"  # the frames the Loader shows, not the whole sequence
    depth = comp.tools[-1]
    for t in range(990, 1030):
        assert depth.shown_file_frame(t) == plate.shown_file_frame(t), t

    comp.answers = {"frames": "1005-1006", "precision": 1.0}  # a sub-range, other settings: a new version
    run_comp_script(comp)
    assert comp.tools[-1] is depth and len(comp.tools) == 2  # the same depth Loader, re-pointed
    shown = {t: depth.shown_file_frame(t) for t in range(990, 1030)}
    assert {t for t, f in shown.items() if f is not None} == {t for t in shown if plate.shown_file_frame(t) in (1005, 1006)}
    assert all(f == plate.shown_file_frame(t) for t, f in shown.items() if f is not None)


def test_versions_status_and_finish_in_fusion(tmp_path: Path, host: List[RenderJob],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    comp = comp_with_plate(tmp_path)
    run_comp_script(comp)
    depth = comp.tools[-1]
    first = Path(host[-1].output).parent
    assert depth.GetInput("Comments").startswith("FlashDepth: Current: 5 frames rendered with these settings")
    assert depth.TileColor == {"R": 0x3E / 255, "G": 0x8E / 255, "B": 0x4E / 255}

    monkeypatch.setenv("FAKE_ENGINE_MODE", "crash")  # other settings; the engine dies after one frame
    comp.answers = {"mode": float(MODES.index("normalized"))}
    run_comp_script(comp)
    second = Path(host[-1].output).parent
    assert second != first and depth.GetInput("Clip") == str(first / "shot_depth.1001.exr")  # the old depth stays
    assert depth.GetInput("Comments") == ("FlashDepth: Partial: 1 of 5 frames rendered with these settings; press "
                                          "Finish to render the rest; showing the previous version until then")

    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    run_comp_script(comp)  # the dialog's Finish box is on: --resume renders the other four
    assert host[-1].resume and Path(host[-1].output).parent == second
    assert depth.GetInput("Clip") == str(second / "shot_depth.1001.exr") and len(comp.tools) == 2
    assert depth.GetInput("Comments").startswith("FlashDepth: Current: 5 frames")
    assert len(list(first.glob("*.exr"))) == 5  # the first version is kept


def test_timeline_script_finishes_a_partial_render(tmp_path: Path, host: List[RenderJob],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    monkeypatch.setenv("FAKE_ENGINE_MODE", "crash")
    runpy.run_path(str(TIMELINE_SCRIPT))
    media = project.timeline.item.media
    assert media.mattes == [] and "Partial: 1 of 5 frames" in capsys.readouterr().out
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    runpy.run_path(str(TIMELINE_SCRIPT))
    assert host[-1].resume and len(media.mattes) == 1
    assert "1 of 5 frames already rendered with these settings: finishing" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["comp", "timeline"])
def test_any_exception_is_one_console_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], script: str) -> None:
    monkeypatch.setattr("flashdepth_vfx.hosts.render.NodeRender.run", lambda *args, **kwargs: {}["broken"])
    if script == "comp":
        run_comp_script(comp_with_plate(tmp_path))
    else:
        resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
        runpy.run_path(str(TIMELINE_SCRIPT))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.splitlines()[-1] == ("FlashDepth: Error: unexpected KeyError: 'broken' (details in the "
                                             "script editor / console)")


def test_resolve_code_is_python_3_9_syntax() -> None:
    """Resolve and Fusion use the Python 3 the user installed, often an older one: parse as 3.9."""
    import ast

    files = list((ROOT / "resolve").rglob("*.py"))
    assert len(files) >= 6
    for path in files:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


# --- the progress window (Fusion's UI Manager) ------------------------------------------------------------------

def window_of(bmd: Bmd) -> Any:
    [dispatcher] = bmd.dispatchers
    [window] = dispatcher.windows
    return window


def click_cancel_at_the_first_frame(window: Any) -> None:
    """The artist presses Cancel once the window shows a rendered frame."""
    if any(str(text).startswith("Frame") for text in window.GetItems()["Message"].texts):
        window.click("Cancel")


def test_comp_script_shows_progress_in_a_window_that_closes_when_the_render_ends(
        tmp_path: Path, host: List[RenderJob], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.15")
    comp = comp_with_plate(tmp_path)
    fusion, bmd = Fusion(comp), Bmd()
    run_comp_script(comp, fusion=fusion, bmd=bmd)
    window = window_of(bmd)
    items = window.GetItems()
    assert window.shown == 1 and not window.visible  # shown during the render, gone after it
    assert window.props["WindowTitle"] == "FlashDepth: rendering depth"
    assert any(text.startswith("Frame ") for text in items["Message"].texts)
    assert items["Percent"].texts[0] == "0%" and items["Cancel"].Enabled
    [timer] = fusion.UIManager.timers
    assert timer.started == 1 and not timer.active
    assert capsys.readouterr().out.splitlines()[-1].startswith("FlashDepth: Done: 5 frames in ")
    assert comp.tools[-1].GetInput("Clip").endswith("shot_depth.1001.exr")


@pytest.mark.parametrize("how", ["cancel button", "closing the window"])
def test_cancel_in_the_progress_window_stops_the_engine_and_keeps_the_finished_frames(
        tmp_path: Path, host: List[RenderJob], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], how: str) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.3")
    comp = comp_with_plate(tmp_path)
    fusion, bmd = Fusion(comp), Bmd()
    if how == "cancel button":
        fusion.UIManager.artist = click_cancel_at_the_first_frame
    else:
        fusion.UIManager.artist = lambda w: w.close() if any(
            str(t).startswith("Frame") for t in w.GetItems()["Message"].texts) else None
    run_comp_script(comp, fusion=fusion, bmd=bmd)
    window = window_of(bmd)
    items = window.GetItems()
    assert items["Cancel"].Enabled is False and "Cancelling" in items["Message"].texts[-1]
    out = capsys.readouterr().out.splitlines()
    assert "FlashDepth: Cancelling" in out and out[-1].startswith("FlashDepth: Cancelled: "), out
    [job] = host
    written = sorted(Path(job.output).parent.glob("shot_depth.*.exr"))
    assert 1 <= len(written) < 5  # stopped early, the finished frames kept
    assert not (Path(job.output).parent / ".flashdepth_rendering.json").exists()


def test_timeline_script_cancels_from_its_window(tmp_path: Path, host: List[RenderJob],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.3")
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    app = fake_resolve.app
    assert app is not None
    app.fusion = Fusion(None, app)  # resolve.Fusion(): its UI Manager makes the window
    app.fusion.UIManager.artist = click_cancel_at_the_first_frame
    bmd = Bmd(app)
    runpy.run_path(str(TIMELINE_SCRIPT), init_globals={"resolve": app, "bmd": bmd})
    assert window_of(bmd).GetItems()["Cancel"].Enabled is False
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("FlashDepth: Cancelled: ") and "press FlashDepth Timeline Clip" in out[-1], out
    assert project.timeline.item.media.mattes == []  # nothing attached until every frame is rendered


def test_without_a_ui_manager_the_progress_goes_to_the_console(tmp_path: Path, host: List[RenderJob],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    comp = comp_with_plate(tmp_path)
    run_comp_script(comp, bmd=types.SimpleNamespace(scriptapp=lambda name: None))  # no UIDispatcher, no fusion
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("FlashDepth: Frame 1005 (5/5)") for line in lines) and lines[-1].startswith("FlashDepth: Done: 5 frames")


def test_comp_dialog_version_menu_shows_an_older_version_without_rendering(
        tmp_path: Path, host: List[RenderJob], capsys: pytest.CaptureFixture[str]) -> None:
    comp = comp_with_plate(tmp_path)
    run_comp_script(comp)
    comp.answers = {"mode": float(MODES.index("disparity"))}
    run_comp_script(comp)
    first, second = (Path(job.output).parent for job in host)
    _, controls = comp.dialogs[-1]
    [menu] = [c for c in controls.values() if c[1] == "version"]
    assert menu[2] == "Dropdown" and menu["Options"][1] == "Render with these settings"
    assert menu["Options"][2].startswith(first.name[:8] + "  default model, depth, file colour space  5 fr complete")
    comp.answers = {"mode": float(MODES.index("disparity")), "version": 2.0}  # newest first: the first version
    run_comp_script(comp)
    _, controls = comp.dialogs[-1]
    [menu] = [c for c in controls.values() if c[1] == "version"]
    assert [label[:8] for label in list(menu["Options"].values())[1:]] == [second.name[:8], first.name[:8]]
    assert len(host) == 2  # nothing rendered
    depth = comp.tools[-1]
    assert depth.GetInput("Clip") == str(first / "shot_depth.1001.exr") and depth.GetData("FlashDepthChosen") is True
    assert depth.GetInput("Comments").startswith(f"FlashDepth: Stale: showing version {first.name[:8]} chosen by hand")
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"FlashDepth: Stale: showing version {first.name[:8]}")
    comp.answers = {"mode": float(MODES.index("disparity"))}  # render again: the settings' version is shown
    run_comp_script(comp)
    assert depth.GetInput("Clip") == str(second / "shot_depth.1001.exr") and depth.GetData("FlashDepthChosen") is False


def test_choosing_a_version_with_no_frame_on_disk_says_so_and_changes_nothing(
        tmp_path: Path, host: List[RenderJob], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A version folder with its manifest only (the menu lists it, "0 fr partial": Resolve killed before the
    render's first frame, every failed start of an earlier release): choosing it is one line saying so, and the
    depth Loader keeps what it showed."""
    comp = comp_with_plate(tmp_path)
    run_comp_script(comp)
    shown = Path(host[0].output).parent
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    comp.answers = {"mode": float(MODES.index("disparity"))}
    run_comp_script(comp)
    monkeypatch.delenv("FAKE_ENGINE_MODE")
    empty = Path(host[1].output).parent
    assert not empty.exists()  # a failed start leaves no version
    DepthVersion(empty.name, str(host[1].output)).write_manifest(host[1])
    comp.answers = {"version": 1.0}  # newest first: the empty version
    capsys.readouterr()
    run_comp_script(comp)
    _, controls = comp.dialogs[-1]
    [menu] = [c for c in controls.values() if c[1] == "version"]
    assert menu["Options"][2].startswith(empty.name[:8]) and " 0 fr partial " in menu["Options"][2]
    assert capsys.readouterr().out.splitlines() == [
        f"FlashDepth: version {empty.name[:8]} has no depth frames on disk: render it with its settings, or "
        "choose another"]
    depth = comp.tools[-1]
    assert depth.GetInput("Clip") == str(shown / "shot_depth.1001.exr") and not depth.GetData("FlashDepthChosen")
    assert len(host) == 2


def test_a_ui_manager_that_refuses_the_window_leaves_the_render_to_the_console(
        tmp_path: Path, host: List[RenderJob], capsys: pytest.CaptureFixture[str]) -> None:
    comp = comp_with_plate(tmp_path)
    fusion = Fusion(comp)

    def refuse(props: Any) -> Any:
        raise RuntimeError("UIManager is not available in this edition")

    fusion.UIManager.Timer = refuse  # type: ignore[method-assign]
    run_comp_script(comp, fusion=fusion, bmd=Bmd())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("FlashDepth: no progress window (UIManager is not available in this edition): progress "
                        "here") and lines[-1].startswith("FlashDepth: Done: 5 frames")
    assert len(host) == 1


def test_timeline_script_renders_only_the_frames_the_edit_uses(tmp_path: Path, host: List[RenderJob]) -> None:
    """A 100-frame plate cut in for 20 frames from its 31st: only those 20 frames are rendered (and attached)."""
    write_plates(tmp_path, range(1001, 1101))
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1100].exr"))
    project.timeline.item.left_offset, project.timeline.item.duration = 30, 20
    runpy.run_path(str(TIMELINE_SCRIPT))
    [job] = host
    assert job.frames == "1031-1050"
    assert project.timeline.item.media.mattes == [str(Path(job.output)) % 1031]


def test_a_second_mediain_renders_its_own_media_not_the_clip_under_the_playhead(
        tmp_path: Path, host: List[RenderJob]) -> None:
    """The Fusion page comp of a timeline clip, with a second clip dragged in from the Media Pool (a MediaIn whose
    MediaID names that clip, in another bin)."""
    write_plates(tmp_path)
    resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))
    other_folder = tmp_path / "elements"
    other_folder.mkdir()
    for frame in range(1, 4):
        (other_folder / f"smoke.{frame:04d}.exr").write_text("element")
    smoke = fake_resolve.MediaPoolItem("smoke", str(other_folder / "smoke.[0001-0003].exr"))
    project = fake_resolve.app.project_manager.project
    bin_ = fake_resolve.Folder([smoke])
    project.media_pool.root.folders.append(bin_)
    comp = Comp("")
    comp.add(Tool("MediaIn", "MediaIn1", GlobalIn=0.0), x=1.0, y=1.0)  # the timeline clip
    second = comp.add(Tool("MediaIn", "MediaIn2", GlobalIn=0.0, MediaID=smoke.GetMediaId()), x=1.0, y=3.0)
    comp.ActiveTool = second
    run_comp_script(comp, fusion=Fusion(comp, fake_resolve.app))
    [job] = host
    assert (job.plate, job.frames) == (str(other_folder / "smoke.%04d.exr"), "1-3")
