"""The results writer's settings: environment variables parsed once, one sentence per bad value."""

from __future__ import annotations

import pytest

from results_writer.settings import SettingsError, WriterSettings


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_table_name_is_one_clear_error(value: str | None) -> None:
    environ = {} if value is None else {"RESULTS_TABLE_NAME": value}
    with pytest.raises(SettingsError) as raised:
        WriterSettings.from_environment(environ)
    assert str(raised.value) == (
        "Environment variable RESULTS_TABLE_NAME must name the results table; received nothing."
    )


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"RESULTS_TABLE_NAME": "t"}, (90, "INFO", 8)),
        (
            {
                "RESULTS_TABLE_NAME": "t",
                "RESULTS_RETENTION_DAYS": "7",
                "LOG_LEVEL": "debug",
                "RESULTS_WRITE_MAX_ATTEMPTS": "3",
            },
            (7, "DEBUG", 3),
        ),
    ],
)
def test_settings_defaults_and_overrides(
    environ: dict[str, str], expected: tuple[int, str, int]
) -> None:
    settings = WriterSettings.from_environment(environ)
    assert (settings.retention_days, settings.log_level, settings.max_attempts) == expected


def refusal(**environ: str) -> str:
    """The one-sentence error for a writer environment naming a table plus `environ`."""
    with pytest.raises(SettingsError) as raised:
        WriterSettings.from_environment({"RESULTS_TABLE_NAME": "t", **environ})
    return str(raised.value)


@pytest.mark.parametrize("value", ["0", "-1", "ninety", "1.5"])
def test_bad_retention_is_one_clear_error(value: str) -> None:
    assert refusal(RESULTS_RETENTION_DAYS=value) == (
        "Environment variable RESULTS_RETENTION_DAYS must be a whole number of days "
        f"(1 or more); received {value!r}."
    )


def test_inline_body_default_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WriterSettings.from_environment({"RESULTS_TABLE_NAME": "t"}).inline_body_max_bytes == (
        4096
    )
    assert (
        WriterSettings.from_environment(
            {"RESULTS_TABLE_NAME": "t", "RESULTS_INLINE_BODY_MAX_BYTES": "0"}
        ).inline_body_max_bytes
        == 0
    )
    for value in ("-1", "4k", "262145"):
        assert refusal(RESULTS_INLINE_BODY_MAX_BYTES=value) == (
            "Environment variable RESULTS_INLINE_BODY_MAX_BYTES must be a whole number of "
            f"bytes from 0 to 262144; received {value!r}."
        )
