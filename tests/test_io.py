"""custodes.io: delimited text files (CSV, TSV, TXT), encodings and their errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from custodes import read_table
from custodes.errors import (
    DataFileError,
    EncodingError,
    InvalidInputError,
    MalformedTableError,
    SettingError,
    UnknownColumnError,
    UnsupportedError,
)
from custodes.io import TableSource, check_columns, collect, reading

SECRET = "Zhang-Secret-4242"  # a cell value no message may ever show
PEOPLE = [["name", "city", "age"], ["Ann", "Paris", "31"], ["Bob", "Lyon", "47"]]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def table(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\n" for row in rows)


def values(source: TableSource) -> list[tuple[str | None, ...]]:
    return collect(source).rows()


# --- layout: delimiters, headers, quotes ---------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".txt"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    path = write(tmp_path / f"people{suffix}", table(PEOPLE, delimiter))
    source = read_table(path)
    assert (source.format, source.delimiter, source.columns) == ("csv", delimiter, tuple(PEOPLE[0]))
    assert values(source) == [tuple(row) for row in PEOPLE[1:]]


def test_sniffing_ignores_delimiters_inside_quotes(tmp_path: Path) -> None:
    text = 'name;note\n"Ann";"a, b, c"\n"Bob";"d, e"\n'
    source = read_table(write(tmp_path / "notes.csv", text))
    assert source.delimiter == ";"
    assert values(source) == [("Ann", "a, b, c"), ("Bob", "d, e")]


def test_quoted_fields_keep_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    text = 'id,address,age\n1,"12 Main St,\nApt 3",40\n2,"say ""hi""",50\n'
    source = read_table(write(tmp_path / "q.csv", text))
    assert values(source) == [("1", "12 Main St,\nApt 3", "40"), ("2", 'say "hi"', "50")]


def test_crlf_line_endings(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "win.csv", table(PEOPLE).replace("\n", "\r\n")))
    assert values(source)[0] == ("Ann", "Paris", "31")


def test_every_column_is_string_and_lazy(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "p.csv", table(PEOPLE)))
    assert isinstance(source.frame, pl.LazyFrame)
    assert source.frame.collect_schema().dtypes() == [pl.String] * 3


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("name,age\nAnn,31\n", ("name", "age")),
        ("name,city\nAnn,Paris\n", ("name", "city")),
        ("Ann,31\nBob,47\n", ("column_1", "column_2")),
        ("Ann,2001-05-04\nBob,1999-12-31\n", ("column_1", "column_2")),
        ("id\n1\n2\n", ("id",)),
    ],
)
def test_header_is_detected(tmp_path: Path, text: str, columns: tuple[str, ...]) -> None:
    assert read_table(write(tmp_path / "h.csv", text)).columns == columns


def test_has_header_can_be_forced(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "2019,2020\n5,6\n")
    assert read_table(path).columns == ("column_1", "column_2")
    assert read_table(path, has_header=True).columns == ("2019", "2020")
    no_header = read_table(write(tmp_path / "n.csv", "name,city\nAnn,Paris\n"), has_header=False)
    assert values(no_header) == [("name", "city"), ("Ann", "Paris")]


def test_delimiter_can_be_forced(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "p.csv", "a;b,c\n1;2,3\n"), delimiter=",")
    assert source.columns == ("a;b", "c")


def test_single_column_file(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "one.csv", "name\nAnn\n\nBob\n"))
    assert (source.columns, values(source)) == (("name",), [("Ann",), (None,), ("Bob",)])


def test_header_longer_than_the_sample(tmp_path: Path) -> None:
    names = [f"column_name_{i:05d}" for i in range(5000)]
    source = read_table(write(tmp_path / "wide.csv", table([names, ["x"] * 5000] * 2)))
    assert source.columns == tuple(names)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "h.csv", "name,city\n"))
    assert source.columns == ("name", "city")
    assert collect(source).height == 0


# --- encodings ------------------------------------------------------------------------------

