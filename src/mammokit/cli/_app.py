"""The typer applications; command modules register themselves on these."""
from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="mammokit: train, evaluate and serve mammogram classifiers. Research software, not a diagnosis.",
)
data_app = typer.Typer(no_args_is_help=True, help="Fetch and inspect data sets.")
users_app = typer.Typer(no_args_is_help=True, help="Manage web-app users.")
app.add_typer(data_app, name="data")
app.add_typer(users_app, name="users")
