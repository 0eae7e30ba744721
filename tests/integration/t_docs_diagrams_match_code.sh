#!/usr/bin/env bash
# The pictures cannot drift from the code: every state diagram in
# docs/pictures.md marked "%% diagram: NAME (enum E)" names exactly the
# enumerators of enum E (less a trailing *_END sentinel; host states without
# their CLS_ prefix, as the status tools print them). Also fails if a marked
# diagram or an enum cannot be found, so a rename breaks this test too. The
# VM diagram's arrows (less the start arrow) must be exactly the legal edges
# the arbiter asserts (lvm_edges in plugin/arbiter/arb_vm.c).
source "$FL_ROOT/tests/lib/common.sh"
python3 - "$FL_ROOT" <<'PY' || fail "diagrams and code disagree (see above)"
import re, sys, pathlib
root = pathlib.Path(sys.argv[1])
doc = (root / "docs/pictures.md").read_text()
code = {"cls_state": ("plugin/model/classify.h", "CLS_"), "arb_lvm_state": ("plugin/arbiter/arb_internal.h", "")}
# enum -> (file, table name): the C table of legal edges {FROM, TO} a diagram must draw exactly
edge_tables = {"arb_lvm_state": ("plugin/arbiter/arb_vm.c", "lvm_edges")}
def table_edges(path, table):
    text = (root / path).read_text()
    m = re.search(table + r"\[\]\[2\]\s*=\s*\{(.*?)\n\};", text, re.S)
    if not m:
        sys.exit(f"edge table {table} not found in {path}")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    edges = set(re.findall(r"\{\s*(\w+)\s*,\s*(\w+)\s*\}", body))
    if not edges:
        sys.exit(f"edge table {table} in {path} has no edges")
    return edges
def enumerators(path, enum, strip):
    text = (root / path).read_text()
    m = re.search(r"enum\s+" + enum + r"\s*\{(.*?)\}", text, re.S)
    if not m:
        sys.exit(f"enum {enum} not found in {path}")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    names = [re.match(r"\s*(\w+)", x).group(1) for x in body.split(",") if x.strip()]
    return {n[len(strip):] if n.startswith(strip) and strip else n for n in names if not n.endswith("_END")}
seen = set(); bad = 0
for block in re.findall(r"```mermaid\n(.*?)```", doc, re.S):
    m = re.search(r"%% diagram: ([\w-]+) \(enum (\w+)\)", block)
    if not m:
        continue
    name, enum = m.groups(); seen.add(enum)
    if enum not in code:
        print(f"{name}: enum {enum} is not one this test knows"); bad += 1; continue
    states = set(); arrows = set()
    for line in block.splitlines():
        t = re.match(r"\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)", line)
        if t:
            states |= {s for s in t.groups() if s != "[*]"}
            if "[*]" not in t.groups():
                arrows.add(t.groups())
    if enum in edge_tables:
        legal = table_edges(*edge_tables[enum])
        if arrows != legal:
            print(f"{name}: arrows only in the diagram: {sorted(arrows - legal)}; "
                  f"edges only in {edge_tables[enum][1]}: {sorted(legal - arrows)}"); bad += 1
        else:
            print(f"{name}: {len(arrows)} arrows, the legal edges of {edge_tables[enum][1]}")
    want = enumerators(*code[enum][:1], enum, code[enum][1])
    if states != want:
        print(f"{name}: only in the diagram: {sorted(states - want)}; only in the code: {sorted(want - states)}"); bad += 1
    else:
        print(f"{name}: {len(states)} states, as in enum {enum}")
for enum in code:
    if enum not in seen:
        print(f"no diagram marked for enum {enum}"); bad += 1
sys.exit(1 if bad else 0)
PY
