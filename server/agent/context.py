"""The agent's context: six blocks packed into a provider's token budget.

Blocks (KeneticCore's order): 1 system and persona; 2 resources — KENETIC.md and user.md
notes, recalled episodes, relevant skills and patterns, the user's place in the editor (all passed
in by the caller; not the ALS: its knobs tune suggestions and are noise to the model); 3 tool
specs (sent as the request's tools, counted here); 4 compressed history; 5 the user's task; 6 tool
results (the recent turns, verbatim).

Blocks 1-2 go in the system prompt, 4-5 in the first user message, 6 after it. Resources get at
most a fixed share of the budget. When the whole is over budget, `compact` first masks old tool
outputs, then summarises older turns with the summarisation model. Stale content is dropped at
once: a file's earlier reads are masked as soon as the agent edits that file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.agent.messages import Message, estimate_tokens

log = logging.getLogger(__name__)

PERSONA = """You are kenetic's agent, working for a developer inside their editor, on their \
workspace. Use the tools to look before you act: read the files involved, then make small, \
precise edits with edit_file (the developer can undo them in the editor), and run the project's \
own checks with run_command when that helps (the developer confirms each command). Prefer the \
developer's own habits — the skills, patterns and notes below were learned from them. Paths are \
relative to the workspace. When the task is done, or cannot be done, answer in a few sentences: \
what you changed and how you checked it. Never try to get around a refused path or command."""

RESOURCE_SHARE = 0.3  # of the budget, at most, for block 2
MASKED = "[{tool} output masked to save context ({chars} characters); call it again if needed]"
STALE = "[stale: {path} was edited after this read; read it again if you need it]"


@dataclass
class Resources:
    notes: dict[str, str] = field(default_factory=dict)  # {"KENETIC.md": text, "user.md": text}
    episodes: list[dict[str, Any]] = field(default_factory=list)
    skills: list[dict[str, Any]] = field(default_factory=list)
    patterns: list[dict[str, Any]] = field(default_factory=list)
    document: dict[str, Any] | None = None  # {path, range, text}: where the user is


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + " …"


def render_resources(r: Resources, budget_tokens: int) -> str:
    """Block 2, most useful first, each section clipped, stopping at the budget."""
    sections: list[tuple[str, list[str]]] = []
    if r.document:
        doc = r.document
        where = f"{doc.get('path')}" + (f" {doc['range']}" if doc.get("range") else "")
        sections.append(
            (
                "The user is at",
                [where, *([f"```\n{_clip(doc['text'], 4000)}\n```"] if doc.get("text") else [])],
            )
        )
    for name, text in r.notes.items():
        if text and text.strip():
            sections.append((f"Notes from {name}", [_clip(text.strip(), 6000)]))
    if r.patterns:
        sections.append(
            (
                "Reasoning patterns that worked here",
                [
                    f"- {p.get('name')}: {' -> '.join(map(str, p.get('steps', [])))}"
                    f" (support {p.get('support', '?')})"
                    for p in r.patterns
                ],
            )
        )
    if r.skills:
        sections.append(
            (
                "Learned skills (apply_skill can apply them)",
                [
                    f"- {s.get('id')} {s.get('name', '')}: "
                    f"{_clip(str(s.get('before', '')), 200)!r} -> "
                    f"{_clip(str(s.get('after', '')), 200)!r}"
                    for s in r.skills
                ],
            )
        )
    if r.episodes:
        sections.append(
            (
                "Similar past work",
                [f"- {_clip(json.dumps(e, default=str), 600)}" for e in r.episodes],
            )
        )
    out: list[str] = []
    left = budget_tokens
    for title, lines in sections:
        head = f"## {title}"
        if estimate_tokens(head) + 8 > left:
            break
        out.append(head)
        left -= estimate_tokens(head)
        for line in lines:
            cost = estimate_tokens(line) + 1
            if cost > left:
                out.append("(more left out)")
                left = 0
                break
            out.append(line)
            left -= cost
    return "\n".join(out)


