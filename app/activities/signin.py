"""Sign-in (签到): when it is open, and the ways a deputy is signed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.activities.models import Activity
from app.tenancy.config import Config


def signin_window(activity: Activity, config: Config) -> tuple[datetime, datetime]:
    """(opens, closes): sign-in opens ``signin_opens_minutes`` before the start and closes
    ``signin_closes_minutes`` after the end (tenant settings)."""
    return (activity.starts_at - timedelta(minutes=config.signin_opens_minutes),
            activity.ends_at + timedelta(minutes=config.signin_closes_minutes))


def signin_open(activity: Activity, config: Config, now: datetime) -> bool:
    opens, closes = signin_window(activity, config)
    return activity.status != "cancelled" and opens <= now <= closes
