"""Synthetic 1C exports for a household-chemicals distributor (CommerceML 2.07).

`write_catalog` writes `import.xml` (classifier and goods) and `offers.xml` (the
offers package with stock) the way a 1C exchange module does: namespace
`urn:1C.ru:commerceml_2`, UTF-8 with a BOM. The output depends only on the
arguments, so tests and benchmarks can rebuild the same files from a seed. Both
files are written element by element, so 100,000 SKUs never sit in memory as a
document.

Usage: python -m local.catalog --skus 4200 --warehouses 2 --out /tmp/catalog
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

NAMESPACE = "urn:1C.ru:commerceml_2"
SCHEMA_VERSION = "2.07"
CREATED_AT = "2026-12-01T09:00:00"
LAYOUTS = ("attributes", "rests", "total")

# One good in this many becomes a group of characteristic variants (`good#characteristic`).
VARIANT_EVERY = 12
# One offer in this many has zero stock on every warehouse.
ZERO_STOCK_EVERY = 25

PRODUCT_KINDS = (
    ("Средство для мытья посуды", ("450 мл", "500 мл", "900 мл", "1 л")),
    ("Гель для стирки", ("1 л", "1,5 л", "3 л")),
    ("Стиральный порошок", ("400 г", "2,4 кг", "4,5 кг", "9 кг")),
    ("Кондиционер для белья", ("1 л", "2 л")),
    ("Чистящее средство для ванной", ("500 мл", "750 мл")),
    ("Средство для мытья стёкол", ("500 мл", "750 мл")),
    ("Средство для чистки труб", ("500 мл", "1 л")),
    ("Отбеливатель", ("1 л", "2 л")),
    ("Жидкое мыло", ("300 мл", "500 мл", "5 л")),
    ("Освежитель воздуха", ("300 мл",)),
    ("Средство для мытья полов", ("1 л", "5 л")),
    ("Пятновыводитель", ("450 мл", "1 л")),
)
BRANDS = ("Чистюля", "Блеск", "Свежесть", "Лотос", "Аквапура", "Дом и Сад", "Белоснежка")
SCENTS = ("лимон", "яблоко", "лаванда", "морской бриз", "алоэ вера", "хвоя", "без запаха")
WAREHOUSE_NAMES = ("Основной склад", "Склад Подольск", "Склад Казань", "Склад Екатеринбург")


@dataclass(frozen=True, slots=True)
class Good:
    """One good of `import.xml` and the offers 1C makes of it."""

    id: str
    article: str
    code: str
    name: str
    variants: tuple[tuple[str, str, str], ...]  # (characteristic id, article, scent)


def write_catalog(
    folder: Path,
    *,
    skus: int = 4200,
    warehouses: int = 1,
    seed: int = 7,
    layout: str = "attributes",
) -> list[Path]:
    """Write `import.xml` and `offers.xml` with `skus` offers into `folder`.

    `layout` selects how the offers carry stock: "attributes"
    (`<Склад ИдСклада КоличествоНаСкладе/>` plus `Количество`), "rests"
    (`Остатки/Остаток/Склад/{Ид,Количество}`) or "total" (`Количество` only).
    Per-warehouse quantities always sum to the total. Returns the two paths,
    import first.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if skus < 1 or warehouses < 1:
        raise ValueError(f"skus ({skus}) and warehouses ({warehouses}) must be at least 1")

    folder.mkdir(parents=True, exist_ok=True)
    warehouse_ids = catalog_warehouses(warehouses, seed=seed)
    import_path = folder / "import.xml"
    offers_path = folder / "offers.xml"

    with import_path.open("w", encoding="utf-8-sig", newline="\n") as out:
        _write_import(out, _goods(skus, seed), seed)
    with offers_path.open("w", encoding="utf-8-sig", newline="\n") as out:
        _write_offers(out, _goods(skus, seed), warehouse_ids, seed, layout)
    return [import_path, offers_path]


def catalog_warehouses(count: int, *, seed: int = 7) -> dict[str, str]:
    """Return the warehouse ids and names that `write_catalog` uses for a seed."""
    rng = random.Random(f"warehouses-{seed}")
    names = [WAREHOUSE_NAMES[i] if i < len(WAREHOUSE_NAMES) else f"Склад {i + 1}" for i in range(count)]
    return {_guid(rng): name for name in names}


