"""pytest plugin of the GPU check's cuda_tests step (``-p gpu_check_pytest``): every finished test's outcome is
appended to ``$GPU_CHECK_RESULTS`` (JSON lines) as it ends, so a run cut short keeps them, and tests that would
start after ``$GPU_CHECK_DEADLINE`` (epoch seconds) are skipped, so pytest ends on its own before the step's limit."""
from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest


def pytest_runtest_setup(item: pytest.Item) -> None:
    deadline = float(os.environ.get("GPU_CHECK_DEADLINE", "inf"))
    if time.time() > deadline:
        pytest.skip("not started: the GPU check's time for this step was up")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("GPU_CHECK_RESULTS")
    if not path or not (report.when == "call" or report.outcome != "passed"):
        return  # one line per test: its call, or the setup/teardown that failed or skipped it
    entry: dict[str, Any] = {"test": report.nodeid.split("/")[-1], "seconds": round(report.duration, 2),
                             "outcome": "failed" if report.failed else report.outcome}
    if report.skipped and isinstance(report.longrepr, tuple):
        entry["reason"] = str(report.longrepr[2])[:500]
    elif report.failed:
        entry["reason"] = str(report.longreprtext).strip().splitlines()[-1][:500] if report.longreprtext else ""
    if report.user_properties:
        entry["measured"] = {name: value for name, value in report.user_properties}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, default=str) + "\n")
