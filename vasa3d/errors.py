"""Errors raised at the boundary of vasa3d.

`InputError` is the one exception a user can cause: its message says what to fix. The CLI prints it and
exits with code 2; the web app shows it with `gr.Error`.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input (unreadable file, no face found, empty audio, ...); the message says what to fix."""
