"""The documentation: the README stays a short front door, no section of the old long README is lost in docs/, and
every relative Markdown link and anchor in README.md and docs/*.md resolves (GitHub's anchor rules)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# The section titles of README.md before it was split into docs/ (commit d33c2b7), its bold paragraph titles
# included: each must still be a heading somewhere in docs/.
OLD_README_SECTIONS = [
    "Two commands", "Rendering", "Output modes", "Plate size", "Exit codes", "JSON progress", "Safety",
    "Checkpoints", "Hosts", "Render farm", "Evaluation and training", "The embedded model", "Shot solve",
    "Stabilize", "Speed and memory", "GPU", "Layout",
]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return _FENCE.sub("", text)


def headings(text: str) -> list[str]:
    """The headings' text, in order (not those inside code blocks)."""
    return [m.group(2) for m in _HEADING.finditer(_prose(text))]


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lower-cased, every character that is not a letter, digit,
    space, hyphen or underscore dropped, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = text.replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor GitHub gives a page's headings; repeats get -1, -2, ..."""
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(text):
        slug = github_slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(text: str) -> list[str]:
    """The targets of every inline Markdown link and image outside code."""
    return [m.group(1) for m in _LINK.finditer(_INLINE_CODE.sub("", _prose(text)))]


def test_github_slug_rules() -> None:
    assert github_slug("Chunk size, warm-up and GPUs") == "chunk-size-warm-up-and-gpus"
    assert github_slug("AWS Deadline Cloud") == "aws-deadline-cloud"
    assert github_slug("`hosts install` and *Send to farm*") == "hosts-install-and-send-to-farm"
    assert github_slug("The `flashdepth_vfx` package (v2.0)") == "the-flashdepth_vfx-package-v20"
    assert github_slug("[Shot solve](solve.md) on the farm") == "shot-solve-on-the-farm"
    assert anchors("# A\n\n## A\n\n```\n# not a heading\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_link_parser_skips_code() -> None:
    text = "see [a](a.md) and `[b](b.md)`\n\n```\n[c](c.md)\n```\n![pic](p.png) [d](d.md#x \"title\")\n"
    assert links(text) == ["a.md", "p.png", "d.md#x"]


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "make demo" in readme and "make test" in readme
    for host in ("nuke", "houdini", "resolve"):
        assert f"flashdepth-vfx hosts install {host}" in readme


def test_every_old_readme_section_is_in_docs() -> None:
    in_docs = {h for page in (ROOT / "docs").glob("*.md") for h in headings(page.read_text(encoding="utf-8"))}
    missing = [title for title in OLD_README_SECTIONS if title not in in_docs]
    assert not missing, f"sections of the old README not found as a heading in docs/: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_relative_to(ROOT) or not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
