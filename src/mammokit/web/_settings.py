"""Settings of the web app, resolved once at start-up."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .. import constants
from ..birads import DEFAULT_DEPLOYMENT_PREVALENCE, check_prevalence
from ..errors import ConfigError

DATA_DIR_ENV = "MAMMOKIT_DATA_DIR"
SECRET_ENV = "MAMMOKIT_SECRET_KEY"
DEFAULT_MAX_UPLOAD_MB = 100
MIN_SECRET_BYTES = 32  # signs cookies and keys patient-ID and UID hashes


def default_data_dir() -> Path:
    """$MAMMOKIT_DATA_DIR, else $XDG_DATA_HOME/mammokit, else ~/.local/share/mammokit."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "mammokit"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'mammokit.db').resolve()}"


@dataclass
class WebSettings:
    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None  # None -> SQLite file data_dir/mammokit.db
    model_path: Path | None = None  # None -> uploads are refused with 503 (auth pages still work)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    max_pixels: int = constants.DEFAULT_MAX_PIXELS
    secret_key: str | None = None  # None -> $MAMMOKIT_SECRET_KEY or data_dir/secret.key (created once)
    birads_thresholds: dict | None = None
    # Malignant fraction of the population the app is used on; the BI-RADS rule applies to P(malignant)
    # moved to it (see birads.DEFAULT_DEPLOYMENT_PREVALENCE for the default and its source).
    prevalence: float = DEFAULT_DEPLOYMENT_PREVALENCE
    session_hours: float = 12.0  # absolute lifetime of a login
    session_idle_minutes: float = 30.0  # a session unused this long ends (ASVS V3.3.2)
    # Failed logins allowed inside the window before further attempts are refused (HTTP 429).
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    failure_window_s: int = 15 * 60
    # Uploads decoded and analysed at once: what this much memory holds (web/_limits.py), unless set.
    analysis_memory_mb: int = 512
    max_concurrent_analyses: int | None = None
    analysis_wait_s: float = 30.0  # an upload waits this long for a slot, then gets 503
    max_uploads_in_flight_per_user: int = 4
    max_uploads_per_minute: int = 30
    orphan_grace_s: float = 60.0  # the start-up sweep keeps unreferenced files younger than this

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        for folder in (self.data_dir, *self.data_dir.parents):  # the nearest existing one must be a folder
            if folder.exists():
                if not folder.is_dir():
                    raise ConfigError(f"data folder {self.data_dir}: {folder} is a file, not a folder")
                break
        if self.max_upload_bytes <= 0:
            raise ConfigError(f"max upload size must be positive, got {self.max_upload_bytes} bytes")
        if self.max_pixels <= 0:
            raise ConfigError(f"max pixels must be positive, got {self.max_pixels}")
        self.prevalence = check_prevalence(self.prevalence)

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.data_dir)

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def derived_dir(self) -> Path:
        return self.data_dir / "derived"

    def resolve_secret(self) -> str:
        """The key that signs cookies and salts patient-ID hashes; created (mode 0600) on first use."""
        for key, where in ((self.secret_key, "the secret key setting"), (os.environ.get(SECRET_ENV), f"${SECRET_ENV}")):
            if key:
                if len(key.encode()) < MIN_SECRET_BYTES:
                    raise ConfigError(f"{where} is too short: use at least {MIN_SECRET_BYTES} bytes of random text, e.g. "
                                      "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
                return key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
        if len(key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"{path}: secret key is too short (delete it to make a new one)")
        return key
