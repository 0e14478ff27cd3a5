"""`python -m platelab`: the same command as `platelab`."""

from platelab.cli import app

app(prog_name="platelab")
