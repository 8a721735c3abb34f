"""Reading a run folder (jepsen/FORMAT.md) into one Run object.

Every problem with the input raises InputError naming the file and, for
JSON lines, the line number; nothing here judges the system under test.
"""

import json
import os
import re

NS_PER_MS = 1_000_000
INF = float("inf")

OP_TYPES = ("invoke", "ok", "fail", "info")
FAULTS = ("partition-site", "isolate", "bridge", "ring", "oneway", "kill",
          "pause", "clock", "loss", "delay", "disk-full", "fsync-fail",
          "heal")

# "2026-11-26T14:14:32.123Z" at the start of an agent log line
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z?")
LEADING_TERM = re.compile(r"leading term (\d+)")


class InputError(Exception):
    """The run folder cannot be read or breaks the format."""


class Op:
    """One operation: an invoke paired with its completion.

    type is the completion type ("ok", "fail", "info"); an invoke that
    never completed counts as "info" with ret = INF.
    """

    __slots__ = ("index", "comp_index", "process", "f", "key", "value",
                 "type", "inv", "ret", "result", "user_set", "epoch",
                 "seq", "node", "error", "synthetic", "done")

    def __init__(self, inv_entry):
        self.index = inv_entry["index"]
        self.comp_index = None
        self.process = inv_entry["process"]
        self.f = inv_entry["f"]
        self.key = inv_entry["key"]
        self.value = inv_entry.get("value")
        self.type = "info"
        self.inv = inv_entry["time"]
        self.ret = INF
        self.result = None
        self.user_set = None
        self.epoch = None
        self.seq = None
        self.node = inv_entry.get("node")
        self.error = None
        self.synthetic = False
        self.done = None       # completion time, also of an info

    def complete(self, entry):
        self.comp_index = entry["index"]
        self.type = entry["type"]
        self.result = entry.get("value")
        self.user_set = entry.get("user_set")
        self.epoch = entry.get("epoch")
        self.seq = entry.get("seq")
        if entry.get("node") is not None:
            self.node = entry["node"]
        self.error = entry.get("error")
        self.done = entry["time"]
        # an info op may have taken effect at any time after its invoke
        self.ret = entry["time"] if self.type != "info" else INF

    def ref(self):
        """How a verdict names this op."""
        r = {"index": self.index, "f": self.f, "key": self.key,
             "type": self.type, "process": self.process}
        if self.comp_index is not None:
            r["completion_index"] = self.comp_index
        if self.synthetic:
            r["synthetic"] = True
        return r

    def __repr__(self):
        return "Op(%r)" % (self.ref(),)


class Run:
    """A parsed run folder. Times are ns since time 0 of the run."""

    def __init__(self):
        self.path = None
        self.config = {}
        self.entries = []      # history.jsonl, raw
        self.ops = []          # paired, in invoke order
        self.nemesis = []
        self.lag = []
        self.final = {}
        self.logs = {}         # agent -> [(line_no, text)]
        self.notes = []        # missing optional inputs
        self.strict = False    # an unknown result counts as invalid

    # ---- topology ----
    def pools(self):
        return self.config.get("pools", {})

    def home_pair(self, pool):
        p = self.pools().get(pool)
        return (pool, p.get("pair")) if p else (pool, None)

    def agent_pool(self, agent):
        a = self.config.get("agents", {}).get(agent)
        return a.get("pool") if a else None

    def pool_agents(self, pool):
        return sorted(name for name, a in self.config.get("agents", {}).items()
                      if a.get("pool") == pool)

    def site_agents(self, site):
        return sorted(name for name, a in self.config.get("agents", {}).items()
                      if a.get("site") == site)

    def end_time(self):
        t = 0
        for e in self.entries:
            t = max(t, e["time"])
        for e in self.nemesis:
            t = max(t, e["time"])
        return t

    def wall_ms_to_ns(self, ms):
        return (ms - self.config["start_wall_ms"]) * NS_PER_MS


def _fail(path, line, msg):
    where = path if line is None else "%s:%d" % (path, line)
    raise InputError("%s: %s" % (where, msg))


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _parse(text):
    """json.loads without NaN/Infinity (they are not JSON)."""
    return json.loads(text, parse_constant=_no_constant)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        _fail(path, None, "cannot read: %s" % e.strerror)
    except UnicodeDecodeError:
        _fail(path, None, "not UTF-8")
    try:
        return _parse(text)
    except ValueError as e:
        _fail(path, getattr(e, "lineno", None),
              "bad json: %s" % (getattr(e, "msg", None) or e))


