"""Reading batch files: bad rows named by their own row, valid rows around them kept, and
the column rules of --wrap, all before any request is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncinfer.batch import BatchOptions, InputItem, Summary, check_input, read_items
from asyncinfer.errors import ConfigurationError


def items(tmp_path: Path, name: str, data: bytes, **options: object) -> list[InputItem]:
    path = tmp_path / name
    path.write_bytes(data)
    batch = BatchOptions(
        input_path=path,
        output_path=tmp_path / "out.jsonl",
        manifest_path=tmp_path / "out.manifest",
        input_format="jsonl" if name.endswith(".jsonl") else "csv",
        **options,  # type: ignore[arg-type]
    )
    check_input(batch)
    return list(read_items(batch))


def errors(found: list[InputItem]) -> dict[int, str]:
    return {item.line: str(item.error) for item in found if item.error is not None}


def texts(count: int) -> list[bytes]:
    return [f"tweet {row} is short".encode() for row in range(2, count + 2)]


def test_a_bad_byte_is_charged_to_its_own_row_and_the_rest_is_read(tmp_path: Path) -> None:
    lines = [b"text", *texts(1199)]
    lines[999] += b" \xff"  # line 1000 of the file
    found = items(tmp_path, "tweets.csv", b"\n".join(lines) + b"\n", wrap="inputs")
    assert errors(found) == {
        1000: "row 1000 of tweets.csv is not UTF-8 (byte 20); expected UTF-8 text"
    }
    sent = [item for item in found if item.error is None]
    assert len(sent) == 1198
    assert sent[-1].body == {"inputs": "tweet 1200 is short"}


def test_an_unclosed_quote_names_the_row_it_opens_on_and_later_rows_are_read(
    tmp_path: Path,
) -> None:
    data = b'id,text\n1,good\n2,fine\n3,"broken quote\n4,after\n5,"quoted, ok"\n6,last\n'
    found = items(tmp_path, "t.csv", data, wrap="inputs", column="text")
    assert list(errors(found)) == [4]
    assert errors(found)[4].startswith("row 4 of t.csv is not valid CSV (")
    assert [item.body["inputs"] for item in found if item.error is None] == [
        "good", "fine", "after", "quoted, ok", "last",
    ]  # fmt: skip


def test_a_quote_left_open_to_the_end_of_the_file(tmp_path: Path) -> None:
    found = items(tmp_path, "t.csv", b'text\nok\n"never closed\nmore\nend\n', wrap="inputs")
    assert errors(found) == {
        3: "row 3 of t.csv is not valid CSV (unexpected end of data); expected a quote to "
        "close on the row it opens"
    }
    assert [i.body["inputs"] for i in found if i.error is None] == ["ok", "more", "end"]


def test_a_quoted_field_may_span_lines(tmp_path: Path) -> None:
    found = items(tmp_path, "t.csv", b'id,text\n1,"line one\nline two"\n2,x\n', column="text")
    assert errors(found) == {}
    assert [i.line for i in found] == [2, 4]
    assert found[0].body == "line one\nline two"


def test_wrap_sends_the_value_of_a_one_column_csv(tmp_path: Path) -> None:
    found = items(tmp_path, "t.csv", b"\xef\xbb\xbftext\nI love it\n", wrap="inputs")
    assert found[0].body == {"inputs": "I love it"}  # not {"inputs": {"text": ...}}
    assert found[0].value == {"text": "I love it"}


def test_wrap_with_several_columns_asks_for_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        items(tmp_path, "t.csv", b"id,text\n1,hi\n", wrap="inputs")
    assert str(raised.value) == (
        "t.csv has 2 columns (id, text); with --wrap inputs pass --column to choose the one "
        'sent as {"inputs": value} (or --csv-as-json to send each row as a JSON object)'
    )


def test_csv_as_json_still_sends_whole_rows_when_asked(tmp_path: Path) -> None:
    found = items(tmp_path, "t.csv", b"id,text\n1,hi\n", wrap="inputs", csv_as_json=True)
    assert found[0].body == {"inputs": {"id": "1", "text": "hi"}}


def test_a_csv_without_header_takes_a_column_number(tmp_path: Path) -> None:
    found = items(tmp_path, "t.csv", b"1,hi\n2,ho\n", wrap="inputs", csv_header=False, column="2")
    assert [i.body for i in found] == [{"inputs": "hi"}, {"inputs": "ho"}]
    with pytest.raises(ConfigurationError, match="expected a column number from 1 to 2"):
        items(tmp_path, "u.csv", b"1,hi\n", wrap="inputs", csv_header=False, column="text")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("t.csv", b"", "batch input t.csv is empty; expected one request per row"),
        ("t.jsonl", b"\n \n", "batch input t.jsonl is empty; expected one request per line"),
        ("t.csv", b"text\n", "batch input t.csv holds only a header row;"),
    ],
)
def test_an_empty_file_is_one_sentence(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        items(tmp_path, name, data, wrap="inputs")
    assert str(raised.value).startswith(message)


def test_the_summary_counts_bad_rows_and_resumed_submissions() -> None:
    table = Summary(total=10, skipped=2, resumed=5, bad_rows=1).table()
    rows = {k.strip(): v for k, v in (line.rsplit("  ", 1) for line in table.splitlines())}
    assert rows["bad rows (not sent)"].strip() == "1"
    assert rows["already done (resumed)"].strip() == "2"
    assert rows["already submitted (resumed)"].strip() == "5"
