"""The application context: everything a request handler needs, built once per app (`create_app`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import sessionmaker

from .. import constants
from ._analysis import ModelService
from ._auth import CookieSigner
from ._settings import WebSettings
from ._store import FileStore

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class AppContext:
    settings: WebSettings
    factory: sessionmaker
    secret: str
    session_signer: CookieSigner
    csrf_signer: CookieSigner
    templates: Jinja2Templates
    store: FileStore
    model: ModelService

    def render(self, request: Request, name: str, status_code: int = 200, **context):
        context.setdefault("disclaimer", constants.RESEARCH_DISCLAIMER)
        context.setdefault("user", None)
        context.setdefault("csrf_token", "")
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx
