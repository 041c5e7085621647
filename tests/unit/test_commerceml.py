"""CommerceML exports from real 1C exchanges, read through `read_stock_exchange`.

Expected numbers were counted in the XML files themselves (grep/awk over the
`Предложение`, `Количество` and `Склад` elements).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.onec.models import StockOffer
from chalicelib.onec.reader import read_stock_exchange
from local.catalog import catalog_warehouses, write_catalog, write_change_package


def read_folder(folder: Path) -> tuple[object, dict[str, StockOffer]]:
    exchange = read_stock_exchange([folder])
    offers = {offer.onec_id: offer for offer in exchange.offers()}
    return exchange, offers


@pytest.fixture(scope="module")
def fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "commerceml"


def test_official_sample(fixtures: Path) -> None:
    # GIVEN the 1C reference sample: 2 variant offers, Количество 0, no Артикул anywhere
    exchange, offers = read_folder(fixtures / "01-official-1c-2.04")

    # THEN both offers come through as a full package with zero stock
    assert len(offers) == 2
    assert exchange.only_changes is False
    assert all("#" in onec_id for onec_id in offers)
    assert {offer.total for offer in offers.values()} == {0}
    assert {offer.article for offer in offers.values()} == {None}
    assert exchange.issues == []


def test_cscart_variants_join_parent(fixtures: Path) -> None:
    # GIVEN 1455 variant offers, 1374 of them without Количество, in a full package
    exchange, offers = read_folder(fixtures / "02-cscart-2.04-variants-big")

    # THEN every offer is read, missing quantities count as 0, and the article comes from the parent good
    assert len(offers) == 1455
    assert exchange.only_changes is False
    assert sum(offer.total == 0 for offer in offers.values()) == 1374
    assert sum(offer.total for offer in offers.values()) == 1845
    boot = offers["bd72d910-55bc-11d9-848a-00112f43529a#3df1947d-7886-11df-b33a-0011955cba6b"]
    assert boot.article == "Б-130001"
    assert boot.name == "Женские ботфорты (43, 5, натуральная кожа, Бежевый)"
    assert boot.total == 10


def test_readyscript_change_package(fixtures: Path) -> None:
    # GIVEN a change package where the parent good is an offer next to its variant
    exchange, offers = read_folder(fixtures / "03-readyscript-2.05-partial")

    # THEN both are offers, with their own quantities, and the exchange is a change package
    assert exchange.only_changes is True
    assert offers["421a531a-995e-11e3-9e81-00241d337dcd"].total == 0
    assert offers["421a531a-995e-11e3-9e81-00241d337dcd#fd3fdddb-9964-11e3-9e81-00241d337dcd"].total == 9
    assert offers["421a531a-995e-11e3-9e81-00241d337dcd"].article == "П2"


def test_no_stock_package(fixtures: Path) -> None:
    # GIVEN 103 offers without any quantity and without the СодержитТолькоИзменения flag
    exchange, offers = read_folder(fixtures / "04-bitrix-made-2.05-no-stock")

    # THEN the file is read as a change package: only the 6 deleted offers carry stock information
    assert exchange.only_changes is True
    assert len(offers) == 6
    assert all(offer.deleted for offer in offers.values())
    warnings = [issue for issue in exchange.issues if issue.severity == "warning"]
    assert len(warnings) == 1
    assert warnings[0].value == "97"
    assert exchange.rejected_sources == set()


def test_multiwarehouse_attributes(fixtures: Path) -> None:
    # GIVEN 44 offers with Количество and three <Склад ИдСклада КоличествоНаСкладе/> each
    exchange, offers = read_folder(fixtures / "05-multiwarehouse-2.07")

    # THEN the warehouses are named and each offer's warehouse quantities sum to its total
    assert len(offers) == 44
    assert set(exchange.warehouses.values()) == {"Владивосток", "Новосибирск", "Москва"}
    for offer in offers.values():
        assert len(offer.by_warehouse) == 3
        assert sum(offer.by_warehouse.values()) == offer.total
    assert sum(offer.total for offer in offers.values()) == 2815
    mat = offers["bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1"]
    assert mat.article == "PM-421-WP"
    assert mat.by_warehouse == {
        "6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1": 1,
        "d2a52d49-19c9-11e7-80c2-0cc47ab29cd1": 0,
        "dd306af1-19c9-11e7-80c2-0cc47ab29cd1": 376,
    }


def test_ut11_split_rests(fixtures: Path) -> None:
    # GIVEN a classifier with the warehouse, a prices file and a rests file (nested Остатки), one -1
    exchange, offers = read_folder(fixtures / "06-ut11-split-2.09")
    negative = "633e7908-4eb6-11e4-99fe-003048c64779"
    warehouse = "5d1caeb1-44b2-11e4-a628-003048c64779"

    # THEN prices and rests merge into 978 offers on the classifier's warehouse, and -1 becomes 0
    assert len(offers) == 978
    assert exchange.only_changes is True
    assert exchange.warehouses == {warehouse: "Оптовый"}
    assert all(set(offer.by_warehouse) == {warehouse} for offer in offers.values())
    assert sum(offer.by_warehouse[warehouse] for offer in offers.values()) == 1925
    assert offers[negative].by_warehouse == {warehouse: 0}
    assert offers[negative].source.startswith("rests___")
    issues = [issue for issue in exchange.issues if issue.offer == negative]
    assert len(issues) == 1
    assert issues[0].severity == "warning"
    assert issues[0].value == "-1"


def test_cml31_twelve_warehouses(fixtures: Path) -> None:
    # GIVEN a CommerceML 3.1 split package: 86 offers x 12 warehouses, every quantity 0
    exchange, offers = read_folder(fixtures / "07-cml3.1-split-bitrix-module")

    # THEN all 86 offers carry 12 zero warehouse quantities, named by the import's classifier
    assert len(offers) == 86
    assert len(exchange.warehouses) == 12
    for offer in offers.values():
        assert set(offer.by_warehouse) == set(exchange.warehouses)
        assert set(offer.by_warehouse.values()) == {0}
        assert offer.total is None
    assert exchange.issues == []


def test_orders_document_rejected(fixtures: Path) -> None:
    # GIVEN an orders document (windows-1251) instead of a catalog
    exchange, offers = read_folder(fixtures / "08-sale-orders-cp1251")

    # THEN it is rejected with one file-level error: the file contains no stock
    assert offers == {}
    assert exchange.rejected_sources == {"bitrix-query-response-full.xml"}
    assert len(exchange.issues) == 1
    assert exchange.issues[0].offer is None
    assert exchange.issues[0].severity == "error"
    assert "не каталог и не пакет предложений" in exchange.issues[0].message


@pytest.mark.parametrize("layout", ["attributes", "rests", "total"])
def test_generated_catalog_layouts(tmp_path: Path, layout: str) -> None:
    # GIVEN a generated catalog with 2 warehouses in each stock layout
    paths = write_catalog(tmp_path, skus=300, warehouses=2, layout=layout)

    # WHEN the import and offers files are read
    exchange, offers = read_folder(tmp_path)

    # THEN every SKU is an offer with a unique article, joined names and consistent stock
    assert [path.name for path in paths] == ["import.xml", "offers.xml"]
    assert len(offers) == 300
    assert len({offer.article for offer in offers.values()}) == 300
    assert any("#" in onec_id for onec_id in offers)
    assert all(offer.code and offer.code.startswith("00-") for offer in offers.values())
    stocks = [offer.total if offer.total is not None else sum(offer.by_warehouse.values()) for offer in offers.values()]
    assert 0 in stocks
    assert exchange.issues == []
    if layout != "total":
        assert exchange.warehouses == catalog_warehouses(2)
        assert [sum(offer.by_warehouse.values()) for offer in offers.values()] == stocks


def test_generated_catalog_deterministic(tmp_path: Path) -> None:
    # GIVEN two catalogs written with the same seed
    first = write_catalog(tmp_path / "a", skus=50, seed=3)
    second = write_catalog(tmp_path / "b", skus=50, seed=3)

    # THEN their bytes are identical, BOM included
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[1].read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("flag_as", ["attribute", "element"])
def test_change_package(tmp_path: Path, flag_as: str) -> None:
    # GIVEN a catalog and a change package for two of its offers, flag as attribute or element
    write_catalog(tmp_path / "full", skus=20)
    full = dict(read_folder(tmp_path / "full")[1])
    first, second = list(full)[:2]
    warehouse = next(iter(catalog_warehouses(1)))
    write_change_package(tmp_path / "delta", {first: 5, second: {warehouse: 7}}, flag_as=flag_as)

    # WHEN the change package is read on its own
    exchange, offers = read_folder(tmp_path / "delta")

    # THEN only the two offers come through, with the new quantities
    assert exchange.only_changes is True
    assert offers[first].total == 5
    assert offers[second].by_warehouse == {warehouse: 7}
    assert len(offers) == 2
