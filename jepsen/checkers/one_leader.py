"""At most one agent leads each Raft term: from logs/AGENT.log, the lines
"leading term N" (written when an agent becomes leader of term N).
"""

from .run import LEADING_TERM, log_time_ms


def leaders(run):
    """term -> [{"agent", "line", "time_ms" (unix, or None)}]"""
    out = {}
    for agent, lines in sorted(run.logs.items()):
        for n, text in lines:
            m = LEADING_TERM.search(text)
            if not m:
                continue
            out.setdefault(int(m.group(1)), []).append(
                {"agent": agent, "line": n, "time_ms": log_time_ms(text)})
    return out


def check(run):
    terms = leaders(run)
    violations = []
    for term, who in sorted(terms.items()):
        if len({w["agent"] for w in who}) > 1:
            v = {"problem": "two leaders in one term", "term": term,
                 "leaders": who}
            times = [w["time_ms"] for w in who if w["time_ms"] is not None]
            if times and "start_wall_ms" in run.config:
                v["time_ns"] = run.wall_ms_to_ns(min(times))
            violations.append(v)
    return {"valid": not violations, "log_files": len(run.logs),
            "terms": len(terms),
            "leaders": {str(t): sorted({w["agent"] for w in who})
                        for t, who in sorted(terms.items())},
            "violations": violations}
