"""``frontier dashboard``: optuna-dashboard on a study storage (optional extra ``dashboard``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.errors import FrontierError
from search.storage.urls import open_storage, redact

__all__ = ["serve"]

INSTALL = "pip install -e '.[dashboard]'"


def _run_server() -> Any:
    try:
        from optuna_dashboard import run_server
    except ImportError as err:
        raise FrontierError(f"dashboard: optuna-dashboard is not installed; install the "
                            f"optional extra with `{INSTALL}`") from err
    return run_server


def serve(storage_url: str, host: str = "127.0.0.1", port: int = 8080,
          artifacts: str | Path | None = None) -> None:
    """Serve optuna-dashboard on ``storage_url`` until interrupted; ``artifacts`` is a study's
    ``<output_dir>/artifacts`` folder, so the dashboard lists each trial's stored weights."""
    run_server = _run_server()
    if not 0 < port < 65536:
        raise FrontierError(f"--port: {port} is not a TCP port; use 1 to 65535")
    storage = open_storage(storage_url, create=False)
    store = None
    if artifacts is not None:
        if not Path(artifacts).is_dir():
            raise FrontierError(f"--artifacts: {artifacts} is not a directory; give a study's "
                                "OUTPUT_DIR/artifacts folder")
        from optuna.artifacts import FileSystemArtifactStore

        store = FileSystemArtifactStore(str(artifacts))
    print(f"optuna-dashboard for {redact(storage_url)} on http://{host}:{port}/ "
          "(Ctrl-C stops it)", flush=True)
    run_server(storage, host=host, port=port, artifact_store=store)
