"""Where a study lives: storage URLs, the claim lock, dead workers, local workers, weight files."""

from search.storage.urls import DEFAULT_STORAGE, open_storage, redact

__all__ = ["DEFAULT_STORAGE", "open_storage", "redact"]
