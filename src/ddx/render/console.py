"""The rich console every terminal view prints through: it never sends a control character from its content."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from ddx.display import UNPRINTABLE, printable


class SafeConsole(Console):
    """A rich console that shows control characters in what it renders as visible escapes (``\\x1b``)."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and UNPRINTABLE.search(segment.text):
                yield Segment(printable(segment.text), segment.style)
            else:
                yield segment
