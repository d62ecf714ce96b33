"""Control characters in target text made visible (``\\x1b``), so a terminal never acts on them.

A target can put escape sequences in anything it sends back (a status value, an error message, a
header). Shown as they came, on the console or in a report someone cats or greps, they could erase
a line and print a fake verdict, set a hyperlink or write the clipboard; the Unicode bidirectional
controls could reorder what a line appears to say. Both functions turn each into its escape.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0 and C1 control characters and DEL (tab included: it can move the cursor over text), and bidi controls
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")
# the same, but line breaks and tabs kept: for multi-line evidence in a report
_CONTROL_IN_LINES = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")


def _escaped(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """text with every control character shown as an escape (``\\x1b``), never acted on: one line."""
    return _CONTROL.sub(_escaped, text)


def printable_lines(text: str) -> str:
    """printable, but newlines and tabs kept (multi-line text such as a body shown in a report)."""
    return _CONTROL_IN_LINES.sub(_escaped, text)