CHINESE = [["姓名", "城市", "年龄"], ["张三", "北京市海淀区", "31"], ["李四", "上海市", "47"]]
WESTERN = [["nom", "ville", "âge"], ["Müller", "Besançon", "31"], ["Zoë", "Málaga", "47"]]


@pytest.mark.parametrize(
    ("rows", "encoding", "detected"),
    [
        (CHINESE, "utf-8", "utf-8"),
        (CHINESE, "utf-8-sig", "utf-8-sig"),
        (CHINESE, "gb18030", "gb18030"),
        (CHINESE, "gbk", "gb18030"),
        (CHINESE, "utf-16", "utf-16"),
        (WESTERN, "latin-1", "cp1252"),
        (WESTERN, "cp1252", "cp1252"),
        (WESTERN, "utf-8", "utf-8"),
    ],
)
def test_encoding_is_detected(
    tmp_path: Path, rows: list[list[str]], encoding: str, detected: str
) -> None:
    source = read_table(write(tmp_path / "t.csv", table(rows), encoding))
    assert (source.encoding, source.columns) == (detected, tuple(rows[0]))
    assert values(source) == [tuple(row) for row in rows[1:]]


def test_bom_is_stripped_from_the_first_column_name(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "bom.csv", table(PEOPLE), "utf-8-sig"))
    assert source.columns[0] == "name"
    check_columns(source, ["name"])


def test_forced_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "gbk.csv", table(CHINESE), "gbk")
    source = read_table(path, encoding="GBK")
    assert (source.encoding, values(source)[0]) == ("gbk", ("张三", "北京市海淀区", "31"))


def test_multibyte_characters_across_transcoding_chunks(tmp_path: Path) -> None:
    rows = [["id", "name"]] + [[str(i), "张三丰" * (i % 7 + 1)] for i in range(150_000)]
    source = read_table(write(tmp_path / "big.csv", table(rows), "gb18030"))
    assert source.encoding == "gb18030"
    assert collect(source).rows() == [tuple(row) for row in rows[1:]]


def test_ascii_prefix_longer_than_the_sample_then_gbk(tmp_path: Path) -> None:
    rows = [["id", "name"]] + [[str(i), "Ann"] for i in range(20_000)] + [["x", "张三"]]
    source = read_table(write(tmp_path / "late.csv", table(rows), "gbk"))
    assert source.encoding == "gb18030"
    assert collect(source).rows()[-1] == ("x", "张三")


def test_error_for_bytes_that_do_not_decode_as_the_forced_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "gbk.csv", f"id,name\n1,{SECRET}\n2,张三\n", "gbk")
    with pytest.raises(EncodingError) as caught:
        read_table(path, encoding="utf-8")
    assert str(caught.value) == (
        f"{str(path)!r} does not decode as utf-8 (you asked for it): the bytes at offset 30 "
        "(line 3) are invalid (invalid continuation byte). Encodings tried: utf-8. If you know "
        "the file's encoding, force it with encoding='gb18030' (CLI: --encoding gb18030); "
        "latin-1 reads any bytes but may garble text."
    )


def test_error_for_a_damaged_utf8_file(tmp_path: Path) -> None:
    good = table([["id", "name"]] + [[str(i), "张三"] for i in range(10)])
    path = tmp_path / "damaged.csv"
    path.write_bytes(good.encode() + b"11,\xff" + SECRET.encode() + b"\n")
    with pytest.raises(EncodingError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith(
        f"{str(path)!r} does not decode as utf-8 (it was detected from the first 64 KiB): "
        f"the bytes at offset {len(good.encode()) + 3} (line 12) are invalid"
    )
    assert "--encoding gb18030" in message
    assert SECRET not in message


def test_error_for_an_unknown_encoding_name(tmp_path: Path) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(write(tmp_path / "p.csv", table(PEOPLE)), encoding="gbkk")
    assert str(caught.value) == (
        "encoding 'gbkk' is not known. Did you mean 'gbk'? "
        "Common ones: utf-8, gb18030, cp1252, latin-1."
    )


# --- errors ---------------------------------------------------------------------------------


def test_error_for_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "people.csv", table(PEOPLE))
    with pytest.raises(DataFileError) as caught:
        read_table("peple.csv")
    assert str(caught.value) == (
        f"file 'peple.csv' does not exist (working directory: {tmp_path}). "
        "Did you mean 'people.csv'?"
    )


