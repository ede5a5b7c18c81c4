"""CLI: `mammokit serve` — the web app (FastAPI + uvicorn)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import constants
from ..birads import DEFAULT_DEPLOYMENT_PREVALENCE, check_prevalence
from ..errors import ConfigError, ModelError
from ._app import app, data_app, users_app  # noqa: F401

DEFAULT_BUNDLE = Path("runs") / "mias-cv" / "bundle"


def default_bundle() -> Path:
    """The bundle `make demo` chose to serve (runs/served-bundle.json: the best measured, never a constant
    or leaky one), else runs/mias-cv/bundle; in the working directory or the repository."""
    from ..bundle import served_bundle_path

    for base in (Path.cwd(), constants.REPO_ROOT):  # runs/ is DEFAULT_BUNDLE's grandparent: one notion of it
        chosen = served_bundle_path(base / DEFAULT_BUNDLE.parents[1])
        if chosen is not None and chosen.exists():
            return chosen
    for candidate in (Path.cwd() / DEFAULT_BUNDLE, constants.REPO_ROOT / DEFAULT_BUNDLE):
        if candidate.exists():
            return candidate
    raise ModelError(f"no model: {DEFAULT_BUNDLE} does not exist; run `make demo` first or pass --model BUNDLE")


def read_birads_config(path: Path | None) -> tuple[dict | None, float | None]:
    """(thresholds, deployment prevalence) from a YAML file: a ``birads:`` mapping of thresholds (or the
    thresholds at the top level) and an optional top-level ``prevalence:`` fraction."""
    if path is None:
        return None, None
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read BI-RADS thresholds ({type(exc).__name__})") from None
    prevalence = None
    if isinstance(data, dict) and "prevalence" in data:
        data = dict(data)
        try:
            prevalence = check_prevalence(data.pop("prevalence"))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    data = data.get("birads", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of BI-RADS thresholds (cat3_max, cat4a_max, ...)")
    return data, prevalence


def echo_model_warning(evidence) -> None:
    """The loud start-up line for a model that has not earned a BI-RADS suggestion (stderr)."""
    if not evidence.earned:
        typer.secho(f"mammokit: WARNING: {evidence.warning}", err=True,
                    fg=typer.colors.RED, bold=True)


def limit_malloc_arenas(n: int = 2) -> None:
    """Cap glibc malloc arenas: the request thread pool otherwise grows one arena per thread and
    the server's resident memory by a few hundred MB under concurrent uploads (no-op elsewhere)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # -8 = M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def uvicorn_options(host: str, port: int, forwarded_allow_ips: str | None) -> dict:
    """How `serve` runs uvicorn: no `Server` header; proxy headers only from the proxies named (uvicorn
    would otherwise trust X-Forwarded-For from 127.0.0.1, so anyone on the host could pick their address)."""
    trusted = (forwarded_allow_ips or "").strip()
    return {"host": host, "port": port, "log_level": "info", "server_header": False,
            "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


@app.command("serve")
def serve(
    model: Annotated[Path | None, typer.Option(
        "--model", help="Model bundle folder (default: runs/mias-cv/bundle).")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL: sqlite:///FILE or postgresql://USER:PW@HOST/DB "
                     "(default: SQLite file in the data dir).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Uploads, derived images, secret key and the default SQLite database "
                           "(default: $MAMMOKIT_DATA_DIR or ~/.local/share/mammokit).")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest accepted upload, in MB.")] = 100.0,
    max_pixels: Annotated[int, typer.Option(
        "--max-pixels", help="Largest accepted image, in pixels (rows x columns).")] = constants.DEFAULT_MAX_PIXELS,
    birads_config: Annotated[Path | None, typer.Option(
        "--birads-config", help="YAML file with BI-RADS thresholds (a `birads:` mapping of cat3_max, "
                                "cat4a_max, cat4b_max, cat5_min, confident) and optionally `prevalence:`.")] = None,
    prevalence: Annotated[float | None, typer.Option(
        "--prevalence", help="Malignant fraction of the population served; the BI-RADS rule uses P(malignant) "
                             f"moved to it (default {DEFAULT_DEPLOYMENT_PREVALENCE}: screening, BCSC; "
                             "see docs/web.md).")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", help="Trusted reverse proxies (comma-separated addresses) whose X-Forwarded-For "
                                      "and X-Forwarded-Proto are believed; none by default.")] = None,
    session_idle_minutes: Annotated[float, typer.Option(
        "--session-idle-minutes", min=1, help="A login unused this long ends.")] = 30.0,
) -> None:
    """Start the web app: login, upload a mammogram, read the result. Add users with `mammokit users add`."""
    import uvicorn

    from ..web import WebSettings, create_app, default_data_dir, list_users
    from ..web._startup import check_model_runs

    bundle = model if model is not None else default_bundle()
    if not bundle.exists():
        raise ModelError(f"{bundle}: model bundle not found (run `make demo` to make {DEFAULT_BUNDLE}, "
                         "or pass --model BUNDLE)")
    thresholds, config_prevalence = read_birads_config(birads_config)
    chosen = prevalence if prevalence is not None else config_prevalence
    settings = WebSettings(
        data_dir=data_dir or default_data_dir(), db_url=db, model_path=bundle,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
        birads_thresholds=thresholds,
        prevalence=check_prevalence(chosen) if chosen is not None else DEFAULT_DEPLOYMENT_PREVALENCE,
        session_idle_minutes=session_idle_minutes,
    )
    limit_malloc_arenas()
    web_app = create_app(settings)
    model = web_app.state.ctx.model
    check_model_runs(model, bundle)  # fail now (unknown backbone, bad weights), not on every upload
    typer.echo(f"mammokit: serving {bundle} on http://{host}:{port}/  (data: {settings.data_dir}; "
               f"database: {web_app.state.engine.url.render_as_string(hide_password=True)})")
    echo_model_warning(model.evidence)
    typer.echo(f"BI-RADS rule at a deployment prevalence of {settings.prevalence:.4g} malignant"
               + (" (default: screening, BCSC benchmarks; --prevalence to change)" if chosen is None else ""))
    if not list_users(web_app.state.ctx.factory):
        db_opt = f" --db {db}" if db else (f" --data-dir {data_dir}" if data_dir else "")
        typer.echo(f"no users yet: add one with `mammokit users add NAME --role admin{db_opt}` (no default account)")
    typer.echo(constants.RESEARCH_DISCLAIMER)
    uvicorn.run(web_app, **uvicorn_options(host, port, forwarded_allow_ips))