def write_change_package(
    folder: Path,
    changes: Mapping[str, int | Mapping[str, int]],
    *,
    name: str = "offers_changes.xml",
    flag_as: str = "attribute",
) -> Path:
    """Write an offers file with `СодержитТолькоИзменения` true that lists only `changes`.

    `changes` maps a 1C offer id to its new total quantity, or to its quantities
    by warehouse id (written as `Склад` attributes plus their sum in `Количество`).
    `flag_as` "element" writes the flag as a child element instead of an attribute,
    as older exchange modules do.
    """
    if flag_as not in ("attribute", "element"):
        raise ValueError(f"unknown flag_as {flag_as!r}: use 'attribute' or 'element'")

    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="\n") as out:
        _write_root_start(out)
        if flag_as == "attribute":
            out.write('\t<ПакетПредложений СодержитТолькоИзменения="true">\n')
        else:
            out.write("\t<ПакетПредложений>\n\t\t<СодержитТолькоИзменения>true</СодержитТолькоИзменения>\n")
        out.write("\t\t<Предложения>\n")
        for offer_id, quantity in changes.items():
            out.write(f"\t\t\t<Предложение>\n\t\t\t\t<Ид>{escape(offer_id)}</Ид>\n")
            _write_change_quantity(out, quantity)
            out.write("\t\t\t</Предложение>\n")
        out.write("\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n")
    return path


def _write_change_quantity(out: TextIO, quantity: int | Mapping[str, int]) -> None:
    if isinstance(quantity, int):
        out.write(f"\t\t\t\t<Количество>{quantity}</Количество>\n")
        return

    out.write(f"\t\t\t\t<Количество>{sum(quantity.values())}</Количество>\n")
    for warehouse_id, count in quantity.items():
        out.write(f"\t\t\t\t<Склад ИдСклада={quoteattr(warehouse_id)} КоличествоНаСкладе=\"{count}\"/>\n")


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _goods(skus: int, seed: int) -> Iterator[Good]:
    """Yield goods until their offers (variants counted one by one) reach `skus`."""
    rng = random.Random(f"goods-{seed}")
    written = 0
    number = 0
    while written < skus:
        number += 1
        kind, volumes = PRODUCT_KINDS[rng.randrange(len(PRODUCT_KINDS))]
        brand = BRANDS[rng.randrange(len(BRANDS))]
        volume = volumes[rng.randrange(len(volumes))]
        good_id = _guid(rng)
        article = f"HC-{number:06d}"
        variants: tuple[tuple[str, str, str], ...] = ()
        if number % VARIANT_EVERY == 0 and skus - written >= 3:
            scents = rng.sample(SCENTS, 3)
            variants = tuple((_guid(rng), f"{article}-{i + 1}", scent) for i, scent in enumerate(scents))
        written += len(variants) or 1
        yield Good(good_id, article, f"00-{number:08d}", f"{kind} «{brand}» {volume}", variants)


def _write_root_start(out: TextIO) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(
        f'<КоммерческаяИнформация xmlns="{NAMESPACE}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ВерсияСхемы="{SCHEMA_VERSION}" '
        f'ДатаФормирования="{CREATED_AT}">\n'
    )


def _write_import(out: TextIO, goods: Iterator[Good], seed: int) -> None:
    catalog_id = _guid(random.Random(f"catalog-{seed}"))
    _write_root_start(out)
    out.write(f"\t<Классификатор>\n\t\t<Ид>{catalog_id}</Ид>\n")
    out.write("\t\t<Наименование>Классификатор (Бытовая химия)</Наименование>\n\t</Классификатор>\n")
    out.write('\t<Каталог СодержитТолькоИзменения="false">\n')
    out.write(f"\t\t<Ид>{catalog_id}</Ид>\n\t\t<ИдКлассификатора>{catalog_id}</ИдКлассификатора>\n")
    out.write("\t\t<Наименование>Бытовая химия</Наименование>\n\t\t<Товары>\n")
    for good in goods:
        out.write(
            f"\t\t\t<Товар>\n\t\t\t\t<Ид>{good.id}</Ид>\n"
            f"\t\t\t\t<Штрихкод>46{int(good.code[3:]):011d}</Штрихкод>\n"
            f"\t\t\t\t<Код>{good.code}</Код>\n"
            f"\t\t\t\t<Артикул>{good.article}</Артикул>\n"
            f"\t\t\t\t<Наименование>{escape(good.name)}</Наименование>\n"
            '\t\t\t\t<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" '
            'МеждународноеСокращение="PCE">шт</БазоваяЕдиница>\n'
            "\t\t\t</Товар>\n"
        )
    out.write("\t\t</Товары>\n\t</Каталог>\n</КоммерческаяИнформация>\n")


