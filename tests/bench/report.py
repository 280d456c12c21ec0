#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise `make bench` results: a table on stdout, JSON and Markdown files.

Usage: report.py OUT_DIR

Reads OUT_DIR/micro.txt (the swiotlb_bench module's log lines),
OUT_DIR/e2e.txt (lines "e2e layout=L rep=N job=J bw_kib=X" from
tests/bench/e2e.sh) and OUT_DIR/machine.json, and writes OUT_DIR/bench.json
and OUT_DIR/bench.md. Medians over the repetitions, with min-max spread.
Targets are reported as met or missed; nothing here fails a build.
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

KV = re.compile(r"(\w+)=(\S+)")


def parse(path, prefix):
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        i = line.find(prefix)
        if i < 0:
            continue
        d = dict(KV.findall(line[i:]))
        for k, v in d.items():
            try:
                d[k] = int(v)
            except ValueError:
                pass
        rows.append(d)
    return rows


def stat(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def fmt(s, scale=1.0, digits=2):
    if s is None:
        return "-"
    return (f"{s['median'] * scale:.{digits}f} "
            f"({s['min'] * scale:.{digits}f}-{s['max'] * scale:.{digits}f})")


def main(out):
    out = Path(out)
    micro = parse(out / "micro.txt", "swiotlb_bench: case=")
    e2e = parse(out / "e2e.txt", "e2e ")
    machine = json.loads((out / "machine.json").read_text()) if (out / "machine.json").exists() else {}

    # Throughput per (case, layout, size) and repetition.
    tput = defaultdict(list)  # key -> [ops/s]
    gbps = defaultdict(list)
    p50 = defaultdict(list)
    p99 = defaultdict(list)
    fails = defaultdict(int)
    for r in micro:
        if r.get("case") not in ("map", "memcpy"):
            continue
        key = (r["case"], r["layout"], r["size"])
        secs = r["ns"] / 1e9
        tput[key].append(r["ops"] / secs)
        gbps[key].append(r["ops"] * r["size"] / secs / 1e9)
        p50[key].append(r["p50"])
        p99[key].append(r["p99"])
        fails[key] += r["fails"]

    sizes = sorted({k[2] for k in tput})
    layouts = ["global", "shared", "perdev"]
    result = {"machine": machine, "map": [], "ratios": [], "isolation": [], "e2e": [],
              "targets": []}
    lines = ["## Mapping throughput (map+unmap, all CPUs, median (min-max))", "",
             "| size | layout | ops/s | GB/s | p50 ns | p99 ns | failures |",
             "|---|---|---|---|---|---|---|"]
    for size in sizes:
        for layout in ["-"] + layouts:
            case = "memcpy" if layout == "-" else "map"
            key = (case, layout, size)
            if key not in tput:
                continue
            row = {"case": case, "layout": layout if layout != "-" else "memcpy", "size": size,
                   "ops_per_s": stat(tput[key]), "gb_per_s": stat(gbps[key]),
                   "p50_ns": stat(p50[key]), "p99_ns": stat(p99[key]), "failures": fails[key]}
            result["map"].append(row)
            lines.append(f"| {size >> 10} KiB | {row['layout']} | {fmt(row['ops_per_s'], 1, 0)} | "
                         f"{fmt(row['gb_per_s'])} | {fmt(row['p50_ns'], 1, 0)} | "
                         f"{fmt(row['p99_ns'], 1, 0)} | {row['failures']} |")

    def med(key):
        s = stat(tput.get(key, []))
        return s["median"] if s else None

    def ratio(a, b):
        return a / b if a and b else None

    lines += ["", "## Ratios (medians)", "",
              "| size | per-device / global | per-device / shared | bounce efficiency (per-device GB/s / memcpy GB/s) |",
              "|---|---|---|---|"]
    for size in sizes:
        pd, gl, sh = (med(("map", l, size)) for l in ("perdev", "global", "shared"))
        mc = stat(gbps.get(("memcpy", "-", size), []))
        pdg = stat(gbps.get(("map", "perdev", size), []))
        eff = ratio(pdg["median"] if pdg else None, mc["median"] if mc else None)
        r = {"size": size, "perdev_over_global": ratio(pd, gl),
             "perdev_over_shared": ratio(pd, sh), "bounce_efficiency": eff}
        result["ratios"].append(r)
        f = lambda v: f"{v:.2f}x" if v else "-"
        lines.append(f"| {size >> 10} KiB | {f(r['perdev_over_global'])} | "
                     f"{f(r['perdev_over_shared'])} | {eff:.2f} |" if eff else
                     f"| {size >> 10} KiB | {f(r['perdev_over_global'])} | {f(r['perdev_over_shared'])} | - |")

    iso = defaultdict(lambda: {"fails": [], "rel": []})
    for r in micro:
        if r.get("case") == "isolation":
            iso[r["layout"]]["fails"].append(r["b_fails"])
            iso[r["layout"]]["rel"].append(r["b_ops"] / r["b_alone_ops"] if r["b_alone_ops"] else 0)
    lines += ["", "## Isolation (device A grabs every free 64 KiB slot while B streams)", "",
              "| layout | B mapping failures | B throughput vs. B alone |", "|---|---|---|"]
    for layout in layouts:
        if layout not in iso:
            continue
        row = {"layout": layout, "b_failures": stat(iso[layout]["fails"]),
               "b_relative": stat(iso[layout]["rel"])}
        result["isolation"].append(row)
        lines.append(f"| {layout} | {fmt(row['b_failures'], 1, 0)} | {fmt(row['b_relative'])} |")

    bw = defaultdict(list)
    for r in e2e:
        bw[(r["layout"], r["job"])].append(r["bw_kib"] / 1024)
    if bw:
        jobs = sorted({k[1] for k in bw})
        lines += ["", "## End to end: two virtio-blk disks in parallel (MiB/s, sum of both)", "",
                  "| job | " + " | ".join(layouts) + " | per-device / global |",
                  "|---|" + "---|" * (len(layouts) + 1)]
        for job in jobs:
            cells, meds = [], {}
            for layout in layouts:
                s = stat(bw.get((layout, job), []))
                meds[layout] = s["median"] if s else None
                cells.append(fmt(s, 1, 0))
                result["e2e"].append({"layout": layout, "job": job, "mib_per_s": s})
            rr = ratio(meds.get("perdev"), meds.get("global"))
            lines.append(f"| {job} | " + " | ".join(cells) + f" | {rr:.2f}x |" if rr else
                         f"| {job} | " + " | ".join(cells) + " | - |")

    # Targets of the benchmark issue, reported, never asserted.
    def target(name, value, want):
        ok = value is not None and value >= want
        result["targets"].append({"target": name, "value": value, "want": want, "met": ok})
        return f"| {name} | {value:.2f} | >= {want} | {'met' if ok else 'MISSED'} |" if value is not None \
            else f"| {name} | - | >= {want} | no data |"

    lines += ["", "## Targets", "", "| target | value | want | |", "|---|---|---|---|"]
    for r in result["ratios"]:
        lines.append(target(f"per-device/global at {r['size'] >> 10} KiB", r["perdev_over_global"], 1.0))
    r4 = next((r for r in result["ratios"] if r["size"] == 4096), None)
    if r4:
        lines.append(target("per-device/shared at 4 KiB", r4["perdev_over_shared"], 1.5))
    r64 = next((r for r in result["ratios"] if r["size"] == 65536), None)
    if r64:
        lines.append(target("bounce efficiency at 64 KiB", r64["bounce_efficiency"], 0.8))
    pdiso = next((r for r in result["isolation"] if r["layout"] == "perdev"), None)
    if pdiso and pdiso["b_failures"]:
        v = pdiso["b_failures"]["max"]
        ok = v == 0
        result["targets"].append({"target": "isolation: B failures with per-device pools",
                                  "value": v, "want": 0, "met": ok})
        lines.append(f"| isolation: B failures with per-device pools | {v} | 0 | {'met' if ok else 'MISSED'} |")

    head = ["# hv_pci_swiotlb benchmark", ""]
    for k in ("date", "host_cpu", "vcpus", "accel", "kernel", "reps", "ms"):
        if k in machine:
            head.append(f"- {k}: {machine[k]}")
    md = "\n".join(head + [""] + lines) + "\n"
    (out / "bench.md").write_text(md)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(md)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
