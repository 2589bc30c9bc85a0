"""The e-mail headers the Apps Script forwards with each message (besides From, To, Cc, Reply-To and
Delivered-To): what routing conditions and receivers may read. Names are compared in lower case.

`apps_script/Code.gs` asks Gmail for exactly these; the ingress drops any other name it is sent.
"""

FORWARDED_HEADERS = (
    "Message-ID",
    "In-Reply-To",
    "References",
    "Return-Path",
    "List-Id",
    "List-Unsubscribe",
    "X-Original-To",
    "X-Forwarded-To",
    "Auto-Submitted",
    "Precedence",
    "X-Mailer",
)
FORWARDED_HEADER_NAMES = frozenset(name.lower() for name in FORWARDED_HEADERS)
