"""The one exception type the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations

__all__ = ["FrontierError"]


class FrontierError(Exception):
    """A user-facing problem (bad config, missing study, unreachable storage)."""
