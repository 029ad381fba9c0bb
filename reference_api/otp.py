"""OTP issue and check rules (D7).

The store never holds a code, nor anything computed from one: each issue draws a random nonce,
and the 6-digit code is HMAC(secret, order|type|nonce), a function of what is stored and of the
server secret, which is not stored. An authorised reader gets the code re-derived; verification
re-derives it and compares in constant time. (A stored hash of the code would add nothing: without
the secret neither reveals the code, and with it the code can be derived anyway. Leaving it out
saves two HMACs an OTP.) A new nonce (resend) invalidates the old code; wrong attempts lock it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from reference_api.errors import OtpExpired, OtpInvalid, OtpLocked, ValidationFailed, shown
from reference_api.model import OtpRecord

OTP_TYPES = ("pickup", "delivery")

_HmacDigest = Callable[[bytes, bytes, Any], bytes]


def _one_shot_hmac() -> _HmacDigest:
    """OpenSSL's one-shot HMAC without ``hmac.digest``'s Python wrapper (a type check and a
    ``try`` per call, on every journey's hot path), when it is there and gives the same bytes as
    ``hmac.new(...).digest()``; otherwise ``hmac.digest`` itself."""
    try:
        import _hashlib

        fast: _HmacDigest = _hashlib.hmac_digest
        key, msg = b"orderflow-otp-self-check", b"h|0123456789abcdef|123456"
        if fast(key, msg, hashlib.sha256) == hmac.new(key, msg, hashlib.sha256).digest():
            return fast
    except Exception:  # no OpenSSL build, or sha256 not served by it: the portable path
        return hmac.digest
    return hmac.digest


_hmac_digest = _one_shot_hmac()


class OtpCodec:
    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("OTP secret must be at least 16 bytes")
        self._secret = secret

    def code(self, order_id: str, otp_type: str, nonce: str) -> str:
        # One-shot HMAC runs inside OpenSSL: same bytes as ``hmac.new(...).digest()`` at a
        # fraction of the cost. The constructor, not the name "sha256": OpenSSL 3 looks a name
        # up on every call.
        msg = f"{order_id}|{otp_type}|{nonce}".encode()
        digest = _hmac_digest(self._secret, msg, hashlib.sha256)
        return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"

    def matches(self, order_id: str, record: OtpRecord, candidate: str) -> bool:
        expected = self.code(order_id, record.type, record.nonce)
        return hmac.compare_digest(expected.encode(), candidate.encode())


def validate_format(otp: object, *, field: str = "otp") -> str:
    # isascii: ``isdigit`` alone also passes other scripts' digits and superscripts
    if not isinstance(otp, str) or len(otp) != 6 or not (otp.isascii() and otp.isdigit()):
        raise ValidationFailed(f"{field}: expected a 6-digit string, got {shown(otp)}", field=field)
    return otp


def check(
    codec: OtpCodec,
    order_id: str,
    record: OtpRecord,
    candidate: str,
    now: float,
    max_attempts: int,
) -> None:
    """Raise unless ``candidate`` is the live code; count a wrong attempt on the record."""
    label = f"{record.type} OTP"
    if record.consumed:
        raise OtpInvalid(f"{label} has already been used")
    if record.attempts >= max_attempts:
        raise OtpLocked(
            f"{label} is locked after {max_attempts} wrong attempts; request a new one (resend)"
        )
    if now > record.expires_at:
        raise OtpExpired(f"{label} expired; request a new one (resend)")
    if codec.matches(order_id, record, candidate):
        return
    record.attempts += 1
    left = max_attempts - record.attempts
    if left <= 0:
        raise OtpLocked(f"{label} is wrong; locked after {max_attempts} wrong attempts")
    raise OtpInvalid(f"{label} is wrong; {left} attempt(s) left")
