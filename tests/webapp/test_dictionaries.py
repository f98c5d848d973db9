"""Every string the app shows comes from its dictionaries, in both languages: a key
missing from one would show the raw key to the user."""

from __future__ import annotations

import json
import re

from api.webapp import STATIC

LANGS = ("en", "zh-CN")


def _dictionary(lang: str) -> dict[str, str]:
    return json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = (_dictionary(lang) for lang in LANGS)
    assert en.keys() == zh.keys()
    for key, text in en.items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", zh[key])), key
        assert zh[key].strip(), key


def test_every_key_the_app_names_is_in_the_dictionaries():
    """Keys named literally: t("…"), data-i18n="…", and the label keys passed to the
    page helpers (field, form, heading, action, button, figure)."""
    en = _dictionary("en")
    sources = [*(STATIC / "js").glob("*.js"), STATIC / "index.html"]
    named = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        named |= set(re.findall(r'\bt\("(\w+)"', text))
        named |= set(re.findall(r'data-i18n(?:-[\w-]+)?="(\w+)"', text))
        named |= set(re.findall(r'\b(?:form|heading|action|button)\("(\w+)"', text))
        named |= set(re.findall(r'\b(?:field|figure|goalLine)\("[\w-]+", "(\w+)"', text))
        named |= set(re.findall(r'\], "(\w+)", async', text))  # a form's submit label
    prefixes = {key for key in named if key.endswith("_")}  # t("status_" + state)
    assert prefixes == {"scope_", "share_", "status_", "symbol_"}
    named -= prefixes
    named |= {
        f"{p}{v}" for p in ("status_", "symbol_") for v in ("ok", "alert", "silent", "battery")
    }
    named |= {f"scope_{s}" for s in ("summaries", "live", "alerts", "settings")}
    named |= {"share_invited", "share_active", "hrv_period_sleep", "hrv_period_day"}
    named |= {f"stage_{s}" for s in ("deep", "light", "rem")}
    named |= {f"hyp_{s}" for s in ("wake", "rem", "light", "deep")}
    named |= {f"age_group_{g}" for g in ("teenager", "adult", "older_adult")}
    named |= {f"sex_{s}" for s in ("unset", "female", "male")}
    named |= {f"period_{p}" for p in ("week", "month", "year")}
    named |= {f"link_{e}" for e in ("connected", "disconnected", "failed")}
    named |= {f"day_{d}" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    named |= {f"outcome_{o}" for o in ("ok", "needed_help", "false_alarm")}
    assert len(named) > 100
    assert sorted(named - en.keys()) == []
