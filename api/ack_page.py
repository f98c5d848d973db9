"""The page an emergency contact sees after tapping the acknowledgement link: who,
what, when, the last heart rate, who else was alerted, and a big "I'm on my way"
button, in English or Chinese. Opening the link only shows the page: the button
(a POST) acknowledges, so a mail scanner that fetches links cannot stop the
escalation. API clients keep the JSON answer; a browser (``Accept`` prefers
text/html) gets this."""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from api.db import fetch_all, fetch_one

_TEXT = {
    "en": {
        "title": "Alert acknowledged",
        "title_open": "Someone needs help",
        "needs_help": "{name} may need help",
        "button": "I'm on my way",
        "button_note": "Tapping tells the other contacts that you are handling it.",
        "on_my_way": "✓ Thank you: you are on your way",
        "others_told": "The other contacts are told that you are handling it.",
        "someone_else": "✓ {name} is already handling it",
        "closed": "This alert is closed: nothing more is needed.",
        "who": "Who",
        "what": "What",
        "when": "When",
        "last_hr": "Last heart rate",
        "bpm": "{bpm} beats per minute at {at}",
        "also_alerted": "Also alerted",
        "nobody_else": "nobody else",
        "error_title": "This link cannot be used",
        "fall": "A fall",
        "sos": "The help (SOS) button",
        "other": "An alert ({kind})",
        "time_zone": "{zone} time",
        "bad_signature": "This acknowledgement link is not valid.",
        "unknown_alert": "This alert no longer exists.",
        "unknown_contact": "This link is not for a contact of this wearer.",
        "not_acknowledgeable": "This alert cannot be acknowledged now: it was cancelled,"
        " is still counting down, or is closed.",
    },
    "zh-CN": {
        "title": "已确认警报",
        "title_open": "有人需要帮助",
        "needs_help": "{name} 可能需要帮助",
        "button": "我马上就到",
        "button_note": "点击后，其他联系人会知道由您处理。",
        "on_my_way": "✓ 谢谢：您正在赶往现场",
        "others_told": "其他联系人已获知由您处理。",
        "someone_else": "✓ {name} 已在处理",
        "closed": "该警报已结束，无需进一步操作。",
        "who": "佩戴者",
        "what": "事件",
        "when": "时间",
        "last_hr": "最近心率",
        "bpm": "{at} 时 {bpm} 次/分钟",
        "also_alerted": "同时通知了",
        "nobody_else": "无其他人",
        "error_title": "该链接无法使用",
        "fall": "跌倒",
        "sos": "按下了求助（SOS）按钮",
        "other": "警报（{kind}）",
        "time_zone": "{zone} 时间",
        "bad_signature": "该确认链接无效。",
        "unknown_alert": "该警报已不存在。",
        "unknown_contact": "该链接不属于此佩戴者的联系人。",
        "not_acknowledgeable": "该警报目前无法确认：已取消、仍在倒计时或已结束。",
    },
}


def prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks text/html above application/json (a browser);
    no header, */* or a JSON preference keep the JSON answer for API clients."""
    ranks: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranks[media.lower()] = max(q, ranks.get(media.lower(), 0.0))
    html = ranks.get("text/html", 0.0)
    return html > 0 and html > ranks.get("application/json", 0.0)


def language(accept_language: str | None) -> str:
    """zh-CN for any Chinese preference ranked above English, else English."""
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, *params = (p.strip() for p in part.split(";"))
        q = next((_q(p[2:]) for p in params if p.startswith("q=")), 1.0)
        code = tag.lower()
        lang = "zh-CN" if code.startswith("zh") else "en" if code.startswith("en") else None
        if lang and q > best_q:
            best, best_q = lang, q
    return best


def _q(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


async def facts(conn: AsyncConnection, alert_id: int, contact_id: int) -> dict:
    """What the page says (read after the acknowledgement, when there is one)."""
    alert = await fetch_one(
        conn,
        "SELECT a.kind, a.state, a.event_t, a.acknowledged_by, b.band_id, b.name, b.time_zone,"
        " c.name AS handler FROM alerts a JOIN bands b ON b.band_id = a.band_id"
        " LEFT JOIN contacts c ON c.id = a.acknowledged_by WHERE a.id = %s",
        (alert_id,),
    )
    alert["others"] = [
        r["name"]
        for r in await fetch_all(
            conn,
            "SELECT DISTINCT c.name FROM deliveries d JOIN contacts c ON c.id = d.contact_id"
            " WHERE d.alert_id = %s AND d.kind = 'alert' AND d.contact_id <> %s ORDER BY c.name",
            (alert_id, contact_id),
        )
    ]
    alert["last_hr"] = await fetch_one(
        conn,
        "SELECT t, bpm FROM hr_last(%s, %s)",
        (alert["band_id"], alert["event_t"]),
    )
    return alert


def _local(t: dt.datetime, zone: str) -> str:
    return t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _page(lang: str, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · bandhub</title><style>"
        "body{font:1.1rem/1.5 system-ui,'Noto Sans SC','PingFang SC',sans-serif;margin:0;"
        "color:#111}main{max-width:36rem;margin:0 auto;padding:1rem}"
        ".big{font-size:1.8rem;font-weight:700;padding:1.25rem;border:3px solid #1b7f3b;"
        "border-radius:.75rem;color:#1b7f3b;margin:1rem 0}dt{color:#555;margin-top:.75rem}"
        "dd{margin:0;font-size:1.3rem;font-weight:600}.error{border-color:#b3261e;color:#b3261e}"
        "button.big{display:block;width:100%;background:#1b7f3b;color:#fff;cursor:pointer}"
        "h1.alarm{border-color:#b3261e;color:#b3261e}"
        f"</style></head><body><main>{body}</main></body></html>"
    )


def _details(text: dict, alert: dict) -> str:
    name = alert["name"] or alert["band_id"]
    what = text.get(alert["kind"], text["other"]).format(kind=alert["kind"])
    zone = alert["time_zone"]
    hr = alert["last_hr"]
    rows = [
        (text["who"], name),
        (text["what"], what),
        (text["when"], f"{_local(alert['event_t'], zone)} ({text['time_zone'].format(zone=zone)})"),
    ]
    if hr:
        rows.append((text["last_hr"], text["bpm"].format(bpm=hr["bpm"], at=_local(hr["t"], zone))))
    rows.append((text["also_alerted"], ", ".join(alert["others"]) or text["nobody_else"]))
    return (
        "<dl>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
        + "</dl>"
    )


def needs_answer(alert: dict) -> bool:
    """Whether the page asks this contact to acknowledge (nobody has, it is not closed)."""
    return alert["state"] != "resolved" and alert["acknowledged_by"] is None


def prompt(lang: str, alert: dict, action: str) -> str:
    """Before acknowledging: the facts and the button that acknowledges (a form POST to
    ``action``, the link itself)."""
    text = _TEXT[lang]
    headline = text["needs_help"].format(name=alert["name"] or alert["band_id"])
    body = (
        f'<h1 class="big alarm">{escape(headline)}</h1>{_details(text, alert)}'
        f'<form method="post" action="{escape(action)}">'
        f'<button class="big" type="submit">{escape(text["button"])}</button></form>'
        f"<p>{escape(text['button_note'])}</p>"
    )
    return _page(lang, text["title_open"], body)


def confirmation(lang: str, alert: dict, contact_id: int) -> str:
    text = _TEXT[lang]
    if alert["state"] == "resolved":
        headline = text["closed"]
    elif alert["acknowledged_by"] not in (None, contact_id):
        headline = text["someone_else"].format(name=alert["handler"])
    else:
        headline = text["on_my_way"]
    note = f"<p>{escape(text['others_told'])}</p>" if headline == text["on_my_way"] else ""
    body = f'<h1 class="big">{escape(headline)}</h1>{note}{_details(text, alert)}'
    return _page(lang, text["title"], body)


def error(lang: str, code: str, message: str) -> str:
    """The API's error, in the contact's language when the page knows its code."""
    text = _TEXT[lang]
    said = text.get(code, message)
    body = f'<h1 class="big error">{escape(text["error_title"])}</h1><p>{escape(said)}</p>'
    return _page(lang, text["error_title"], body)
