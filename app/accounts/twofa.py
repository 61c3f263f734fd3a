"""Two-factor sign-in (TOTP, RFC 6238): enrolment, recovery codes, the second sign-in step and the shop's policy.

The seed is a tenant secret: stored only as `user_totp.secret_enc`, encrypted with app.lib.crypto under
TOTP_PURPOSE (secrets rotation re-encrypts that column).
"""

from __future__ import annotations

TOTP_PURPOSE = "accounts.totp_seed"
"""The app.lib.crypto purpose of `user_totp.secret_enc`."""

ENCRYPTED_COLUMNS = (("user_totp", "secret_enc", TOTP_PURPOSE),)
"""(table, column, crypto purpose) of the secrets this module keeps, for secrets rotation."""
