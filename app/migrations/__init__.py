"""Alembic's script directory (env.py, versions/), shipped inside the package so that `lianluo migrate`
works from an installed wheel in any directory: `alembic_config` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg
