#!/usr/bin/env python3
"""Checks a Grafana dashboard's PromQL against a running Prometheus (check D5).

    check_expressions.py PROMETHEUS_URL DASHBOARD_JSON [-v]
    check_expressions.py --list DASHBOARD_JSON
    check_expressions.py --names [--families] [DASHBOARD_JSON [ALERTS_YML ...]]

The first form takes every `expr` of the dashboard's panels (rows and collapsed rows included)
and every query of its `query` template variables, substitutes the Grafana variables
($__rate_interval and $__interval -> 15s, $instance -> .+, see SUBSTITUTIONS), runs each with
GET PROMETHEUS_URL/api/v1/query and exits 1 listing every expression that failed or returned no
series; on success it prints `N expressions, all returned series`. A variable query
`label_values(SELECTOR, LABEL)` is checked as the series of SELECTOR that have LABEL;
`label_values(LABEL)` as the values of LABEL; `query_result(EXPR)` as EXPR.

--list prints the expressions as they are sent (one per line, after substitution).

--names prints the sorted set of metric names that the dashboard's expressions and the alert
rules' `expr` refer to, one per line (default files: deploy/grafana/pinpipe.json and
deploy/prometheus/alerts.yml of this repository). Histogram series appear as referenced
(`..._bucket`); with --families, a `_bucket`, `_sum` or `_count` suffix is dropped, which gives
the family names of docs/metrics.md (no pinpipe counter or gauge ends in those).

Exit codes: 0 success, 1 expressions failed or returned nothing, 2 usage error, unreadable file
or Prometheus not reachable. Standard library only.
"""

import json
import os
import re
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

# Grafana variables and what they become; the others are left as they are (as Grafana does).
SUBSTITUTIONS = {
    "__rate_interval": "15s",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "instance": ".+",
}

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DASHBOARD = os.path.join(HERE, "pinpipe.json")
DEFAULT_ALERTS = os.path.join(HERE, "..", "prometheus", "alerts.yml")

# $var, ${var}, ${var:format}, [[var]]
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")


def fail_usage(message):
    print(f"check_expressions.py: {message}", file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def substitute(expr):
    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        return SUBSTITUTIONS.get(name, match.group(0))

    return VARIABLE.sub(replace, expr)


def load_dashboard(path):
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_expressions.py: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    # An export "for sharing externally" or an API answer wraps the dashboard.
    if "dashboard" in dashboard and "panels" not in dashboard:
        dashboard = dashboard["dashboard"]
    return dashboard


def walk_panels(panels):
    for panel in panels or []:
        yield panel
        # A collapsed row keeps its panels inside it.
        yield from walk_panels(panel.get("panels"))


def split_args(text):
    """Splits a function's argument text at top-level commas (strings and brackets respected)."""
    args, depth, current, quote, i = [], 0, [], None, 0
    while i < len(text):
        c = text[i]
        if quote:
            current.append(c)
            if c == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            current.append(c)
        elif c in "([{":
            depth += 1
            current.append(c)
        elif c in ")]}":
            depth -= 1
            current.append(c)
        elif c == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    args.append("".join(current).strip())
    return args


def variable_check(query):
    """What to run for a template variable's query: ("query", expr, label or None) or
    ("label", label_name)."""
    q = query.strip()
    m = re.fullmatch(r"label_values\s*\((.*)\)", q, re.S)
    if m:
        args = split_args(m.group(1))
        if len(args) == 1:
            return ("label", args[0])
        return ("query", ",".join(args[:-1]), args[-1])
    m = re.fullmatch(r"query_result\s*\((.*)\)", q, re.S)
    if m:
        return ("query", m.group(1), None)
    m = re.fullmatch(r"metrics\s*\((.*)\)", q, re.S)
    if m:
        return ("query", '{__name__=~"%s"}' % m.group(1).strip(), None)
    return ("query", q, None)


def expressions(dashboard):
    """(where, kind, text, label) for every expression of the dashboard, variables substituted."""
    out = []
    for panel in walk_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                where = "panel %r (id %s) target %s" % (
                    panel.get("title", ""), panel.get("id", "?"), target.get("refId", "?"))
                out.append((where, "query", substitute(expr), None))
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if not isinstance(query, str) or not query.strip():
            continue
        check = variable_check(substitute(query))
        where = "variable %r" % var.get("name", "")
        if check[0] == "label":
            out.append((where, "label", check[1], None))
        else:
            out.append((where, "query", check[1], check[2]))
    return out


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        # Prometheus answers 400/422/503 with a JSON body naming the error.
        try:
            return json.load(e)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code} {e.reason}"}
    except urllib.error.URLError as e:
        parts = urllib.parse.urlsplit(url)
        print(f"check_expressions.py: cannot reach Prometheus at {parts.scheme}://{parts.netloc}: {e.reason}",
              file=sys.stderr)
        sys.exit(2)


def run_check(base, kind, text, label):
    """Returns (series count, error or None)."""
    if kind == "label":
        answer = get_json(f"{base}/api/v1/label/{urllib.parse.quote(text, safe='')}/values")
        if answer.get("status") != "success":
            return 0, answer.get("error", "no status")
        return len(answer.get("data") or []), None
    answer = get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": text}))
    if answer.get("status") != "success":
        return 0, "%s: %s" % (answer.get("errorType", "error"), answer.get("error", "no status"))
    data = answer.get("data") or {}
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return 1, None
    result = result or []
    if label is not None:
        result = [r for r in result if r.get("metric", {}).get(label, "") != ""]
    return len(result), None


