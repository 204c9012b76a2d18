"""The CPU budget of reading one mail: each stage may take so many seconds of the thread's CPU
time; past it the mail is stored and not processed (see `parse`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

# CPU seconds each stage of reading may take (see the module docstring); measured worst cases
# of 1 MB of hostile input take under 1 s (bench/mail_hostile.py).
MIME_STRUCTURE = "the MIME structure"
CHARSET_DECODING = "charset decoding"
HTML_SANITISING = "HTML sanitising"
HTML_TO_TEXT = "HTML to text"
QUOTE_STRIPPING = "quote stripping"
BOUNCE_REPORT = "the bounce report"
UUDECODING = "uuencoded files"
TNEF_UNPACKING = "winmail.dat unpacking"
STAGE_SECONDS = {
    MIME_STRUCTURE: 5.0,
    CHARSET_DECODING: 3.0,
    HTML_SANITISING: 5.0,
    HTML_TO_TEXT: 3.0,
    QUOTE_STRIPPING: 3.0,
    BOUNCE_REPORT: 3.0,
    UUDECODING: 3.0,
    TNEF_UNPACKING: 5.0,
}


class Budget:
    """CPU time spent per stage; nested stages are charged to the innermost one."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(STAGE_SECONDS, 0.0)
        self.open: list[str] = []
        self.mark = time.thread_time()
        self.over = ""

    def charge(self) -> None:
        now = time.thread_time()
        if self.open:
            stage = self.open[-1]
            self.spent[stage] += now - self.mark
            limit = STAGE_SECONDS[stage]
            if self.spent[stage] > limit and not self.over:
                self.over = (
                    f"Reading the mail took more than {limit:g} s of CPU in {stage}; "
                    "it was stored and not processed."
                )
        self.mark = now

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.charge()
        self.open.append(name)
        try:
            yield
        finally:
            self.charge()
            self.open.pop()
