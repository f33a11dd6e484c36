"""The two ways a service says no, for every domain (DESIGN.md: services import nothing from the web
framework; the web layer maps these to responses in one place, `app.core.web`).

- ``Refusal``: a change that is not made, with a message the person can act on. ``message`` is an
  English msgid with %(name)s variables; string variables that are msgids too (a field's label, a
  level's name) are translated with it. ``status`` is the HTTP status a page answers with (400 unless
  said), ``input_name`` the form input it is about, ``canonical`` a name to offer instead.
- ``NotFound``: missing, another tenant's, or not yours — always the same 404, so nobody learns which.
"""

from __future__ import annotations

from app.core.i18n import gettext


class Refusal(Exception):
    def __init__(self, message: str, status: int = 400, *, input_name: str | None = None, canonical: str = "",
                 **variables):
        super().__init__(message)
        self.message = message
        self.status = status
        self.input_name = input_name
        self.canonical = canonical
        self.variables = variables

    def __str__(self) -> str:
        """The English message with its variables (logs, the command line)."""
        try:
            return self.message % self.variables if self.variables else self.message
        except (KeyError, TypeError, ValueError):
            return self.message

    def text(self) -> str:
        """The message in the current language."""
        return gettext(self.message, **{k: gettext(v) if isinstance(v, str) else v
                                        for k, v in self.variables.items()})


class NotFound(Exception):
    """Missing, another tenant's, or out of the member's scope: the same 404 for all three."""
