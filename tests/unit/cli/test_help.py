"""Every verb's --help explains it in one paragraph and shows an example."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from labtool.cli import VERBS, parser


def verb_parsers(
    top: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every verb and sub-verb (`room new`, `images build` ...), walked from the top parser."""
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield " ".join((*path, name)), sub
                yield from verb_parsers(sub, (*path, name))


VERB_PARSERS = dict(verb_parsers(parser()))


def test_the_walk_finds_every_verb_and_sub_verb() -> None:
    assert len(VERB_PARSERS) >= len(VERBS) + 4
    assert {"stop", "start", "down", "completion", "room new", "images build"} <= set(VERB_PARSERS)


@pytest.mark.parametrize("verb", sorted(VERB_PARSERS))
def test_help_has_a_one_paragraph_description_and_an_example(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    sub = VERB_PARSERS[verb]
    assert sub.description and len(sub.description.split()) >= 12, f"`labtool {verb} --help` needs a description"
    assert "\n\n" not in sub.description.strip(), "the description is one paragraph"
    assert sub.epilog and f"labtool {verb.split(maxsplit=1)[0]}" in sub.epilog, (
        f"`labtool {verb} --help` needs an example"
    )
    assert sub.formatter_class is argparse.RawDescriptionHelpFormatter  # examples keep their lines
    with pytest.raises(SystemExit) as done:
        sub.parse_args(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    first_example = sub.epilog.splitlines()[1].strip()
    assert sub.description in shown and f"examples:\n  {first_example}" in shown
