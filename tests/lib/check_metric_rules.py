#!/usr/bin/env python3
"""Checks the shipped Prometheus alert rules and Grafana dashboard against a
real fencelockd's metrics: usage: check_metric_rules.py METRICS RULES.yml DASHBOARD.json

- the rules file has groups of rules, each with alert, expr, labels.severity,
  annotations.summary and a valid `for` when present; alert names are unique;
- every fencelock_* metric an expression (rule or dashboard target) names is
  in the metrics (a histogram's _bucket/_sum/_count included), and every
  label matcher name{label="value"} matches a sample there.
Prints one line per problem and exits 1 if there is any."""
import json
import re
import sys

import yaml

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ')
SELECTOR = re.compile(r'\b(fencelock_[a-z0-9_]+)\b(\{([^}]*)\})?')
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"([^"]*)"')
DURATION = re.compile(r'^([0-9]+(ms|s|m|h|d|w|y))+$')


def samples(text):
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = dict((k, v) for k, _, v in MATCHER.findall(m.group(3) or ''))
            out.setdefault(m.group(1), []).append(labels)
    return out


def check_expr(where, expr, have, problems):
    for name, _, sel in SELECTOR.findall(expr):
        if name not in have:
            problems.append(f'{where}: {name} is not a metric fencelockd exports')
            continue
        for label, op, value in MATCHER.findall(sel or ''):
            if op == '=' and not any(s.get(label) == value for s in have[name]):
                problems.append(f'{where}: no sample {name}{{{label}="{value}"}} in the metrics')


def check_rules(rules_doc, have, problems):
    seen = set()
    groups = rules_doc.get('groups') if isinstance(rules_doc, dict) else None
    if not isinstance(groups, list) or not groups:
        problems.append('rules: no groups')
        return 0
    n = 0
    for g in groups:
        for r in g.get('rules') or []:
            n += 1
            name = r.get('alert')
            where = f'rule {name}'
            if not name or name in seen:
                problems.append(f'{where}: missing or duplicate alert name')
            seen.add(name)
            if not isinstance(r.get('expr'), str) or 'fencelock_' not in r['expr']:
                problems.append(f'{where}: expr missing or names no fencelock metric')
                continue
            if 'for' in r and not DURATION.match(str(r['for'])):
                problems.append(f'{where}: bad for: {r["for"]}')
            if (r.get('labels') or {}).get('severity') not in ('critical', 'warning', 'info'):
                problems.append(f'{where}: labels.severity must be critical, warning or info')
            if not (r.get('annotations') or {}).get('summary'):
                problems.append(f'{where}: annotations.summary missing')
            if r['expr'].count('(') != r['expr'].count(')'):
                problems.append(f'{where}: unbalanced parentheses')
            check_expr(where, r['expr'], have, problems)
    return n


def main():
    metrics, rules, dash = sys.argv[1:4]
    have = samples(open(metrics).read())
    problems = []
    n = check_rules(yaml.safe_load(open(rules)), have, problems)
    d = json.load(open(dash))
    targets = [(p.get('title'), t.get('expr', '')) for p in d.get('panels', []) for t in p.get('targets', [])]
    if not targets:
        problems.append('dashboard: no panel targets')
    for title, expr in targets:
        check_expr(f'dashboard panel "{title}"', expr, have, problems)
    for p in problems:
        print(p)
    print(f'{n} rules, {len(targets)} dashboard targets, {len(have)} metrics: '
          f'{"ok" if not problems else str(len(problems)) + " problem(s)"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
