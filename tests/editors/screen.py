"""A terminal screen (tmux `capture-pane -e` output) to HTML, and HTML to PNG with Chromium.

Only what tmux emits is handled: SGR colours (16, 256, 24-bit), bold, italic, underline, reverse.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")

# xterm's default 16 colours
BASE16 = [
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
]  # fmt: skip
FG, BG = "#d0d0d0", "#1c1c1c"


def color256(n: int) -> str:
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return f"#{steps[n // 36]:02x}{steps[n // 6 % 6]:02x}{steps[n % 6]:02x}"
    g = 8 + (n - 232) * 10
    return f"#{g:02x}{g:02x}{g:02x}"


class Style:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fg: str | None = None
        self.bg: str | None = None
        self.bold = self.italic = self.underline = self.reverse = False

    def apply(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    value = color256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    value = "#{:02x}{:02x}{:02x}".format(*codes[i + 2 : i + 5])
                    i += 4
                else:
                    value = None
                if c == 38:
                    self.fg = value
                else:
                    self.bg = value
            i += 1

    def css(self) -> str:
        fg, bg = self.fg or FG, self.bg or BG
        if self.reverse:
            fg, bg = bg, fg
        parts = [f"color:{fg}", f"background:{bg}"]
        if self.bold:
            parts.append("font-weight:bold")
        if self.italic:
            parts.append("font-style:italic")
        if self.underline:
            parts.append("text-decoration:underline")
        return ";".join(parts)


def to_html(screen: str, title: str = "") -> str:
    style = Style()
    rows = []
    backgrounds: dict[str, int] = {}
    for line in screen.rstrip("\n").split("\n"):
        out = []
        pos = 0
        for m in SGR.finditer(line):
            text = OTHER_ESC.sub("", line[pos : m.start()])
            if text:
                out.append(f'<span style="{style.css()}">{html.escape(text)}</span>')
                bg = style.css().split("background:")[1].split(";")[0]
                backgrounds[bg] = backgrounds.get(bg, 0) + len(text)
            style.apply(m.group(1))
            pos = m.end()
        text = OTHER_ESC.sub("", line[pos:])
        if text:
            out.append(f'<span style="{style.css()}">{html.escape(text)}</span>')
        rows.append("".join(out))
    body = "\n".join(rows)
    # the screen's own background fills the gaps between lines
    page_bg = max(backgrounds, key=lambda k: backgrounds[k]) if backgrounds else BG
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>body{{margin:0;background:{page_bg}}}"
        "pre{margin:0;padding:8px;font:15px/1.25 'DejaVu Sans Mono','Liberation Mono',monospace;"
        f"color:{FG};background:{page_bg};white-space:pre}}</style>"
        f"<pre>{body}</pre>"
    )


def html_to_png(page: Path, png: Path, width: int, height: int, chromium: str) -> None:
    """Chromium's own --screenshot: no driver needed."""
    subprocess.run(
        ["timeout", "60", chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
