"""Money as ``Decimal`` with the spec's arithmetic; strings with two decimals only at the edge."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from reference_api.errors import shown

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.05")
#: The largest price a line may carry (D12). Bounded so that a price is checked before any
#: arithmetic: rounding a decimal with more digits than the context holds raises, and a basket
#: of 100 lines of 100 at this price still totals well inside it.
MAX_PRICE = Decimal("999999.99")
#: A price written as text: plain digits, at most six before the point and two after ("12.50",
#: "374", "0.5"); no sign, exponent, separators or spaces. Also the JSON Schema ``pattern`` of
#: ``unit_price``, so a request a schema accepts is one the server accepts (Python's ``re``
#: semantics, as a Python validator applies it).
PRICE_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,2})?$"
_PRICE_TEXT = re.compile(PRICE_PATTERN)
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
    """Parse a price: a string matching ``PRICE_PATTERN``, a whole number or a ``Decimal``, from 0
    to ``MAX_PRICE`` with at most two decimals. Floats are refused: they cannot hold cents
    exactly. The bound is checked before rounding, so no input makes the arithmetic fail."""
    if type(value) is str:
        known = _PRICES.get(value)
        if known is not None:
            return known
        if _PRICE_TEXT.fullmatch(value) is None:
            raise ValueError(f"{field}: {_refusal(value)}, got {shown(value)}")
        amount = Decimal(value)
    elif isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"{field}: expected a decimal string like '12.50', got {shown(value)}")
    else:
        amount = Decimal(value)
        problem = _out_of_range(amount)
        if problem is not None:
            raise ValueError(f"{field}: {problem}, got {shown(value)}")
    cents = amount.quantize(CENT).copy_abs()  # bounded, so exact; abs: no "-0.00"
    if amount != cents:
        raise ValueError(f"{field}: at most two decimal places, got {shown(value)}")
    if type(value) is str and len(_PRICES) < CACHE_MAX:
        _PRICES[value] = cents
    return cents


def _out_of_range(amount: Decimal) -> str | None:
    if not amount.is_finite() or (amount.is_signed() and amount != 0):
        return "must be a finite, non-negative amount"
    if amount > MAX_PRICE:
        return f"at most {MAX_PRICE}"
    return None


def _refusal(text: str) -> str:
    """Why a price string is refused, for the error message (off the accepted path)."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return "is not a decimal number"
    problem = _out_of_range(amount)
    if problem is not None:
        return problem
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and "e" not in text.lower():
        return "at most two decimal places"
    return (
        "expected plain digits with at most two decimals, like '12.50' (no sign, exponent, "
        "separators or spaces)"
    )


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
