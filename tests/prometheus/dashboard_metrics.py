# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metric names a Grafana dashboard's PromQL queries select.

    python3 dashboard_metrics.py DASHBOARD_JSON

prints every name the dashboard's queries select (every target of every panel,
panels inside rows included, and the template variables' queries), one a
line, sorted. The unit tests compare them with the names the relay exports;
the Molecule scenario ``monitoring`` compares them with the names the lab's
Prometheus has. Standard library only: it runs on the Molecule controller.

PromQL is read by a small scanner, not a full parser. What it does not take
for a metric name: function and aggregation names, keywords (``by``, ``on``,
``offset``, ``bool``, ``and``...), the label lists of ``by``, ``without``,
``on``, ``ignoring``, ``group_left`` and ``group_right``, label names and
values inside ``{...}``, ranges and durations (``[5m]``, ``offset 1h``),
numbers, strings, comments and Grafana variables (``$instance``,
``${datasource}``). A name given as ``{__name__="x"}`` or, as Prometheus 3
allows, as a quoted name inside the braces counts as a name.
"""

import json
import re
import sys

_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
# Numbers and durations: 5m, 1h30m, 0.5, 1e3, 0x1f.
_NUMBER = re.compile(r"\.?[0-9][0-9A-Za-z_.]*")
_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|\w+)")
_AGGREGATIONS = frozenset(
    ("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
     "quantile", "limitk", "limit_ratio")
)
# Keywords followed by a list of label names in parentheses.
_LABEL_LISTS = frozenset(("by", "without", "on", "ignoring", "group_left", "group_right"))
# Words that are never metric names, even without a parenthesis after them (all case-insensitive).
_KEYWORDS = _AGGREGATIONS | _LABEL_LISTS | frozenset(("and", "or", "unless", "atan2", "offset", "bool", "inf", "nan"))
_QUOTES = "\"'`"
_STRING = r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)"
_NAME_MATCHER = re.compile(r"^__name__\s*=\s*(%s)$" % _STRING, re.S)
_QUOTED_NAME = re.compile(r"^(%s)$" % _STRING, re.S)
# Grafana's Prometheus variable functions: label_values(metric, label) and query_result(query) name
# metrics; label_values(label), label_names() and metrics(regex) do not.
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)
_NO_METRIC = re.compile(r"^\s*(?:label_values|label_names|metrics)\s*\(", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.S)


def _string_end(text, start):
    """The index after the string literal that opens at ``start``."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _close(text, start, closer):
    """The index after ``closer`` that ends the bracket opened at ``start`` (strings skipped)."""
    i = start + 1
    while i < len(text):
        if text[i] in _QUOTES:
            i = _string_end(text, i)
        elif text[i] == closer:
            return i + 1
        else:
            i += 1
    return len(text)


def _skip_space(text, i):
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _split_matchers(body):
    """The matchers of a ``{...}`` body, split at the commas outside strings."""
    items, start, i = [], 0, 0
    while i < len(body):
        if body[i] in _QUOTES:
            i = _string_end(body, i)
            continue
        if body[i] == ",":
            items.append(body[start:i])
            start = i + 1
        i += 1
    items.append(body[start:])
    return [item.strip() for item in items if item.strip()]


def _names_in_matchers(body):
    """Metric names given inside braces: ``__name__="x"`` or a lone quoted name."""
    for item in _split_matchers(body):
        found = _NAME_MATCHER.match(item) or _QUOTED_NAME.match(item)
        if found:
            yield found.group(1)[1:-1]


def selectors(expr):
    """Yield ``(metric name, label matchers)`` for every vector selector of a PromQL expression.

    ``label matchers`` is the text between the selector's braces ('' without braces).
    """
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in _QUOTES:
            i = _string_end(expr, i)
        elif char == "#":
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline
        elif char == "[":
            i = _close(expr, i, "]")
        elif char == "{":
            end = _close(expr, i, "}")
            body = expr[i + 1:end - 1]
            for name in _names_in_matchers(body):
                yield name, body
            i = end
        elif char == "$":
            variable = _VARIABLE.match(expr, i)
            i = variable.end() if variable else i + 1
        elif _NUMBER.match(expr, i):
            i = _NUMBER.match(expr, i).end()
        elif _WORD.match(expr, i):
            word = _WORD.match(expr, i)
            after = _skip_space(expr, word.end())
            keyword = word.group().lower()
            if keyword in _LABEL_LISTS and expr.startswith("(", after):
                i = _close(expr, after, ")")
            elif expr.startswith("(", after) or keyword in _KEYWORDS:
                i = word.end()
            elif expr.startswith("{", after):
                end = _close(expr, after, "}")
                yield word.group(), expr[after + 1:end - 1]
                i = end
            else:
                yield word.group(), ""
                i = word.end()
        else:
            i += 1


def metric_names(expr):
    """The set of metric names a PromQL expression selects."""
    return set(name for name, _matchers in selectors(expr))


def variable_query_names(query):
    """The metric names of a Grafana Prometheus variable query (its functions or plain PromQL)."""
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        found = pattern.match(query)
        if found:
            return metric_names(found.group(1))
    if _NO_METRIC.match(query):
        return set()
    return metric_names(query)


def panels(container):
    """Every panel of a dashboard (or a row), the panels inside rows included."""
    for panel in container.get("panels") or []:
        yield panel
        yield from panels(panel)


def target_expressions(dashboard):
    """Yield ``(panel title, expr)`` for every query target of every panel."""
    for panel in panels(dashboard):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield panel.get("title", ""), target["expr"]


def variable_queries(dashboard):
    """Yield ``(variable name, query)`` for every query variable (old string or newer object form)."""
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query:
            yield variable.get("name", ""), query


def dashboard_metrics(path):
    """The set of metric names all queries of the dashboard at ``path`` select."""
    with open(path, encoding="utf-8") as stream:
        dashboard = json.load(stream)
    names = set()
    for _title, expr in target_expressions(dashboard):
        names |= metric_names(expr)
    for _name, query in variable_queries(dashboard):
        names |= variable_query_names(query)
    return names


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: dashboard_metrics.py DASHBOARD_JSON\n")
        return 2
    for name in sorted(dashboard_metrics(argv[1])):
        sys.stdout.write(name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
