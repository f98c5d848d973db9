"""Fitted parameters shipped as data; each file names the script that fits it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load(name: str) -> dict:
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
