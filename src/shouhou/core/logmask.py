"""A logging filter that masks mainland mobile numbers (1[3-9] + 9 digits) in log records.

Wired on the handlers in settings.LOGGING, so every record that is written — a request
error with its POST data, a SQL statement with its parameters at DEBUG — goes out as
138****5678. Cheap: a record is formatted (which the handler would do anyway) and scanned
once with one compiled pattern; only a hit rewrites it.
"""

from __future__ import annotations

import logging
import re

PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    return PHONE.sub(r"\1****\3", text)


class MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a broken format string is the handler's to report
            return True
        if PHONE.search(message):
            record.msg, record.args = mask_phones(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and PHONE.search(record.exc_text):
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info and PHONE.search(record.stack_info):
            record.stack_info = mask_phones(record.stack_info)
        return True