def test_error_for_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataFileError) as caught:
        read_table("nowhere/people.csv")
    assert str(caught.value) == (
        "file 'nowhere/people.csv' does not exist: its folder 'nowhere' does not exist "
        f"either (working directory: {tmp_path})."
    )


def test_error_for_a_folder(tmp_path: Path) -> None:
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DataFileError, match=r"is a folder, not a file; name a file inside it"):
        read_table(tmp_path / "data.csv")


def test_error_for_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == f"{str(path)!r} is empty (0 bytes): there is no header and no rows."


@pytest.mark.parametrize(
    ("line", "fields"),
    [([SECRET, "Nice", "33", "extra", "more"], 5), ([SECRET, "Nice"], 2)],
)
def test_error_for_a_ragged_row(tmp_path: Path, line: list[str], fields: int) -> None:
    rows = [["name", "city", "age", "zip"]] + [["Ann", "Paris", "31", "75001"]] * 5 + [line]
    path = write(tmp_path / "ragged.csv", table(rows))
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"line 7 of {str(path)!r} has {fields} fields, expected 4 (the header has 4). A value "
        "containing the delimiter ',' or a line break must be in double quotes."
    )


def test_ragged_row_far_beyond_the_sample_is_found_at_read_time(tmp_path: Path) -> None:
    rows = [["id", "name"]] + [[str(i), '"a\nb"'] for i in range(50_000)] + [["1", "2", "3"]]
    path = write(tmp_path / "far.tsv", table(rows, "\t"))
    with pytest.raises(MalformedTableError, match=r"^line 100002 of .* has 3 fields, expected 2 "):
        read_table(path)


def test_error_for_a_ragged_row_without_header(tmp_path: Path) -> None:
    path = write(tmp_path / "nh.csv", "1,2,3\n4,5\n")
    with pytest.raises(
        MalformedTableError, match=r"line 2 .* 2 fields, expected 3 \(the first row"
    ):
        read_table(path)


def test_error_for_a_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.csv", table(PEOPLE) + "\n")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"line 4 of {str(path)!r} is blank, expected 3 fields (the header has 3). "
        "Remove blank lines from the file."
    )


def test_error_for_a_repeated_column_name(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "name,age,name\nAnn,31,Bob\n")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"the header of {str(path)!r} repeats a column name at positions 1 and 3. "
        "Column names must be unique: rename one, or pass has_header=False "
        "(CLI: --no-header) if the first row is data."
    )


def test_error_for_an_empty_column_name(tmp_path: Path) -> None:
    path = write(tmp_path / "empty_name.csv", "name,,city\nAnn,x,Paris\n")
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"the header of {str(path)!r} has an empty column name at position 2. "
        "Give every column a name, or pass has_header=False (CLI: --no-header) if the first "
        "row is data."
    )


def test_error_for_carriage_return_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path / "mac.csv", table(PEOPLE).replace("\n", "\r"))
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"{str(path)!r} ends its lines with a carriage return only (old Mac style), which the "
        "reader does not support. Save it again with Windows or Unix line endings."
    )