def _write_offers(
    out: TextIO, goods: Iterator[Good], warehouse_ids: dict[str, str], seed: int, layout: str
) -> None:
    rng = random.Random(f"stock-{seed}")
    catalog_id = _guid(random.Random(f"catalog-{seed}"))
    price_type_id = _guid(random.Random(f"price-type-{seed}"))
    _write_root_start(out)
    out.write('\t<ПакетПредложений СодержитТолькоИзменения="false">\n')
    out.write(f"\t\t<Ид>{catalog_id}#</Ид>\n\t\t<Наименование>Пакет предложений (Бытовая химия)</Наименование>\n")
    out.write(f"\t\t<ИдКаталога>{catalog_id}</ИдКаталога>\n\t\t<ИдКлассификатора>{catalog_id}</ИдКлассификатора>\n")
    out.write(
        f"\t\t<ТипыЦен>\n\t\t\t<ТипЦены>\n\t\t\t\t<Ид>{price_type_id}</Ид>\n"
        "\t\t\t\t<Наименование>Оптовая</Наименование>\n\t\t\t\t<Валюта>RUB</Валюта>\n"
        "\t\t\t</ТипЦены>\n\t\t</ТипыЦен>\n\t\t<Склады>\n"
    )
    for warehouse_id, warehouse_name in warehouse_ids.items():
        out.write(
            f"\t\t\t<Склад>\n\t\t\t\t<Ид>{warehouse_id}</Ид>\n"
            f"\t\t\t\t<Наименование>{escape(warehouse_name)}</Наименование>\n\t\t\t</Склад>\n"
        )
    out.write("\t\t</Склады>\n\t\t<Предложения>\n")

    offer_number = 0
    for good in goods:
        offers = [(f"{good.id}#{char_id}", article, f"{good.name}, {scent}") for char_id, article, scent in good.variants]
        for offer_id, article, name in offers or [(good.id, good.article, good.name)]:
            offer_number += 1
            stock = _stock(rng, list(warehouse_ids), zero=offer_number % ZERO_STOCK_EVERY == 0)
            price = rng.randrange(5_000, 150_000) / 100
            _write_offer(out, offer_id, article, name, price_type_id, price, stock, layout)
    out.write("\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n")


def _stock(rng: random.Random, warehouse_ids: list[str], *, zero: bool) -> dict[str, int]:
    if zero:
        return dict.fromkeys(warehouse_ids, 0)
    return {warehouse_id: rng.choice((0, rng.randrange(1, 40), rng.randrange(40, 600))) for warehouse_id in warehouse_ids}


def _write_offer(
    out: TextIO,
    offer_id: str,
    article: str,
    name: str,
    price_type_id: str,
    price: float,
    stock: dict[str, int],
    layout: str,
) -> None:
    out.write(
        f"\t\t\t<Предложение>\n\t\t\t\t<Ид>{offer_id}</Ид>\n"
        f"\t\t\t\t<Артикул>{article}</Артикул>\n"
        f"\t\t\t\t<Наименование>{escape(name)}</Наименование>\n"
        '\t\t\t\t<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт</БазоваяЕдиница>\n'
        f"\t\t\t\t<Цены>\n\t\t\t\t\t<Цена>\n\t\t\t\t\t\t<Представление>{price:.2f} RUB за шт</Представление>\n"
        f"\t\t\t\t\t\t<ИдТипаЦены>{price_type_id}</ИдТипаЦены>\n"
        f"\t\t\t\t\t\t<ЦенаЗаЕдиницу>{price:.2f}</ЦенаЗаЕдиницу>\n\t\t\t\t\t\t<Валюта>RUB</Валюта>\n"
        "\t\t\t\t\t\t<Единица>шт</Единица>\n\t\t\t\t\t\t<Коэффициент>1</Коэффициент>\n"
        "\t\t\t\t\t</Цена>\n\t\t\t\t</Цены>\n"
    )
    if layout == "rests":
        out.write("\t\t\t\t<Остатки>\n")
        for warehouse_id, count in stock.items():
            out.write(
                f"\t\t\t\t\t<Остаток>\n\t\t\t\t\t\t<Склад>\n\t\t\t\t\t\t\t<Ид>{warehouse_id}</Ид>\n"
                f"\t\t\t\t\t\t\t<Количество>{count}</Количество>\n\t\t\t\t\t\t</Склад>\n\t\t\t\t\t</Остаток>\n"
            )
        out.write("\t\t\t\t</Остатки>\n")
    else:
        out.write(f"\t\t\t\t<Количество>{sum(stock.values())}</Количество>\n")
    if layout == "attributes":
        for warehouse_id, count in stock.items():
            out.write(f'\t\t\t\t<Склад ИдСклада="{warehouse_id}" КоличествоНаСкладе="{count}"/>\n')
    out.write("\t\t\t</Предложение>\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic 1C catalog (import.xml + offers.xml).")
    parser.add_argument("--skus", type=int, default=4200, help="number of offers (default 4200)")
    parser.add_argument("--warehouses", type=int, default=1, help="number of warehouses (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same files")
    parser.add_argument("--layout", choices=LAYOUTS, default="attributes", help="how offers carry stock")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (created if missing)")
    args = parser.parse_args(argv)

    paths = write_catalog(args.out, skus=args.skus, warehouses=args.warehouses, seed=args.seed, layout=args.layout)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
