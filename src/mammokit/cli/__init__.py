"""Command-line entry point: thin shells over the library.

Each sub-command lives in its own module and registers itself on the typer app.
Errors from the library (``MammokitError``) print as one line and exit non-zero.
"""
from __future__ import annotations

import sys

import click

from ..errors import MammokitError

# Registration side effects: each module adds its commands to the apps of ._app.
from . import (  # noqa: F401
    _compare,
    _data,
    _demo,
    _features,
    _model_card,
    _predict,
    _preview,
    _report,
    _run,
    _serve,
    _users,
)
from ._app import app, data_app, users_app

__all__ = ["app", "data_app", "main", "users_app"]


def main(argv: list[str] | None = None) -> None:
    try:
        rv = app(args=argv, prog_name="mammokit", standalone_mode=False)
    except MammokitError as exc:
        print(f"mammokit: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("mammokit: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("mammokit: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