def _read_jsonl(path):
    out = []
    try:
        fh = open(path, encoding="utf-8")
    except OSError as e:
        _fail(path, None, "cannot read: %s" % e.strerror)
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = _parse(line)
                except ValueError as e:
                    _fail(path, n, "bad json: %s" % getattr(e, "msg", e))
                if not isinstance(obj, dict):
                    _fail(path, n, "a line must be a JSON object")
                out.append((n, obj))
        except UnicodeDecodeError:
            _fail(path, None, "not UTF-8")
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and v == v and v not in (INF, -INF))


def _need(path, line, obj, field, check, what):
    if field not in obj or not check(obj[field]):
        _fail(path, line, "field %s must be %s" % (field, what))
    return obj[field]


def _load_config(path):
    c = _read_json(path)
    if not isinstance(c, dict):
        _fail(path, None, "must be a JSON object")
    for f in ("start_wall_ms", "rto_bound_ms", "rpo_window_ms"):
        _need(path, None, c, f, _is_num, "a number")
    for f in ("lease_ms", "grace_ms", "heartbeat_ms"):
        if f in c and not _is_num(c[f]):
            _fail(path, None, "field %s must be a number" % f)
    if not isinstance(c.get("sync", False), bool):
        _fail(path, None, "field sync must be a boolean")
    pools = _need(path, None, c, "pools", lambda v: isinstance(v, dict),
                  "an object")
    for name, p in pools.items():
        if not isinstance(p, dict):
            _fail(path, None, "pools.%s must be an object" % name)
        pair = p.get("pair")
        if pair is not None and not isinstance(pair, str):
            _fail(path, None, "pools.%s.pair must be a string" % name)
        if isinstance(pair, str) and pair not in pools:
            _fail(path, None, "pools.%s.pair names unknown pool %s"
                  % (name, pair))
    agents = c.get("agents", {})
    if not isinstance(agents, dict):
        _fail(path, None, "field agents must be an object")
    for name, a in agents.items():
        if not isinstance(a, dict):
            _fail(path, None, "agents.%s must be an object" % name)
        if a.get("pool") is not None and a["pool"] not in pools:
            _fail(path, None, "agents.%s.pool names unknown pool %s"
                  % (name, a["pool"]))
    return c


def _load_history(path, run):
    pending = {}
    for expect, (n, e) in enumerate(_read_jsonl(path)):
        idx = _need(path, n, e, "index", _is_int, "an integer")
        if idx != expect:
            _fail(path, n, "index %d out of order (expected %d)"
                  % (idx, expect))
        _need(path, n, e, "time", _is_num, "a number (ns)")
        typ = _need(path, n, e, "type", lambda v: v in OP_TYPES,
                    "one of " + "/".join(OP_TYPES))
        proc = _need(path, n, e, "process", _is_int, "an integer")
        f = _need(path, n, e, "f", lambda v: isinstance(v, str) and v,
                  "a non-empty string")
        key = _need(path, n, e, "key", lambda v: isinstance(v, str),
                    "a string")
        for opt, chk, what in (("epoch", _is_int, "an integer"),
                               ("seq", _is_int, "an integer"),
                               ("user_set", lambda v: isinstance(v, str),
                                "a string"),
                               ("node", lambda v: isinstance(v, str),
                                "a string")):
            if e.get(opt) is not None and not chk(e[opt]):
                _fail(path, n, "field %s must be %s" % (opt, what))
        run.entries.append(e)
        if typ == "invoke":
            if proc in pending:
                _fail(path, n, "process %d invokes while its op at index "
                      "%d is still open" % (proc, pending[proc].index))
            op = Op(e)
            pending[proc] = op
            run.ops.append(op)
            continue
        op = pending.pop(proc, None)
        if op is None:
            _fail(path, n, "%s of process %d without an invoke" % (typ, proc))
        if op.f != f or op.key != key:
            _fail(path, n, "%s (%s %s) does not match the invoke at index "
                  "%d (%s %s)" % (typ, f, key, op.index, op.f, op.key))
        if e["time"] < op.inv:
            _fail(path, n, "completion earlier than its invoke")
        op.complete(e)
        if f == "write" and typ == "ok":
            for req in ("user_set", "epoch"):
                if e.get(req) is None:
                    _fail(path, n, "an ok write needs field %s" % req)
        if f == "owner" and typ == "ok":
            v = e.get("value")
            if (not isinstance(v, dict) or not isinstance(v.get("owner"), str)
                    or not _is_int(v.get("epoch"))):
                _fail(path, n, "an ok owner read needs value "
                      "{\"owner\": str, \"epoch\": int}")


