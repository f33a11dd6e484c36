import importlib.util
from pathlib import Path

from app.core import i18n

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_string_is_translated_in_both_catalogues():
    problems = _script().problems()
    assert problems == [], "run scripts/i18n.py update, then translate:\n" + "\n".join(problems)


def test_chinese_is_the_default_and_english_is_available():
    assert i18n.DEFAULT_LOCALE == "zh_Hans"
    token = i18n.current_locale.set("zh_Hans")
    try:
        assert i18n.gettext("Sign in") == "登录"
        i18n.current_locale.set("en")
        assert i18n.gettext("Sign in") == "Sign in"
    finally:
        i18n.current_locale.reset(token)
