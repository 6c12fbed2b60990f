"""The documentation: a short front door, pages that exist, and no command or setting it names that the code lacks.

README.md is what a newcomer reads first, so it stays short and points to docs/; the pages are checked
against the code (the CLI's commands, the settings' names) so a rename cannot leave them stale.
"""

import re
from pathlib import Path

import click
import pytest

from edgecloud.cli import cli
from edgecloud.config import Settings

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
# Every page a reader may land on: the front door, docs/, and the two READMEs that live beside their code.
ALL_DOCS = [README, *PAGES, REPO / "bench" / "README.md", REPO / "infra" / "k8s" / "README.md"]
FILE_SUFFIXES = {"py", "yaml", "yml", "json", "md", "sh", "zip", "png", "txt", "hcl", "toml", "jpg", "csv", "pem"}


def _leaf_commands(command: click.Command, path: list[str], ctx: click.Context):
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            yield from _leaf_commands(command.get_command(ctx, name), [*path, name], ctx)
    else:
        yield " ".join(path)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _text(paths) -> str:
    return "\n".join(p.read_text() for p in paths)


def test_readme_is_a_short_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/"
    text = "\n".join(lines)
    for must in ("./scripts/dev.sh demo", "./scripts/dev.sh test", ".venv/bin/edgecloud"):
        assert must in text, must


def test_readme_links_every_page_and_every_link_resolves():
    assert len(PAGES) >= 8, "the pages README.md promises are missing from docs/"
    readme = README.read_text()
    for page in PAGES:
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
    for doc in [README, *PAGES]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)]*))?\)", doc.read_text()):
            if "://" in target:
                continue
            linked = (doc.parent / target) if target else doc
            assert linked.exists(), f"{doc.relative_to(REPO)} links {target}, which does not exist"
            if anchor:
                assert anchor in _anchors(linked), f"{doc.relative_to(REPO)} links {target}#{anchor}: no such heading"


def test_every_command_is_documented():
    text = _text(ALL_DOCS)
    commands = list(_leaf_commands(cli, ["edgecloud"], click.Context(cli)))
    assert "edgecloud clips retry" in commands  # the walk reached the lazily loaded groups
    missing = [c for c in commands if c not in text]
    assert not missing, f"commands no page documents: {missing}"


def test_every_setting_the_docs_name_exists():
    sections = {name: set(field.annotation.model_fields) for name, field in Settings.model_fields.items()}
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(sections) + r")\.([a-z_]+)(?![\w/(.])")
    stale = []
    for doc in ALL_DOCS:
        for span in re.findall(r"`([^`\n]+)`", doc.read_text()):
            for section, key in pattern.findall(span):
                if key not in sections[section] and key not in FILE_SUFFIXES:
                    stale.append(f"{doc.relative_to(REPO)}: {section}.{key}")
    assert not stale, f"settings the docs name but the code lacks: {stale}"


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_pages_name_no_machine_path_of_a_workplace(doc):
    assert not re.search(r"(?<![\w.])/work/", doc.read_text()), f"{doc.relative_to(REPO)} names a machine path"
