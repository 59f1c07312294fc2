"""DepthPanel: a PySide6 panel that renders depth through the bridge (engine subprocess) and previews it.

The panel's process never imports torch or numpy: renders and previews run in the engine, and
events come back through :mod:`flashdepth_vfx.bridge` reader threads, handed to the GUI thread
with Qt signals.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..bridge import RenderEvent, RenderJob, RenderProcess, RenderResult, make_preview
from ..errors import FlashDepthError
from ..hosts.common import frame_file, sequence_from_frame_file

MODELS = ("flashdepth", "flashdepth-s", "flashdepth-l")
MODES = ("disparity", "depth", "normalized")
DEVICES = ("cpu", "cuda", "mps")
PRECISIONS = ("fp32", "fp16", "bf16")
COLORSPACES = (
    "ACEScg",
    "ACES2065-1",
    "ACEScct",
    "Linear Rec.709 (sRGB)",
    "sRGB Encoded Rec.709 (sRGB)",
    "ARRI LogC4",
    "ARRI LogC3 (EI800)",
    "S-Log3 S-Gamut3.Cine",
    "Log3G10 REDWideGamutRGB",
    "V-Log V-Gamut",
)
PLATE_FILTER = "Image sequences (*.exr *.dpx *.tif *.tiff *.png *.jpg *.jpeg);;Movies (*.mov *.mp4 *.mkv);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pth *.pt *.ckpt);;All files (*)"
STATUS_STYLES = {"info": "", "ok": "color: #3a9a4a;", "error": "color: #d04040;"}


class _Relay(QObject):
    """Carries bridge results from worker threads to the GUI thread (queued signal connections)."""

    render_event = Signal(object)  # RenderEvent
    finished = Signal(object)  # RenderResult
    failed = Signal(str)
    preview_ready = Signal(int, str)  # frame, PNG path
    preview_failed = Signal(str)


class _ImageLabel(QLabel):
    """A label that shows a pixmap scaled to fit, keeping its aspect ratio as the label resizes."""

    def __init__(self, placeholder: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(placeholder, parent)
        self._source: Optional[QPixmap] = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(320, 140)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("background: #1e1e1e; color: #8a8a8a; border: 1px solid #3a3a3a;")

    def set_image(self, pixmap: QPixmap) -> None:
        """Show ``pixmap`` (scaled to the label)."""
        self._source = pixmap
        self._rescale()

    def source_pixmap(self) -> Optional[QPixmap]:
        """The full-size image being shown, if any."""
        return self._source

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is not None:
            self.setPixmap(
                self._source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.SmoothTransformation)
            )


def _choice_combo(choices: Sequence[str], default_label: str = "Default") -> QComboBox:
    """A combo box whose first item means 'unset' (None) and the others carry their own text."""
    combo = QComboBox()
    combo.addItem(default_label, None)
    for choice in choices:
        combo.addItem(choice, choice)
    return combo


def _set_choice(combo: QComboBox, value: Optional[str]) -> None:
    if value is None:
        combo.setCurrentIndex(0)
        return
    if combo.findData(value) < 0:  # a value the list does not know (e.g. a newer model name): keep it
        combo.addItem(value, value)
    combo.setCurrentIndex(combo.findData(value))


def _text_or_none(text: str) -> Optional[str]:
    return text.strip() or None


class DepthPanel(QWidget):
    """Settings form, Render/Cancel, progress, log and a plate | depth preview of one frame.

    ``engine`` is the engine's argv prefix (default: :func:`flashdepth_vfx.bridge.find_engine`);
    ``env`` adds environment variables for the engine process.
    """

    render_finished = Signal(object)
    """Emitted with the :class:`~flashdepth_vfx.bridge.RenderResult` when a render ends (any outcome)."""

    def __init__(
        self,
        engine: Optional[Sequence[str]] = None,
        env: Optional[Mapping[str, str]] = None,
        parent: Optional[QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("FlashDepth")
        self._engine = list(engine) if engine else None
        self._env = dict(env) if env else None
        self._process: Optional[RenderProcess] = None
        self._rendered_job: Optional[RenderJob] = None
        self._depth_files: Dict[int, str] = {}
        self._preview_busy = False
        self._preview_dir = tempfile.TemporaryDirectory(prefix="flashdepth-preview-")
        self._relay = _Relay()
        self._relay.render_event.connect(self._on_event)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.preview_ready.connect(self._on_preview_ready)
        self._relay.preview_failed.connect(self._on_preview_failed)
        self._build()
        self._set_running(False)
        self._update_preview_controls()

    # --- layout ------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.plate_edit = QLineEdit()
        self.plate_edit.setPlaceholderText("shot.####.exr (Browse… picks one frame)")
        self.plate_browse = QPushButton("Browse…")
        self.plate_browse.clicked.connect(self._browse_plate)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("<plate>_depth.####.exr beside the plates")
        self.output_browse = QPushButton("Browse…")
        self.output_browse.clicked.connect(self._browse_output)
        self.frames_edit = QLineEdit()
        self.frames_edit.setPlaceholderText("all frames (e.g. 1001-1100, 1001-1100x2)")
        self.checkpoint_edit = QLineEdit()
        self.checkpoint_edit.setPlaceholderText("optional .safetensors / .pth file")
        self.checkpoint_edit.textChanged.connect(self._checkpoint_changed)
        self.checkpoint_browse = QPushButton("Browse…")
        self.checkpoint_browse.clicked.connect(self._browse_checkpoint)
        self.model_combo = _choice_combo(MODELS)
        self.colorspace_combo = QComboBox()
        self.colorspace_combo.setEditable(True)
        self.colorspace_combo.addItems(("",) + COLORSPACES)
        line_edit = self.colorspace_combo.lineEdit()
        assert line_edit is not None
        line_edit.setPlaceholderText("from the file's metadata")
        self.mode_combo = _choice_combo(MODES)
        self.device_combo = _choice_combo(DEVICES, "Auto")
        self.precision_combo = _choice_combo(PRECISIONS)
        self.extra_edit = QLineEdit()
        self.extra_edit.setPlaceholderText("e.g. --missing hold --half")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Plate", self._with_button(self.plate_edit, self.plate_browse))
        form.addRow("Output", self._with_button(self.output_edit, self.output_browse))
        form.addRow("Frames", self.frames_edit)
        form.addRow("Model", self.model_combo)
        form.addRow("Checkpoint", self._with_button(self.checkpoint_edit, self.checkpoint_browse))
        form.addRow("Colour space", self.colorspace_combo)
        form.addRow("Output mode", self.mode_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        form.addRow("Extra arguments", self.extra_edit)
        self.settings_box = QGroupBox("Settings")
        self.settings_box.setLayout(form)

        self.render_button = QPushButton("Render")
        self.render_button.setDefault(True)
        self.render_button.clicked.connect(self.start_render)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_render)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        actions = QHBoxLayout()
        actions.addWidget(self.render_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.progress_bar, 1)
        self.status_label = QLabel("Ready")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setPlaceholderText("Engine log")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.settings_box)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.status_label)
        left_layout.addWidget(self.log_view, 1)

        self.preview_frame = QSpinBox()
        self.preview_frame.setRange(0, 0)
        self.preview_frame.setPrefix("Frame ")
        self.preview_button = QPushButton("Show")
        self.preview_button.clicked.connect(self._preview_clicked)
        self.preview_caption = QLabel("plate | depth")
        self.preview_label = _ImageLabel("Render, then pick a frame to preview it beside its depth")
        self.preview_label.setWordWrap(True)
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.preview_frame)
        preview_row.addWidget(self.preview_button)
        preview_row.addStretch(1)
        preview_row.addWidget(self.preview_caption)
        preview_box = QGroupBox("Preview")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addLayout(preview_row)
        preview_layout.addWidget(self.preview_label, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(preview_box)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    @staticmethod
    def _with_button(field: QWidget, button: QPushButton) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        layout.addWidget(button)
        return row

    # --- settings --------------------------------------------------------------------------------------------

    def job(self) -> RenderJob:
        """The render job the form describes."""
        checkpoint = _text_or_none(self.checkpoint_edit.text())
        return RenderJob(
            plate=self.plate_edit.text().strip(),
            output=_text_or_none(self.output_edit.text()),
            frames=_text_or_none(self.frames_edit.text()),
            checkpoint=checkpoint,
            model=None if checkpoint else self.model_combo.currentData(),
            colorspace=_text_or_none(self.colorspace_combo.currentText()),
            mode=self.mode_combo.currentData(),
            device=self.device_combo.currentData(),
            precision=self.precision_combo.currentData(),
            extra_args=tuple(shlex.split(self.extra_edit.text())),
        )

    def set_job(self, job: RenderJob) -> None:
        """Fill the form from ``job`` (e.g. settings a host saved with ``job.to_dict()``)."""
        self.plate_edit.setText(job.plate)
        self.output_edit.setText(job.output or "")
        self.frames_edit.setText(job.frames or "")
        self.checkpoint_edit.setText(job.checkpoint or "")
        _set_choice(self.model_combo, job.model)
        self.colorspace_combo.setCurrentText(job.colorspace or "")
        _set_choice(self.mode_combo, job.mode)
        _set_choice(self.device_combo, job.device)
        _set_choice(self.precision_combo, job.precision)
        self.extra_edit.setText(shlex.join(job.extra_args))

    def _checkpoint_changed(self, text: str) -> None:
        self.model_combo.setEnabled(not text.strip())

    def _browse_plate(self) -> None:
        start = os.path.dirname(self.plate_edit.text())
        path, _ = QFileDialog.getOpenFileName(self, "Choose one frame of the plate", start, PLATE_FILTER)
        if path:
            self.plate_edit.setText(sequence_from_frame_file(path))

    def _browse_output(self) -> None:
        start = os.path.dirname(self.output_edit.text() or self.plate_edit.text())
        folder = QFileDialog.getExistingDirectory(self, "Choose the depth output folder", start)
        if folder:
            self.output_edit.setText(folder)

    def _browse_checkpoint(self) -> None:
        start = os.path.dirname(self.checkpoint_edit.text())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a FlashDepth checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.checkpoint_edit.setText(path)

    # --- rendering -------------------------------------------------------------------------------------------

    @property
    def is_rendering(self) -> bool:
        """True while a render is running."""
        return self._process is not None

    def start_render(self) -> None:
        """Start the engine on the form's job; events arrive on the GUI thread."""
        if self.is_rendering:
            return
        try:
            job = self.job()
        except ValueError as exc:  # unbalanced quotes in the extra arguments
            self._set_status(f"Extra arguments cannot be read ({exc}): fix the quoting", "error")
            return
        if not job.plate:
            self._set_status("Choose a plate sequence first (Plate: Browse…)", "error")
            return
        relay = self._relay
        process = RenderProcess(job, engine=self._engine, on_event=relay.render_event.emit, env=self._env)
        self.log_view.appendPlainText(f"$ flashdepth-vfx {shlex.join(job.to_args())}")
        try:
            process.start()
        except FlashDepthError as exc:
            self._set_status(str(exc), "error")
            return
        self._process = process
        self._rendered_job = job
        self._depth_files = {}
        self._update_preview_controls()
        self.progress_bar.setValue(0)
        self._set_status(f"Starting {os.path.basename(job.plate)}…", "info")
        self._set_running(True)
        threading.Thread(target=self._wait_for, args=(process, relay), name="flashdepth-render", daemon=True).start()

    @staticmethod
    def _wait_for(process: RenderProcess, relay: _Relay) -> None:
        """Worker thread: wait for the engine and hand the result to the GUI thread."""
        try:
            result = process.wait()
        except Exception as exc:  # noqa: BLE001 - any failure here must reach the artist, not a dead thread
            relay.failed.emit(f"Render monitoring failed: {exc}")
        else:
            relay.finished.emit(result)

    def cancel_render(self) -> None:
        """Ask the engine to stop; finished frames are kept."""
        if self._process is not None:
            self._process.cancel()
            self.cancel_button.setEnabled(False)
            self._set_status("Cancelling: finishing the current frame…", "info")

    def _on_event(self, event: RenderEvent) -> None:
        if event.kind == "start":
            first, last = event.data.get("first"), event.data.get("last")
            if isinstance(first, int) and isinstance(last, int):
                self.preview_frame.setRange(first, last)
                self.preview_frame.setValue(first)
            self._set_status(f"Rendering {event.data.get('plate', '')}: 0/{event.total} frames", "info")
            self._log(f"Rendering {event.data.get('plate', '')} -> {event.data.get('output', '')}")
        elif event.kind == "frame":
            if event.frame is not None and event.path:
                self._depth_files[event.frame] = event.path
                self._update_preview_controls()
            if event.fraction is not None:
                self.progress_bar.setValue(round(100 * event.fraction))
            fps = event.data.get("fps")
            speed = f", {fps:.1f} fps" if isinstance(fps, (int, float)) else ""
            self._set_status(f"Rendering: frame {event.frame} ({event.index}/{event.total}{speed})", "info")
            self._log(f"frame {event.frame} -> {event.path}")
        elif event.kind == "warning":
            where = f"frame {event.frame}: " if event.frame is not None else ""
            self._log(f"Warning: {where}{event.message}")
        elif event.kind == "done":
            self._log(f"Done: {event.data.get('written')} frames in {event.data.get('seconds')} s")
        else:
            self._log(event.message or event.kind)

    def _on_finished(self, result: RenderResult) -> None:
        self._process = None
        self._set_running(False)
        count = len(result.written)
        if result.ok:
            self.progress_bar.setValue(100)
            self._set_status(f"Done: {count} frames written to {result.output}", "ok")
            if self._depth_files:
                self.preview_frame.setValue(min(self._depth_files))
                self.show_preview()
        elif result.cancelled:
            self._set_status(f"Cancelled: {count} finished frames kept", "info")
        else:
            self._set_status(f"Error: {result.error}", "error")
        self.render_finished.emit(result)

    def _on_failed(self, message: str) -> None:
        self._process = None
        self._set_running(False)
        self._set_status(message, "error")

    def _set_running(self, running: bool) -> None:
        self.settings_box.setEnabled(not running)
        self.render_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _set_status(self, text: str, level: str) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(STATUS_STYLES[level])
        if level == "error":
            self._log(text)

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    # --- preview ---------------------------------------------------------------------------------------------

    def show_preview(self, frame: Optional[int] = None) -> None:
        """Ask the engine for a plate | depth picture of ``frame`` (default: the frame box) and show it."""
        frame = self.preview_frame.value() if frame is None else frame
        depth = self._depth_files.get(frame)
        if depth is None or self._rendered_job is None:
            self._set_status(f"Frame {frame} has no depth yet: render it first", "error")
            return
        plate = frame_file(self._rendered_job.plate, frame)
        output = Path(self._preview_dir.name) / f"preview.{frame}.png"
        args: Tuple[str, str, Path] = (plate, depth, output)
        self._preview_busy = True
        self._update_preview_controls()
        threading.Thread(
            target=self._make_preview,
            args=(args, frame, self._engine, self._rendered_job.colorspace, self._env, self._relay),
            name="flashdepth-preview",
            daemon=True,
        ).start()

    @staticmethod
    def _make_preview(args: Tuple[str, str, Path], frame: int, engine: Optional[List[str]],
                      colorspace: Optional[str], env: Optional[Dict[str, str]], relay: _Relay) -> None:
        """Worker thread: run the engine's preview command."""
        try:
            png = make_preview(*args, engine=engine, colorspace=colorspace, env=env)
        except (FlashDepthError, subprocess.SubprocessError) as exc:
            relay.preview_failed.emit(f"Preview of frame {frame} failed: {exc}")
        else:
            relay.preview_ready.emit(frame, str(png))

    def _preview_clicked(self) -> None:
        self.show_preview()

    def _update_preview_controls(self) -> None:
        ready = bool(self._depth_files) and not self._preview_busy
        self.preview_frame.setEnabled(ready)
        self.preview_button.setEnabled(ready)

    def _on_preview_ready(self, frame: int, path: str) -> None:
        self._preview_busy = False
        self._update_preview_controls()
        pixmap = QPixmap(path)
        if pixmap.isNull():
            self._set_status(f"Preview {path} is not a readable PNG: check the engine version", "error")
            return
        self.preview_label.set_image(pixmap)
        self.preview_caption.setText(f"frame {frame}: plate | depth")

    def _on_preview_failed(self, message: str) -> None:
        self._preview_busy = False
        self._update_preview_controls()
        self._set_status(message, "error")

    # --- lifetime --------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the panel cancels its render (finished frames stay) before the window goes."""
        process = self._process
        if process is not None:
            process.cancel(grace=2.0)
            try:
                process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        super().closeEvent(event)
