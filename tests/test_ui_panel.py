"""flashdepth_vfx.ui: the depth panel driving real engine subprocesses (tests/fake_engine.py), offscreen."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import List

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

import fake_engine  # noqa: E402
from flashdepth_vfx.bridge import RenderJob, RenderResult  # noqa: E402
from flashdepth_vfx.ui import app, dock  # noqa: E402
from flashdepth_vfx.ui.panel import DepthPanel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAKE_ENGINE = [sys.executable, str(Path(fake_engine.__file__).resolve())]
# Set to a .png path to keep a copy of the panel screenshot (e.g. for review).
SCREENSHOT_COPY_ENV = "FLASHDEPTH_PANEL_SCREENSHOT"


@pytest.fixture
def panel(qtbot, monkeypatch: pytest.MonkeyPatch) -> DepthPanel:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    widget = DepthPanel(engine=FAKE_ENGINE)
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    return widget


def fill_form(qtbot, panel: DepthPanel, tmp_path: Path, frames: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fill the form like an artist: browse to one plate frame, type the rest. Returns the output folder."""
    plates = tmp_path / "plates"
    plates.mkdir(exist_ok=True)
    picked = plates / "sh010_plate.1001.exr"
    picked.write_text("plate")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(picked), ""))
    qtbot.mouseClick(panel.plate_browse, Qt.MouseButton.LeftButton)
    out = tmp_path / "depth"
    panel.output_edit.clear()
    qtbot.keyClicks(panel.output_edit, str(out / "sh010_depth.####.exr"))
    panel.frames_edit.clear()
    qtbot.keyClicks(panel.frames_edit, frames)
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("flashdepth-s"))
    panel.colorspace_combo.setCurrentText("ACEScg")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("depth"))
    panel.precision_combo.setCurrentIndex(panel.precision_combo.findData("fp16"))
    return out


def test_render_shows_progress_done_and_preview(qtbot, panel: DepthPanel, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = fill_form(qtbot, panel, tmp_path, "1001-1004", monkeypatch)
    assert panel.plate_edit.text() == str(tmp_path / "plates" / "sh010_plate.####.exr")
    assert panel.job() == RenderJob(plate=str(tmp_path / "plates" / "sh010_plate.####.exr"),
                                    output=str(out / "sh010_depth.####.exr"), frames="1001-1004",
                                    model="flashdepth-s", colorspace="ACEScg", mode="depth", precision="fp16")
    progress: List[int] = []
    panel.progress_bar.valueChanged.connect(progress.append)

    with qtbot.waitSignal(panel.render_finished, timeout=20000) as finished:
        qtbot.mouseClick(panel.render_button, Qt.MouseButton.LeftButton)
        assert panel.is_rendering and not panel.render_button.isEnabled() and panel.cancel_button.isEnabled()
        assert not panel.settings_box.isEnabled()
    result: RenderResult = finished.args[0]

    assert result.ok and len(result.written) == 4
    assert progress == [25, 50, 75, 100]
    assert panel.progress_bar.value() == 100
    assert panel.status_label.text() == f"Done: 4 frames written to {out / 'sh010_depth.%04d.exr'}"
    assert sorted(p.name for p in out.iterdir()) == [f"sh010_depth.{f}.exr" for f in range(1001, 1005)]
    log = panel.log_view.toPlainText()
    assert f"Warning: frame 1001: {fake_engine.WARNING_MESSAGE}" in log
    assert fake_engine.STDERR_NOTE in log and fake_engine.STRAY_STDOUT in log
    assert panel.render_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert (panel.preview_frame.minimum(), panel.preview_frame.maximum()) == (1001, 1004)

    # The first frame's preview comes up on its own; then ask for another one.
    qtbot.waitUntil(lambda: panel.preview_label.source_pixmap() is not None, timeout=10000)
    assert panel.preview_caption.text() == "frame 1001: plate | depth"
    panel.preview_frame.setValue(1003)
    qtbot.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.preview_caption.text() == "frame 1003: plate | depth", timeout=10000)
    image = panel.preview_label.source_pixmap()
    assert image is not None and (image.width(), image.height()) == fake_engine.PREVIEW_SIZE
    shown = panel.preview_label.pixmap()
    assert 0 < shown.width() <= panel.preview_label.width() and shown.height() <= panel.preview_label.height()
    assert shown.width() == pytest.approx(shown.height() * 3, abs=2)  # 192x64 scaled, aspect kept

    shot = tmp_path / "panel.png"
    assert panel.grab().save(str(shot))
    assert shot.stat().st_size > 10_000
    copy = os.environ.get(SCREENSHOT_COPY_ENV)
    if copy:
        shutil.copyfile(shot, copy)


