"""Reading episode extracts (hospsim.config.extract): typed columns, defaults for missing optional
columns, the period, and one line naming the column and the first bad row for every bad extract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hospsim import cli
from hospsim.config import ConfigError, UserError
from hospsim.config import extract as ex
from hospsim.config.extract import (
    COLUMN_NAMES,
    EXTRACT_COLUMNS,
    describe_defaults,
    example_extract_path,
    read_extract,
)

HEADER = ",".join(COLUMN_NAMES)
# Three good spells: an emergency to a rehab unit (fit two days before discharge), an elective
# home, an emergency still in hospital at the end.
ROWS = [
    ["E1", "2021-01-04 08:00", "emergency", "frail", "2021-01-10 09:00", "2021-01-12 10:00", "rehab",
     "2021-01-12 10:00", "2021-02-01 12:00"],
    ["E2", "2021-01-05", "elective", "", "2021-01-08 10:00:00", "2021-01-08 10:00:00", "home", "", ""],
    ["E3", "2021-01-06T23:59:59", "emergency", "other", "", "", "", "", ""],
]  # fmt: skip


def write_csv(tmp_path: Path, rows: list[list[str]], header: str = HEADER, name: str = "extract.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def with_cell(row: int, column: str, value: str) -> list[list[str]]:
    """The good rows with one cell changed (``row``: 1-based data row)."""
    rows = [list(r) for r in ROWS]
    rows[row - 1][COLUMN_NAMES.index(column)] = value
    return rows


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        read_extract(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_good_extract_is_read_into_typed_columns(tmp_path):
    e = read_extract(write_csv(tmp_path, ROWS))
    ep = e.episodes
    assert (e.start_date, e.end_date, e.n_days, e.defaults_used) == (dt.date(2021, 1, 4), dt.date(2021, 2, 2), 29, ())
    assert ep["row"].tolist() == [1, 2, 3]
    assert ep["episode_id"].tolist() == ["E1", "E2", "E3"]
    assert ep["admission_method"].tolist() == ["emergency", "elective", "emergency"]
    assert ep["group"].astype(object).where(ep["group"].notna(), None).tolist() == ["frail", None, "other"]
    assert ep["discharge_pathway"].astype(object).where(ep["discharge_pathway"].notna(), None).tolist() == [
        "rehab",
        "home",
        None,
    ]
    assert ep["admission_datetime"].tolist() == [
        pd.Timestamp("2021-01-04 08:00"),
        pd.Timestamp("2021-01-05"),
        pd.Timestamp("2021-01-06 23:59:59"),
    ]
    # Days since the start date's midnight.
    assert ep["admission_days"].tolist() == pytest.approx([8 / 24, 1.0, 2 + 86399 / 86400])
    assert ep["discharge_days"].iloc[0] == pytest.approx(8 + 10 / 24)
    assert ep["medically_fit_days"].iloc[0] == pytest.approx(6 + 9 / 24)
    assert ep["service_end_days"].iloc[0] == pytest.approx(28 + 12 / 24)
    assert ep["discharge_days"].isna().tolist() == [False, False, True]


def test_documented_columns_are_the_ones_read():
    assert COLUMN_NAMES == (
        "episode_id",
        "admission_datetime",
        "admission_method",
        "group",
        "medically_fit_datetime",
        "discharge_datetime",
        "discharge_pathway",
        "service_start_datetime",
        "service_end_datetime",
    )
    assert [c.name for c in EXTRACT_COLUMNS if c.required] == [
        "admission_datetime",
        "admission_method",
        "discharge_datetime",
    ]
    assert all(c.default for c in EXTRACT_COLUMNS if not c.required)


def test_missing_optional_columns_take_their_defaults_said_once_each(tmp_path):
    header = "admission_datetime,admission_method,discharge_datetime"
    rows = [["2021-01-04 08:00", "emergency", "2021-01-06 08:00"], ["2021-01-05 12:00", "elective", ""]]
    e = read_extract(write_csv(tmp_path, rows, header))
    assert e.defaults_used == (
        "episode_id",
        "group",
        "medically_fit_datetime",
        "discharge_pathway",
        "service_start_datetime",
        "service_end_datetime",
    )
    ep = e.episodes
    assert ep["group"].astype(object).where(ep["group"].notna(), None).tolist() == ["all", None]
    # Medically fit when discharged; went home once discharged.
    assert ep["medically_fit_days"].tolist()[0] == ep["discharge_days"].tolist()[0] == pytest.approx(2 + 8 / 24)
    assert ep["discharge_pathway"].astype(object).where(ep["discharge_pathway"].notna(), None).tolist() == [
        "home",
        None,
    ]
    assert ep["service_start_datetime"].isna().all()
    assert ep["episode_id"].tolist() == ["", ""]
    lines = describe_defaults(e)
    assert len(lines) == 6
    assert lines[1] == f"{tmp_path / 'extract.csv'}: no column group: every emergency is in one group, all"
    assert lines[2].endswith(
        "no column medically_fit_datetime: taken as discharge_datetime: no delays after becoming medically fit"
    )
    assert describe_defaults(read_extract(write_csv(tmp_path, ROWS, name="full.csv"))) == []


def test_an_empty_fit_time_on_a_discharged_row_is_the_discharge(tmp_path):
    e = read_extract(write_csv(tmp_path, with_cell(1, "medically_fit_datetime", "")))
    assert e.episodes["medically_fit_days"].iloc[0] == e.episodes["discharge_days"].iloc[0]


def test_a_utf8_byte_order_mark_is_read_as_excel_writes_it(tmp_path):
    path = write_csv(tmp_path, ROWS)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_extract(path).episodes["episode_id"].tolist() == ["E1", "E2", "E3"]


def test_the_period_from_to_reads_the_extract_as_known_then(tmp_path):
    path = write_csv(tmp_path, ROWS)
    e = read_extract(path, start=dt.date(2021, 1, 5), end=dt.date(2021, 1, 9))
    ep = e.episodes
    assert (e.start_date, e.end_date) == (dt.date(2021, 1, 5), dt.date(2021, 1, 9))
    assert ep["episode_id"].tolist() == ["E2", "E3"]  # E1 was admitted before the period
    assert ep["row"].tolist() == [2, 3]
    assert ep["admission_days"].tolist() == pytest.approx([0.0, 1 + 86399 / 86400])
    # At 9 January E1 would still be in hospital: with --to 2021-01-09 its discharge is empty.
    e1 = read_extract(path, end=dt.date(2021, 1, 11)).episodes.iloc[0]
    assert pd.isna(e1["discharge_datetime"]) and pd.isna(e1["service_start_datetime"])
    assert e1["medically_fit_days"] == pytest.approx(6 + 9 / 24)
    assert e1["discharge_pathway"] == "rehab"  # fit by then, so referred
    e1 = read_extract(path, end=dt.date(2021, 1, 10)).episodes.iloc[0]
    assert pd.isna(e1["medically_fit_datetime"]) and pd.isna(e1["discharge_pathway"])


def test_a_period_without_admissions_or_backwards_is_one_line(tmp_path):
    path = write_csv(tmp_path, ROWS)
    assert error_of(path, start=dt.date(2021, 3, 1)) == (
        f"{path}: the period 2021-03-01 to 2021-02-02 is empty (--to must be after --from)"
    )
    assert error_of(path, start=dt.date(2021, 1, 9), end=dt.date(2021, 1, 9)) == (
        f"{path}: the period 2021-01-09 to 2021-01-09 is empty (--to must be after --from)"
    )
    assert error_of(path, start=dt.date(2021, 1, 9), end=dt.date(2021, 1, 20)) == (
        f"{path}: no admissions from 2021-01-09 to 2021-01-20 (the file has 2021-01-04 to 2021-02-01)"
    )


E2 = "row 2 (episode_id E2)"
E3 = "row 3 (episode_id E3)"

# (row, column, value) -> the message after "FILE: column C, ".
BAD_CELLS = [
    (2, "admission_datetime", "2021-13-01", f"{E2}: '2021-13-01' is not a datetime (expected YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD)"),
    (2, "admission_datetime", "05/01/2021", f"{E2}: '05/01/2021' is not a datetime (expected YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD)"),
    (2, "admission_datetime", "2021-02-30", f"{E2}: '2021-02-30' is not a datetime (expected YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD)"),
    (2, "admission_datetime", "", f"{E2}: empty; every spell has an admission"),
    (2, "admission_datetime", "1899-12-31", f"{E2}: '1899-12-31' is outside the years 1900-2200 (a typing error?)"),
    (3, "discharge_datetime", "2201-01-01", f"{E3}: '2201-01-01' is outside the years 1900-2200 (a typing error?)"),
    (2, "admission_datetime", "2021-01-05 10:00" + "x" * 80, f"{E2}: '2021-01-05 10:00...' is not a datetime (expected YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD)"),
    (2, "admission_method", "Emergency", f"{E2}: 'Emergency' is not a method (expected emergency or elective)"),
    (2, "admission_method", "", f"{E2}: '' is not a method (expected emergency or elective)"),
    (2, "discharge_datetime", "2021-01-04 23:00", f"{E2}: '2021-01-04 23:00:00' is before admission_datetime '2021-01-05 00:00:00'"),
    (1, "medically_fit_datetime", "2021-01-03", "row 1 (episode_id E1): '2021-01-03 00:00:00' is before admission_datetime '2021-01-04 08:00:00'"),
    (1, "medically_fit_datetime", "2021-01-12 10:01", "row 1 (episode_id E1): '2021-01-12 10:01:00' is after discharge_datetime '2021-01-12 10:00:00'"),
    (1, "service_start_datetime", "2021-01-12 09:00", "row 1 (episode_id E1): '2021-01-12 09:00:00' is before discharge_datetime '2021-01-12 10:00:00'"),
    (1, "service_end_datetime", "2021-01-11", "row 1 (episode_id E1): '2021-01-11 00:00:00' is before service_start_datetime '2021-01-12 10:00:00'"),
    (2, "service_start_datetime", "2021-01-09", f"{E2}: given, but discharge_pathway is home (no community service)"),
    (3, "service_start_datetime", "2021-01-09", f"{E3}: given, but discharge_datetime is empty (the patient is still in hospital)"),
    (2, "service_end_datetime", "2021-01-09", f"{E2}: given, but service_start_datetime is empty"),
    (1, "discharge_pathway", "Care Home", "row 1 (episode_id E1): 'Care Home' is not a pathway (home or a service name) in lower_snake_case (a-z, 0-9, _)"),
    (2, "discharge_pathway", "", f"{E2}: empty, but the patient was discharged (give home or the service's name)"),
    (3, "group", "Frail", f"{E3}: 'Frail' is not a group in lower_snake_case (a-z, 0-9, _)"),
    (3, "group", "", f"{E3}: empty; every emergency needs a group"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "column", "value", "problem"), BAD_CELLS)
def test_a_bad_cell_is_one_line_naming_column_and_row(tmp_path, row, column, value, problem):
    path = write_csv(tmp_path, with_cell(row, column, value))
    assert error_of(path) == f"{path}: column {column}, {problem}"


def test_an_electives_group_is_not_checked(tmp_path):
    e = read_extract(write_csv(tmp_path, with_cell(2, "group", "Trauma & Orthopaedics")))
    assert pd.isna(e.episodes["group"].iloc[1])


def test_the_first_bad_row_is_named_whatever_its_column(tmp_path):
    rows = with_cell(3, "admission_method", "emergncy")
    rows[1][COLUMN_NAMES.index("discharge_pathway")] = "Rehab"
    path = write_csv(tmp_path, rows)
    assert error_of(path) == f"{path}: column discharge_pathway, {E2}: 'Rehab' is not a pathway (home or a service name) in lower_snake_case (a-z, 0-9, _)"  # fmt: skip


def test_a_row_without_an_episode_id_is_named_by_its_number(tmp_path):
    rows = with_cell(2, "admission_method", "day_case")
    rows[1][0] = ""
    path = write_csv(tmp_path, rows)
    assert error_of(path) == f"{path}: column admission_method, row 2: 'day_case' is not a method (expected emergency or elective)"  # fmt: skip
    rows[1][0] = "a very long identifier with spaces in it"
    assert (
        error_of(write_csv(tmp_path, rows)).split(": ")[1]
        == "column admission_method, row 2 (episode_id 'a very long iden...')"
    )


def test_bad_files_are_one_line(tmp_path):
    missing = write_csv(
        tmp_path, [r[:5] + r[6:] for r in ROWS], ",".join(c for c in COLUMN_NAMES if c != "discharge_datetime")
    )
    assert error_of(missing) == f"{missing}: column discharge_datetime: missing (a required column)"
    renamed = write_csv(
        tmp_path, ROWS, HEADER.replace("discharge_datetime", "DischargeDate") + ",spec", name="renamed.csv"
    )
    assert error_of(renamed) == (
        f"{renamed}: column discharge_datetime: missing (a required column) "
        "(did you mean 'DischargeDate'? other columns: DischargeDate, spec)"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert error_of(empty) == f"{empty}: empty file (expected a header row and one row per spell)"
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n")
    assert error_of(blank) == f"{blank}: empty file (expected a header row and one row per spell)"
    header_only = write_csv(tmp_path, [], name="header.csv")
    assert error_of(header_only) == f"{header_only}: no rows (only a header)"
    twice = write_csv(tmp_path, [[*r, "x"] for r in ROWS], HEADER + ",group", name="twice.csv")
    assert error_of(twice) == f"{twice}: column group: appears twice in the header"
    wide = write_csv(tmp_path, [ROWS[0], [*ROWS[1], "extra"], ROWS[2]], name="wide.csv")
    assert error_of(wide) == f"{wide}: row 2: 10 fields, but the header has 9 (a comma in an unquoted value?)"
    nowhere = tmp_path / "nowhere.csv"
    assert error_of(nowhere) == f"{nowhere}: no such file"
    assert error_of(tmp_path) == f"{tmp_path}: not a file"
    xlsx = tmp_path / "extract.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    assert error_of(xlsx) == f"{xlsx}: expected a .csv or .parquet file"
    only_end = write_csv(tmp_path, [r[:7] + r[8:] for r in ROWS], ",".join(c for c in COLUMN_NAMES if c != "service_start_datetime"), name="end.csv")  # fmt: skip
    assert error_of(only_end) == f"{only_end}: column service_end_datetime: needs service_start_datetime too"


def test_text_that_is_not_utf8_is_one_line_naming_the_row(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = with_cell(3, "group", "caf\u00e9")  # "é" is byte 0xE9 in latin-1
    path.write_bytes(("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n").encode("latin-1"))
    assert error_of(path) == (
        f"{path}: row 3: byte 0xE9 is not UTF-8 (a latin-1 or Windows-1252 file?); save it as CSV UTF-8"
    )
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(HEADER + "\n", encoding="utf-16")
    assert error_of(utf16) == f"{utf16}: UTF-16 text; save it as CSV UTF-8"


def test_size_limits(tmp_path, monkeypatch):
    path = write_csv(tmp_path, ROWS)
    monkeypatch.setattr(ex, "MAX_EXTRACT_ROWS", 2)
    assert error_of(path) == f"{path}: 3 rows, more than the 2 an extract may have"
    parquet = tmp_path / "extract.parquet"
    pq.write_table(pa.table({c: [r[i] for r in ROWS] for i, c in enumerate(COLUMN_NAMES)}), parquet)
    assert error_of(parquet) == f"{parquet}: 3 rows, more than the 2 an extract may have"
    monkeypatch.setattr(ex, "MAX_EXTRACT_BYTES", 100)
    size = path.stat().st_size
    assert (
        error_of(path) == f"{path}: {size} bytes, more than the 100 bytes an extract may have; extract a shorter period"
    )


def test_the_ceilings_are_as_documented():
    assert ex.MAX_EXTRACT_BYTES == 2 * 1024**3
    assert ex.MAX_EXTRACT_ROWS == 20_000_000


def parquet_of(tmp_path: Path, columns: dict[str, pa.Array], name: str = "extract.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_text_and_timestamp_columns_read_as_csv_does(tmp_path):
    csv = read_extract(write_csv(tmp_path, ROWS))
    text = {c: pa.array([r[i] or None for r in ROWS], pa.string()) for i, c in enumerate(COLUMN_NAMES)}
    as_text = read_extract(parquet_of(tmp_path, text, "text.parquet"))
    stamps = dict(text)
    for c in ex.DATETIME_COLUMNS:
        stamps[c] = pa.array([pd.Timestamp(r[COLUMN_NAMES.index(c)]) if r[COLUMN_NAMES.index(c)] else None for r in ROWS], pa.timestamp("ms"))  # fmt: skip
    stamps["episode_id"] = pa.array(["E1", "E2", "E3"]).dictionary_encode()  # a categorical column
    as_stamps = read_extract(parquet_of(tmp_path, stamps, "stamps.parquet"))
    for other in (as_text, as_stamps):
        pd.testing.assert_frame_equal(other.episodes, csv.episodes)
        assert (other.start_date, other.end_date, other.defaults_used) == (csv.start_date, csv.end_date, ())


def test_bad_parquet_columns_are_one_line(tmp_path):
    text = {c: pa.array([r[i] for r in ROWS], pa.string()) for i, c in enumerate(COLUMN_NAMES)}
    zoned = dict(text, admission_datetime=pa.array([pd.Timestamp("2021-01-04 08:00", tz="UTC")] * 3))
    path = parquet_of(tmp_path, zoned, "zoned.parquet")
    assert error_of(path) == (
        f"{path}: column admission_datetime: timestamps with a time zone (UTC); write local times without one"
    )
    floats = dict(text, discharge_datetime=pa.array([1.5, 2.5, np.nan]))
    path = parquet_of(tmp_path, floats, "floats.parquet")
    assert error_of(path) == f"{path}: column discharge_datetime: holds double values; expected text or datetimes"
    stamped_method = dict(text, admission_method=pa.array([pd.Timestamp("2021-01-04")] * 3))
    path = parquet_of(tmp_path, stamped_method, "method.parquet")
    assert error_of(path) == f"{path}: column admission_method: holds datetimes; expected text"
    early = dict(text, admission_datetime=pa.array([pd.Timestamp("2021-01-04"), pd.Timestamp("1850-01-04"), None], pa.timestamp("us")))  # fmt: skip
    path = parquet_of(tmp_path, early, "early.parquet")
    assert error_of(path) == f"{path}: column admission_datetime, {E2}: '1850-01-04 00:00:00' is outside the years 1900-2200 (a typing error?)"  # fmt: skip
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    assert error_of(garbage).startswith(f"{garbage}: not a readable Parquet file (")


def test_an_extract_error_is_one_line_and_exit_2_from_the_command_line(tmp_path, monkeypatch, capsys):
    """A command that reads an extract (`hospsim fit`, `hospsim backtest`) lets ConfigError reach
    the command line's handler: one line on stderr, exit code 2, nothing on stdout."""
    path = write_csv(tmp_path, with_cell(2, "discharge_datetime", "2021-01-04 23:00"))
    assert issubclass(ConfigError, UserError)
    monkeypatch.setitem(cli.COMMANDS, "check", lambda args: read_extract(path))
    assert cli.main(["check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"hospsim: error: {path}: column discharge_datetime, {E2}: '2021-01-04 23:00:00' is before "
        "admission_datetime '2021-01-05 00:00:00'\n"
    )


def test_the_example_extract_is_valid_and_shipped():
    path = example_extract_path()
    assert path.name == "example_extract.csv" and path.is_file()
    e = read_extract(path)
    assert 150 <= len(e.episodes) <= 250
    assert e.defaults_used == ()
    assert set(e.episodes["admission_method"]) == {"emergency", "elective"}


DOC = Path(__file__).resolve().parents[1] / "docs" / "extract-format.md"


def test_the_format_page_documents_every_column_and_the_example():
    text = DOC.read_text()
    for column in EXTRACT_COLUMNS:
        required = "yes" if column.required else "no"
        assert f"| `{column.name}` | {required} |" in text, column.name
    assert text.splitlines()[0] == "# Episode extracts"  # README links to #episode-extracts land here
    first_rows = example_extract_path().read_text().splitlines()[:3]
    assert "```text\n" + "\n".join(first_rows) + "\n```" in text
    e = read_extract(example_extract_path())
    assert f"# {e.start_date} {e.end_date} {len(e.episodes)}" in text
    assert f"({len(e.episodes)} spells" in text


def test_the_site_sends_readme_links_to_the_format_page():
    import sys

    sys.path.insert(0, str(DOC.parents[1] / "tools"))
    import docs_pages

    anchors = docs_pages.anchor_pages(docs_pages.readme_sections(docs_pages.README.read_text()))
    assert docs_pages.for_site("[extracts](#episode-extracts)", "reference/outputs.md", anchors) == (
        "[extracts](../extract-format.md#episode-extracts)"
    )


def test_other_columns_are_ignored_and_named_when_a_required_one_is_missing(tmp_path):
    rows = [[*r, "x", "y"] for r in ROWS]
    e = read_extract(write_csv(tmp_path, rows, HEADER + ",specialty,ward"))
    assert "specialty" not in e.episodes.columns and len(e.episodes) == 3
    parquet = parquet_of(tmp_path, {"AdmissionDate": pa.array(["2021-01-01"]), "method": pa.array(["emergency"])})
    assert error_of(parquet) == (
        f"{parquet}: column admission_datetime: missing (a required column) "
        "(did you mean 'AdmissionDate'? other columns: AdmissionDate, method)"
    )


def test_a_short_row_has_its_last_values_empty(tmp_path):
    rows = [ROWS[0], ROWS[1], ROWS[2][:5]]  # E3 without its trailing empty cells
    e = read_extract(write_csv(tmp_path, rows))
    assert pd.isna(e.episodes["discharge_datetime"].iloc[2]) and len(e.episodes) == 3
