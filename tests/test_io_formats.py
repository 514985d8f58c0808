"""custodes.io: Parquet, JSON Lines and Excel files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from custodes import read_table
from custodes.errors import MalformedTableError, SettingError
from custodes.io import collect

SECRET = "Zhang-Secret-4242"
FRAME = pl.DataFrame({"name": ["Ann", "Bob"], "age": [31, 47], "zip": ["75001", None]})


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for i, row in enumerate(rows):
            sheet.write_row(i, 0, row)
    book.close()
    return path


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_is_scanned_lazily_with_its_types(tmp_path: Path) -> None:
    FRAME.write_parquet(tmp_path / "p.parquet")
    source = read_table(tmp_path / "p.parquet")
    assert (source.format, source.columns, source.encoding) == (
        "parquet",
        tuple(FRAME.columns),
        None,
    )
    assert isinstance(source.frame, pl.LazyFrame)
    assert collect(source).equals(FRAME)


def test_error_for_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    path.write_text("name,age\nAnn,31\n")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"{str(path)!r} is not a readable Parquet file: it may be incomplete or in another "
        "format (force one with format='csv', CLI: --input-format csv)."
    )


# --- JSON Lines -----------------------------------------------------------------------------


def jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_jsonl_columns_are_strings(tmp_path: Path, suffix: str) -> None:
    rows = [{"name": "张三", "age": 31, "tags": ["a"]}, {"name": "Bob", "zip": "75001"}]
    source = read_table(jsonl(tmp_path / f"p{suffix}", rows))
    assert (source.format, source.columns) == ("jsonl", ("name", "age", "tags", "zip"))
    assert collect(source).rows() == [("张三", "31", '["a"]', None), ("Bob", None, None, "75001")]


def test_jsonl_line_longer_than_the_sample(tmp_path: Path) -> None:
    rows = [{"note": "x" * 100_000, "id": 1}, {"note": "y", "id": 2}]
    assert read_table(jsonl(tmp_path / "long.jsonl", rows)).columns == ("note", "id")


def test_error_for_a_line_that_is_not_json(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "bad.jsonl", [{"a": 1}])
    with path.open("a") as file:
        file.write('{"a": "' + SECRET + '" "b": 2}\n')
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"line 2 of {str(path)!r} is not valid JSON (Expecting ',' delimiter at column 27). "
        "JSON Lines files hold one JSON object per line."
    )


def test_error_for_a_line_that_is_not_an_object_beyond_the_sample(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "list.jsonl", [{"id": i, "name": "Ann"} for i in range(5000)])
    with path.open("a") as file:
        file.write(f'["{SECRET}"]\n')
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"line 5001 of {str(path)!r} is a JSON list, not an object. "
        "JSON Lines files hold one JSON object per line."
    )


def test_gbk_jsonl_is_transcoded(tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes('{"姓名": "张三"}\n'.encode("gbk"))
    source = read_table(path)
    assert (source.encoding, collect(source).rows()) == ("gb18030", [("张三",)])


# --- Excel ----------------------------------------------------------------------------------


def test_xlsx_first_sheet_by_default_and_sheet_by_name(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with xlsxwriter.Workbook(str(path)) as book:
        FRAME.write_excel(book, worksheet="people")
        pl.DataFrame({"x": ["a longer value"]}).write_excel(book, worksheet="other")
    source = read_table(path)
    assert (source.format, source.columns) == ("xlsx", tuple(FRAME.columns))
    assert collect(source).equals(FRAME)
    assert read_table(path, sheet="other").columns == ("x",)


def test_error_for_an_unknown_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"People": [["a"], [1]], "Places": [["b"], [2]]})
    with pytest.raises(SettingError) as caught:
        read_table(path, sheet="peple")
    assert str(caught.value) == (
        f"sheet 'peple' is not in {str(path)!r}. Did you mean 'People'? "
        "Its sheets are: 'People', 'Places'."
    )


def test_xlsx_without_header(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"S": [["Ann", 31], ["Bob", 47]]})
    source = read_table(path, has_header=False)
    assert source.columns == ("column_1", "column_2")
    assert collect(source).height == 2


def test_error_for_a_repeated_xlsx_column_name(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"S": [["name", "name"], [SECRET, "x"]]})
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"the header of {str(path)!r} (sheet 'S') repeats a column name at "
        "positions 1 and 2. Column names must be unique: rename one, or pass "
        "has_header=False (CLI: --no-header) if the first row is data."
    )


def test_error_for_an_unnamed_xlsx_column_with_values(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"S": [["name", None, "age"], ["Ann", SECRET, 31]]})
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"the header of {str(path)!r} (sheet 'S') has an empty column name at position 2, "
        "and that column holds values. Give every column a name, or pass has_header=False "
        "(CLI: --no-header) if the first row is data."
    )


def test_unnamed_empty_xlsx_columns_are_dropped(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"S": [["name", None, "age"], ["Ann", None, 31]]})
    assert read_table(path).columns == ("name", "age")


def test_error_for_an_empty_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path / "b.xlsx", {"S": [["a"], [1]], "Empty": []})
    with pytest.raises(MalformedTableError) as caught:
        read_table(path, sheet="Empty")
    assert str(caught.value) == f"sheet 'Empty' of {str(path)!r} is empty."


def test_error_for_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "b.xlsx"
    path.write_text("name,age\n")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"{str(path)!r} cannot be read as an Excel workbook (.xlsx): it may be damaged or in "
        "another format (force one with format='csv', CLI: --input-format csv)."
    )


def test_error_for_a_workbook_without_sheets(tmp_path: Path) -> None:
    import re
    import zipfile

    one = workbook(tmp_path / "one.xlsx", {"S": [["a"], [1]]})
    path = tmp_path / "none.xlsx"
    with zipfile.ZipFile(one) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
            target.writestr(item, data)
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"{str(path)!r} is an Excel workbook with no sheets: there is no table to read. "
        "Add a sheet with a header row and data, or export the table as CSV."
    )
