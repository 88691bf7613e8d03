"""A MkDocs hook: the parts of the pages that come from the code, so they cannot drift from it.

A page asks for them with a marker line: `<!-- from code: settings -->` is the settings table
(app.settings), `<!-- from code: commands -->` the help of `policyqa` and of each of its commands, as
`policyqa COMMAND --help` prints it (the click group's own text). An unknown marker fails the build.
"""

from __future__ import annotations

import os
import re

import click

MARKER = re.compile(r"^<!-- from code: ([a-z-]+) -->$", re.MULTILINE)
WIDTH = 100  # the help's line width, fixed so the pages do not depend on the terminal that builds them


def settings_table() -> str:
    from app import settings

    rows = settings.markdown_table().replace("| `` |", "| (empty) |")  # an empty default reads as nothing at all
    return "| variable | default | meaning |\n| --- | --- | --- |\n" + rows


def _help(command: click.Command, ctx: click.Context) -> str:
    formatter = ctx.make_formatter()
    command.format_usage(ctx, formatter)
    command.format_help_text(ctx, formatter)
    command.format_options(ctx, formatter)  # a group's options include its list of commands
    return formatter.getvalue().rstrip()


def commands() -> str:
    """`policyqa --help` (less its settings epilog, which the settings page holds) and every command's --help."""
    from app.cli import cli

    root = click.Context(cli, info_name="policyqa", terminal_width=WIDTH, max_content_width=WIDTH)
    parts = ["### `policyqa`", f"```\n{_help(cli, root)}\n```"]
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        ctx = click.Context(command, info_name=name, parent=root)
        parts += [f"### `policyqa {name}`", f"```\n{command.get_help(ctx)}\n```"]
    return "\n\n".join(parts)


SECTIONS = {"settings": settings_table, "commands": commands}


def _insert(match: re.Match) -> str:
    name = match.group(1)
    if name not in SECTIONS:
        raise ValueError(f"unknown marker <!-- from code: {name} -->; known: {', '.join(SECTIONS)}")
    return SECTIONS[name]()


def on_config(config):
    # The defaults shown are the shipped ones, whatever the shell building the site has set.
    for variable in [v for v in os.environ if v.startswith("POLICYQA_")]:
        del os.environ[variable]
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(_insert, markdown)