class Context:
    def __init__(
        self,
        task: str,
        *,
        resources: Resources | None = None,
        tool_specs: Sequence[dict[str, Any]] = (),
        budget_tokens: int = 100_000,
        persona: str = PERSONA,
        keep_recent: int = 2,
    ) -> None:
        self.task = task
        self.resources = resources or Resources()
        self.tool_specs = list(tool_specs)
        self.budget_tokens = budget_tokens
        self.persona = persona
        self.keep_recent = keep_recent
        self.summary = ""
        self.turns: list[Message] = []
        self.reads: dict[str, str] = {}  # tool_call_id -> path it read
        self.ratio = 1.0  # provider tokens / our estimate, learned from replies
        self._system = ""

    # ------------------------------------------------------------------------- blocks

    def system(self) -> str:
        if not self._system:
            share = int(self.budget_tokens * RESOURCE_SHARE)
            resources = render_resources(self.resources, share)
            self._system = self.persona + ("\n\n# Resources\n" + resources if resources else "")
        return self._system

    def messages(self) -> list[Message]:
        first = f"Task: {self.task}"
        if self.summary:
            first += f"\n\nProgress so far (earlier steps, summarised):\n{self.summary}"
        return [Message("user", first), *self.turns]

    def add(self, message: Message, *, read_path: str | None = None) -> None:
        self.turns.append(message)
        if read_path and message.tool_call_id:
            self.reads[message.tool_call_id] = read_path

    def mark_edited(self, path: str) -> int:
        """Mask every earlier read of a file the agent just edited; how many were masked."""
        count = 0
        for m in self.turns:
            if m.role == "tool" and self.reads.get(m.tool_call_id or "") == path:
                m.text = STALE.format(path=path)
                del self.reads[m.tool_call_id or ""]
                count += 1
        return count

    # ------------------------------------------------------------------------- budget

    def estimate(self) -> int:
        raw = estimate_tokens(self.system()) + estimate_tokens(json.dumps(self.tool_specs))
        for m in self.messages():
            raw += (
                4
                + estimate_tokens(m.text)
                + sum(estimate_tokens(json.dumps(c.arguments)) + 8 for c in m.tool_calls)
            )
        return int(raw * self.ratio)

    def calibrate(self, estimated: int, actual: int | None) -> None:
        """Learn how far off the character estimate is from the provider's own count."""
        if actual and estimated > 0:
            self.ratio = max(0.5, min(3.0, actual / (estimated / self.ratio)))

    def over_budget(self) -> bool:
        return self.estimate() > self.budget_tokens

    def _old_rounds_end(self) -> int:
        """Index in turns where the kept recent rounds (assistant + its tool results) start."""
        starts = [i for i, m in enumerate(self.turns) if m.role == "assistant"]
        return starts[-self.keep_recent] if len(starts) >= self.keep_recent else 0

    async def compact(
        self,
        summarise: Callable[[str], Awaitable[str]] | None = None,
    ) -> dict[str, int]:
        """Mask old tool outputs, then summarise old turns; what was done, in counts."""
        done = {"masked": 0, "summarised": 0}
        if not self.over_budget():
            return done
        end = self._old_rounds_end()
        for m in self.turns[:end]:
            if m.role == "tool" and not m.text.startswith("["):
                m.text = MASKED.format(tool=m.tool_name or "tool", chars=len(m.text))
                done["masked"] += 1
        if not self.over_budget() or end == 0:
            return done
        old, self.turns = self.turns[:end], self.turns[end:]
        text = transcript(old)
        digest = ""
        if summarise is not None:
            try:
                digest = (await summarise(text)).strip()
            except Exception as exc:  # summarising is a saving, not a requirement
                log.warning("summarising the agent's history failed: %s", exc)
        if not digest:
            digest = mechanical_digest(old)
        self.summary = (self.summary + "\n" + digest).strip()
        done["summarised"] = len(old)
        return done


def transcript(turns: Sequence[Message]) -> str:
    lines = []
    for m in turns:
        if m.role == "assistant":
            if m.text:
                lines.append(f"assistant: {m.text}")
            lines += [
                f"assistant called {c.name}({json.dumps(c.arguments)[:300]})" for c in m.tool_calls
            ]
        elif m.role == "tool":
            lines.append(
                f"{m.tool_name} returned{' an error' if m.is_error else ''}: {_clip(m.text, 1500)}"
            )
        else:
            lines.append(f"user: {m.text}")
    return "\n".join(lines)


def mechanical_digest(turns: Sequence[Message]) -> str:
    """A summary without an LLM: each call and the first line of what it returned."""
    lines = []
    for m in turns:
        for c in m.tool_calls:
            lines.append(f"- called {c.name} {json.dumps(c.arguments)[:160]}")
        if m.role == "tool":
            first = (m.text.splitlines() or [""])[0]
            lines.append(f"  -> {'error: ' if m.is_error else ''}{_clip(first, 160)}")
    return "\n".join(lines)


SUMMARY_PROMPT = """Summarise these earlier steps of a coding task for your own later use. \
Keep: files read and what matters in them, edits made, commands run and their results, open \
problems. Drop file contents. At most 15 short lines.

{transcript}"""
