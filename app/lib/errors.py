"""Domain errors with messages a person can act on. Their HTTP mapping (JSON for the API, pages for HTML) is in
app.lib.error_handlers, above the templates."""

from __future__ import annotations

from typing import Any

from app.lib import i18n


def _fill(text: str, params: dict[str, Any]) -> str:
    return text % params if params else text


class DomainError(Exception):
    """`detail` is an English message in the catalogues, with `%(name)s` placeholders filled from `params`:
    `raise NotFound("No queue %(key)s.", key=key)`. It is translated when it is shown, for whoever reads it."""

    status_code = 400

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None,
                 **params: Any) -> None:
        self.template = detail
        self.params = params
        self.message = _fill(detail, params)  # English, for logs and tracebacks
        super().__init__(self.message)
        self.field = field
        self.extra = extra or {}

    @property
    def detail(self) -> str:
        """The message in the viewer's language (the catalogues hold the templates; see lib/i18n_extract)."""
        text = i18n.current().translations.gettext(self.template)
        try:
            return _fill(text, self.params)
        except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder: the English one
            return self.message

    @property
    def labelled(self) -> str:
        """The message as a form shows it above the fields: `field: detail`."""
        return (f"{self.field}: " if self.field else "") + self.detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "status_code": self.status_code}
        if self.field:
            body["errors"] = [{"field": self.field, "message": self.detail}]
        body.update(self.extra)
        return body


class Invalid(DomainError):
    """Input breaks a rule; `field` names the input."""

    status_code = 400


class Conflict(DomainError):
    status_code = 409


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class TooManyAttempts(DomainError):
    status_code = 429


class Gone(DomainError):
    """It existed and no longer does (an expired download link)."""

    status_code = 410
