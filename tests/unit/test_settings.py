"""Unit tests of the settings model."""

from __future__ import annotations

import pytest

from chalicelib.settings import SettingsError, settings_from_env


def test_defaults_stay_under_ozon_budget():
    settings = settings_from_env({})

    assert settings.stock_requests_per_minute + settings.stock_limiter_burst <= 80


def test_budget_over_80_rejected():
    with pytest.raises(SettingsError, match="exceeds Ozon's 80 stock requests a minute"):
        settings_from_env({"STOCK_REQUESTS_PER_MINUTE": "79"})


def test_invalid_routes_name_variable():
    with pytest.raises(SettingsError, match="WAREHOUSE_ROUTES"):
        settings_from_env({"WAREHOUSE_ROUTES": '[{"ozon_warehouse_id": -1}]'})


def test_routes_and_csv_format_parse_json():
    settings = settings_from_env({"WAREHOUSE_ROUTES": '[{"ozon_warehouse_id": 7, "onec_warehouses": ["a"]}]',
                                  "CSV_FORMAT": '{"code": null}'})

    assert settings.warehouse_routes[0].onec_warehouses == ["a"]
    assert settings.csv_format == {"code": None}
