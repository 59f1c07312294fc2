"""How many CPU threads this process may use, and the OpenMP settings made from it before torch starts.

``os.cpu_count()`` is the host's cores, also inside a farm container or a CPU-pinned slot; a process that starts
one thread per host core there oversubscribes its share (measured 6x slower). The budget is the smaller of the
affinity mask (``taskset``, a scheduler's CPU pinning) and the cgroup CPU quota (a container's ``--cpus``, a
systemd or Kubernetes limit: cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), rounded
down: a thread over the quota is throttled in the middle of a parallel region and holds up all the others.

Standard library only: the CLI calls :func:`configure_openmp` before torch is imported.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
"""Where the cgroup hierarchies are mounted, and the file naming this process's cgroups."""
WAIT_POLICY = "PASSIVE"
"""OpenMP's wait policy for the render (``OMP_WAIT_POLICY``; an explicit setting wins). Passive: a waiting thread
sleeps at once. Measured (``benchmarks/bench_render.py --threads-check``, 2 cores): on a near-idle machine passive
costs x1.6 on the embedded model's small ops and ~5 % on FlashDepth-S; beside other work busy-waiting threads
starve the decode and encode threads and spin while a descheduled peer holds every op up: passive is x2-x12
faster there (x200 on a busy machine), and a short spin (``GOMP_SPINCOUNT``) is no better. Libgomp reads the policy
once, so it holds for the whole process."""


def affinity_cores() -> int:
    """Cores in this process's affinity mask (all the machine's where the OS has no masks)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def quota_cores(root: Path | None = None, membership: str | None = None) -> int | None:
    """Whole cores the cgroup CPU quota allows (at least 1), or None when no quota applies.

    ``root``: where the hierarchies are mounted (default :data:`CGROUP_ROOT`); ``membership``: the text of
    ``/proc/self/cgroup`` (read when None). Every level from the process's cgroup up to the root counts (a quota on
    a parent caps its children); v2 and v1 hierarchies are both read.
    """
    root = CGROUP_ROOT if root is None else root
    if membership is None:
        try:
            membership = PROC_CGROUP.read_text()
        except OSError:
            membership = ""
    quotas: list[float] = []
    for line in membership.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one unified hierarchy
            quotas += [q for folder in _levels(root, path) if (q := _v2_quota(folder / "cpu.max")) is not None]
        elif "cpu" in controllers.split(","):
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                if mount.is_dir():
                    quotas += [q for folder in _levels(mount, path) if (q := _v1_quota(folder)) is not None]
                    break
    if not quotas:
        return None
    return max(1, math.floor(min(quotas) + 1e-9))


def cpu_budget(root: Path | None = None, membership: str | None = None) -> int:
    """CPU threads this process may keep busy: the affinity mask's cores, capped by the cgroup quota."""
    quota = quota_cores(root, membership)
    cores = affinity_cores()
    return cores if quota is None else min(cores, quota)


def configure_openmp() -> None:
    """Before torch is imported: OpenMP's wait policy (:data:`WAIT_POLICY`) and its thread count (the budget), each
    only where the environment does not set it already."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    os.environ.setdefault("OMP_NUM_THREADS", str(cpu_budget()))


def _levels(mount: Path, path: str) -> list[Path]:
    """The cgroup folder of ``path`` under ``mount`` and its parents up to ``mount``, those that exist here.

    Inside a container the path is often the host's and not mounted: only the levels present are read."""
    parts = [p for p in path.strip().split("/") if p and p != ".."]
    levels = [mount.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [level for level in levels if level.is_dir()]


def _v2_quota(file: Path) -> float | None:
    """Cores from a v2 ``cpu.max`` ("QUOTA PERIOD", or "max PERIOD" for none)."""
    try:
        fields = file.read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _ratio(fields[0], fields[1])


def _v1_quota(folder: Path) -> float | None:
    """Cores from v1 ``cpu.cfs_quota_us`` (-1 for none) over ``cpu.cfs_period_us``."""
    try:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None
