"""Money as integer minor units of an ISO 4217 currency: validation and display, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.lib import i18n
from app.lib.errors import Invalid

# Active ISO 4217 codes (2026), the funds and precious-metal codes left out: orders are priced in money people pay.
_CODES = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP
CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
CURRENCIES = frozenset(_CODES.split())
_EXPONENT = {**dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
             **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3)}
MAX_AMOUNT = 10**15
"""Far above any real order, far below BIGINT: a typo of ten zeros is refused instead of stored."""


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency, 2)


def check_currency(value: Any, field: str = "currency") -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in CURRENCIES:
        raise Invalid("%(value)s is not an ISO 4217 currency code; write three letters like USD, EUR or JPY.",
                      field=field, value=repr(value))
    return code


def check_amount(value: Any, field: str, *, allow_zero: bool = True) -> int:
    """Integer minor units; a float (or a bool, or text) is refused with the field named."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("%(field_name)s must be a whole number of minor units (cents), e.g. 1999 for 19.99; got "
                      "%(got)s.", field=field, field_name=field, got=type(value).__name__)
    if value < 0 or (value == 0 and not allow_zero):
        raise Invalid("%(field_name)s must be zero or more than zero." if allow_zero
                      else "%(field_name)s must be more than zero.", field=field, field_name=field)
    if value > MAX_AMOUNT:
        raise Invalid("%(field_name)s is implausibly large (%(value)s).", field=field, field_name=field, value=value)
    return value


def parse_major(text: str, currency: str, field: str) -> int:
    """A form's "19.99" in major units -> 1999 minor units, exactly (Decimal, never float)."""
    raw = (text or "").strip().replace(" ", "").replace(",", ".")
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise Invalid("%(field_name)s must be an amount like 19.99.", field=field, field_name=field) from None
    if not value.is_finite():
        raise Invalid("%(field_name)s must be an amount like 19.99.", field=field, field_name=field)
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise Invalid("%(field_name)s has more decimals than %(currency)s allows (%(digits)s).", field=field,
                      field_name=field, currency=currency, digits=exponent(currency))
    return check_amount(int(scaled), field)


def fmt(amount: int | None, currency: str) -> str:
    """1999, USD -> '19.99 USD' (exact; no locale rounding)."""
    value = Decimal(int(amount or 0)).scaleb(-exponent(currency))
    return f"{value:,.{exponent(currency)}f} {currency}"


def major(amount: int | None, currency: str) -> str:
    """1999, USD -> '19.99': what a form field shows and `parse_major` reads back."""
    value = Decimal(int(amount or 0)).scaleb(-exponent(currency))
    return f"{value:.{exponent(currency)}f}"


i18n.use_currency_digits(exponent)
