"""Team store under load: 20 simulated developers pushing 10,000 skill cards and 100,000 outcome
deltas into one PostgreSQL team database at once, and pulling each other's cards as they go.

Starts its own PostgreSQL (tests/team/pg.py: initdb + pg_ctl in a temp dir, fsync on) and the
team role of docs/team.md. Each developer is a process with its own connection (memory.team.client,
the code the sync thread runs): it pushes its cards in batches of 50 and its deltas in batches of
500, pulls after each round from its cursor, and at the end pushes one batch again (a retry after a
lost answer), which must add nothing. A fifth of the cards are rewrites another developer also
learned: they merge into one team skill.

Prints JSON: wall time, throughput (cards/s, deltas/s), p50/p95 latency of each push and pull
call, one newcomer's pull of the whole catalogue afterwards, and the exactness checks (rows,
distinct team skills, per-skill totals equal to what was pushed, total deltas).
Run: python tests/bench/team_load.py [--developers 20] [--skills 10000] [--deltas 100000]
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from memory.team.card import SkillCard, card_from_skill, merge_key  # noqa: E402
from memory.team.client import TeamClient  # noqa: E402
from tests.team.pg import TEAM_PASSWORD, Postgres  # noqa: E402
from tests.unit.skills.mined import mine  # noqa: E402

DOC = "def a(x):\n    print(x)\n\n\ndef b(y):\n    print(y)\n"
OUTCOMES = ("accepted", "rejected", "undone")


def _base() -> SkillCard:
    _, made, _ = mine("python", DOC, ("print(x)", "logger.info(x)"), ("print(y)", "logger.info(y)"))
    return card_from_skill(made[0], "", 1.0, 1.0)


def _renamed_const(t: list[Any], n: int) -> bool:
    """Give the first constant leaf named `info` another text (another rewrite, same spans)."""
    if t[0] == "c" and t[2] == "info":
        t[2] = f"info{n}"
        return True
    return t[0] == "n" and any(_renamed_const(c, n) for c in t[2])


def variant(base: SkillCard, n: int, developer: str) -> SkillCard:
    card = copy.deepcopy(base)
    assert any(_renamed_const(t, n) for t in card.after["parts"]), "no constant to vary"
    card.key = merge_key(card.language, card.before, card.after)
    card.developer, card.support, card.updated_at = developer, 2 + n % 5, time.time()
    return card


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


def developer(work: tuple[Any, ...], ready: Any, results: Any) -> None:
    """One developer in a process of its own (as each developer's kenetic is): push its cards
    and deltas in rounds, pulling after each, then retry one batch of deltas."""
    d, url, cards, deltas, per_skills, per_deltas = work
    out: dict[str, Any] = {"lat": {"push_cards": [], "push_deltas": [], "pull": []},
                           "pulled": 0, "refused": 0, "retried": 0, "errors": []}  # fmt: skip
    client = TeamClient(url, f"dev{d}")
    try:
        client.ping()
    except Exception as exc:  # reported in the JSON, never hidden
        out["errors"].append(f"dev{d}: {type(exc).__name__}: {exc}")
    ready.wait()
    try:
        cursor, rounds = "0", 10
        cs, ds = per_skills // rounds, per_deltas // rounds
        lat = out["lat"]
        for r in range(rounds):
            for lo in range(r * cs, (r + 1) * cs, 50):
                t = time.perf_counter()
                client.push_cards(cards[lo : min(lo + 50, (r + 1) * cs)])
                lat["push_cards"].append(time.perf_counter() - t)
            for lo in range(r * ds, (r + 1) * ds, 500):
                t = time.perf_counter()
                client.push_deltas(deltas[lo : min(lo + 500, (r + 1) * ds)])
                lat["push_deltas"].append(time.perf_counter() - t)
            t = time.perf_counter()
            got = client.pull(cursor)
            lat["pull"].append(time.perf_counter() - t)
            cursor = got.cursor
            out["pulled"] += len(got.cards)
            out["refused"] += len(got.refused)
        out["retried"] = client.push_deltas(deltas[:500])  # a retry: must add nothing
    except Exception as exc:
        out["errors"].append(f"dev{d}: {type(exc).__name__}: {exc}")
    finally:
        client.close()
        results.put(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--developers", type=int, default=20)
    ap.add_argument("--skills", type=int, default=10_000)
    ap.add_argument("--deltas", type=int, default=100_000)
    args = ap.parse_args()
    devs, per_skills, per_deltas = (
        args.developers,
        args.skills // args.developers,
        (args.deltas // args.developers),
    )
    pg = Postgres(fsync=True)
    pg.start()
    try:
        url = pg.team_database()
        os.environ["PGPASSWORD"] = TEAM_PASSWORD
        TeamClient(url, "migrate").ping()
        base = _base()
        # developer d's skills: numbers d*per .. ; a fifth of them are also its neighbour's
        plans: list[list[int]] = []
        for d in range(devs):
            own = list(range(d * per_skills, (d + 1) * per_skills))
            shared = per_skills // 5
            own[:shared] = [((d + 1) % devs) * per_skills + per_skills - 1 - k
                            for k in range(shared)]  # fmt: skip
            plans.append(own)
        cards = {d: [variant(base, n, f"dev{d}") for n in plans[d]] for d in range(devs)}
        expected: dict[str, Counter[str]] = {}
        deltas: dict[int, list[tuple[str, str, str, float]]] = {}
        for d in range(devs):
            mine_ = []
            for k in range(per_deltas):
                card = cards[d][k % per_skills]
                outcome = OUTCOMES[(k * 7 + d) % 3]
                mine_.append((f"dev{d}:{k}", card.key, outcome, 1.0))
                expected.setdefault(card.key, Counter())[outcome] += 1
            deltas[d] = mine_
        lat: dict[str, list[float]] = {"push_cards": [], "push_deltas": [], "pull": []}
        ctx = mp.get_context("fork")
        results: Any = ctx.Queue()
        ready = ctx.Barrier(devs + 1)
        work = [(d, url, cards[d], deltas[d], per_skills, per_deltas) for d in range(devs)]
        procs = [ctx.Process(target=developer, args=(w, ready, results)) for w in work]
        for p in procs:
            p.start()
        ready.wait()  # every developer connected and its cards built: go
        start = time.perf_counter()
        done = [results.get() for _ in procs]
        wall = time.perf_counter() - start
        for p in procs:
            p.join()
        errors = [e for r in done for e in r["errors"]]
        for r in done:
            for k, v in r["lat"].items():
                lat[k] += v
        pulled_cards = sum(r["pulled"] for r in done)
        refused = sum(r["refused"] for r in done)
        retried_added = sum(r["retried"] for r in done)

        # a developer joining afterwards pulls the whole catalogue at once, the server quiet
        newcomer = TeamClient(url, "newcomer")
        t = time.perf_counter()
        catalogue = newcomer.pull()
        full_pull = time.perf_counter() - t
        newcomer.close()
        with pg.admin(url.rsplit("/", 1)[1]) as conn:
            rows = conn.execute("SELECT count(*), count(DISTINCT key) FROM kenetic.skill_cards")
            card_rows, team_skills = rows.fetchone()
            delta_rows = conn.execute("SELECT count(*) FROM kenetic.outcome_deltas").fetchone()[0]
            totals = {
                k: Counter({"accepted": a, "rejected": r, "undone": u})
                for k, a, r, u in conn.execute(
                    "SELECT key, accepted, rejected, undone FROM kenetic.skill_totals")
            }  # fmt: skip
        want = {k: Counter({o: c[o] for o in OUTCOMES}) for k, c in expected.items()}
        mismatched = sum(1 for k in want if +totals.get(k, Counter()) != +want[k])
        distinct = len({c.key for cs in cards.values() for c in cs})
        report = {
            "developers": devs,
            "cards_pushed": devs * per_skills,
            "deltas_pushed": devs * per_deltas,
            "postgres": "15, local, fsync on, one temp cluster",
            "wall_s": round(wall, 2),
            "throughput": {
                "cards_per_s": round(devs * per_skills / wall, 1),
                "deltas_per_s": round(devs * per_deltas / wall, 1),
            },
            "latency_ms": {
                name: {
                    "calls": len(v),
                    "p50": pct(v, 0.5),
                    "p95": pct(v, 0.95),
                    "mean": round(statistics.fmean(v) * 1000, 2) if v else 0.0,
                }
                for name, v in lat.items()
            },  # fmt: skip
            "full_pull": {
                "cards": len(catalogue.cards),
                "ms": round(full_pull * 1000, 1),
                "note": "a newcomer pulls every team skill after the load, server quiet",
            },
            "exact": {
                "card_rows": card_rows,
                "card_rows_expected": devs * per_skills,
                "team_skills": team_skills,
                "team_skills_expected": distinct,
                "delta_rows": delta_rows,
                "delta_total_in_totals": sum(sum(c.values()) for c in totals.values()),
                "deltas_expected": devs * per_deltas,
                "skills_with_wrong_totals": mismatched,
                "added_by_retried_pushes": retried_added,
                "pulled_cards": pulled_cards,
                "refused_rows": refused,
                "ok": (
                    card_rows == devs * per_skills
                    and team_skills == distinct
                    and delta_rows == devs * per_deltas
                    and mismatched == 0
                    and retried_added == 0
                    and not errors
                ),
            },  # fmt: skip
            "errors": errors[:5],
        }
        print(json.dumps(report, indent=2))
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
