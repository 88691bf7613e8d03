"""The documentation: the README is a short front door, and the site in docs/ builds offline in strict mode, with
every `policyqa` command and every setting on the pages generated from the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}


def build(project: Path, dest: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `project` into `dest`, with every fetch sent to a closed port."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(dest)], cwd=project,
                          capture_output=True, text=True, timeout=600, env={**os.environ, **NO_NETWORK})


class _Page(HTMLParser):
    """A built page's visible text and the addresses of what a browser loads with it."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "img") and found.get("src"):
            self.loads.append(found["src"])
        if tag == "link" and found.get("rel") in ("stylesheet", "preload", "icon") and found.get("href"):
            self.loads.append(found["href"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(site: Path, name: str) -> _Page:
    page = _Page()
    page.feed((site / f"{name}.html").read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("site")
    result = build(ROOT, dest)
    assert result.returncode == 0, result.stderr
    return dest


def test_every_command_and_its_options_are_on_the_command_line_page(site):
    from app.cli import cli

    text = "".join(read(site, "cli").text)
    ctx = click.Context(cli, info_name="policyqa")
    names = cli.list_commands(ctx)
    assert {"ask", "index", "serve", "watch", "changes", "eval", "train", "settings"} <= set(names)
    helps = {part.split(maxsplit=1)[0]: part for part in text.split("Usage: policyqa ")[2:]}  # [1]: policyqa's own
    assert set(helps) == set(names)
    for name in names:
        for param in cli.get_command(ctx, name).params:
            for flag in param.opts if isinstance(param, click.Option) else ():
                assert flag in helps[name], f"policyqa {name} {flag}"


def test_every_setting_is_on_the_settings_page(site):
    from app import settings

    text = "".join(read(site, "settings").text)
    for setting in settings.SETTINGS:
        row = re.search(rf"{setting.env}\s*{re.escape(setting.default or '(empty)')}\s*(.*)", text)
        assert row, setting.env
        assert row.group(1).startswith(setting.help.replace("`", "")[:40]), setting.env


def test_pages_load_nothing_from_other_sites(site):
    """No web fonts, scripts or images from a CDN: the site reads on a machine with no internet access."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 15
    for path in pages:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        outside = [url for url in page.loads if re.match(r"(https?:)?//", url)]
        assert not outside, (path, outside)


def test_screenshots_are_on_the_chat_page(site):
    loads = read(site, "chat").loads
    assert any(url.endswith("chat.png") for url in loads) and any(url.endswith("agents.png") for url in loads)
    assert (site / "chat.png").stat().st_size > 10_000


def test_a_broken_link_or_a_page_missing_from_the_nav_fails_the_build(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copytree(ROOT / "docs", project / "docs")
    (project / "docs" / "orphan.md").write_text("# Nobody links here\n", encoding="utf-8")
    with (project / "docs" / "api.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the settings](settings.md#no-such-heading) and [a page](gone.md).\n")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "orphan.md" in result.stderr
    assert "no-such-heading" in result.stderr and "gone.md" in result.stderr


def test_readme_is_a_short_front_door_whose_links_all_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "`make run`" in readme and "`make test`" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")  # CI runs the README's test command
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert {"docs/cli.md", "docs/settings.md", "docs/contributing.md"} <= set(local)
    assert all((ROOT / link).exists() for link in local), [link for link in local if not (ROOT / link).exists()]
