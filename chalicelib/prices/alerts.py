"""Alert texts of the price sync, added to the service's alert catalogue on import.

Russian is the default language of alerts; English is used with ALERT_LANGUAGE=en.
"""

from __future__ import annotations

from chalicelib.alerts import MESSAGES

PRICE_MESSAGES = {
    "price_blocked": {
        "ru": "Цена товара {sku} не отправлена в Ozon: уровень {levels} ниже себестоимости {cost} "
              "более чем на {threshold}% (правило {rule}). Товар сохраняет прежние цены. "
              "Проверьте себестоимость и правило категории.",
        "en": "The price of SKU {sku} was not sent to Ozon: level {levels} is more than {threshold}% "
              "below the cost {cost} (rule {rule}). The SKU keeps its previous prices. "
              "Check the cost and the category rule.",
    },
    "price_rolled_back": {
        "ru": "Цена продажи товара {sku} в Ozon ({selling}) ниже себестоимости {cost} более чем на "
              "{threshold}% (с учётом акций). Цены возвращены к последним безопасным: {levels}. "
              "Проверьте акции товара в кабинете Ozon.",
        "en": "The selling price of SKU {sku} in Ozon ({selling}) is more than {threshold}% below the "
              "cost {cost}, promotions included. Prices were rolled back to the last good ones: {levels}. "
              "Check the SKU's promotions in the Ozon seller cabinet.",
    },
    "price_below_cost_no_good": {
        "ru": "Цена продажи товара {sku} в Ozon ({selling}) ниже себестоимости {cost} более чем на "
              "{threshold}%, а безопасных цен для отката нет. Исправьте цену вручную.",
        "en": "The selling price of SKU {sku} in Ozon ({selling}) is more than {threshold}% below the "
              "cost {cost}, and there are no good prices to roll back to. Fix the price by hand.",
    },
    "price_costs_request_failed": {
        "ru": "Остатки из выгрузки 1С {exchange} обработаны, но пересчёт цен по себестоимости из 1С не "
              "запрошен: {error}. Цены пересчитаются по расписанию в течение часа, но новые "
              "себестоимости из этой выгрузки не прочитаны. Загрузите выгрузку заново или "
              "положите CSV себестоимостей в inbox/prices/.",
        "en": "Stock from the 1C exchange {exchange} was planned, but the price run for its 1C costs "
              "was not requested: {error}. Prices are re-planned hourly, but the new costs of this "
              "exchange were not read. Upload the exchange again or put a costs CSV into inbox/prices/.",
    },
}

MESSAGES.update(PRICE_MESSAGES)
