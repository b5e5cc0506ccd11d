#!/usr/bin/env python3
"""The include graph of include/prunedef/ points one way.

Every header lives in a folder with a rank (RANKS below, bottom = 0). A header may include
headers of its own folder and of folders of lower rank; an include of a folder of the same or a
higher rank is an error, and so is any include cycle between folders. Folders of one rank are
independent parts (e.g. defense/ and training/): neither may include the other, so each can be
used, built and tested without it. Top-level headers (prunedef.hpp, the umbrella) rank above all.

usage: include_layers.py [PROJECT_ROOT]   (default: the parent of this script's folder)
Exits 1 and names every offending include (file:line) when the graph breaks these rules.
"""
import os
import re
import sys

# folder -> rank; bottom to top
RANKS = {
    "core": 0,          # tensor, shapes, errors, activation functions, threads
    "data": 1,          # batch sources: the concept, in-memory arrays, slices, type-erased refs
    "kernels": 1,       # the hot loops (convolution, dense, pooling, backward passes)
    "mpi": 1,           # core/communicator.hpp over MPI (optional: prunedef::mpi, mpi.h)
    "layers": 2,        # layers and combinators over the kernels
    "model": 3,         # networks, channel masks and pruning, batched prediction
    "defense": 4,       # statistics, policies, sweep, stopping rule, GoodNet, metrics, repair
    "training": 4,      # backprop, losses, optimizers, the trainer
    "io": 4,            # HDF5, Keras weights, data set files, IDX, images, GoodNet files
    "fine_pruning": 5,  # pruning + fine-tuning (defense and training)
    "attacks": 5,       # BadNets and the pruning-aware attack (training and defense)
    "report": 6,        # report.json, report.md, plot, CSV of a repair
}
TOP = max(RANKS.values()) + 1  # top-level headers: the umbrella

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]prunedef/([^>"]+)[>"]')


def folder_of(rel):
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else ""


def rank_of(folder):
    return TOP if folder == "" else RANKS.get(folder)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inc = os.path.join(root, "include", "prunedef")
    if not os.path.isdir(inc):
        print(f"include_layers: {inc} is not a folder", file=sys.stderr)
        return 2
    errors = []
    edges = {}  # folder -> {folder: [(file:line, target)]}
    headers = 0
    for d, _, files in os.walk(inc):
        for f in sorted(files):
            if not f.endswith((".hpp", ".h")):
                continue
            headers += 1
            path = os.path.join(d, f)
            rel = os.path.relpath(path, inc).replace(os.sep, "/")
            src = folder_of(rel)
            if rank_of(src) is None:
                errors.append(f"include/prunedef/{rel}: folder {src}/ has no rank in RANKS of {__file__}")
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                for lineno, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    where = f"include/prunedef/{rel}:{lineno}"
                    if not os.path.isfile(os.path.join(inc, target)):
                        errors.append(f"{where}: includes prunedef/{target}, which does not exist")
                        continue
                    dst = folder_of(target)
                    if dst == src:
                        continue
                    edges.setdefault(src, {}).setdefault(dst, []).append((where, target))
                    rs, rd = rank_of(src), rank_of(dst)
                    if rd is None:
                        errors.append(f"{where}: includes prunedef/{target}: folder {dst}/ has no rank")
                    elif rd > rs:
                        errors.append(f"{where}: includes prunedef/{target}: upward, {src}/ (rank {rs}) "
                                      f"may not include {dst}/ (rank {rd})")
                    elif rd == rs:
                        errors.append(f"{where}: includes prunedef/{target}: {src}/ and {dst}/ are independent "
                                      f"parts of rank {rs} and may not include each other")
    # cycles between folders (strongly connected components of more than one folder)
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    for comp in sccs:
        names = " <-> ".join(f"{c}/" for c in comp)
        errors.append(f"include cycle between folders {names}:")
        for a in comp:
            for b in comp:
                for where, target in edges.get(a, {}).get(b, []):
                    errors.append(f"    {where}: includes prunedef/{target}")
    if headers == 0:
        errors.append(f"no headers found under {inc}")
    if errors:
        print("\n".join(errors))
        print(f"include_layers: {len(errors)} problem(s); ranks: " +
              ", ".join(f"{k}={v}" for k, v in sorted(RANKS.items(), key=lambda kv: (kv[1], kv[0]))))
        return 1
    print(f"include_layers: {headers} headers, {sum(len(v) for v in edges.values())} folder edges, all point down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
