#!/usr/bin/env python3
"""Dead-reference check of `make lint`: every repository file named in docs
(README.md, docs/*.md, tests/*/README.md, dist/*) and in the comments of C
and shell sources must exist, so that a reader who follows a reference finds
it. A name counts as a reference to this repository when it is a path that
starts with one of the repository's top-level directories (plugin/host/guard.c,
docs/ondisk.md, tests/cluster/t_scen_*.sh, plugin/host/ctl_proto.[ch]) or
when it is a bare C file name (guard.h), which must then be the name of a
file somewhere in the repository or a system header. Paths of other projects
are written with the project's name in front ("sanlock's timeouts.h") and
are not checked. Prints FILE:LINE: NAME per dead reference; fails if any."""
import glob, os, re, subprocess, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)
files = subprocess.check_output(["git", "ls-files"], text=True).split("\n")
files = [f for f in files if f]
tops = sorted({f.split("/")[0] for f in files if "/" in f})
basenames = {os.path.basename(f) for f in files}
# Also folders that are not in the repository but were cited as if they were.
checked = [re.escape(t) for t in tops] + [r"\.\./shared", "shared", "reference"]
PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w.*\[\]{},/-]*[\w*\]}])" % "|".join(checked))
BARE = re.compile(r"(?<![\w./<-])([A-Za-z_][\w-]*\.(?:[ch]|md))\b(?![\w/(-])")
OTHER = re.compile(r"(sanlock|canonical/raft|raft|tigerbeetle|TigerBeetle|linux|kernel|libvirt|etcd|qemu|QEMU)('s)?\s+(source\s+)?\S*$")


def expand(p):
    m = re.search(r"\{([^}]*)\}", p)
    if m:
        return [q for alt in m.group(1).split(",") for q in expand(p[:m.start()] + alt + p[m.end():])]
    return [p]


def exists(p):
    p = p.rstrip(".,:;")
    for q in expand(p):
        if any(c in q for c in "*[") and glob.glob(q):
            return True
        if os.path.exists(q):
            return True
    return False


def comment_lines(path):
    """(line number, text) of the comments of a C or shell file, of every line of a doc."""
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.startswith("dist/"):
        text = text.replace("\\-", "-")  # roff's escaped hyphen
    if path.endswith((".c", ".h")):
        out = []
        for m in re.finditer(r"/\*.*?\*/|//[^\n]*", text, re.S):
            first = text.count("\n", 0, m.start()) + 1
            for i, l in enumerate(m.group(0).split("\n")):
                out.append((first + i, l))
        return out
    if path == "Makefile":
        return list(enumerate(text.split("\n"), 1))  # recipes name scripts too
    if path.endswith(".sh"):
        return [(i + 1, l[l.index("#"):]) for i, l in enumerate(text.split("\n")) if "#" in l]
    return list(enumerate(text.split("\n"), 1))


def targets():
    for f in files:
        if f.startswith("tests/fuzz/corpus/"):
            continue
        if f.endswith((".c", ".h", ".sh", ".md")) or f == "Makefile" or f.startswith("dist/"):
            yield f


bad = 0
for f in targets():
    fence = False
    for n, line in comment_lines(f):
        if f.endswith(".md") and line.startswith("```"):
            fence = not fence
        for m in PATH.finditer(line):
            p = m.group(1)
            if not exists(p):
                print(f"{f}:{n}: {p}")
                bad += 1
        if f.startswith("dist/") or fence:  # examples in code blocks name the reader's files
            continue
        for m in BARE.finditer(line):
            name = m.group(1)
            if name in basenames or os.path.exists("/usr/include/" + name) or OTHER.search(line[:m.start()]):
                continue
            print(f"{f}:{n}: {name} (no such file in the repository)")
            bad += 1
if bad:
    print(f"check-refs: {bad} reference(s) to files that do not exist; fix the path or describe the "
          "thing in words (docs/ holds what a reader needs)", file=sys.stderr)
sys.exit(1 if bad else 0)
