"""Every option of every command explains itself in --help, in whole sentences."""

from __future__ import annotations

import argparse

import pytest

from asyncinfer.cli import build_parser

# A help text ending in one of these words stopped mid-sentence ("give up waiting after").
DANGLING = ("after", "before", "for", "to", "of", "with", "the", "a")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in subcommands(sub).items()})
    return found


COMMANDS = subcommands(build_parser(load_local=True))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_a_whole_help_text(command: str) -> None:
    for action in COMMANDS[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        name = action.option_strings[-1]
        assert action.help, f"asyncinfer {command} {name} has no help"
        last = action.help.rstrip(").").split()[-1].lower()
        assert last not in DANGLING, f"asyncinfer {command} {name}: {action.help!r} stops short"


def test_local_up_names_its_directories() -> None:
    text = COMMANDS["local up"].format_help()
    assert "--cdk-out DIR" in text and "--state-dir DIR" in text
    assert "--model {sentiment,xgboost}" in text
