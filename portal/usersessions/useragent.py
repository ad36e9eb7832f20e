"""A readable "browser on OS" from a User-Agent header, good enough to recognise a device.

Deliberately small: the list of sessions needs "Firefox on Windows", not a device
database. Order matters: Edge and Opera announce themselves as Chrome too, Chrome as
Safari, and iPadOS/iOS browsers carry their own names before "Safari".
"""

import re

_BROWSERS = [
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(?:Chrome|Chromium|CriOS|HeadlessChrome)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
    ("Internet Explorer", re.compile(r"\b(?:MSIE |Trident/)")),
    ("curl", re.compile(r"^curl/")),
    ("Python", re.compile(r"^python-(?:requests|httpx|urllib)|^Python-urllib")),
]
_SYSTEMS = [
    ("iPadOS", re.compile(r"\biPad\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
]


def describe_user_agent(user_agent: str) -> str:
    """E.g. "Firefox on Windows", "Safari on iOS", "Unknown browser"."""
    ua = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(ua)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system:
        return f"A browser on {system}"
    return "Unknown browser"
