"""The web app: login, upload, result with BI-RADS suggestion and heatmap, history; SQLite or PostgreSQL.

    from mammokit.web import WebSettings, create_app
    app = create_app(WebSettings(model_path="runs/mias-cv/bundle"))
"""
from ._accounts import AccountError, UserInfo, add_user, create_api_token, list_users, set_active
from ._app import create_app
from ._db import init_db
from ._settings import WebSettings, default_data_dir

__all__ = [
    "AccountError", "UserInfo", "WebSettings", "add_user", "create_api_token", "create_app",
    "default_data_dir", "init_db", "list_users", "set_active",
]
