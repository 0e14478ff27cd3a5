"""`platelab serve`: an HTTP API for reading plates and an offline web page, served by uvicorn."""

from platelab.serve.app import create_app, run_server
from platelab.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "run_server"]
