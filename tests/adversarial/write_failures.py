"""Turn the suite's JSON report into the failure list the other helpers read.

Usage::

    CUSTREL_ADV_REPORT=/tmp/adv.json HYPOTHESIS_PROFILE=ci \\
        .venv/bin/python -m pytest -q -p no:cacheprovider tests/adversarial
    .venv/bin/python tests/adversarial/write_failures.py /tmp/adv.json OUT.md [PREVIOUS.json]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections import defaultdict

SOURCES = {
    "models": ("src/custrel/models/", "intake"),
    "btyd": ("src/custrel/btyd/", "btyd"),
    "clv": ("src/custrel/clv.py", "clv-lifecycle"),
    "lifecycle": ("src/custrel/lifecycle.py", "clv-lifecycle"),
    "pyramid": ("src/custrel/pyramid.py", "pyramid-channels-rfm"),
    "channels": ("src/custrel/channels.py", "pyramid-channels-rfm"),
    "rfm": ("src/custrel/rfm.py", "pyramid-channels-rfm"),
    "report": ("src/custrel/report.py, cli.py, plot/", "report"),
    "frames": ("src/custrel/frames.py", "frames"),
    "datasets": ("src/custrel/datasets.py", "docs"),
}
PER_ENTRY = 12


def _module(key: str) -> str:
    return key.removeprefix("repro:").split(".", 1)[0]


def main(src: str, out: str, previous: str | None = None) -> None:
    with open(src, encoding="utf-8") as fh:
        data = json.load(fh)
    fixed: list[str] = []
    if previous:
        with open(previous, encoding="utf-8") as fh:
            old = json.load(fh)["failures"]
        fixed = sorted(k for k in old if k not in data["failures"] and k in data["calls"])
    fails: dict[str, list[str]] = data["failures"]
    by_mod: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for key, lines in fails.items():
        by_mod[_module(key)][key] = lines
    n_fail = sum(len(v) for v in fails.values())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    w = [
        '# Adversarial failures (helper "adversarial")',
        "",
        (
            f"Refreshed {now} from a full run of `tests/adversarial` "
            f"(profile {data.get('profile', '?')}, {data.get('examples', '?')} inputs drawn per "
            f"function and family): {len(data['covered'])} functions and "
            f"methods covered, {data['inputs']} inputs tried, {n_fail} failing inputs in "
            f"{len(fails)} functions/reproductions."
        ),
        "",
        (
            "Run your module: `.venv/bin/python -m pytest -q -p no:cacheprovider "
            "tests/adversarial -k <module>` (ids: `test_bad_inputs[<module>.<function>-<family>]`, "
            "`test_valid_call[...]`, `test_reproduction[<module>.<...>]`). "
            "`CUSTREL_ADV_EXAMPLES=5` draws more inputs per test. A line reads "
            "`[family] function(argument=bad value): what went wrong`; `[repro]` lines are the "
            "issue-10 reproductions in tests/adversarial/adv_reproductions.py, `[valid]` the "
            "registry's valid call. 'result changed after the caller edited X' = the result "
            "shares memory with the caller's X; 'writable array at result.F' = not frozen."
        ),
        "",
    ]
    if fixed:
        w.append(
            f"No longer failing since the previous refresh ({len(fixed)}; fixed, or the NaN "
            "was found documented and allow-listed): " + ", ".join(fixed)
        )
        w.append("")
    for mod in sorted(by_mod, key=lambda m: (m not in SOURCES, m)):
        path, owner = SOURCES.get(mod, ("?", "?"))
        entries = by_mod[mod]
        w.append(
            f"## {mod} — {path} (owner: {owner}) — "
            f"{sum(len(v) for v in entries.values())} failing inputs"
        )
        w.append("")
        for key in sorted(entries, key=lambda k: (not k.startswith("repro:"), k)):
            lines = entries[key]
            w.extend(f"- {_clean(line)}" for line in lines[:PER_ENTRY])
            if len(lines) > PER_ENTRY:
                w.append(f"- ... and {len(lines) - PER_ENTRY} more for `{key}`")
        w.append("")
    adv = data.get("advisories", {})
    if adv:
        n_adv = sum(len(v) for v in adv.values())
        w.append(
            f"## Advisory (not failures): {n_adv} CustrelError messages that do not name "
            "the argument that was bad"
        )
        w.append("")
        for key in sorted(adv):
            w.extend(f"- {_clean(line)}" for line in adv[key][:3])
        w.append("")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(w))


def _clean(line: str) -> str:
    line = re.sub(r"\s+", " ", line)
    return line if len(line) < 400 else line[:397] + "..."


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
