"""Money as ``Decimal`` with the spec's arithmetic; strings with two decimals only at the edge."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.05")


def to_money(value: object, *, field: str = "amount") -> Decimal:
    """Parse a price from str/int/Decimal (floats refused: they cannot hold cents exactly)."""
    if type(value) is not str and (
        isinstance(value, bool) or not isinstance(value, (str, int, Decimal))
    ):
        raise ValueError(f"{field}: expected a decimal string like '12.50', got {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{field}: must be a finite, non-negative amount, got {value!r}")
    cents = amount.quantize(CENT)
    if amount != cents:
        raise ValueError(f"{field}: at most two decimal places, got {value!r}")
    return cents


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    return f"{amount:.2f}"


def order_totals(
    lines: list[tuple[int, Decimal]], delivery_fee: Decimal, tax_rate: Decimal = TAX_RATE
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Subtotal, delivery fee, tax, total. Tax is on the subtotal only, as in the spec's example
    (748.00 subtotal, 25.00 fee, 37.40 tax, 810.40 total)."""
    subtotal = round_money(sum((Decimal(q) * p for q, p in lines), Decimal(0)))
    tax = round_money(subtotal * tax_rate)
    return subtotal, delivery_fee, tax, subtotal + delivery_fee + tax
