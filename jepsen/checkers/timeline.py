"""timeline.svg of a run: faults, owners, write latency, replication lag
and checker failures on one time axis."""

import math
from xml.sax.saxutils import escape, quoteattr

from .owners import OwnerTimeline, pool_of_node
from .rto import faults
from .run import INF, NS_PER_MS

WIDTH = 1400
LEFT = 170
RIGHT = 30
LANE_H = 22
PLOT_H = 160

POOL_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                "#edc948", "#9c755f", "#bab0ac")
FAULT_COLOURS = {"kill": "#e15759", "pause": "#f28e2b",
                 "partition-site": "#b07aa1", "isolate": "#9c755f",
                 "clock": "#76b7b2", "disk-full": "#edc948",
                 "fsync-fail": "#edc948"}
TYPE_COLOURS = {"ok": "#2ca02c", "fail": "#d62728", "info": "#ff9f1c"}
LAG_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
               "#e377c2", "#17becf", "#7f7f7f")


def _nice_step(span_s, target=12):
    raw = span_s / target if span_s > 0 else 1
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800,
              3600):
        if s >= raw:
            return s
    return 3600


class _Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def rect(self, x, y, w, h, fill, opacity=1.0, title=None, stroke=None):
        extra = "" if stroke is None else ' stroke="%s"' % stroke
        t = "" if title is None else "<title>%s</title>" % escape(title)
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                 'fill="%s" fill-opacity="%.2f"%s>%s</rect>'
                 % (x, y, max(w, 0.5), h, fill, opacity, extra, t))

    def line(self, x1, y1, x2, y2, stroke, width=1, dash=None):
        d = "" if dash is None else ' stroke-dasharray="%s"' % dash
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="%s" stroke-width="%s"%s/>'
                 % (x1, y1, x2, y2, stroke, width, d))

    def text(self, x, y, s, size=11, anchor="start", fill="#222",
             weight="normal"):
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" '
                 'fill="%s" font-weight="%s">%s</text>'
                 % (x, y, size, anchor, fill, weight, escape(str(s))))

    def circle(self, x, y, r, fill, title=None):
        t = "" if title is None else "<title>%s</title>" % escape(title)
        self.add('<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" '
                 'fill-opacity="0.75">%s</circle>' % (x, y, r, fill, t))

    def polyline(self, pts, stroke, title=None):
        t = "" if title is None else "<title>%s</title>" % escape(title)
        self.add('<polyline fill="none" stroke="%s" stroke-width="1.5" '
                 'points=%s>%s</polyline>'
                 % (stroke, quoteattr(" ".join("%.1f,%.1f" % p
                                               for p in pts)), t))


def _failure_marks(run, verdict):
    """[(time ns, label)] of every op or instant a failed checker names."""
    by_index = {}
    for op in run.ops:
        by_index[op.index] = op
    marks = []
    for name, res in (verdict or {}).get("checkers", {}).items():
        if res.get("valid", True):
            continue
        for v in res.get("violations", []):
            if "time_ns" in v:
                marks.append((v["time_ns"], name))
            for ref in v.get("ops", []):
                op = by_index.get(ref.get("index"))
                if op is not None:
                    t = op.done if op.done is not None else op.inv
                    marks.append((t, "%s #%d" % (name, op.index)))
            if "start_ms" in v and "ops" not in v:
                marks.append((v["start_ms"] * NS_PER_MS, name))
    return marks