def test_error_for_an_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "people.docx", table(PEOPLE))
    with pytest.raises(UnsupportedError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith(f"cannot tell the format of {str(path)!r} (extension '.docx').")
    assert "Supported extensions: .csv, .txt, .tsv" in message
    assert "force it with format='csv' (CLI: --input-format csv)" in message
    assert read_table(path, format="csv").columns == tuple(PEOPLE[0])


def test_error_for_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(SettingError) as caught:
        read_table(write(tmp_path / "p.csv", table(PEOPLE)), format="parquett")
    assert str(caught.value) == (
        "format 'parquett' is not known. Did you mean 'parquet'? Formats: csv, tsv, parquet, "
        "xlsx, jsonl, sqlite, postgresql."
    )


def test_error_for_an_option_that_does_not_apply(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", table(PEOPLE))
    with pytest.raises(SettingError) as caught:
        read_table(path, sheet="Sheet1")
    assert str(caught.value) == (
        f"sheet= does not apply to {str(path)!r}, which is read as csv; it applies to xlsx."
    )


def test_error_for_a_long_delimiter(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match=r"the delimiter must be one character, not 2"):
        read_table(write(tmp_path / "p.csv", table(PEOPLE)), delimiter="||")


def test_no_message_shows_a_cell_value(tmp_path: Path) -> None:
    for i, text in enumerate([f"a,b\n{SECRET},1\n{SECRET}\n", f"a,b\n{SECRET},1,{SECRET}\n"]):
        with pytest.raises(MalformedTableError) as caught:
            read_table(write(tmp_path / f"s{i}.csv", text))
        assert SECRET not in str(caught.value)


# --- columns and collect --------------------------------------------------------------------


def test_check_columns_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", table(PEOPLE))
    source = read_table(path)
    check_columns(source, ["age", "city"])
    with pytest.raises(UnknownColumnError) as caught:
        check_columns(source, ["city", "agee"])
    assert str(caught.value) == (
        f"column 'agee' is not in {str(path)!r}. Did you mean 'age'? Its columns are: "
        "'name', 'city', 'age'."
    )


def test_collect_selects_columns(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "p.csv", table(PEOPLE)))
    assert collect(source, ["age"]).to_dict(as_series=False) == {"age": ["31", "47"]}
    with pytest.raises(UnknownColumnError):
        collect(source, ["ages"])


def test_collect_reports_a_file_changed_after_it_was_opened(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", table(PEOPLE))
    source = read_table(path)
    write(path, table([*PEOPLE, [SECRET, "Nice", "33", "extra"]]))
    with pytest.raises(MalformedTableError) as caught:
        collect(source)
    assert str(caught.value).startswith(f"line 4 of {str(path)!r} has 4 fields, expected 3")


def test_collect_reports_a_file_deleted_after_it_was_opened(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", table(PEOPLE))
    source = read_table(path)
    path.unlink()
    with pytest.raises(MalformedTableError) as caught:
        collect(source)
    assert str(caught.value) == (
        f"{str(path)!r} could not be read to the end; it may have changed since it was "
        "opened. Open it again with read_table to find the problem."
    )


def test_a_computation_failing_on_a_good_file_is_not_called_a_read_error(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "p.csv", table([*PEOPLE, [SECRET, "Nice", "33"]]))
    source = read_table(path)
    with pytest.raises(InvalidInputError) as caught, reading(source, "making the release"):
        source.frame.select(pl.col("name").cast(pl.Int64, strict=True)).collect()
    message = str(caught.value)
    assert message.startswith(f"making the release failed on {str(path)!r}")
    assert SECRET not in message
    assert "could not be read" not in message


def test_a_first_row_whose_values_recur_is_data(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", "Li,Wei,F\nZhang,San,M\nWang,Wu,F\n")
    source = read_table(path)
    assert source.columns == ("column_1", "column_2", "column_3")
    assert source.frame.collect().height == 3


@pytest.mark.parametrize(
    "columns",
    [["name", "address"], ["name", "address", "resident_id"], ["resident_id"], ["name"]],
)
def test_a_headerless_file_of_personal_data_is_never_taken_for_a_header(
    tmp_path: Path, columns: list[str]
) -> None:
    """The first person's name and address became column names, printed and signed."""
    from custodes.synth import population_register
    from custodes.workspace import open_table

    people = population_register(300, seed=11).select(columns)
    if "resident_id" in columns:  # IDs ending in X are not numbers
        people = people.sort(pl.col("resident_id").str.ends_with("X"), descending=True)
    path = tmp_path / "people.csv"
    people.write_csv(path, include_header=False)
    with pytest.raises(MalformedTableError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "--header or --no-header" in message
    assert not [v for v in people.row(0) if str(v) in message]
    assert read_table(path, has_header=False).columns[0] == "column_1"
    headed = tmp_path / "headed.csv"
    people.write_csv(headed)
    assert read_table(headed).columns == tuple(columns)
    chinese = tmp_path / "chinese.csv"
    names = {"name": "姓名", "address": "住址", "resident_id": "公民身份号码"}
    people.rename(names, strict=False).write_csv(chinese)
    if "name" in columns:  # 姓名 above names: the reader alone cannot tell, and asks ...
        from custodes.io import read_table as io_read_table

        with pytest.raises(MalformedTableError, match="--header or --no-header"):
            io_read_table(chinese)
    # ... the workspace knows column words (and personal data): a header.
    assert open_table(chinese).columns == tuple(names[c] for c in columns)


# --- content that is not what the name says; text no encoding fits ------------------------


def _compressed(kind: str, data: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    return {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}[kind](data)


@pytest.mark.parametrize(
    ("kind", "what", "tool"),
    [("gzip", "a gzip-compressed file", "gunzip"), ("bzip2", "a bzip2-compressed file", "bunzip2"),
     ("xz", "an xz-compressed file", "unxz")],
)  # fmt: skip
def test_error_for_a_compressed_file_named_csv(
    tmp_path: Path, kind: str, what: str, tool: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(_compressed(kind, table([*PEOPLE, [SECRET, "Nice", "33"]]).encode()))
    with pytest.raises(DataFileError) as caught:
        read_table(path)
    assert str(caught.value) == (
        f"{str(path)!r} is {what}, not text as its name or format says (read as csv). "
        f"Decompress it first (e.g. {tool} -k {str(path)!r}) and read the decompressed file."
    )


def test_error_for_other_binary_content_named_csv(tmp_path: Path) -> None:
    parquet = tmp_path / "p.csv"
    pl.DataFrame({"name": [SECRET]}).write_parquet(parquet)
    with pytest.raises(
        DataFileError, match=r"is a Parquet file, not text .* --input-format parquet"
    ):
        read_table(parquet)
    zstd = tmp_path / "z.tsv"
    zstd.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(range(256)))
    with pytest.raises(DataFileError, match="is a Zstandard-compressed file, not text"):
        read_table(zstd)
    gz = tmp_path / "g.parquet"
    gz.write_bytes(_compressed("gzip", b"a,b\n"))
    with pytest.raises(DataFileError, match="is a gzip-compressed file, not parquet content"):
        read_table(gz)


def test_text_starting_like_a_magic_number_is_still_text(tmp_path: Path) -> None:
    source = read_table(write(tmp_path / "par.csv", "PAR1,BZh9\nx,y\n"))
    assert source.columns == ("PAR1", "BZh9")


def test_error_for_a_utf8_line_in_a_gb18030_file(tmp_path: Path) -> None:
    rows = table(CHINESE).encode("gb18030") * 20
    path = tmp_path / "mixed.csv"
    path.write_bytes(rows + "王,天津,52\n".encode() + table(CHINESE[1:]).encode("gb18030"))
    with pytest.raises(EncodingError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith(
        f"{str(path)!r} does not decode as gb18030 (it was detected from the first 64 KiB): "
        f"the bytes at offset {len(rows) + 2} (line 61) are invalid"
    )
    assert "another encoding (such as UTF-8) than the rest of the file" in message


def test_utf8_header_of_a_gb18030_file_is_not_read_as_latin1(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("名,市,年\n".encode() + table(CHINESE[1:]).encode("gb18030") * 5)
    with pytest.raises(EncodingError, match=r"offset \d+ \(line 1\)"):
        read_table(path)


@pytest.mark.parametrize("encoding", ["big5", "shift_jis"])
def test_multibyte_text_in_another_encoding_is_not_read_as_latin1(
    tmp_path: Path, encoding: str
) -> None:
    text = "名前,都市\n" + "".join(f"山田太郎{i},東京\n" for i in range(20))
    path = write(tmp_path / "t.csv", text, encoding)
    with pytest.raises(EncodingError) as caught:
        read_table(path)
    assert str(caught.value).startswith(
        f"{str(path)!r} is not text in any encoding tried (utf-8, gb18030, cp1252, latin-1): "
        "the bytes at offset 0 (line 1) are not UTF-8"
    )
    forced = read_table(path, encoding=encoding)
    assert forced.columns == ("名前", "都市")


def test_a_first_person_unlike_the_others_is_not_taken_for_a_header(tmp_path: Path) -> None:
    """A minority name, a Latin name or an English file: one field of the first row could
    not be a value of its column, and that used to make the whole row a header."""
    from faker import Faker

    from custodes.synth import population_register
    from custodes.workspace import open_table

    Faker.seed(5)
    fake = Faker("en_US")
    people = population_register(60, seed=7)
    cases = {
        "minority.csv": [["买买提·吐尔逊", people["address"][0]]]
        + [[n, a] for n, a in zip(people["name"][1:], people["address"][1:], strict=True)],
        "english.csv": [["Alice Johnson", "12 Oak Road"]]
        + [[fake.name(), fake.street_address()] for _ in range(60)],
    }
    for name, rows in cases.items():
        path = tmp_path / name
        path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
        with pytest.raises(MalformedTableError, match="--header or --no-header") as caught:
            open_table(path)
        assert rows[0][0] not in str(caught.value)
    headed = tmp_path / "headed.csv"
    rows = [["姓名", "住址"]] + [
        [n, a] for n, a in zip(people["name"], people["address"], strict=True)
    ]
    headed.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    assert open_table(headed).columns == ("姓名", "住址")  # 姓名 is a column word


def test_a_codec_that_is_not_a_text_encoding_is_a_setting_error(tmp_path: Path) -> None:
    from custodes.errors import SettingError

    path = write(tmp_path / "t.csv", "name,city\nAnn,Paris\n")
    for codec in ("rot13", "base64"):
        with pytest.raises(SettingError, match="not a text encoding"):
            read_table(path, encoding=codec)


def test_open_table_lives_in_io_and_the_workspace_adds_its_header_judge(tmp_path: Path) -> None:
    """Any layer may open a table (a path, a frame or a source) without the workspace."""
    from custodes import io
    from custodes.workspace import TableLike, open_table

    assert TableLike is io.TableLike
    frame = pl.DataFrame({"a": [1], "b": ["x"]})
    source = io.open_table(frame)
    assert (source.columns, source.format) == (("a", "b"), "polars")
    assert io.open_table(source) is source
    assert io.open_table(write(tmp_path / "p.csv", table(PEOPLE))).columns == tuple(PEOPLE[0])
    assert io.is_text("p.csv", {})
    assert not io.is_text("p.parquet", {})
    assert io.is_text("p.parquet", {"format": "csv"})
    headed = write(tmp_path / "names.csv", "姓名,住址\n张伟,北京市朝阳区建国路8号\n")
    with pytest.raises(MalformedTableError, match="--header or --no-header"):
        io.open_table(headed)  # the reader alone cannot tell ...
    assert open_table(headed).columns == ("姓名", "住址")  # ... the workspace can


def test_nested_columns_cannot_take_privacy_roles() -> None:
    from custodes import Workspace
    from custodes import io as custodes_io
    from custodes.errors import UnsupportedError

    frame = pl.DataFrame({"a": [1], "tags": [["x", "y"]]})
    ws = Workspace()
    assert ws.engine.unsupported_columns(custodes_io.open_table(frame), ["a"]) == []
    with pytest.raises(UnsupportedError, match="column 'tags' of <table> holds List"):
        ws.assess(frame, quasi_identifiers=["tags"])
