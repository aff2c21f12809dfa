"""Reasoning patterns: the step sequences that solved a class of tasks, turned into templates.

Two miners over a session's agent and command episodes:
- `mine_patterns`: deterministic, no LLM. Each episode becomes a sequence of abstract steps
  (`read_file`, `edit_file`, `run pytest`...); contiguous n-grams found in at least `min_support`
  sequences become patterns, keeping only the longest n-gram of each support ("closed").
- `patterns_from_llm`: asks the summarisation model for strict JSON and recovers what it can
  from a reply that is not: strict parse -> code fences stripped -> first {...}/[...] block ->
  trailing commas, quotes and literals fixed, unclosed brackets closed -> a clear error.

A pattern is {name, steps, template, support, episodeIds, source}; `template` starts an agent
task and holds `{task}` where the user's words go.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from server.agent.jsonrepair import JsonRepairError, parse_json_loose
from server.agent.messages import Message

if TYPE_CHECKING:
    from server.agent.llm import LLMGateway
    from server.agent.messages import Usage


# ----------------------------------------------------------------------------- steps

# tools whose first non-flag argument names what they do (`git commit`, `npm test`)
_SUBCOMMAND_TOOLS = {
    "git",
    "npm",
    "pnpm",
    "yarn",
    "bun",
    "cargo",
    "go",
    "make",
    "docker",
    "kubectl",
    "pip",
    "uv",
    "poetry",
    "dotnet",
    "gradle",
    "mvn",
    "ruff",
    "npx",
    "just",
    "tox",
    "nox",
}
_PHRASES = {
    "read_file": "Read the files involved",
    "list_files": "List the files to see where the work goes",
    "search": "Search the workspace for the code involved",
    "edit_file": "Make the edit",
    "recall_memory": "Recall similar past work",
    "apply_skill": "Apply the matching learned skill",
}


def command_head(command: str) -> str:
    """What a command does, without its arguments.

    `FOO=1 python -m pytest -x tests/a.py` -> `python -m pytest`; `git commit -m x` -> `git commit`.
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    argv = [a for a in argv if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", a)] or argv
    if not argv:
        return ""
    tool = argv[0].rsplit("/", 1)[-1]
    rest = argv[1:]
    if re.fullmatch(r"python[0-9.]*", tool) and len(rest) >= 2 and rest[0] == "-m":
        return f"python -m {rest[1]}"
    if tool == "git":  # options that take a value: `git -C dir commit`
        while len(rest) >= 2 and rest[0] in ("-C", "-c"):
            rest = rest[2:]
    if tool in _SUBCOMMAND_TOOLS:
        sub = next((a for a in rest if not a.startswith("-")), None)
        return f"{tool} {sub}" if sub else tool
    return tool


def episode_steps(episode: Mapping[str, Any]) -> list[str]:
    """An agent episode's abstract steps: the tool calls that ran (commands by their head).

    Refused, blocked, declined and unapplied calls are not steps: a pattern learned from them
    would teach the agent to try what was refused (a "run sudo" step)."""
    steps = []
    for entry in episode.get("trajectory") or []:
        if entry.get("type") != "tool" or not ran(entry):
            continue
        name = str(entry.get("tool"))
        if name == "run_command":
            head = command_head(str((entry.get("arguments") or {}).get("command", "")))
            steps.append(f"run {head}" if head else "run")
        else:
            steps.append(name)
    return steps


def ran(entry: Mapping[str, Any]) -> bool:
    """Whether a trajectory's tool entry was executed (the loop marks the others `refused`;
    episodes recorded before it did carry only their result's data)."""
    raw = entry.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    return not (
        entry.get("refused")
        or data.get("refused")
        or data.get("blocked")
        or data.get("declined")
        or data.get("applied") is False
    )


def sequences(episodes: Sequence[Mapping[str, Any]]) -> list[tuple[list[str], list[Any]]]:
    """(steps, episode ids) per agent episode, and per session's run of command episodes."""
    out: list[tuple[list[str], list[Any]]] = []
    sessions: dict[str, list[Mapping[str, Any]]] = {}
    for ep in episodes:
        if ep.get("kind") == "agent":
            out.append((episode_steps(ep), [ep.get("id")]))
        elif ep.get("kind") == "command" and ep.get("command"):
            sessions.setdefault(str(ep.get("sessionId") or ""), []).append(ep)
    for eps in sessions.values():
        eps = sorted(eps, key=lambda e: e.get("startedAt") or 0)
        out.append(
            ([f"run {command_head(str(e['command']))}" for e in eps], [e.get("id") for e in eps])
        )
    # a step repeated back to back is one step: three reads are "read the files"
    return [([s for i, s in enumerate(st) if i == 0 or s != st[i - 1]], ids) for st, ids in out]


def step_phrase(step: str) -> str:
    if step.startswith("run "):
        return f"Run `{step[4:]}` and check that it exits 0"
    return _PHRASES.get(step, f"Use {step}")


def template_for(steps: Sequence[str]) -> str:
    lines = [f"{i}. {step_phrase(s)}." for i, s in enumerate(steps, 1)]
    return "{task}\n\nSteps that worked for tasks like this here:\n" + "\n".join(lines)


def mine_patterns(
    episodes: Sequence[Mapping[str, Any]],
    *,
    min_support: int = 2,
    min_len: int = 2,
    max_len: int = 6,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Frequent contiguous step n-grams, closed (no longer n-gram with the same support)."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for index, (steps, ids) in enumerate(sequences(episodes)):
        seen: set[tuple[str, ...]] = set()
        for n in range(min_len, max_len + 1):
            for i in range(len(steps) - n + 1):
                gram = tuple(steps[i : i + n])
                if gram in seen or len(set(gram)) < 2:
                    continue
                seen.add(gram)
                entry = found.setdefault(gram, {"sequences": set(), "ids": []})
                entry["sequences"].add(index)
                entry["ids"] += [x for x in ids if x is not None and x not in entry["ids"]]
    frequent = {g: e for g, e in found.items() if len(e["sequences"]) >= min_support}

    def subsumed(gram: tuple[str, ...], support: int) -> bool:
        return any(
            len(other) > len(gram) and len(e["sequences"]) == support and _contains(other, gram)
            for other, e in frequent.items()
        )

    patterns = [
        {
            "name": " → ".join(gram),
            "steps": list(gram),
            "template": template_for(gram),
            "support": len(e["sequences"]),
            "episodeIds": e["ids"],
            "source": "miner",
        }
        for gram, e in frequent.items()
        if not subsumed(gram, len(e["sequences"]))
    ]
    patterns.sort(key=lambda p: (-p["support"] * len(p["steps"]), -len(p["steps"]), p["name"]))
    return patterns[:limit]


def _contains(seq: tuple[str, ...], sub: tuple[str, ...]) -> bool:
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


# ----------------------------------------------------------------------------- by the LLM

PROMPT = """These are episodes from one coding session: agent tasks with their tool calls, and
commands the developer ran. Find the reusable reasoning patterns: sequences of steps that solved
a class of tasks and would help next time.

Reply with only a JSON array, no prose. Each item:
{{"name": short name, "steps": [short imperative steps], "template": a prompt that starts an
agent task for this class of tasks and contains {{task}}, "episodeIds": [ids it came from]}}

Episodes:
{episodes}"""


def describe(episodes: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for ep in episodes:
        if ep.get("kind") == "agent":
            lines.append(
                f"- id {ep.get('id')} agent task {str(ep.get('task', ''))[:200]!r}: "
                f"{' -> '.join(episode_steps(ep)) or 'no tools'}; "
                f"outcome {ep.get('outcome')}"
            )
        elif ep.get("kind") == "command":
            lines.append(
                f"- id {ep.get('id')} command {str(ep.get('command'))[:200]!r} "
                f"exit {ep.get('exitCode')}"
            )
    return "\n".join(lines)


def validate_patterns(value: Any, known_ids: Iterable[Any]) -> list[dict[str, Any]]:
    """Keep the well-formed items of an LLM's answer; ids it made up are dropped."""
    if isinstance(value, dict):
        value = value.get("patterns", [value])
    if not isinstance(value, list):
        raise JsonRepairError("expected a JSON array of patterns")
    known = {str(i) for i in known_ids}
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        steps = [str(s) for s in item.get("steps") or [] if isinstance(s, str | int | float)]
        if not steps:
            continue
        ids = [i for i in item.get("episodeIds") or [] if str(i) in known]
        template = item.get("template")
        if not isinstance(template, str) or "{task}" not in template:
            template = (
                template_for(steps) if not isinstance(template, str) else ("{task}\n\n" + template)
            )
        out.append(
            {
                "name": item["name"].strip()[:120],
                "steps": steps,
                "template": template,
                "support": max(1, len(ids)),
                "episodeIds": ids,
                "source": "llm",
            }
        )
    return out


async def patterns_from_llm(
    episodes: Sequence[Mapping[str, Any]],
    llm: LLMGateway,
    *,
    is_cancelled: Callable[[], bool] | None = None,
) -> tuple[list[dict[str, Any]], Usage]:
    """Patterns named by the summarisation model; JsonRepairError if its reply is not JSON."""

    prompt = PROMPT.format(episodes=describe(episodes))
    reply = await llm.chat(
        [Message("user", prompt)],
        role="summarise",
        system="You answer with strict JSON only.",
        is_cancelled=is_cancelled,
    )
    value = parse_json_loose(reply.message.text)
    return validate_patterns(value, [e.get("id") for e in episodes]), reply.usage