def render(run, verdict=None):
    """The SVG document as a string."""
    end = max(run.end_time(), 1)
    span = end / 1e9
    plot_w = WIDTH - LEFT - RIGHT

    def x(t):
        t = min(max(t, 0), end)
        return LEFT + plot_w * t / end

    svg = _Svg()
    timeline = OwnerTimeline(run)
    lanes = timeline.lanes(end)
    pools = sorted(set(run.pools()) |
                   {o for segs in lanes.values() for _, _, o, _ in segs})
    pool_colour = {p: POOL_COLOURS[i % len(POOL_COLOURS)]
                   for i, p in enumerate(pools)}
    fl = faults(run)

    y = 30
    title = "poolpair run %s (scenario %s, seed %s)%s" % (
        run.path or "", run.config.get("scenario", "?"),
        run.config.get("seed", "?"),
        " UNSAFE BUILD" if run.config.get("unsafe") else "")
    svg.text(LEFT, 20, title, size=14, weight="bold")
    if verdict is not None:
        bad = [n for n, r in verdict.get("checkers", {}).items()
               if not r.get("valid")]
        svg.text(WIDTH - RIGHT, 20,
                 "VALID" if verdict.get("valid") else
                 "INVALID: " + ", ".join(bad),
                 size=14, anchor="end", weight="bold",
                 fill="#2ca02c" if verdict.get("valid") else "#d62728")

    # nemesis lanes: one row per fault, labelled
    nem_top = y
    rows = []
    for e, stop in fl:
        placed = False
        for r in rows:
            if r[-1][1] <= e["time"]:
                r.append((e["time"], stop, e))
                placed = True
                break
        if not placed:
            rows.append([(e["time"], stop, e)])
    svg.text(LEFT - 8, y + 15, "faults", anchor="end", weight="bold")
    for r in rows or [[]]:
        for start, stop, e in r:
            stop = end if stop == INF else stop
            col = FAULT_COLOURS.get(e["fault"], "#999999")
            label = "%s %s" % (e["fault"], ",".join(e["targets"]))
            svg.rect(x(start), y, x(stop) - x(start), LANE_H - 4, col, 0.8,
                     title="%s %.2f-%.2f s" % (label, start / 1e9,
                                               stop / 1e9))
            svg.text(x(start) + 3, y + 13, label, size=10, fill="#fff")
        y += LANE_H
    nem_bottom = y

    # owner lanes: the owner as the newest epoch seen says, and under it
    # one strip per agent with a tick at every ok write that agent accepted
    # (two strips ticking at once is what a broken fence looks like)
    accepted = {}
    for op in run.ops:
        if op.f == "write" and op.type == "ok" and op.user_set is not None:
            accepted.setdefault(op.user_set, []).append(op)
    y += 20
    svg.text(LEFT - 8, y - 4, "owner", anchor="end", weight="bold")
    for us, segs in sorted(lanes.items()):
        svg.text(LEFT - 8, y + 14, us, anchor="end")
        for s, t, owner, epoch in segs:
            name = owner if epoch is None else "%s (epoch %d)" % (owner,
                                                                   epoch)
            svg.rect(x(s), y, x(t) - x(s), LANE_H - 4,
                     pool_colour.get(owner, "#999"), 0.85,
                     title="%s owned by %s from %.2f s" % (us, name, s / 1e9))
            if x(t) - x(s) > 7 * len(name):
                svg.text(x(s) + 3, y + 13, name, size=10, fill="#fff")
            elif x(t) - x(s) > 60:
                svg.text(x(s) + 3, y + 13, owner, size=10, fill="#fff")
        y += LANE_H - 2
        # one strip per agent (a pool of several agents has one per agent:
        # two of them ticking at once is a second writer)
        by_agent = {}
        for op in accepted.get(us, []):
            by_agent.setdefault(op.node or "?", []).append(op)
        for agent in sorted(by_agent, key=lambda n: (
                pool_of_node(run, n) or "?", n)):
            pool = pool_of_node(run, agent) or "?"
            label = pool if agent in (pool, "?") or \
                len(run.pool_agents(pool)) <= 1 else "%s (%s)" % (agent, pool)
            svg.text(LEFT - 8, y + 6, "writes at %s" % label, anchor="end",
                     size=8, fill="#555")
            col = pool_colour.get(pool, "#999")
            last = None
            for op in sorted(by_agent[agent], key=lambda o: o.ret):
                px = x(op.ret)
                if last is not None and px - last < 1.0:
                    continue
                svg.rect(px, y, 1.0, 6, col, 1.0)
                last = px
            y += 8
        y += 6
    # write latency, log scale
    y += 16
    writes = [op for op in run.ops if op.f == "write"]
    lats = [(op.done - op.inv) / NS_PER_MS for op in writes
            if op.done is not None]
    top_ms = max(lats + [10.0])
    low = -1                       # 0.1 ms at the bottom
    decades = max(1, math.ceil(math.log10(top_ms)))

    def ly(ms):
        ms = min(max(ms, 10.0 ** low), 10.0 ** decades)
        v = (math.log10(ms) - low) / (decades - low)
        return y + PLOT_H - PLOT_H * v

    svg.text(LEFT - 8, y + 12, "write latency", anchor="end", weight="bold")
    svg.text(LEFT - 8, y + 26, "(ms, log)", anchor="end", size=10)
    svg.rect(LEFT, y, plot_w, PLOT_H, "#f7f7f7", 1.0)
    for d in range(low, decades + 1):
        svg.line(LEFT, ly(10.0 ** d), LEFT + plot_w, ly(10.0 ** d),
                 "#e0e0e0", 0.5)
        svg.text(LEFT - 4, ly(10.0 ** d) + 4, "%g" % 10.0 ** d, size=9,
                 anchor="end")
    order = {"ok": 0, "info": 1, "fail": 2}
    drawn = set()      # one dot per pixel and type keeps long runs small
    for op in sorted(writes, key=lambda o: order.get(o.type, 3)):
        if op.done is None:
            lat, t = 10 ** decades, end
        else:
            lat, t = (op.done - op.inv) / NS_PER_MS, op.done
        spot = (int(x(t)), int(ly(lat)), op.type)
        if spot in drawn:
            continue
        drawn.add(spot)
        svg.circle(x(t), ly(lat), 2.0 if op.type == "ok" else 3.0,
                   TYPE_COLOURS.get(op.type, "#777"),
                   title="#%d %s %s %.1f ms%s" % (
                       op.index, op.type, op.key, lat,
                       "" if op.error is None else " " + str(op.error)))
    for i, (typ, col) in enumerate(sorted(TYPE_COLOURS.items())):
        lx = LEFT + plot_w - 180 + i * 60
        svg.circle(lx, y + 10, 4, col)
        svg.text(lx + 7, y + 14, typ, size=10)
    y += PLOT_H

    # replication lag per (agent, direction)
    y += 16
    svg.text(LEFT - 8, y + 12, "replication lag", anchor="end",
             weight="bold")
    series = {}
    for s in run.lag:
        if s.get("lag_ms") is None:
            continue
        series.setdefault("%s %s %s" % (s["agent"], s["direction"],
                                         s.get("category", "")),
                          []).append((s["time"], s["lag_ms"]))
    lag_top = max([v for pts in series.values() for _, v in pts] + [1.0])
    svg.text(LEFT - 8, y + 26, "(ms, max %.0f)" % lag_top, anchor="end",
             size=10)
    svg.rect(LEFT, y, plot_w, PLOT_H, "#f7f7f7", 1.0)
    for i, (name, pts) in enumerate(sorted(series.items())):
        col = LAG_COLOURS[i % len(LAG_COLOURS)]
        pts.sort()
        svg.polyline([(x(t), y + PLOT_H - PLOT_H * v / lag_top)
                      for t, v in pts], col, title=name)
        svg.text(LEFT + 8, y + 14 + 12 * i, name, size=10, fill=col)
    if not series:
        svg.text(LEFT + 8, y + 14, "no lag samples", size=10)
    y += PLOT_H
    plot_bottom = y

    # fault bands across every lane
    for e, stop in fl:
        stop = end if stop == INF else stop
        col = FAULT_COLOURS.get(e["fault"], "#999999")
        svg.rect(x(e["time"]), nem_bottom, x(stop) - x(e["time"]),
                 plot_bottom - nem_bottom, col, 0.10)

    # heals
    for e in run.nemesis:
        if e["fault"] == "heal":
            svg.line(x(e["time"]), nem_top, x(e["time"]), plot_bottom,
                     "#2ca02c", 1.2)
            svg.text(x(e["time"]) + 2, nem_bottom + 8, "heal", size=9,
                     fill="#2ca02c")

    # checker failures, marks closer than 6 px merged into one
    marks = sorted(_failure_marks(run, verdict), key=lambda m: m[0])
    groups = []
    for t, label in marks:
        px = x(t)
        if groups and px - groups[-1][0] < 6:
            groups[-1][2].add(label.split(" ")[0])
            groups[-1][3] += 1
        else:
            groups.append([px, label, {label.split(" ")[0]}, 1])
    labels = []
    for px, label, names, n in groups:
        svg.line(px, nem_top, px, plot_bottom, "#d62728", 1.2, "4,3")
        if labels and px - labels[-1][0] < 90:
            labels[-1][2].update(names)
            labels[-1][3] += n
        else:
            labels.append([px, label, set(names), n])
    for i, (px, label, names, n) in enumerate(labels[:24]):
        text = label if n == 1 else "%s: %d ops" % ("+".join(sorted(names)),
                                                    n)
        svg.text(px + 2, plot_bottom + 14 + 11 * (i % 3), text, size=9,
                 fill="#d62728")
    y = plot_bottom + 60

    # time axis
    svg.line(LEFT, y, LEFT + plot_w, y, "#333")
    step = _nice_step(span)
    k = 0
    while k * step <= span + 1e-9:
        tx = x(k * step * 1e9)
        svg.line(tx, y, tx, y + 5, "#333")
        svg.line(tx, nem_top, tx, plot_bottom, "#ddd", 0.5)
        svg.text(tx, y + 17, "%g s" % (k * step), size=10, anchor="middle")
        k += 1
    y += 30
    legend_x = LEFT
    for p in pools:
        svg.rect(legend_x, y, 12, 12, pool_colour[p])
        svg.text(legend_x + 16, y + 10, p, size=10)
        legend_x += 30 + 7 * len(p)
    height = y + 24
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif">'
            '<rect width="100%%" height="100%%" fill="#fff"/>'
            % (WIDTH, height, WIDTH, height))
    return head + "\n".join(svg.parts) + "</svg>\n"
