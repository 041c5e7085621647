"""Cost inputs: the cost CSV, the operator's CSV and a 1C price type."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from chalicelib.onec.errors import RejectedFileError
from chalicelib.prices.inputs import build_matrix, read_costs_csv, read_operator_csv
from chalicelib.prices.onec_prices import read_onec_costs

UT11_PRICES = "fixtures/commerceml/06-ut11-split-2.09/prices___d66a6b51-ce9c-4e7a-8c7c-25079721107f.xml"
UT11_PRICE_TYPE = "4d968229-47ba-11e4-a628-003048c64779"

OFFERS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07">
  <ПакетПредложений>
    <Предложения>
{offers}
    </Предложения>
  </ПакетПредложений>
</КоммерческаяИнформация>
"""

OFFER = """      <Предложение><Ид>{id}</Ид><Артикул>{article}</Артикул><Цены>
        <Цена><ИдТипаЦены>retail</ИдТипаЦены><ЦенаЗаЕдиницу>9999</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена>
        <Цена><ИдТипаЦены>purchase</ИдТипаЦены><ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу><Валюта>{currency}</Валюта></Цена>
      </Цены></Предложение>"""


def write_offers(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    body = "\n".join(OFFER.format(id=i, article=a, price=p, currency=c) for i, a, p, c in rows)
    path.write_text(OFFERS_XML.format(offers=body), encoding="utf-8")
    return path


def test_costs_csv_bad_values(tmp_path):
    # GIVEN a cost CSV with one good row and the bad values 1C and people produce
    path = tmp_path / "costs.csv"
    path.write_text("offer_id;cost\nPH-1;1499,90\nPH-2;NaN\nPH-3;inf\nPH-4;1e3\nPH-5;-10\nPH-6;\n"
                    "PH-7;10.555\nPH-8;0\n", encoding="utf-8")

    # WHEN read
    costs, issues = read_costs_csv(path)

    # THEN the good row is 1499.90 and each bad one is an issue naming its SKU and value
    assert costs == {"PH-1": D("1499.90")}
    assert [issue.offer for issue in issues] == [f"PH-{n}" for n in range(2, 9)]
    for issue in issues:
        assert issue.offer in issue.message
        assert repr(issue.value) in issue.message


def test_operator_csv(tmp_path):
    path = tmp_path / "operator.csv"
    path.write_text("offer_id,category,logistics,fee_percent,acquiring_percent,vat,currency\n"
                    "PH-1,household,45,15,1.5,0.2,RUB\n"
                    "PH-2,household,45,15,1.5,0.18,RUB\n"
                    "PH-3,household,45,150,1.5,0.2,RUB\n", encoding="utf-8")

    rows, issues = read_operator_csv(path)

    assert [row.offer_id for row in rows] == ["PH-1"]
    assert rows[0].logistics == D("45")
    assert rows[0].vat == D("0.2")
    assert {issue.offer: issue.value for issue in issues} == {"PH-2": "0.18", "PH-3": "150"}


def test_matrix_rejects_unknown_category(tmp_path):
    # GIVEN operator rows of a known and an unknown category, and a SKU without cost
    path = tmp_path / "operator.csv"
    path.write_text("offer_id;category;logistics;fee_percent;acquiring_percent;vat;currency\n"
                    "PH-1;household;45;15;1,5;0,2;RUB\nPH-2;garden;45;15;1.5;0.2;RUB\n"
                    "PH-3;household;45;15;1.5;0.2;RUB\n", encoding="utf-8")
    rows, _ = read_operator_csv(path)

    # WHEN joined with costs
    build = build_matrix(rows, {"PH-1": D(100), "PH-2": D(100)}, {"household"})

    # THEN only the complete SKU of a known category is in the matrix
    assert [row.offer_id for row in build.rows] == ["PH-1"]
    assert {issue.offer for issue in build.issues} == {"PH-2", "PH-3"}
    assert "'garden'" in next(i.message for i in build.issues if i.offer == "PH-2")


def test_onec_price_type(tmp_path):
    # GIVEN offers with a retail and a purchase price, one written with a decimal comma
    path = write_offers(tmp_path / "offers.xml", [("g-1", "PH-1", "1499,90", "RUB"), ("g-2", "PH-2", "120", "руб"),
                                                  ("g-3", "PH-3", "NaN", "RUB"), ("g-4", "PH-4", "1e3", "RUB")])

    # WHEN the purchase price type is read
    result = read_onec_costs(path, "purchase")

    # THEN costs are Decimal, the bad ones are issues naming the SKU
    assert result.costs == {"PH-1": D("1499.90"), "PH-2": D("120")}
    assert result.currencies["PH-2"] == "RUB"
    assert {issue.offer: issue.value for issue in result.issues} == {"PH-3": "NaN", "PH-4": "1e3"}


def test_onec_keyed_by_id(tmp_path):
    path = write_offers(tmp_path / "offers.xml", [("g-1", "PH-1", "10", "RUB")])
    assert read_onec_costs(path, "purchase", key="id").costs == {"g-1": D("10")}


def test_onec_ut11_fixture(shared_dir):
    # GIVEN a УТ 11 prices file of 978 offers keyed by 1C id
    result = read_onec_costs(shared_dir / UT11_PRICES, UT11_PRICE_TYPE, key="id")

    # THEN every offer has its price as Decimal
    assert len(result.costs) == 978
    assert result.costs["26b0dc1e-4d66-11e4-99fe-003048c64779"] == D("181")
    assert result.issues == []


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE x [<!ENTITY boom "boom">]>',
    '<!DOCTYPE x SYSTEM "http://127.0.0.1/evil.dtd">',
])
def test_onec_refuses_dtd(tmp_path, prolog):
    # GIVEN an offers file with a DTD WHEN read THEN the file is rejected before parsing
    path = write_offers(tmp_path / "offers.xml", [("g-1", "PH-1", "10", "RUB")])
    text = path.read_text(encoding="utf-8").replace("?>\n", "?>\n" + prolog + "\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RejectedFileError, match="DTD"):
        read_onec_costs(path, "purchase")
