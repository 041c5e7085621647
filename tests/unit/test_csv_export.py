"""CSV stock lists saved from 1C reports (windows-1251, `;`, decimal comma)."""

from __future__ import annotations

from pathlib import Path

from chalicelib.onec.csv_export import CsvFormat
from chalicelib.onec.models import StockExchange, StockOffer
from chalicelib.onec.reader import read_stock_exchange

REPORT_FORMAT = CsvFormat(
    offer_id="Код 1С",
    article="Артикул",
    code=None,
    name="Номенклатура",
    total="Остаток",
    warehouses={"Подольск": "wh-podolsk", "Казань": "wh-kazan"},
)


def read_csv_file(path: Path, csv_format: CsvFormat) -> tuple[StockExchange, dict[str, StockOffer]]:
    exchange = read_stock_exchange([path], csv_format=csv_format)
    offers = {offer.onec_id: offer for offer in exchange.offers()}
    return exchange, offers


def write_report(path: Path, rows: list[str], *, encoding: str = "windows-1251") -> Path:
    header = "Код 1С;Артикул;Номенклатура;Остаток;Подольск;Казань"
    path.write_bytes("\r\n".join([header, *rows, ""]).encode(encoding))
    return path


def test_report_columns(tmp_path: Path) -> None:
    # GIVEN a windows-1251 report with configured columns and a decimal comma
    path = write_report(
        tmp_path / "ostatki.csv",
        [
            "00-001;HC-000001;Средство для мытья посуды «Блеск» 500 мл;12,000;5;7",
            "00-002;HC-000002;Гель для стирки «Лотос» 1 л;1\u00a0200;1\u00a0000;200",
        ],
    )

    # WHEN the file is read
    exchange, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN each row is an offer with its name, total and warehouse quantities
    assert offers["00-001"].name == "Средство для мытья посуды «Блеск» 500 мл"
    assert offers["00-001"].article == "HC-000001"
    assert offers["00-001"].total == 12
    assert offers["00-001"].by_warehouse == {"wh-podolsk": 5, "wh-kazan": 7}
    assert offers["00-002"].total == 1200
    assert offers["00-002"].code is None
    assert exchange.only_changes is False
    assert exchange.issues == []


def test_bad_rows_reported(tmp_path: Path) -> None:
    # GIVEN a report with a fractional, a negative, a text and an id-less row among good ones
    path = write_report(
        tmp_path / "ostatki.csv",
        [
            "00-001;HC-1;Гель;2,5;;",
            "00-002;HC-2;Порошок;-4;;",
            "00-003;HC-3;Мыло;нет;;",
            ";HC-4;Отбеливатель;3;;",
            "00-005;HC-5;Освежитель;8;;",
        ],
    )

    # WHEN the file is read
    exchange, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN each bad row has an issue with its row number, and the good rows come through
    assert set(offers) == {"00-002", "00-005"}
    assert offers["00-002"].total == 0
    by_offer = {issue.offer: issue for issue in exchange.issues}
    assert by_offer["00-001"].severity == "error"
    assert by_offer["00-001"].message.startswith("строка 2:")
    assert by_offer["00-002"].severity == "warning"
    assert by_offer["00-003"].value == "нет"
    assert by_offer["строка 5"].severity == "error"
    assert exchange.rejected_sources == set()


def test_empty_cell_in_full_list(tmp_path: Path) -> None:
    # GIVEN a full list where a row has no quantity at all
    path = write_report(tmp_path / "ostatki.csv", ["00-001;HC-1;Гель;;;"])

    # WHEN the file is read
    _, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN the offer is read with zero stock
    assert offers["00-001"].total == 0


def test_duplicate_rows_skipped(tmp_path: Path) -> None:
    # GIVEN two rows with the same 1C code
    path = write_report(tmp_path / "ostatki.csv", ["00-001;HC-1;Гель;1;;", "00-001;HC-1;Гель;2;;", "00-002;HC-2;Мыло;3;;"])

    # WHEN the file is read
    exchange, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN both copies are skipped with one error
    assert set(offers) == {"00-002"}
    assert [issue.offer for issue in exchange.issues] == ["00-001"]


def test_missing_column_rejected(tmp_path: Path) -> None:
    # GIVEN a report without the configured warehouse column "Казань"
    path = tmp_path / "ostatki.csv"
    path.write_bytes("Код 1С;Артикул;Номенклатура;Остаток;Подольск\r\n00-001;A;Гель;1;1\r\n".encode("windows-1251"))

    # WHEN the file is read
    exchange, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN the whole file is rejected with the missing column named
    assert offers == {}
    assert exchange.rejected_sources == {str(path)}
    assert "'Казань'" in exchange.issues[0].message


def test_wrong_encoding_rejected(tmp_path: Path) -> None:
    # GIVEN a report with byte 0x98, which windows-1251 does not define
    path = tmp_path / "ostatki.csv"
    path.write_bytes("Код 1С;Артикул;Номенклатура;Остаток;Подольск;Казань\r\n".encode("windows-1251") + b"00-001;A;\x98;1;1;1\r\n")

    # WHEN the file is read
    exchange, offers = read_csv_file(path, REPORT_FORMAT)

    # THEN the file is rejected with the encoding named
    assert offers == {}
    assert "windows-1251" in exchange.issues[0].message


def test_utf8_semicolon_defaults(tmp_path: Path) -> None:
    # GIVEN a UTF-8 file with a BOM and the default column names
    path = tmp_path / "stock.csv"
    path.write_text("Ид;Артикул;Код;Наименование;Количество\nabc#def;HC-000123;00-1;Жидкое мыло;3,0\n", "utf-8-sig")

    # WHEN it is read with the default format but UTF-8
    _, offers = read_csv_file(path, CsvFormat(encoding="utf-8-sig"))

    # THEN the variant id and every column are read
    assert offers["abc#def"].article == "HC-000123"
    assert offers["abc#def"].code == "00-1"
    assert offers["abc#def"].total == 3
