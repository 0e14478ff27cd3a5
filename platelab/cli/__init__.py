"""The `platelab` command: a thin layer over the Python API, one subcommand per job, each in a module of its own.

The commands are added here, in the order `platelab --help` lists them; `synth` and `train` are groups of their
own modules' subcommands.
"""

from platelab.cli.common import app
from platelab.cli.evaluate import evaluate
from platelab.cli.models import models
from platelab.cli.read import read
from platelab.cli.serve import serve
from platelab.cli.synth import synth_app
from platelab.cli.train import export, finetune, train_app

app.command("read")(read)
app.command("eval")(evaluate)
app.command("models")(models)
app.command("serve")(serve)
app.command("finetune")(finetune)
app.command("export")(export)
app.add_typer(synth_app, name="synth")
app.add_typer(train_app, name="train")

__all__ = ["app"]
