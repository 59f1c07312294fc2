"""``flashdepth-vfx hosts``: install the Nuke / Houdini / Resolve adapters for this user, remove them, check
that everything a host needs is in place (``doctor``), and delete old depth versions the nodes no longer use
(``prune``, over :mod:`.prune`)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import click

from ..errors import FlashDepthError
from . import prune as pruning
from .install import HOSTS, Check, Layout, apply, doctor_ok, engine_checks, host_checks, plan

_HOST_CHOICE = click.Choice([*HOSTS, "all"])


def _hosts(names: tuple[str, ...]) -> List[str]:
    return list(HOSTS) if "all" in names else list(dict.fromkeys(names))


def _run(names: tuple[str, ...], dest: Optional[str], dry_run: bool, remove: bool) -> None:
    """Plan, print and apply; ``all`` skips (and names) a host that never ran here, an explicit name does not."""
    layout = Layout.current()
    try:
        changes = plan(_hosts(names), layout, Path(dest).expanduser() if dest else None, remove=remove,
                       skip_absent="all" in names)
        for change in changes:
            acts = change.action in ("write", "remove", "rmdir")
            click.echo(("would " if dry_run and acts else "") + change.describe())
        if not dry_run:
            apply(changes)
    except FlashDepthError as exc:
        raise click.ClickException(str(exc)) from None
    if not changes:
        click.echo("nothing to remove" if remove else "nothing to do")
    elif not dry_run and not remove:
        click.echo("restart the host application(s); check with `flashdepth-vfx hosts doctor`")


@click.group("hosts")
def hosts() -> None:
    """Host applications: install, uninstall, doctor, prune."""


@hosts.command("install")
@click.argument("names", nargs=-1, required=True, type=_HOST_CHOICE, metavar="nuke|houdini|resolve|all")
@click.option("--user", is_flag=True, help="Into this user's host folders (the default).")
@click.option("--dest", type=click.Path(file_okay=False), help="Into this folder instead (a shared plugin folder).")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
def install(names: tuple[str, ...], user: bool, dest: Optional[str], dry_run: bool) -> None:
    """Make the FlashDepth node available in each named host (idempotent: a second run changes nothing)."""
    if user and dest:
        raise click.UsageError("--user and --dest exclude each other")
    _run(names, dest, dry_run, remove=False)


@hosts.command("uninstall")
@click.argument("names", nargs=-1, required=True, type=_HOST_CHOICE, metavar="nuke|houdini|resolve|all")
@click.option("--dest", type=click.Path(file_okay=False), help="The folder given to install --dest.")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; remove nothing.")
def uninstall(names: tuple[str, ...], dest: Optional[str], dry_run: bool) -> None:
    """Remove what `hosts install` wrote (only files and blocks it marked as its own)."""
    _run(names, dest, dry_run, remove=True)


def _runtime_checks() -> List[Check]:
    """The model, the GPU and the colour config, as a render would find them (a torch that does not import is one
    line, not a traceback)."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken install raises anything (ImportError, OSError for a CUDA library, ...)
        first = (str(exc).strip().splitlines() or [""])[0]
        return [Check("torch", False, f"torch does not import ({type(exc).__name__}: {first}): reinstall it in "
                                      f"the engine's Python ({sys.executable} -m pip install --force-reinstall torch)")]

    from ..engine.loading import embedded_checkpoint
    from ..model.checkpoint import EMBEDDED_LICENCE, KNOWN_CHECKPOINTS, cached_checkpoint
    from ..plates import load_config

    checks = []
    embedded = embedded_checkpoint()
    official = [name for name in KNOWN_CHECKPOINTS if cached_checkpoint(name)]
    checks.append(Check("model", embedded is not None or bool(official),
                        f"embedded {'present' if embedded else 'missing'}; official downloaded: "
                        f"{', '.join(official) or 'none (flashdepth-vfx weights download flashdepth-s)'}"))
    licences = [("flashdepth-tiny", EMBEDDED_LICENCE)] if embedded else []
    checks += [Check("licence", None, f"{name} {licence}")
               for name, licence in licences + [(name, KNOWN_CHECKPOINTS[name].licence) for name in official]]
    if torch.cuda.is_available():
        checks.append(Check("gpu", True, f"CUDA: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"))
    else:
        checks.append(Check("gpu", None, f"no CUDA device: renders run on the CPU, slowly at 2K (torch {torch.__version__})"))
    try:
        config = load_config(None)
        checks.append(Check("colour", True, f"OCIO config: {config.getName() or config.getDescription()[:60]}"))
    except FlashDepthError as exc:
        checks.append(Check("colour", False, str(exc)))
    return checks


@hosts.command("doctor")
def doctor() -> None:
    """Check the engine, the model, the GPU, the colour config and each host's discovery path; say what to fix."""
    layout = Layout.current()
    checks = engine_checks(layout) + _runtime_checks() + host_checks(layout)
    for check in checks:
        mark = {True: "ok  ", False: "FIX ", None: "--  "}[check.ok]
        click.echo(f"{mark}{check.name:<8} {check.detail}")
    if not doctor_ok(checks):
        raise SystemExit(1)


def _interactive() -> bool:
    """Whether someone at a terminal can answer a question (tests replace it)."""
    return sys.stdin.isatty()


def _confirm_newest(newest: List[pruning.Removal]) -> bool:
    """Ask before deleting nodes' newest complete versions; refuse in one line where nobody can answer."""
    what = (f"the newest complete version of {len(newest)} node{'s' if len(newest) > 1 else ''} "
            f"({newest[0].version.folder}{', ...' if len(newest) > 1 else ''})")
    if not _interactive():
        raise click.ClickException(f"--keep 0 would delete {what}, which a node on another machine may show: "
                                   "pass --yes to delete it, or keep it with --keep 1")
    return click.confirm(f"Delete {what} too?", default=False)


@hosts.command("prune")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--keep", type=click.IntRange(min=0), default=pruning.DEFAULT_KEEP, show_default=True,
              help="Newest complete versions to keep per node, counting those in use; a version a node shows or a "
                   "render is writing is always kept, even beyond N.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="With --keep 0: delete each node's newest complete version without asking.")
def prune(path: str, keep: int, dry_run: bool, yes: bool) -> None:
    """Delete old depth versions under PATH (a node's output folder, or any folder above several).

    Kept per node: the newest KEEP complete versions, a partial version newer than those, every version a node
    shows and every version being rendered. Only the files of each version are deleted (its manifest, markers,
    frames and snapshots); anything else in its folder stays and is named. --keep 0 deletes a node's newest
    complete version too (a node on another machine may show it): it asks first, or needs --yes.
    """
    found = pruning.plan(path, keep)
    for line in found.lines(dry_run):
        click.echo(line)
    newest = [removal for removal in found.remove if removal.newest]
    if not found.remove and not found.keep:
        click.echo(f"no depth versions under {path}")
    elif dry_run:
        click.echo(f"would delete {len(found.remove)} versions ({pruning.size_text(found.size)}); "
                   f"{len(found.keep)} kept")
    elif newest and not yes and not _confirm_newest(newest):
        click.echo("nothing deleted")
        raise SystemExit(1)
    else:
        failed = pruning.apply(found)
        click.echo(pruning.summary(found, failed))
        if failed:
            raise SystemExit(1)