def check(base, dashboard_path, verbose):
    base = base.rstrip("/")
    exprs = expressions(load_dashboard(dashboard_path))
    if not exprs:
        print(f"check_expressions.py: no expressions in {dashboard_path}", file=sys.stderr)
        return 1
    failures = []
    for where, kind, text, label in exprs:
        count, error = run_check(base, kind, text, label)
        shown = f"label values of {text}" if kind == "label" else text
        if label is not None:
            shown += f"  (series with label {label})"
        if error:
            failures.append(f"{where}: {shown}\n    error: {error}")
        elif count == 0:
            failures.append(f"{where}: {shown}\n    returned no series")
        elif verbose:
            print(f"ok ({count}) {where}: {shown}")
    if failures:
        print(f"{len(failures)} of {len(exprs)} expressions failed or returned no series:")
        for f in failures:
            print(f"  {f}")
        return 1
    print(f"{len(exprs)} expressions, all returned series")
    return 0


# ---------------------------------------------------------------- metric names

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
# Followed by a parenthesised list of label names.
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = AGGREGATIONS | LABEL_LISTS | {"bool", "and", "or", "unless", "offset", "inf", "nan", "atan2"}

TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<number>(?:\d|\.\d)[\w.]*(?:[eE][+-]?\d+)?)
      | (?P<ident>[A-Za-z_:][\w:]*)
      | (?P<other>.)""",
    re.X | re.S,
)


def unquote(s):
    if s[0] == "`":
        return s[1:-1]
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def metric_names(expr):
    """Metric names an expression selects (a small PromQL lexer, no full parser)."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr)]
    tokens = [t for t in tokens if t[0] not in ("space", "comment")]
    names = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if text == "{":
            # Label matchers: only __name__="..." names a metric.
            j = i + 1
            while j < len(tokens) and tokens[j][1] != "}":
                if (tokens[j][1] == "__name__" and j + 2 < len(tokens)
                        and tokens[j + 1][1] == "=" and tokens[j + 2][0] == "string"):
                    names.add(unquote(tokens[j + 2][1]))
                j += 1
            i = j + 1
            continue
        if text == "[":
            # Range or subquery durations.
            while i < len(tokens) and tokens[i][1] != "]":
                i += 1
            i += 1
            continue
        if kind == "ident":
            if text in LABEL_LISTS and nxt == "(":
                while i < len(tokens) and tokens[i][1] != ")":
                    i += 1
                i += 1
                continue
            if text not in KEYWORDS and nxt != "(":
                names.add(text)
        i += 1
    return names


def alert_exprs(path):
    """The `expr` values of a rules file (single-line, quoted and block scalars)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        print(f"check_expressions.py: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).rstrip()
        block = []
        while i < len(lines) and (not lines[i].strip()
                                   or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        if re.fullmatch(r"[|>][+-]?\d*(\s+#.*)?", value):
            out.append("\n".join(block))
        elif value.startswith('"'):
            out.append(json.loads(" ".join([value] + [b.strip() for b in block])))
        elif value.startswith("'"):
            text = " ".join([value] + [b.strip() for b in block]).strip()
            out.append(text[1:-1].replace("''", "'"))
        else:
            value = re.sub(r"\s+#.*$", "", value)
            out.append(" ".join([value] + [re.sub(r"\s+#.*$", "", b).strip() for b in block]))
    return out


def names(paths, families):
    dashboards = [p for p in paths if p.endswith(".json")] or ([] if paths else [DEFAULT_DASHBOARD])
    rules = [p for p in paths if not p.endswith(".json")] or ([] if paths else [DEFAULT_ALERTS])
    found = set()
    for path in dashboards:
        for _, kind, text, _ in expressions(load_dashboard(path)):
            if kind == "query":
                found |= metric_names(text)
    for path in rules:
        for expr in alert_exprs(path):
            found |= metric_names(expr)
    if families:
        found = {re.sub(r"_(bucket|sum|count)$", "", n) for n in found}
    for n in sorted(found):
        print(n)
    return 0


def main(argv):
    args = argv[1:]
    if "-h" in args or "--help" in args:
        print(__doc__)
        return 0
    if args and args[0] == "--names":
        rest = args[1:]
        families = "--families" in rest
        rest = [a for a in rest if a != "--families"]
        if any(a.startswith("-") for a in rest):
            fail_usage("unknown option")
        return names(rest, families)
    if args and args[0] == "--list":
        if len(args) != 2:
            fail_usage("--list takes DASHBOARD_JSON")
        for _, kind, text, label in expressions(load_dashboard(args[1])):
            print(f"label_values({text})" if kind == "label" else text.replace("\n", " "))
        return 0
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    if len(args) != 2 or args[0].startswith("-"):
        fail_usage("expected PROMETHEUS_URL DASHBOARD_JSON")
    return check(args[0], args[1], verbose)


if __name__ == "__main__":
    # Quiet when the output is cut short (| head), like other command-line tools.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main(sys.argv))
