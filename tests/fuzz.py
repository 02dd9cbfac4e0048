"""A seeded mutator over the shipped scenarios, driving the command line in-process.

Used by ``tests/test_fuzz.py`` (which runs it in a child process with an address-space limit)
and runnable by hand for a longer campaign::

    python -m tests.fuzz --cases 2000 --seed 1 --seconds 600

Each case mutates one shipped scenario (a field set to a hostile value, a block removed, the
YAML text damaged), then calls :func:`simtrial.cli.main.main` with ``validate`` or ``run`` (small
``--simulations``, an ``--out`` directory of its own). A case is *bad* when the command raises
out of ``main`` (a traceback), returns a status other than 0 or 2, prints "Traceback", or leaves
anything in the output's parent directory after exit 2. The report gives the counts and the
peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

HOSTILE: list[Any] = [
    0,
    -1,
    1,
    2,
    0.5,
    1.5,
    1e8,
    1.0e30,
    1.0e300,
    1.0e308,
    -1.0e308,
    10**20,
    100_000_000,
    99_998,
    1040,
    1000,
    1e-3,
    1e-9,
    float("nan"),
    float("inf"),
    True,
    None,
    "",
    "x\n",
    "abc",
    "1e30",
    [],
    [1e8],
    [100_000_000],
    [0, 0],
    {},
    {"beta": [1e300, 1e-300]},
    {"gamma": [1e300, 1e-300]},
    {"lognormal": [700, 5]},
    {"prior": "msc/loss_per_week_new"},
    {"prior": "msc/mu_loss"},
    {"prior": "msc/induction_new"},
    {"prior": "msc/sae_per_year"},
    {"prior": "as_placebo/theta_new\n"},
    {"prior": "nope/x"},
    "a" * 5000,
]

TEXT_DAMAGE = [
    lambda t, r: t[: r.randrange(len(t))],  # truncated
    lambda t, r: _insert(t, r, "\x00"),
    lambda t, r: _insert(t, r, "\x07"),
    lambda t, r: _insert(t, r, "\x1b[31m"),
    lambda t, r: _insert(t, r, ": ["),
    lambda t, r: _insert(t, r, "&a "),
    lambda t, r: _insert(t, r, "*a "),
    lambda t, r: t + "\nx: &r [*r]\n",
    lambda t, r: t + "\n" + "deep: " + "[" * 5000 + "]" * 5000 + "\n",
    lambda t, r: _bomb(9) + t,
    lambda t, r: t + "\n!!python/object:os.system {}\n",
    lambda t, r: t.replace("\n", "\r", r.randrange(1, 5)),
]


def _insert(text: str, rng: random.Random, piece: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + piece + text[i:]


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return "\n".join(lines) + "\n"


def _leaves(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location (mapping key or list index path) in ``data``."""
    out = [loc] if loc else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _leaves(v, loc + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _leaves(v, loc + (i,))
    return out


def _set(data: Any, loc: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    for part in loc[:-1]:
        data = data[part]
    if delete:
        del data[loc[-1]]
    else:
        data[loc[-1]] = value


def mutate(rng: random.Random) -> tuple[str, str, str]:
    """One mutated scenario: ``(source name, description, YAML text)``."""
    source = rng.choice(SCENARIOS)
    text = source.read_text(encoding="utf-8")
    if rng.random() < 0.2:
        damage = rng.randrange(len(TEXT_DAMAGE))
        return source.name, f"text damage #{damage}", TEXT_DAMAGE[damage](text, rng)
    data = yaml.safe_load(text)
    changes = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        locs = _leaves(data)
        loc = rng.choice(locs)
        if rng.random() < 0.15 and len(loc) > 1:
            _set(data, loc, None, delete=True)
            changes.append(f"del {loc}")
        else:
            value = copy.deepcopy(rng.choice(HOSTILE))
            _set(data, loc, value)
            changes.append(f"{loc}={value!r:.40}")
    return source.name, "; ".join(changes), yaml.safe_dump(data, sort_keys=False)


def peak_rss_mib() -> float:
    """Peak resident set size of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _messages(stderr: str) -> int:
    return sum(line.startswith("error:") for line in stderr.splitlines())


def run_case(text: str, command: str, work: Path, index: int) -> dict[str, Any]:
    """Run one command on one mutated file; returns the outcome."""
    from simtrial.cli.main import main

    case_dir = work / f"case{index}"
    case_dir.mkdir()
    scenario = case_dir / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8", errors="surrogateescape")
    out_dir = case_dir / "out"
    if command == "validate":
        argv = ["validate", str(scenario)]
    else:
        argv = ["run", str(scenario), "--simulations", "20", "--quiet", "--out", str(out_dir)]
        if command == "run":
            argv.append("--no-report")
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    crash = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code: Any = main(argv)
        except BaseException:  # noqa: BLE001 - a crash is what we are counting
            code = None
            crash = traceback.format_exc(limit=-3)
    seconds = time.perf_counter() - started
    leftovers = sorted(p.name for p in case_dir.iterdir() if p.name != "scenario.yaml")
    problem = None
    if crash is not None:
        problem = "traceback"
    elif code not in (0, 2):
        problem = f"exit {code}"
    elif "Traceback" in stderr.getvalue():
        problem = "traceback printed"
    elif code == 2 and leftovers:
        problem = f"written on error: {leftovers}"
    elif code == 2 and _messages(stderr.getvalue()) != 1 and command != "validate":
        problem = "not one message"
    return {
        "command": command,
        "code": code,
        "problem": problem,
        "crash": crash,
        "stderr": stderr.getvalue()[-400:],
        "seconds": seconds,
        "rss_mib": peak_rss_mib(),
    }


def campaign(cases: int, seed: int, work: Path, seconds: float | None = None) -> dict[str, Any]:
    """Run up to ``cases`` mutated cases (or until ``seconds`` pass); returns the report."""
    rng = random.Random(seed)
    outcomes = []
    started = time.perf_counter()
    for i in range(cases):
        if seconds is not None and time.perf_counter() - started > seconds:
            break
        source, change, text = mutate(rng)
        command = rng.choices(["validate", "run", "run-report"], weights=[6, 3, 1])[0]
        with open(work / "log.jsonl", "a", encoding="utf-8") as log:
            log.write(json.dumps({"case": i, "source": source, "change": change}) + "\n")
        outcome = run_case(text, command, work, i)
        outcome.update(case=i, source=source, change=change)
        outcomes.append(outcome)
        with open(work / "log.jsonl", "a", encoding="utf-8") as log:
            log.write(json.dumps(outcome, default=str) + "\n")
    bad = [o for o in outcomes if o["problem"]]
    return {
        "cases": len(outcomes),
        "exit_0": sum(o["code"] == 0 for o in outcomes),
        "exit_2": sum(o["code"] == 2 for o in outcomes),
        "bad": bad,
        "tracebacks": sum(o["problem"] in ("traceback", "traceback printed") for o in bad),
        "peak_rss_mib": peak_rss_mib(),
        "slowest_seconds": max((o["seconds"] for o in outcomes), default=0.0),
        "seconds": time.perf_counter() - started,
    }


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--max-memory-mib", type=int, default=None)
    args = parser.parse_args()
    if args.max_memory_mib:
        limit = args.max_memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    args.work.mkdir(parents=True, exist_ok=True)
    report = campaign(args.cases, args.seed, args.work, args.seconds)
    json.dump(report, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    _main()
