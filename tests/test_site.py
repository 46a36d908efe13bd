"""The built documentation site: no literal Sphinx role, no dead link, no orphan page.

The site is built once, as ``.ci/run`` builds it (``mkdocs build --strict``, which also runs the
tutorial's cells), into a temporary folder; every HTML page is then read back.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):\s*(?:<code>|`)")
# pages the theme writes itself, which no page is meant to link to
THEME_PAGES = {"404.html", "search.html"}


class _Page(HTMLParser):
    """The links (href, src) and element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in {"href", "src"}:
                self.links.append(value)
            elif name == "id":
                self.ids.add(value)


def _build(target: Path) -> Path:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    return target.resolve()  # as links are resolved, so that paths compare equal


def _pages(site: Path) -> dict[Path, _Page]:
    pages = {}
    for path in sorted(site.resolve().rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def _target(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    """The file a relative link names and its fragment, or None for an external link."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
        return None
    if not parts.path:
        path = page
    elif parts.path.startswith("/"):  # from the site's root (the theme's 404 page)
        path = site / unquote(parts.path).lstrip("/")
    else:
        path = (page.parent / unquote(parts.path)).resolve()
    if path.is_dir() or parts.path.endswith("/"):
        path = path / "index.html"
    return path, unquote(parts.fragment)


def _literal_roles(site: Path) -> list[str]:
    """Each page that shows a role as text, with its first three."""
    found = {path: ROLE.findall(path.read_text(encoding="utf-8")) for path in site.rglob("*.html")}
    return [f"{path.relative_to(site)}: {roles[:3]}" for path, roles in found.items() if roles]


def _dead_links(site: Path, pages: dict[Path, _Page]) -> list[str]:
    dead = []
    for page, parsed in pages.items():
        for link in parsed.links:
            target = _target(site, page, link)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                dead.append(f"{page.relative_to(site)} -> {link} (no such file)")
            elif fragment and path in pages and fragment not in pages[path].ids:
                dead.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    return dead


def _orphans(site: Path, pages: dict[Path, _Page]) -> list[str]:
    linked = {
        target[0]
        for page, parsed in pages.items()
        for link in parsed.links
        if (target := _target(site, page, link)) is not None and target[0] != page
    }
    return [
        str(path.relative_to(site))
        for path in pages
        if path not in linked and path.name not in THEME_PAGES and path != site / "index.html"
    ]


CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
BLOCKS = re.compile(r"<pre\b.*?</pre>", re.S)
ESCAPE = re.compile(r"\\[|_*`#\[\]]|``")
DOCTEST = re.compile(r"&gt;&gt;&gt; |<blockquote>\s*<blockquote>\s*<blockquote>")
MAX_COLUMNS = 10
"""A table with more columns than this is wider than the page: it must scroll (css/extra.css)."""
SCROLLING = "css/extra.css"


def _outside_code(path: Path) -> str:
    return CODE.sub("", path.read_text(encoding="utf-8"))


def _literal_escapes(site: Path) -> list[str]:
    """Each page that shows a Markdown backslash-escape (``\\|``) or reST double backquotes as
    text or inline code (a table cell's escaped pipe, kept by the renderer; a numpy section the
    parser did not read); code blocks are exempt."""
    found = {
        path: ESCAPE.findall(BLOCKS.sub("", path.read_text(encoding="utf-8")))
        for path in site.rglob("*.html")
    }
    return [f"{path.relative_to(site)}: {hits[:3]}" for path, hits in found.items() if hits]


def _prose_doctests(site: Path) -> list[str]:
    """Each page with a doctest prompt (``>>>``) rendered as prose, not as a code block: as
    text, or read as three nested quotes."""
    return [
        str(path.relative_to(site))
        for path in sorted(site.rglob("*.html"))
        if DOCTEST.search(_outside_code(path))
    ]


def _wide_tables(site: Path) -> list[str]:
    """Each page with a table of more than :data:`MAX_COLUMNS` columns that cannot scroll (the
    page does not load the stylesheet that lets tables scroll)."""
    wide = []
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        columns = [
            len(re.findall(r"<th\b", head))
            for head in re.findall(r"<thead>(.*?)</thead>", html, re.S)
        ]
        if columns and max(columns) > MAX_COLUMNS and SCROLLING not in html:
            wide.append(f"{path.relative_to(site)}: {max(columns)} columns")
    return wide


def test_the_built_site_has_no_literal_role_dead_link_or_orphan_page(tmp_path: Path) -> None:
    """One build (it runs the tutorial, about 10 s), every check on it."""
    site = _build(tmp_path / "site")
    pages = _pages(site)
    assert len(pages) > 30  # the nav's pages were built
    assert not _literal_roles(site)
    assert not _dead_links(site, pages)[:20]
    assert not _orphans(site, pages)
    assert not _literal_escapes(site)
    assert not _prose_doctests(site)
    assert not _wide_tables(site)
    stylesheet = (site / SCROLLING).read_text(encoding="utf-8")
    assert "overflow-x: auto" in stylesheet and "max-width: 100%" in stylesheet
    # the tutorial's outputs were produced by the build: its printed claims and its figure
    tutorial = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    assert "8,000 of 8,000 facts, every one through the forward pass" in tutorial
    assert "13,500 of 13,500 three-hop queries" in tutorial
    assert "<svg" in tutorial and "P(every fact recalled) against dimension" in tutorial
    assert "Traceback" not in tutorial
    # as printed: the listed failures one a line, under their heading, not run together
    listed = tutorial.split("a listed failure of each relation:")[-1].split("</code>")[0]
    lines = [line for line in listed.splitlines() if line.strip()]
    assert len(lines) == 4 and all(line.strip().startswith("Failure(") for line in lines)


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """Planted faults: a literal role, a dead link, a dead anchor and an orphan page are found."""
    tmp_path = tmp_path.resolve()  # as _build returns the site
    (tmp_path / "index.html").write_text('<a href="a/">a</a> <a href="missing/">m</a>')
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<p id="x">see :func:<code>f</code></p><a href="../#nowhere">h</a><a href="#x">x</a>'
    )
    (tmp_path / "orphan.html").write_text("<p>nobody links here</p>")
    pages = _pages(tmp_path)
    assert _literal_roles(tmp_path) == ["a/index.html: [':func:<code>']"]
    assert sorted(_dead_links(tmp_path, pages)) == [
        "a/index.html -> ../#nowhere (no such anchor)",
        "index.html -> missing/ (no such file)",
    ]
    assert _orphans(tmp_path, pages) == ["orphan.html"]
    # a literal escape, a doctest as prose, a wide table that cannot scroll; code is exempt
    header = "<thead><tr>" + "<th>c</th>" * (MAX_COLUMNS + 1) + "</tr></thead>"
    (tmp_path / "b.html").write_text(
        f"<p>a \\| b</p><p>&gt;&gt;&gt; f(1)</p><table>{header}</table>"
        "<pre><code>&gt;&gt;&gt; g() \\|</code></pre><p><code>x \\| y</code> ``min_d``</p>"
    )
    (tmp_path / "c.html").write_text(f'<link href="{SCROLLING}"><table>{header}</table>')
    (tmp_path / "d.html").write_text("<blockquote>\n<blockquote>\n<blockquote><p>f(1)</p>")
    assert _literal_escapes(tmp_path) == ["b.html: ['\\\\|', '\\\\|', '``']"]
    assert _prose_doctests(tmp_path) == ["b.html", "d.html"]
    assert _wide_tables(tmp_path) == [f"b.html: {MAX_COLUMNS + 1} columns"]


def test_the_griffe_extension_links_roles_spells_defaults_and_warns_on_stale_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """tools/griffe_roles.py on a planted package of the same name, loaded from tmp_path."""
    import griffe

    package = tmp_path / "geoconstruct"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Top."""\n\nfrom geoconstruct.core import build\n\n__all__ = ["build"]\n'
    )
    (package / "core.py").write_text(
        '"""Core."""\n\nDEFAULT_LAYOUT = "superposed"\n\n\n'
        "def build(layout: str = DEFAULT_LAYOUT) -> None:\n"
        '    """Build; see :func:`helper`, :class:`~concurrent.futures.Executor`."""\n\n\n'
        "def helper() -> None:\n"
        '    """Help; not :func:`vanished`."""\n'
    )
    extensions = griffe.load_extensions(str(ROOT / "tools" / "griffe_roles.py") + ":SphinxRoles")
    with caplog.at_level("WARNING"):
        loaded = griffe.load(
            "geoconstruct",
            search_paths=[tmp_path],
            try_relative_path=False,  # not the repository's own geoconstruct/
            extensions=extensions,
            resolve_aliases=True,
        )
    build = loaded["core.build"]
    assert build.docstring.value == ("Build; see [`helper`][geoconstruct.core.helper], `Executor`.")
    assert str(build.parameters["layout"].default) == "'superposed'"
    assert "the reference :func:`vanished` names nothing" in caplog.text
    table_row = (
        "| [`build`][geoconstruct.core.build] | Build; see [`helper`][geoconstruct.core.helper]"
    )
    assert table_row in loaded.docstring.value  # the package's names, linked
