"""The command line: figures, files, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custodes.cli import main
from tests.conftest import ADULT_QIS

QI = ",".join(ADULT_QIS)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_assess_adult_json(adult_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "assess",
            str(adult_dir / "adult.csv"),
            "--qi",
            QI,
            "--sensitive",
            "occupation",
            "--population",
            "usa",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    assert data["equivalence_classes"]["count"] == 12_458
    assert data["sample_uniques"]["records"] == 8_841
    assert round(data["marketer"]["success_rate"], 4) == 0.4130
    assert round(data["prosecutor"]["records_at_risk"], 4) == 0.5090
    assert data["population"]["dankar"]["model"] == "pitman"
    assert data["population"]["snb"] is None
    assert data["t_closeness"]["occupation"]["hierarchical"] is None


def test_sampling_fraction_picks_zayatz(
    adult_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["assess", str(adult_dir / "adult.csv"), "--qi", QI, "--sampling-fraction", "0.2"]
    code, out, _ = run([*argv, "--format", "json", "--no-combinations"], capsys)
    assert code == 0
    pop = json.loads(out)["population"]
    assert round(pop["pitman"] * 100, 2) == 17.63
    assert round(pop["zayatz"] * 100, 2) == 17.64
    assert pop["dankar"]["model"] == "zayatz"


def test_reports_are_written_to_files(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "assess",
        str(adult_dir / "adult.csv"),
        "--qi",
        "age,sex,race",
        "--sensitive",
        "occupation",
        "--hierarchy",
        f"occupation={adult_dir / 'adult_hierarchy_occupation.csv'}",
    ]
    for fmt, check in (("json", "{"), ("html", "<!DOCTYPE html>"), ("table", "k-anonymity")):
        target = tmp_path / f"report.{fmt}"
        code, out, err = run([*base, "--format", fmt, "--output", str(target)], capsys)
        assert code == 0, err
        assert out == ""
        assert target.read_text(encoding="utf-8").lstrip().startswith(check) or (
            check in target.read_text(encoding="utf-8")
        )
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["t_closeness"]["occupation"]["hierarchical"] is not None
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_output_shows_the_figures(
    adult_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["assess", str(adult_dir / "adult.csv"), "--qi", QI], capsys)
    assert code == 0
    assert "12,458" in out
    assert "29.31 %" in out
    assert "50.90 %" in out
    assert "census" in out


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    rows = ["name,age,sex,zip,diagnosis"]
    rows += [f"SECRETNAME{i},{20 + i % 30},{'MF'[i % 2]},1000{i % 7},D{i % 3}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--qi", "agee,sex"], "column 'agee' is not in"),
        (["--qi", "agee,sex"], "Did you mean 'age'?"),
        (["--qi", "age,sex", "--sensitive", "sex"], "column 'sex' is given two roles"),
        (["--qi", "age", "--population", "amurica"], "amurica"),
        (["--qi", "age", "--population", "usa", "--sampling-fraction", "0.1"], "either"),
        (["--qi", "age", "--sampling-fraction", "1.5"], "fraction"),
        (["--qi", "age", "--threshold", "3"], "must be in (0, 1]"),
        (["--qi", "age", "--sensitive", "diagnosis", "--hierarchy", "diagnosis"], "COLUMN=FILE"),
        (
            ["--qi", "age", "--sensitive", "diagnosis", "--hierarchy", "diagnosis=nope.csv"],
            "nope.csv",
        ),
        (["--qi", ""], "no quasi-identifiers"),
        # The parser would keep the last and quietly drop the first.
        (["--qi", "age", "--qi", "sex"], "the option --qi is given twice"),
        (["--qi=age", "--threshold", "0.1", "--qi", "sex"], "--qi a,b"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    people: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["assess", str(people), *args], capsys)
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert "SECRETNAME" not in err + out


def test_an_option_given_once_a_value_may_be_repeated(
    people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Repeatable options (--hierarchy) stay repeatable; a value may look like an option.
    for name in ("age", "zip"):
        (tmp_path / f"{name}.csv").write_text("", encoding="utf-8")
    _, _, err = run(
        [
            "assess",
            str(people),
            "--qi",
            "age,sex",
            "--sensitive",
            "zip,diagnosis",
            "--hierarchy",
            f"zip={tmp_path / 'zip.csv'}",
            "--hierarchy",
            f"diagnosis={tmp_path / 'age.csv'}",
            "--format",
            "json",
        ],
        capsys,
    )
    assert "given twice" not in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["assess", str(tmp_path / "nope.csv"), "--qi", "a"], capsys)
    assert code == 2
    assert "nope.csv" in err


def test_ragged_rows_name_the_line_not_the_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,SECRETVALUE,5\n", encoding="utf-8")
    code, _, err = run(["assess", str(path), "--qi", "a"], capsys)
    assert code == 2
    assert "line 3" in err
    assert "SECRETVALUE" not in err


def test_report_never_contains_data_values(
    people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("json", "html", "table"):
        target = tmp_path / f"r.{fmt}"
        code, _, _ = run(
            [
                "assess",
                str(people),
                "--qi",
                "name,age",
                "--sensitive",
                "diagnosis",
                "--identifying",
                "zip",
                "--format",
                fmt,
                "--output",
                str(target),
            ],
            capsys,
        )
        assert code == 0
        assert "SECRETNAME" not in target.read_text(encoding="utf-8")


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["assess"], capsys)
    assert code == 2
    assert "Missing argument" in err or "Missing option" in err


def test_settings_and_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["settings", "--workspace", str(tmp_path)], capsys)
    assert code == 0
    assert "risk_threshold" in out
    code, out, _ = run(["version"], capsys)
    assert code == 0
    assert out.startswith("custodes ")


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["demo", "--rows", "3000", "--workspace", str(tmp_path)], capsys)
    assert code == 0, err
    assert "3,000" in out
    report = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "census" in report
    raw = (tmp_path / "demo" / "register.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the demo writes GB18030, as many government exports are
    assert "register.csv" in out
    assert "release-manifest.json" in " ".join(out.split())
    assert (tmp_path / "demo" / "release.csv").exists()
    assert (tmp_path / "keys" / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    scan = json.loads((tmp_path / "demo" / "scan.json").read_text(encoding="utf-8"))
    assert scan["roles"]["identifying"] == ["resident_id", "name", "phone", "address"]
    assert {"sex", "birth_date", "region_code"} <= set(scan["roles"]["quasi_identifying"])
    assert "suggested grade" in out
    assert "with the roles the scan suggested" in out
    assert "remaining rho 0" in out
    assert "quantile(household_size, 0.5)" in out  # a median is answered, not an error
    assert "interval None" not in out
    assert "refused: your privacy budget on population-register cannot pay" in " ".join(out.split())
    flat = " ".join(out.split())
    assert "witnessed head: the auditor countersigned the ledger's head of size" in flat
    assert "consistent with the witnessed head of size" in flat
    assert "every step signed by its actor's own key" in flat
    inside = flat.split("audit in the workspace (the store reconciled with the ledger): ")[1]
    alone = flat.split("audit from the export alone (no store): ")[1]
    summary = "2 releases, charged civil-affairs 450.00 CNY of no limit, 3 DP queries paid, "
    assert inside.startswith(summary + "0 rejections, 0 anomalies")
    assert alone.startswith(summary + "0 rejections, 0 anomalies")
    disclosure = json.loads((tmp_path / "demo" / "disclosure.json").read_text(encoding="utf-8"))
    assert disclosure["witnessed_head"]["witness"] == "auditor"


def test_population_table_gives_journalist_risk(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import polars as pl

    adult = pl.read_csv(adult_dir / "adult.csv", separator=";", infer_schema=False)
    sample = tmp_path / "sample.parquet"
    adult.sample(n=3000, seed=7).write_parquet(sample)
    code, out, err = run(
        [
            "assess",
            str(sample),
            "--qi",
            "age,sex,race",
            "--population-table",
            str(adult_dir / "adult.csv"),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["journalist"]["basis"] == "population table"
    assert data["journalist"]["highest_risk"] <= data["prosecutor"]["highest_risk"]
    assert data["population"]["size"] == 30_162
    assert data["population"]["dankar"]["model"] == "population table"


def test_unexpected_errors_exit_70_without_details(
    monkeypatch: pytest.MonkeyPatch, people: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.workspace import Workspace

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SECRETNAME0 leaked by some library")

    monkeypatch.setattr(Workspace, "assess", boom)
    monkeypatch.delenv("CUSTODES_DEBUG", raising=False)
    code, _, err = run(["assess", str(people), "--qi", "age"], capsys)
    assert code == 70
    assert "this is a bug" in " ".join(err.split())
    assert "SECRETNAME0" not in err


def test_input_format_forces_a_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.dat"
    path.write_text("age;sex\n30;F\n30;F\n40;M\n", encoding="utf-8")
    code, _, err = run(["assess", str(path), "--qi", "age,sex"], capsys)
    assert code == 2
    assert "--input-format csv" in " ".join(err.split())
    code, out, _ = run(
        ["assess", str(path), "--qi", "age,sex", "--input-format", "csv", "--format", "json"],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["equivalence_classes"]["count"] == 2


def test_table_option_reads_a_database_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    db = tmp_path / "two.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (a text, b text)")
        conn.execute("create table u (x text)")
        conn.executemany("insert into t values (?, ?)", [("1", "x"), ("1", "x"), ("2", "y")])
    code, out, err = run(
        ["assess", f"sqlite:///{db}", "--table", "t", "--qi", "a,b", "--format", "json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["equivalence_classes"]["count"] == 2


def test_brackets_in_names_are_shown_not_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("[b]a,a[/x]\n1,2\n1,3\n", encoding="utf-8")
    code, out, err = run(["assess", str(path), "--qi", "[b]a,a[/x]"], capsys)
    assert code == 0, err
    assert "[b]a" in out
    assert "a[/x]" in out
    code, _, err = run(["assess", str(path), "--qi", "[/x]"], capsys)
    assert code == 2
    assert "error [unknown_column]: column '[/x]'" in " ".join(err.split())


def test_encoding_setting_applies_to_text_files_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import polars as pl

    parquet = tmp_path / "t.parquet"
    pl.DataFrame({"c": ["a", "b"]}).write_parquet(parquet)
    text = tmp_path / "t.csv"
    text.write_bytes("城市,n\n北京,1\n上海,2\n".encode("gb18030"))
    monkeypatch.setenv("CUSTODES_ENCODING", "gb18030")
    code, _, err = run(["assess", str(parquet), "--qi", "c"], capsys)
    assert code == 0, err
    code, out, err = run(["assess", str(text), "--qi", "城市", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["quasi_identifiers"] == ["城市"]


def test_no_header_and_tab_delimiter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.tsv"
    path.write_text("Li\tF\nZhang\tM\nWang\tM\n", encoding="utf-8")
    argv = ["assess", str(path), "--no-header", "--delimiter", "\\t", "--format", "json"]
    code, out, err = run([*argv, "--qi", "column_2"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["rows"] == 3
    assert data["equivalence_classes"]["count"] == 2


def test_non_finite_recursive_c_is_refused(
    people: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["assess", str(people), "--qi", "age", "--recursive-c", "nan"], capsys)
    assert code == 2
    assert "give a number" in err


def test_empty_table_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("age,sex\n", encoding="utf-8")
    code, _, err = run(["assess", str(path), "--qi", "age", "--population", "usa"], capsys)
    assert code == 2
    assert "has no records" in err


def test_population_with_thousands_separators(
    people: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["assess", str(people), "--qi", "age", "--format", "json", "--no-combinations"]
    code, out, err = run([*argv, "--population", "317,238,626"], capsys)
    assert code == 0, err
    assert json.loads(out)["population"]["size"] == 317_238_626


def test_json_reports_are_written_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes import cli

    monkeypatch.setattr(cli.out, "_width", 40)  # as on a terminal of COLUMNS=40
    name = ":thumbs_up: a column name longer than the terminal is wide"
    path = tmp_path / "t.csv"
    path.write_text(f"{name},age\nx,31\ny,47\n", encoding="utf-8")
    for command in ("scan", "assess"):
        argv = [command, str(path), "--format", "json", "--workspace", str(tmp_path / "ws")]
        code, out, err = run([*argv, *(["--qi", "age"] if command == "assess" else [])], capsys)
        assert code == 0, err
        data = json.loads(out)
        if command == "scan":
            assert data["columns"][0]["name"] == name  # no emoji, no line break


def test_a_headerless_file_of_people_leaves_no_value_in_any_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read with --header anyway: the first person's data becomes column names, which no
    output, report, error or ledger entry may show."""
    import polars as pl

    from custodes.synth import population_register

    people = population_register(400, seed=21).select(
        "name", "address", "resident_id", "sex", "household_size"
    )
    people = people.sort(pl.col("resident_id").str.ends_with("X"), descending=True)
    first = [str(v) for v in people.row(0)[:3]]
    data = tmp_path / "people.csv"
    people.write_csv(data, include_header=False)
    ws = tmp_path / "ws"
    assert main(["init", "--workspace", str(ws)]) == 0
    assert main(["scan", str(data), "--workspace", str(ws)]) == 0  # 男 recurs: data
    assert "column_1" in capsys.readouterr().out
    assert main(["scan", str(data), "--header", "--workspace", str(ws)]) == 0
    saved, page = tmp_path / "scan.json", tmp_path / "scan.html"
    argv = ["scan", str(data), "--header", "--workspace", str(ws)]
    assert main([*argv, "--format", "json", "--output", str(saved)]) == 0
    assert main([*argv, "--format", "html", "--output", str(page)]) == 0
    roles = json.loads(saved.read_text("utf-8"))["roles"]
    assert len(roles["identifying"]) == 3
    assert all(r.startswith("sha256:") for r in roles["identifying"])
    mistyped = ["assess", str(data), "--header", "--qi", first[0][:1], "--workspace", str(ws)]
    assert main(mistyped) == 2  # column not found: its columns are listed, names withheld
    export = tmp_path / "ledger.jsonl"
    assert main(["ledger", "export", "--output", str(export), "--workspace", str(ws)]) == 0
    printed = capsys.readouterr()
    artifacts = [saved, page, export]
    texts = [printed.out, printed.err, *(p.read_text("utf-8") for p in artifacts)]
    leaked = [(i, v) for i, text in enumerate(texts) for v in first if v in text]
    assert leaked == []
    assert "(a column whose name is withheld)" in printed.err


def test_anonymizing_parquet_leaves_the_detector_unloaded(tmp_path: Path) -> None:
    # A Parquet file's first row is never in doubt: the detector's recognizers (a third of
    # a second to import) are loaded only when a text file's first row needs judging.
    import subprocess
    import sys

    import polars as pl

    table = tmp_path / "people.parquet"
    pl.DataFrame({"sex": ["男", "女"] * 10, "age": [30, 40] * 10}).write_parquet(table)
    hierarchy = tmp_path / "sex.csv"
    hierarchy.write_text("男;*\n女;*\n", encoding="utf-8")
    run = (
        "import sys; from custodes.cli import main; "
        "code = main(['anonymize', sys.argv[1], '--qi', 'sex', '--hierarchy', "
        "f'sex={sys.argv[2]}', '--k', '2', '--output', sys.argv[3]]); "
        "print(code, 'custodes.detect' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", run, str(table), str(hierarchy), str(tmp_path / "out.parquet")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert found.stdout.split()[-2:] == ["0", "False"]
