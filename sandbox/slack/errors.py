"""``SlackError``: a refusal as Slack words it (``{"ok": false, "error": ...}``), raised by the store and handlers."""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Slack error code, the HTTP status to answer with (Web API: 200) and optional details."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        errors: list[str] | None = None,
        messages: list[str] | None = None,
        needed: str | None = None,
        provided: str | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.errors = errors
        self.messages = messages
        self.needed = needed  # missing_scope: the scope the method wanted, and those the token has
        self.provided = provided

    @classmethod
    def invalid_blocks(cls, problems: list[str], *, status: int = 200) -> SlackError:
        """Build the ``invalid_blocks`` refusal listing ``problems``."""
        return cls("invalid_blocks", status=status, errors=problems, messages=[f"[ERROR] {p}" for p in problems])

    def body(self) -> dict[str, Any]:
        """Return the JSON body Slack would answer."""
        answer: dict[str, Any] = {"ok": False, "error": self.error}
        if self.errors is not None:
            answer["errors"] = list(self.errors)
        if self.messages is not None:
            answer["response_metadata"] = {"messages": list(self.messages)}
        if self.needed is not None:
            answer["needed"], answer["provided"] = self.needed, self.provided or ""
        return answer
