"""Broken and hostile 1C files: each is reported, the rest of the exchange still comes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.onec.models import InputIssue, StockExchange, StockOffer
from chalicelib.onec.reader import read_stock_exchange
from local.catalog import write_catalog

HEADER = '<?xml version="1.0" encoding="{encoding}"?>\n'
ROOT_START = '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07">\n'


def offers_xml(offers: str, *, only_changes: str = "false", encoding: str = "UTF-8") -> str:
    return (
        HEADER.format(encoding=encoding)
        + ROOT_START
        + f'<ПакетПредложений СодержитТолькоИзменения="{only_changes}"><Предложения>\n'
        + offers
        + "</Предложения></ПакетПредложений></КоммерческаяИнформация>\n"
    )


def offer(onec_id: str, quantity: str | None = None, extra: str = "") -> str:
    total = "" if quantity is None else f"<Количество>{quantity}</Количество>"
    return f"<Предложение><Ид>{onec_id}</Ид><Наименование>Гель {onec_id}</Наименование>{total}{extra}</Предложение>\n"


def read(folder: Path) -> tuple[StockExchange, dict[str, StockOffer]]:
    exchange = read_stock_exchange([folder])
    offers = {item.onec_id: item for item in exchange.offers()}
    return exchange, offers


def file_errors(exchange: StockExchange, name: str) -> list[InputIssue]:
    return [issue for issue in exchange.issues if issue.source == name and issue.offer is None]


@pytest.fixture()
def exchange_dir(tmp_path: Path) -> Path:
    """A folder with one valid offers file of 3 offers (`good.xml`)."""
    folder = tmp_path / "exchange"
    folder.mkdir()
    (folder / "good.xml").write_text(offers_xml(offer("a", "1") + offer("b", "2") + offer("c", "3")), "utf-8")
    return folder


def assert_good_file_read(offers: dict[str, StockOffer]) -> None:
    assert offers["a"].total == 1
    assert offers["b"].total == 2
    assert offers["c"].total == 3


def test_malformed_xml_at_end(exchange_dir: Path) -> None:
    # GIVEN a file whose offers are fine but whose end is cut off (an interrupted upload)
    text = offers_xml(offer("x1", "5") + offer("x2", "6"))
    (exchange_dir / "broken.xml").write_text(text[: len(text) - 40], "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN nothing of the broken file is produced, it is rejected with a reason, the good file passes
    assert "x1" not in offers
    assert "x2" not in offers
    assert exchange.rejected_sources == {"broken.xml"}
    errors = file_errors(exchange, "broken.xml")
    assert len(errors) == 1
    assert errors[0].severity == "error"
    assert "повреждён или обрезан" in errors[0].message
    assert_good_file_read(offers)


def test_billion_laughs_rejected(exchange_dir: Path) -> None:
    # GIVEN an entity-expansion bomb
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    bomb = f'<?xml version="1.0"?>\n<!DOCTYPE КоммерческаяИнформация [{entities}]>\n' + ROOT_START
    bomb += '<ПакетПредложений><Предложения><Предложение><Ид>bomb</Ид><Наименование>&lol9;</Наименование>'
    bomb += "<Количество>1</Количество></Предложение></Предложения></ПакетПредложений></КоммерческаяИнформация>"
    (exchange_dir / "bomb.xml").write_text(bomb, "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the bomb is rejected as unsafe before any expansion, and the good file passes
    assert "bomb" not in offers
    assert exchange.rejected_sources == {"bomb.xml"}
    errors = file_errors(exchange, "bomb.xml")
    assert len(errors) == 1
    assert "DTD" in errors[0].message
    assert_good_file_read(offers)


def test_external_entity_rejected(exchange_dir: Path, tmp_path: Path) -> None:
    # GIVEN a file whose entity points at a local secret file
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-VALUE", "utf-8")
    text = (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n' + ROOT_START
        + "<ПакетПредложений><Предложения><Предложение><Ид>xxe</Ид><Наименование>&xxe;</Наименование>"
        + "<Количество>1</Количество></Предложение></Предложения></ПакетПредложений></КоммерческаяИнформация>"
    )
    (exchange_dir / "xxe.xml").write_text(text, "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the file is rejected, the secret appears nowhere, and the good file passes
    assert "xxe" not in offers
    assert exchange.rejected_sources == {"xxe.xml"}
    assert all("SECRET-VALUE" not in str(issue) for issue in exchange.issues)
    assert all(item.name != "SECRET-VALUE" for item in offers.values())
    assert_good_file_read(offers)


def test_external_dtd_rejected(exchange_dir: Path, tmp_path: Path) -> None:
    # GIVEN a file that references an external DTD on the local disk
    dtd = tmp_path / "cml.dtd"
    dtd.write_text('<!ENTITY name "Подмена">', "utf-8")
    text = offers_xml(offer("d", "1")).replace(ROOT_START, f'<!DOCTYPE КоммерческаяИнформация SYSTEM "{dtd.as_uri()}">\n' + ROOT_START)
    (exchange_dir / "dtd.xml").write_text(text, "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the file is rejected and the good file passes
    assert "d" not in offers
    assert exchange.rejected_sources == {"dtd.xml"}
    assert_good_file_read(offers)


def test_empty_file_rejected(exchange_dir: Path) -> None:
    # GIVEN an empty file next to a good one
    (exchange_dir / "empty.xml").write_bytes(b"")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the empty file is rejected as empty
    assert exchange.rejected_sources == {"empty.xml"}
    errors = file_errors(exchange, "empty.xml")
    assert len(errors) == 1
    assert "пуст" in errors[0].message
    assert_good_file_read(offers)


def test_undecodable_bytes_rejected(exchange_dir: Path) -> None:
    # GIVEN a file declared UTF-8 but holding windows-1251 bytes
    (exchange_dir / "cp.xml").write_bytes(offers_xml(offer("u", "1")).encode("windows-1251"))

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the file is rejected and the good file passes
    assert "u" not in offers
    assert exchange.rejected_sources == {"cp.xml"}
    assert_good_file_read(offers)


def test_unknown_root_rejected(exchange_dir: Path) -> None:
    # GIVEN an XML file that is not CommerceML
    (exchange_dir / "feed.xml").write_text('<?xml version="1.0"?><yml_catalog><shop/></yml_catalog>', "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN it is rejected with the root element named
    errors = file_errors(exchange, "feed.xml")
    assert len(errors) == 1
    assert "yml_catalog" in errors[0].message
    assert_good_file_read(offers)


def test_duplicate_offer_skipped(exchange_dir: Path) -> None:
    # GIVEN a file where offer "dup" appears twice, far apart
    text = offers_xml(offer("dup", "1") + offer("ok", "4") + offer("dup", "9"))
    (exchange_dir / "dups.xml").write_text(text, "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN both copies are skipped with one error naming the file and the offer
    assert "dup" not in offers
    assert offers["ok"].total == 4
    issues = [issue for issue in exchange.issues if issue.offer == "dup"]
    assert len(issues) == 1
    assert issues[0].source == "dups.xml"
    assert issues[0].severity == "error"
    assert "dups.xml, offer dup" in str(issues[0])
    assert_good_file_read(offers)


def test_negative_quantity_warned(exchange_dir: Path) -> None:
    # GIVEN an offer with stock -3
    (exchange_dir / "neg.xml").write_text(offers_xml(offer("neg", "-3")), "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN it is pushed as 0 with a warning naming file, offer and value
    assert offers["neg"].total == 0
    issues = [issue for issue in exchange.issues if issue.offer == "neg"]
    assert len(issues) == 1
    assert issues[0].severity == "warning"
    assert issues[0].source == "neg.xml"
    assert issues[0].value == "-3"
    assert "передан как 0" in issues[0].message


def test_fractional_quantity_skipped(exchange_dir: Path) -> None:
    # GIVEN an offer with 2.5 units and one with a per-warehouse 1,5
    text = offers_xml(
        offer("half", "2.5") + offer("wh", None, '<Склад ИдСклада="w1" КоличествоНаСкладе="1,5"/>') + offer("whole", "12.000")
    )
    (exchange_dir / "frac.xml").write_text(text, "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN both fractional offers are skipped with errors naming the value; "12.000" is 12
    assert "half" not in offers
    assert "wh" not in offers
    assert offers["whole"].total == 12
    half = [issue for issue in exchange.issues if issue.offer == "half"]
    assert len(half) == 1
    assert half[0].severity == "error"
    assert half[0].value == "2.5"
    assert "дробный" in half[0].message
    assert [issue.value for issue in exchange.issues if issue.offer == "wh"] == ["1,5"]


def test_non_numeric_quantity_skipped(exchange_dir: Path) -> None:
    # GIVEN an offer whose quantity is text
    (exchange_dir / "text.xml").write_text(offers_xml(offer("txt", "много")), "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN it is skipped with an error that shows the value
    assert "txt" not in offers
    issues = [issue for issue in exchange.issues if issue.offer == "txt"]
    assert len(issues) == 1
    assert issues[0].value == "много"
    assert_good_file_read(offers)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12,000", 12), ("1\u00a0200", 1200), (" 7 ", 7), ("12.0", 12), ("0", 0)],
)
def test_decimal_comma_and_separators(tmp_path: Path, text: str, expected: int) -> None:
    # GIVEN a quantity written with a decimal comma, NBSP thousands separator or padding
    (tmp_path / "offers.xml").write_text(offers_xml(offer("q", text)), "utf-8")

    # WHEN it is read
    exchange, offers = read(tmp_path)

    # THEN it is the whole number, without issues
    assert offers["q"].total == expected
    assert exchange.issues == []


def test_windows_1251_declared(exchange_dir: Path) -> None:
    # GIVEN a windows-1251 file with the encoding in its XML declaration
    text = offers_xml(offer("ц1", "4"), encoding="windows-1251")
    (exchange_dir / "cp1251.xml").write_bytes(text.encode("windows-1251"))

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the Cyrillic id and name are decoded by the declaration
    assert offers["ц1"].name == "Гель ц1"
    assert offers["ц1"].total == 4
    assert exchange.rejected_sources == set()


def test_missing_quantity_in_change_package(tmp_path: Path) -> None:
    # GIVEN a change package with one offer without quantity and one deleted offer without quantity
    text = offers_xml(
        offer("none") + offer("gone", None, "<ПометкаУдаления>true</ПометкаУдаления>") + offer("five", "5"),
        only_changes="true",
    )
    (tmp_path / "delta.xml").write_text(text, "utf-8")

    # WHEN it is read
    exchange, offers = read(tmp_path)

    # THEN the offer without stock information is skipped, the deleted one is kept as deleted
    assert "none" not in offers
    assert offers["gone"].deleted is True
    assert offers["five"].total == 5
    assert exchange.only_changes is True


def test_missing_quantity_in_full_package(tmp_path: Path) -> None:
    # GIVEN a full package with an offer without Количество
    (tmp_path / "full.xml").write_text(offers_xml(offer("none") + offer("deleted", "3", "<Статус>Удален</Статус>")), "utf-8")

    # WHEN it is read
    exchange, offers = read(tmp_path)

    # THEN the offer counts as zero stock, and the status marks the other as deleted
    assert offers["none"].total == 0
    assert offers["deleted"].deleted is True
    assert exchange.only_changes is False


def test_change_flag_as_trailing_element(tmp_path: Path) -> None:
    # GIVEN a package whose СодержитТолькоИзменения is a child element after the offers
    text = offers_xml(offer("none") + offer("one", "1")).replace(
        '<ПакетПредложений СодержитТолькоИзменения="false">', "<ПакетПредложений>"
    ).replace("</Предложения>", "</Предложения><СодержитТолькоИзменения>true</СодержитТолькоИзменения>")
    (tmp_path / "offers.xml").write_text(text, "utf-8")

    # WHEN it is read
    exchange, offers = read(tmp_path)

    # THEN the flag is honoured although it comes last
    assert exchange.only_changes is True
    assert "none" not in offers
    assert offers["one"].total == 1


def test_rejected_file_keeps_other_files(tmp_path: Path) -> None:
    # GIVEN a generated catalog and a broken rests file in the same exchange
    write_catalog(tmp_path, skus=40)
    (tmp_path / "rests.xml").write_text(offers_xml(offer("r", "1"))[:-30], "utf-8")

    # WHEN the exchange is read
    exchange, offers = read(tmp_path)

    # THEN all 40 generated offers still come through
    assert len(offers) == 40
    assert exchange.rejected_sources == {"rests.xml"}


def test_csv_without_format_rejected(exchange_dir: Path) -> None:
    # GIVEN a CSV file in an exchange read without a CSV format
    (exchange_dir / "stock.csv").write_text("Ид;Количество\nz;1\n", "windows-1251")

    # WHEN the exchange is read
    exchange, offers = read(exchange_dir)

    # THEN the CSV is rejected with a hint to configure it, the XML passes
    assert exchange.rejected_sources == {"stock.csv"}
    assert "CsvFormat" in file_errors(exchange, "stock.csv")[0].message
    assert_good_file_read(offers)