def _load_nemesis(path, run):
    for n, e in _read_jsonl(path):
        _need(path, n, e, "time", _is_num, "a number (ns)")
        _need(path, n, e, "type", lambda v: v in ("start", "stop"),
              "start or stop")
        _need(path, n, e, "fault", lambda v: isinstance(v, str) and v,
              "a fault name")
        t = e.get("targets", [])
        if not isinstance(t, list) or not all(isinstance(x, str) for x in t):
            _fail(path, n, "field targets must be a list of names")
        e.setdefault("targets", [])
        if e.get("detail") is not None and not isinstance(e["detail"], dict):
            _fail(path, n, "field detail must be an object")
        e["line"] = n
        run.nemesis.append(e)


def _load_lag(path, run):
    for n, e in _read_jsonl(path):
        _need(path, n, e, "time", _is_num, "a number (ns)")
        _need(path, n, e, "agent", lambda v: isinstance(v, str), "a string")
        _need(path, n, e, "direction", lambda v: isinstance(v, str),
              "a string")
        if e.get("lag_ms") is not None and not _is_num(e["lag_ms"]):
            _fail(path, n, "field lag_ms must be a number")
        run.lag.append(e)


def _load_final(path, run):
    f = _read_json(path)
    if not isinstance(f, dict):
        _fail(path, None, "must be a JSON object")
    if not isinstance(f.get("converged"), bool):
        _fail(path, None, "field converged must be a boolean")
    for field in ("owners", "data", "divergence", "verify"):
        if not isinstance(f.get(field, {}), dict):
            _fail(path, None, "field %s must be an object" % field)
        f.setdefault(field, {})
    for pool, o in f["owners"].items():
        if (not isinstance(o, dict) or not isinstance(o.get("owner"), str)
                or not _is_int(o.get("epoch"))):
            _fail(path, None, "owners.%s must be {owner, epoch}" % pool)
    for agent, lst in f["divergence"].items():
        if not isinstance(lst, list):
            _fail(path, None, "divergence.%s must be a list" % agent)
        for i, d in enumerate(lst):
            if not isinstance(d, dict) or not isinstance(d.get("key"), str):
                _fail(path, None, "divergence.%s[%d] needs a string key"
                      % (agent, i))
    for pool, v in f["verify"].items():
        if not isinstance(v, dict):
            _fail(path, None, "verify.%s must be an object" % pool)
    h = f.get("history", [])
    if not isinstance(h, list) or not all(isinstance(x, dict) for x in h):
        _fail(path, None, "field history must be a list of objects")
    f["history"] = h
    run.final = f


def _load_logs(path, run):
    for name in sorted(os.listdir(path)):
        if not name.endswith(".log"):
            continue
        lines = []
        try:
            with open(os.path.join(path, name), encoding="utf-8",
                      errors="replace") as fh:
                for n, text in enumerate(fh, 1):
                    lines.append((n, text.rstrip("\n")))
        except OSError as e:
            _fail(os.path.join(path, name), None, "cannot read: %s"
                  % e.strerror)
        run.logs[name[:-4]] = lines


def load(path):
    """Read run folder path; raises InputError."""
    if not os.path.isdir(path):
        raise InputError("%s: not a directory" % path)
    run = Run()
    run.path = path
    run.config = _load_config(os.path.join(path, "config.json"))
    _load_history(os.path.join(path, "history.jsonl"), run)
    _load_nemesis(os.path.join(path, "nemesis.jsonl"), run)
    _load_final(os.path.join(path, "final.json"), run)
    lag = os.path.join(path, "lag.jsonl")
    if os.path.exists(lag):
        _load_lag(lag, run)
    else:
        run.notes.append("no lag.jsonl")
    logs = os.path.join(path, "logs")
    if os.path.isdir(logs):
        _load_logs(logs, run)
    else:
        run.notes.append("no logs/ folder")
    return run


def log_time_ms(text):
    """Unix ms of an agent log line's leading UTC timestamp, or None."""
    import calendar
    import time as _time
    m = LOG_TIME.match(text)
    if not m:
        return None
    stamp = m.group(1)
    frac = 0.0
    if "." in stamp:
        stamp, f = stamp.split(".", 1)
        frac = float("0." + f)
    try:
        tm = _time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return int((calendar.timegm(tm) + frac) * 1000)
