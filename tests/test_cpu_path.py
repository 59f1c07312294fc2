"""The CPU path: precision by the CPU's native bf16, the thread budget of a pinned or quota-limited process, and
where torch.compile keeps its kernels."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from engine_helpers import write_plates
from flashdepth_vfx import cpu_budget
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine import loading
from flashdepth_vfx.engine.loading import (
    cpu_has_native_bf16,
    cpu_threads,
    job_precision,
    load_model,
    resolve_precision,
    use_compile_cache,
)
from flashdepth_vfx.engine.pools import default_io_workers

ROOT = Path(__file__).resolve().parents[1]
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "flags\t\t: fpu avx512f avx512_fp16 amx_bf16 amx_tile amx_int8\n"
SKYLAKE = "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"  # aarch64: torch's bf16 there is not this path


@pytest.mark.parametrize(("cpuinfo", "native"), [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (SKYLAKE, False),
                                                  (GRAVITON3, False), ("", False)])
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo: str, native: bool) -> None:
    assert cpu_has_native_bf16(cpuinfo) is native


def test_torchs_probe_and_proc_cpuinfo_agree_here() -> None:
    proc = Path("/proc/cpuinfo")
    if not proc.is_file() or not hasattr(torch.cpu, "get_capabilities"):
        pytest.skip("needs Linux and torch.cpu.get_capabilities")
    assert cpu_has_native_bf16() == cpu_has_native_bf16(proc.read_text())


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_follows_native_bf16_and_explicit_choices_win(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(loading, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    assert job_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert job_precision("fp32", "cpu") == "fp32"
    if not torch.cuda.is_available():
        assert job_precision("auto", "cuda") == "bf16"


def test_auto_on_a_native_bf16_cpu_runs_bf16_with_float32_state_close_to_fp32(monkeypatch, checkpoint) -> None:
    monkeypatch.setattr(loading, "cpu_has_native_bf16", lambda: True)
    cpu = torch.device("cpu")
    low, full = load_model(str(checkpoint), None, cpu), load_model(str(checkpoint), None, cpu, "fp32")
    assert (low.precision, full.precision) == ("bf16", "fp32")
    assert next(low.model.parameters()).dtype == torch.bfloat16
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 70, 126, generator=g)
    with torch.inference_mode():
        streams = low.stream(), full.stream()
        for _ in range(3):
            x = (base + 0.05 * torch.rand(1, 3, 70, 126, generator=g)).clamp(0, 1)
            a, b = (s.step(x) for s in streams)
            assert a.dtype == torch.float32
            assert 0 < (a - b).abs().mean() / b.abs().mean() < 0.03
    assert all(s.dtype == torch.float32 for s in streams[0].snapshot().states)


def _cgroup_v2(root: Path, quotas: dict[str, str]) -> None:
    for path, quota in quotas.items():
        folder = root.joinpath(*path.strip("/").split("/")) if path.strip("/") else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(quota + "\n")


def test_cgroup_v2_quota_is_the_tightest_level_rounded_down(tmp_path) -> None:
    _cgroup_v2(tmp_path, {"/": "max 100000", "/farm": "400000 100000", "/farm/slot7": "150000 100000"})
    assert cpu_budget.quota_cores(tmp_path, "0::/farm/slot7\n") == 1  # 1.5 cores: a second thread gets throttled
    assert cpu_budget.quota_cores(tmp_path, "0::/farm\n") == 4
    assert cpu_budget.quota_cores(tmp_path, "0::/\n") is None  # "max": no quota
    # inside a container the host's path is not mounted: the levels that are present count
    assert cpu_budget.quota_cores(tmp_path, "0::/kubepods/pod1/abc\n") is None
    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert cpu_budget.quota_cores(tmp_path, "0::/kubepods/pod1/abc\n") == 2
    assert cpu_budget.quota_cores(tmp_path, "0::/farm/slot7\n") == 1
    assert cpu_budget.quota_cores(tmp_path, "0::/x\n") == 2
    (tmp_path / "cpu.max").write_text("20000 100000\n")  # a fifth of a core: still one thread
    assert cpu_budget.quota_cores(tmp_path, "0::/\n") == 1


def test_cgroup_v1_quota_and_no_quota(tmp_path) -> None:
    folder = tmp_path / "cpu,cpuacct" / "docker" / "abc"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    membership = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    assert cpu_budget.quota_cores(tmp_path, membership) == 3
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_budget.quota_cores(tmp_path, membership) is None
    assert cpu_budget.quota_cores(tmp_path, "") is None
    assert cpu_budget.quota_cores(tmp_path / "absent", membership) is None


def test_budget_is_the_affinity_mask_capped_by_the_quota(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(cpu_budget, "affinity_cores", lambda: 8)
    _cgroup_v2(tmp_path, {"/": "300000 100000"})
    assert cpu_budget.cpu_budget(tmp_path, "0::/\n") == 3
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_budget.cpu_budget(tmp_path, "0::/\n") == 8
    monkeypatch.setattr(cpu_budget, "affinity_cores", lambda: 2)
    (tmp_path / "cpu.max").write_text("1600000 100000\n")
    assert cpu_budget.cpu_budget(tmp_path, "0::/\n") == 2


@pytest.fixture
def one_core_quota(tmp_path, monkeypatch) -> None:
    """This process seen through a cgroup v2 quota of one core."""
    _cgroup_v2(tmp_path / "cgroup", {"/": "100000 100000"})
    monkeypatch.setattr(cpu_budget, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(cpu_budget, "PROC_CGROUP", tmp_path / "self-cgroup")
    (tmp_path / "self-cgroup").write_text("0::/\n")


def test_render_under_a_quota_infers_on_the_budget_and_threads_override(tmp_path, checkpoint, one_core_quota) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 3))
    seen: list[int] = []

    class Threads(QuietEvents):
        def frame(self, frame, index, total, path) -> None:  # noqa: ANN001
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for threads, out in ((None, "a"), (3, "b")):
            settings = RenderSettings(plate=plates, output=str(tmp_path / out / "d.####.exr"), checkpoint=str(checkpoint),
                                      threads=threads)
            Render(settings, Threads(), threading.Event()).run()
        assert seen == [1, 1, 3, 3]
        assert torch.get_num_threads() == 2
        with cpu_threads(None):  # a host's lower setting stays
            torch.set_num_threads(1)
            with cpu_threads(None):
                assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert default_io_workers() == 2 and default_io_workers(6) == 6


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two cores")
def test_a_pinned_process_starts_torch_on_its_cores_only() -> None:
    script = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
              "import flashdepth_vfx.cli\n"  # the CLI configures OpenMP before torch is imported
              "import torch; from flashdepth_vfx.engine.pools import default_io_workers\n"
              "print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads(), default_io_workers())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["1", "1", "2"]


def test_explicit_openmp_settings_win(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    cpu_budget.configure_openmp()
    assert (os.environ["OMP_NUM_THREADS"], os.environ["OMP_WAIT_POLICY"]) == ("7", "ACTIVE")


def test_compile_cache_lives_in_the_user_cache_unless_inductor_is_told(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path / "cache"))
    assert use_compile_cache() == tmp_path / "cache" / "inductor"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "inductor")
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    assert cache_dir() == str(tmp_path / "cache" / "inductor")  # where inductor itself now writes
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert use_compile_cache() == tmp_path / "mine"
