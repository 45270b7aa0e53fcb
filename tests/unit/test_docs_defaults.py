"""The defaults the documents quote are the code's: a changed default fails here until the
prose follows."""

from __future__ import annotations

import re

import pytest

from stacks.config import Settings, default_values
from tests.conftest import REPO_ROOT

DOCUMENTS = ["README.md", "docs/scaling.md", "docs/aws-behaviour.md", "docs/updates.md"]
# "`setting`, 600 s" or "`setting` (600 s": a setting's name, then its value in seconds.
QUOTED_SECONDS = re.compile(r"`([a-z_]+)`(?:,| \() ?(\d+(?:\.\d+)?) s\b")
# docs/scaling.md: "The default is now 60 s x 1" (the scale-out-from-zero alarm).
ALARM_DEFAULT = re.compile(r"The default is now (\d+) s x (\d+)")
# README.md: the alarm "(60 s, times sign, 1 period, ..." (the times sign is U+00D7).
ALARM_README = re.compile(r"`HasBacklogWithoutCapacity` \((\d+) s \u00d7 (\d+) period")

DEFAULTS = default_values(Settings)


def quoted_settings(document: str) -> list[tuple[str, float]]:
    text = (REPO_ROOT / document).read_text()
    return [
        (name, float(value)) for name, value in QUOTED_SECONDS.findall(text) if name in DEFAULTS
    ]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_quoted_setting_default_is_the_codes(document: str) -> None:
    for name, value in quoted_settings(document):
        assert value == DEFAULTS[name], f"{document} quotes {name} = {value:g} s"


def test_scaling_md_quotes_the_cooldowns_it_explains() -> None:
    # The paragraph on today's template names both cooldowns with their values, so the
    # check above cannot pass by finding nothing.
    names = {name for name, _ in quoted_settings("docs/scaling.md")}
    assert {"scale_out_from_zero_cooldown_seconds", "scale_out_cooldown_seconds"} <= names


@pytest.mark.parametrize(
    ("document", "pattern"), [("docs/scaling.md", ALARM_DEFAULT), ("README.md", ALARM_README)]
)
def test_the_quoted_scale_out_from_zero_alarm_is_the_default(
    document: str, pattern: re.Pattern[str]
) -> None:
    (match,) = pattern.findall((REPO_ROOT / document).read_text())
    period, periods = (int(value) for value in match)
    assert period == DEFAULTS["scale_out_from_zero_period_seconds"]
    assert periods == DEFAULTS["scale_out_from_zero_evaluation_periods"]


def test_a_wrong_quote_is_caught() -> None:
    text = "the step policy's cooldown (`scale_out_from_zero_cooldown_seconds`, 120 s)"
    ((name, value),) = QUOTED_SECONDS.findall(text)
    assert name == "scale_out_from_zero_cooldown_seconds"
    assert float(value) != DEFAULTS[name]
