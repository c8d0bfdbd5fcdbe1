"""Experiment trackers: every trial logged to TensorBoard and/or MLflow (``[logging]``).

``settings`` holds the config section (imported by ``search.config``); ``tracker`` the
:class:`~search.tracking.tracker.Tracker` that fans each event out to the enabled loggers and
turns a failing one off; ``tensorboard`` and ``mlflow`` the two loggers (their packages are the
optional extras ``tensorboard`` and ``mlflow``, imported only when a logger is on)."""

from search.tracking.settings import Logging

__all__ = ["Logging"]