def test_cancel_keeps_finished_frames(qtbot, panel: DepthPanel, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.1")
    out = fill_form(qtbot, panel, tmp_path, "1001-1050", monkeypatch)
    qtbot.mouseClick(panel.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress_bar.value() >= 4, timeout=20000)  # 2 of 50 frames

    with qtbot.waitSignal(panel.render_finished, timeout=20000) as finished:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        assert panel.status_label.text().startswith("Cancelling")
    result: RenderResult = finished.args[0]

    kept = sorted(str(p) for p in out.iterdir())
    assert result.cancelled and 2 <= len(kept) < 50
    assert kept == result.written
    assert panel.status_label.text() == f"Cancelled: {len(kept)} finished frames kept"
    assert panel.progress_bar.value() < 100
    assert panel.render_button.isEnabled() and panel.settings_box.isEnabled()
    assert f"Cancelled at frame {1001 + len(kept)}; {len(kept)} frames kept" in panel.log_view.toPlainText()


def test_engine_error_is_shown_verbatim(qtbot, panel: DepthPanel, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    fill_form(qtbot, panel, tmp_path, "1001-1003", monkeypatch)
    with qtbot.waitSignal(panel.render_finished, timeout=20000):
        qtbot.mouseClick(panel.render_button, Qt.MouseButton.LeftButton)
    assert panel.status_label.text() == f"Error: {fake_engine.ERROR_MESSAGE}"
    assert "d04040" in panel.status_label.styleSheet()
    assert not panel.preview_button.isEnabled()  # nothing rendered, nothing to preview
    panel.show_preview(1002)
    assert panel.status_label.text() == "Frame 1002 has no depth yet: render it first"


def test_missing_plate_and_missing_engine_are_reported(qtbot, tmp_path: Path) -> None:
    widget = DepthPanel(engine=[str(tmp_path / "no-engine")])
    qtbot.addWidget(widget)
    qtbot.mouseClick(widget.render_button, Qt.MouseButton.LeftButton)
    assert widget.status_label.text() == "Choose a plate sequence first (Plate: Browse…)"
    widget.plate_edit.setText(str(tmp_path / "shot.####.exr"))
    qtbot.mouseClick(widget.render_button, Qt.MouseButton.LeftButton)
    assert widget.status_label.text().startswith("cannot start render engine")
    assert not widget.is_rendering and widget.render_button.isEnabled()


def test_set_job_round_trip_and_checkpoint_overrides_model(qtbot) -> None:
    widget = DepthPanel(engine=FAKE_ENGINE)
    qtbot.addWidget(widget)
    job = RenderJob(plate="/s/p.####.exr", output="/o", frames="1-9x2", model="flashdepth-next",
                    colorspace="ARRI LogC4", mode="normalized", device="cuda", precision="bf16",
                    extra_args=("--missing", "hold", "--snapshot-every", "10"))
    widget.set_job(job)
    assert widget.job() == job  # an unknown model name is kept, not dropped
    widget.checkpoint_edit.setText("/c/my weights.safetensors")
    assert not widget.model_combo.isEnabled()
    assert widget.job().model is None and widget.job().checkpoint == "/c/my weights.safetensors"
    widget.set_job(RenderJob(plate="a.exr"))
    assert widget.job() == RenderJob(plate="a.exr") and widget.model_combo.isEnabled()


def test_app_main_opens_the_panel_and_returns_when_closed(qtbot) -> None:
    opened: List[DepthPanel] = []

    def close_window() -> None:
        opened.extend(w for w in QApplication.topLevelWidgets() if isinstance(w, DepthPanel) and w.isVisible())
        for window in opened:
            window.close()

    QTimer.singleShot(200, close_window)
    assert app.main(["/s/p.####.exr", "--engine", f"{sys.executable} -m flashdepth_vfx"]) == 0
    assert len(opened) == 1
    assert opened[0].job() == RenderJob(plate="/s/p.####.exr")
    assert opened[0].windowTitle() == "FlashDepth VFX"


def test_dock_helpers_register_with_the_hosts(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    registered: List[tuple] = []
    nukescripts = types.SimpleNamespace(
        panels=types.SimpleNamespace(registerWidgetAsPanel=lambda *args: registered.append(args)))
    monkeypatch.setitem(sys.modules, "nukescripts", nukescripts)
    dock.register_nuke_panel()
    (expression, name, panel_id), = registered
    assert eval(expression, {}) is DepthPanel  # Nuke evaluates the string in its own namespace
    assert (name, panel_id) == ("FlashDepth", dock.NUKE_PANEL_ID)

    hou = types.SimpleNamespace(qt=types.SimpleNamespace(styleSheet=lambda: "QWidget { background: #3a3a3a; }"))
    monkeypatch.setitem(sys.modules, "hou", hou)
    monkeypatch.syspath_prepend(str(ROOT / "houdini" / "python3.11libs"))  # the Houdini package's Python path
    pypanel = ElementTree.parse(ROOT / "houdini" / "python_panels" / "flashdepth_vfx.pypanel")
    interface = pypanel.getroot().find("interface")
    assert interface is not None and interface.get("label") == "FlashDepth"
    namespace: dict = {}
    exec(interface.findtext("script") or "", namespace)
    widget = namespace["onCreateInterface"]()
    qtbot.addWidget(widget)
    assert isinstance(widget, DepthPanel) and widget.styleSheet() == "QWidget { background: #3a3a3a; }"


def test_panel_process_has_no_torch_or_numpy() -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import flashdepth_vfx.ui.app, flashdepth_vfx.ui.dock\n"
        "from flashdepth_vfx.ui.panel import DepthPanel\n"
        "qt = QApplication([])\n"
        "panel = DepthPanel(engine=['true'])\n"
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
