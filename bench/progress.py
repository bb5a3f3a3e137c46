"""Progress of long work that shows on a terminal and in a log file alike.

On a terminal it is a tqdm bar. Elsewhere (nohup, CI, torchrun's redirected ranks) a bar draws nothing
useful, so it prints one plain line now and then instead: ``prepare DF2K x2: 1200/3450 (35%), 41.2 img/s,
about 55 s left``, at most every ``every`` seconds, and once at the end.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, every: float = 30.0,
                 enabled: bool = True, stream: TextIO | None = None):
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.done = initial
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.bar = None
        if enabled and self.stream.isatty():
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream, leave=False)
        self.start = self.last = time.perf_counter()
        self.start_count = initial
        self.postfix = ""

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.done += n
        if postfix:
            self.postfix = ", ".join(f"{k} {v}" for k, v in postfix.items())
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
        elif self.enabled and time.perf_counter() - self.last >= self.every and self.done < self.total:
            self._line()

    def _line(self) -> None:
        self.last = now = time.perf_counter()
        rate = (self.done - self.start_count) / max(now - self.start, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = f", about {left:.0f} s left" if self.done < self.total and left != float("inf") else ""
        percent = 100 * self.done / self.total if self.total else 100.0
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.done}/{self.total} ({percent:.0f}%), {rate:.3g} {self.unit}/s{eta}{extra}",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
