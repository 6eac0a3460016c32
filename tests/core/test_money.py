from decimal import Decimal

import pytest

from creditops.core.money import CENT, ZERO, format_money, to_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half up, not banker's rounding (which would give 0.02)
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),  # half away from zero
        ("1234.5", "1234.50"),
        (Decimal("99.999"), "100.00"),
        (7, "7.00"),
        (0, "0.00"),
    ],
)
def test_to_money_rounds_half_up_to_cents(value, expected):
    result = to_money(value)
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)
    assert str(result) == expected
    assert result.as_tuple().exponent == -2


def test_to_money_rounds_a_tiny_negative_to_zero():
    assert to_money("-0.004") == ZERO


def test_to_money_refuses_floats():
    with pytest.raises(TypeError, match="float"):
        to_money(0.1)
    with pytest.raises(TypeError):
        to_money(1.0)


def test_money_constants():
    assert str(CENT) == "0.01"
    assert str(ZERO) == "0.00"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "CNY", "1,234.50 CNY"),
        (Decimal("1234567.891"), "USD", "1,234,567.89 USD"),
        (Decimal("0.005"), "CNY", "0.01 CNY"),
        (Decimal("12"), "", "12.00 CNY"),  # no currency named: the book's default
        ("999.995", None, "1,000.00 CNY"),
        ("2488.2", "USD", "2,488.20 USD"),
        (Decimal("-50"), "CNY", "-50.00 CNY"),
        (None, "CNY", "—"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_format_money_refuses_floats_too():
    with pytest.raises(TypeError):
        format_money(12.5, "CNY")
