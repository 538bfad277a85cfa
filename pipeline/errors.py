"""The one exception type for problems a user can cause and fix."""

from __future__ import annotations


class NewsreelError(Exception):
    """A problem the user can fix: a message saying what is wrong and a hint saying what to do.

    The CLI prints it on one line and exits with code 2. Anything else that escapes is a bug.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def one_line(self) -> str:
        return " ".join(str(self).split())
