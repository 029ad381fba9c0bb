"""Money as ``Decimal`` with the spec's arithmetic; strings with two decimals only at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.05")
#: Prices and baskets repeat (a menu has few prices; a simulation places a million orders from a
#: handful of baskets), and ``Decimal`` is immutable, so parsed prices and computed totals are
#: shared rather than rebuilt: less work per order and four fewer objects kept per live order.
#: Bounded by entry count, not evicted: arbitrary client input cannot grow them past the cap.
CACHE_MAX = 4096
_PRICES: dict[str, Decimal] = {}
#: (lines, tax rate) -> (subtotal, tax); both are rounded to cents, so inputs that are equal but
#: written differently (280 and 280.00) give the very same result
_SUBTOTAL_TAX: dict[tuple[tuple[tuple[int, Decimal], ...], Decimal], tuple[Decimal, Decimal]] = {}


def to_money(value: object, *, field: str = "amount") -> Decimal:
    """Parse a price from str/int/Decimal (floats refused: they cannot hold cents exactly)."""
    if type(value) is str:
        known = _PRICES.get(value)
        if known is not None:
            return known
    elif isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
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
    if type(value) is str and len(_PRICES) < CACHE_MAX:
        _PRICES[value] = cents
    return cents


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    return f"{amount:.2f}"


def order_totals(
    lines: Sequence[tuple[int, Decimal]], delivery_fee: Decimal, tax_rate: Decimal = TAX_RATE
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Subtotal, delivery fee, tax, total. Tax is on the subtotal only, as in the spec's example
    (748.00 subtotal, 25.00 fee, 37.40 tax, 810.40 total)."""
    key = (tuple(lines), tax_rate)
    known = _SUBTOTAL_TAX.get(key)
    if known is None:
        subtotal = round_money(sum((Decimal(q) * p for q, p in lines), Decimal(0)))
        known = subtotal, round_money(subtotal * tax_rate)
        if len(_SUBTOTAL_TAX) < CACHE_MAX:
            _SUBTOTAL_TAX[key] = known
    subtotal, tax = known
    return subtotal, delivery_fee, tax, subtotal + delivery_fee + tax
