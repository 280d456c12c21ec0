#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise `make bench` results: a table on stdout, JSON and Markdown files.

Usage: report.py OUT_DIR

Reads OUT_DIR/micro-CFG.txt (the swiotlb_bench module's log lines),
OUT_DIR/e2e-CFG.txt (lines "e2e layout=L rep=N job=J bw_kib=X" from
tests/bench/e2e.sh), OUT_DIR/files-CFG.txt (lines "files layout=L rep=N
load=alone|busy ..." from tests/bench/files.sh) for CFG percpu and 1area,
OUT_DIR/profile.txt if there
is one, and OUT_DIR/machine.json; writes OUT_DIR/bench.json and
OUT_DIR/bench.md. Medians over the repetitions, with min-max spread.
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


LAYOUTS = ["global", "shared", "perdev"]
LOADS = ["alone", "busy", "flood"]
CASES = ["map", "pinned", "map_to"]
CONFIGS = ["percpu", "1area"]
CONFIG_TITLE = {"percpu": "pools with an area per CPU (default)",
                "1area": "pools with one area (swiotlb=,1)"}


def f_ratio(v):
    return f"{v:.2f}x" if v else "-"


def ratio(a, b):
    return a / b if a and b else None


class Micro:
    """The microbenchmark's results of one configuration."""

    def __init__(self, rows):
        self.tput = defaultdict(list)  # (case, layout, size) -> [ops/s]
        self.gbps = defaultdict(list)
        self.p50 = defaultdict(list)
        self.p99 = defaultdict(list)
        self.fails = defaultdict(int)
        self.iso = defaultdict(lambda: {"fails": [], "rel": []})
        self.header = {}
        for r in rows:
            if "cpus" in r:
                self.header = r
            case = r.get("case")
            if case in ["memcpy", "memcpy_pool"] + CASES:
                key = (case, r["layout"], r["size"])
                secs = r["ns"] / 1e9
                self.tput[key].append(r["ops"] / secs)
                self.gbps[key].append(r["ops"] * r["size"] / secs / 1e9)
                self.p50[key].append(r["p50"])
                self.p99[key].append(r["p99"])
                self.fails[key] += r["fails"]
            elif case == "isolation":
                self.iso[r["layout"]]["fails"].append(r["b_fails"])
                self.iso[r["layout"]]["rel"].append(
                    r["b_ops"] / r["b_alone_ops"] if r["b_alone_ops"] else 0)
        self.sizes = sorted({k[2] for k in self.tput})

    def med(self, key, what=None):
        s = stat((what or self.tput).get(key, []))
        return s["median"] if s else None


def main(out):
    out = Path(out)
    machine = json.loads((out / "machine.json").read_text()) if (out / "machine.json").exists() else {}
    micro = {c: Micro(parse(out / f"micro-{c}.txt", "swiotlb_bench: ")) for c in CONFIGS}
    e2e = {c: parse(out / f"e2e-{c}.txt", "e2e ") for c in CONFIGS}
    files = {c: parse(out / f"files-{c}.txt", "files ") for c in CONFIGS}
    result = {"machine": machine, "map": [], "ratios": [], "areas": [], "isolation": [],
              "e2e": [], "files": [], "targets": []}
    lines = []

    m = micro["percpu"]
    h = m.header
    if h:
        perdev = f", per-device {h['perdev_kib'] / 1024:g} MiB each" if "perdev_kib" in h else ""
        lines += [f"Pools: {h.get('cpus')} CPUs, {h.get('devices')} devices; shared "
                  f"{h.get('pool_mb')} MiB{perdev}; areas: global "
                  f"{h.get('areas_global')}, shared {h.get('areas_shared')}, per-device "
                  f"{h.get('areas_perdev')}.", ""]
    lines += ["## Mapping throughput (" + CONFIG_TITLE["percpu"] + "), median (min-max)", "",
              "map: a thread per CPU and device, alternating directions; pinned: a thread per CPU "
              "on one device (the CPU's number modulo the devices); map_to: as map, to the device "
              "only.", "",
              "| size | case | layout | ops/s | GB/s | p50 ns | p99 ns | failures |",
              "|---|---|---|---|---|---|---|---|"]
    for size in m.sizes:
        for case, layout in [("memcpy", "-"), ("memcpy_pool", "-")] + [(c, l) for c in CASES for l in LAYOUTS]:
            key = (case, layout, size)
            if key not in m.tput:
                continue
            row = {"case": case, "layout": layout, "size": size,
                   "ops_per_s": stat(m.tput[key]), "gb_per_s": stat(m.gbps[key]),
                   "p50_ns": stat(m.p50[key]), "p99_ns": stat(m.p99[key]), "failures": m.fails[key]}
            result["map"].append(row)
            lines.append(f"| {size >> 10} KiB | {case} | {layout} | {fmt(row['ops_per_s'], 1, 0)} | "
                         f"{fmt(row['gb_per_s'])} | {fmt(row['p50_ns'], 1, 0)} | "
                         f"{fmt(row['p99_ns'], 1, 0)} | {row['failures']} |")

    lines += ["", "## Ratios (medians, " + CONFIG_TITLE["percpu"] + ")", "",
              "Bounce efficiency: GB/s mapped per-device / memcpy GB/s. A mapping from the device "
              "copies twice (the slot is filled from the buffer at map time, so that a short "
              "device write cannot expose stale data), so alternating directions costs 1.5 copies "
              "per mapping and cannot exceed 0.67; to the device only, one copy.", "",
              "memcpy_pool copies into the pools' memory at a moving offset, as bounce buffers are "
              "written, instead of between two cache-hot buffers; the last column is measured "
              "against it.", "",
              "| size | per-device / global | per-device / shared | pinned: per-device / shared "
              "| efficiency, alternating | efficiency, to device | to device vs memcpy_pool |",
              "|---|---|---|---|---|---|---|"]
    for size in m.sizes:
        mc = m.med(("memcpy", "-", size), m.gbps)
        r = {"size": size,
             "perdev_over_global": ratio(m.med(("map", "perdev", size)), m.med(("map", "global", size))),
             "perdev_over_shared": ratio(m.med(("map", "perdev", size)), m.med(("map", "shared", size))),
             "pinned_perdev_over_shared": ratio(m.med(("pinned", "perdev", size)),
                                                m.med(("pinned", "shared", size))),
             "efficiency_alternating": ratio(m.med(("map", "perdev", size), m.gbps), mc),
             "efficiency_to_device": ratio(m.med(("map_to", "perdev", size), m.gbps), mc),
             "efficiency_to_device_vs_pool_memcpy": ratio(
                 m.med(("map_to", "perdev", size), m.gbps), m.med(("memcpy_pool", "-", size), m.gbps))}
        result["ratios"].append(r)
        ef = lambda v: f"{v:.2f}" if v else "-"
        lines.append(f"| {size >> 10} KiB | {f_ratio(r['perdev_over_global'])} | "
                     f"{f_ratio(r['perdev_over_shared'])} | {f_ratio(r['pinned_perdev_over_shared'])} | "
                     f"{ef(r['efficiency_alternating'])} | {ef(r['efficiency_to_device'])} | "
                     f"{ef(r['efficiency_to_device_vs_pool_memcpy'])} |")

    one = micro["1area"]
    if one.tput:
        lines += ["", "## Areas: an area per CPU vs one area per pool (map, ops/s medians)", "",
                  "| size | layout | per-CPU areas | one area | ratio |", "|---|---|---|---|---|"]
        for size in m.sizes:
            for layout in LAYOUTS:
                a, b = m.med(("map", layout, size)), one.med(("map", layout, size))
                result["areas"].append({"size": size, "layout": layout, "percpu_ops": a,
                                        "one_area_ops": b, "ratio": ratio(a, b)})
                lines.append(f"| {size >> 10} KiB | {layout} | {a or 0:.0f} | {b or 0:.0f} | "
                             f"{f_ratio(ratio(a, b))} |")
        for size in one.sizes:
            result["areas"].append({"size": size, "one_area_perdev_over_shared": ratio(
                one.med(("map", "perdev", size)), one.med(("map", "shared", size)))})
        r4 = ratio(one.med(("map", "perdev", 4096)), one.med(("map", "shared", 4096)))
        x4 = ratio(m.med(("map", "perdev", 4096)), one.med(("map", "shared", 4096)))
        result["areas"].append({"size": 4096, "percpu_perdev_over_one_area_shared": x4})
        lines += ["", f"With one area per pool, per-device / shared at 4 KiB (map): {f_ratio(r4)}. "
                  "Per-device pools with an area per CPU against one shared pool with one area "
                  f"(the reference design; two boots of the same run): {f_ratio(x4)}."]

    lines += ["", "## Isolation (device A grabs every free 64 KiB slot while B streams)", "",
              "| layout | B mapping failures | B throughput vs. B alone |", "|---|---|---|"]
    for layout in LAYOUTS:
        if layout not in m.iso:
            continue
        row = {"layout": layout, "b_failures": stat(m.iso[layout]["fails"]),
               "b_relative": stat(m.iso[layout]["rel"])}
        result["isolation"].append(row)
        lines.append(f"| {layout} | {fmt(row['b_failures'], 1, 0)} | {fmt(row['b_relative'])} |")

    e2e_med = {}
    for cfg in CONFIGS:
        bw = defaultdict(list)
        for r in e2e[cfg]:
            bw[(r["layout"], r["job"])].append(r["bw_kib"] / 1024)
        if not bw:
            continue
        jobs = [j for j in ["seqwrite", "seqread", "randread", "net", "net+disk", "disk+net"]
                if any(k[1] == j for k in bw)]
        lines += ["", f"## End to end, {CONFIG_TITLE[cfg]} (MiB/s, median (min-max))", "",
                  "Disk jobs: both virtio-blk disks in parallel, sum. net: iperf3 over virtio-net. "
                  "net+disk: the network while both disks write; disk+net: the disks meanwhile.", "",
                  "| job | " + " | ".join(LAYOUTS) + " | per-device / global | per-device / shared |",
                  "|---|" + "---|" * (len(LAYOUTS) + 2)]
        for job in jobs:
            cells = []
            for layout in LAYOUTS:
                s = stat(bw.get((layout, job), []))
                e2e_med[(cfg, layout, job)] = s["median"] if s else None
                cells.append(fmt(s, 1, 0))
                result["e2e"].append({"config": cfg, "layout": layout, "job": job, "mib_per_s": s})
            pg = ratio(e2e_med[(cfg, "perdev", job)], e2e_med[(cfg, "global", job)])
            ps = ratio(e2e_med[(cfg, "perdev", job)], e2e_med[(cfg, "shared", job)])
            lines.append(f"| {job} | " + " | ".join(cells) + f" | {f_ratio(pg)} | {f_ratio(ps)} |")
    if any(k[0] == "1area" for k in e2e_med):
        lines += ["", "Per-device pools, an area per CPU vs one area (end to end): " + ", ".join(
            f"{job} {f_ratio(ratio(e2e_med.get(('percpu', 'perdev', job)), e2e_med.get(('1area', 'perdev', job))))}"
            for job in ["seqwrite", "seqread", "randread", "net", "net+disk"]
            if ("percpu", "perdev", job) in e2e_med) + "."]

    # The build-on-/mnt/c workload: per layout and load, medians over reps.
    fmed, fper = {}, {}
    for cfg in CONFIGS:
        runs = defaultdict(list)
        for r in files[cfg]:
            for k in ("create_s", "stat_s", "read_s"):  # seconds, as decimals
                r[k] = float(r.get(k, 0))
            runs[(r["layout"], r["load"])].append(r)
        if not runs:
            continue
        lines += ["", f"## Small files on virtio-fs share hostc, {CONFIG_TITLE[cfg]}", "",
                  "Each run creates, stats and reads back the same tree of small files (2-320 KiB, "
                  "fixed seed); busy: meanwhile hostd streams 32 MiB files with O_DIRECT and iperf3 "
                  "runs over net0; flood: busy, and both disks take 128-deep random 512 KiB O_DIRECT "
                  "I/O (more buffers in flight than a 64 MiB pool holds). files/s and MB/s (written plus read) over the whole run; read "
                  "latency per file (open, read, close), hostc only; failures: hostc's mapping "
                  "failures in the driver's table (- without the driver); full: \"swiotlb buffer "
                  "is full\" lines naming hostc (rate-limited); errors: files that did not read "
                  "back as written. Medians (min-max).", "",
                  "| load | layout | files/s | MB/s | read p50 us | read p99 us | failures | full "
                  "| errors | hostd MiB meanwhile | disks MiB meanwhile |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for load in LOADS:
            for layout in LAYOUTS:
                rs = runs.get((layout, load), [])
                if not rs:
                    continue
                secs = [r.get("create_s", 0) + r.get("stat_s", 0) + r.get("read_s", 0) for r in rs]
                fps = stat([r["files"] / t if t else None for r, t in zip(rs, secs)])
                mbs = stat([2 * r["bytes"] / t / 1e6 if t and "bytes" in r else None
                            for r, t in zip(rs, secs)])
                p50, p99 = stat([r.get("p50_us") for r in rs]), stat([r.get("p99_us") for r in rs])
                fails = [r["fails"] for r in rs if isinstance(r.get("fails"), int) and r["fails"] >= 0]
                full = sum(r.get("full", 0) for r in rs)
                errors = sum(r.get("errors", 0) for r in rs)
                dmib = stat([r.get("d_mib") for r in rs])
                bmib = stat([r.get("b_mib") for r in rs])
                row = {"config": cfg, "layout": layout, "load": load, "files_per_s": fps,
                       "mb_per_s": mbs, "read_p50_us": p50, "read_p99_us": p99,
                       "failures": max(fails) if fails else None, "full_messages": full,
                       "errors": errors, "hostd_mib": dmib, "disks_mib": bmib, "n": len(rs)}
                result["files"].append(row)
                for k in ("files_per_s", "read_p99_us"):
                    fmed[(cfg, layout, load, k)] = row[k]["median"] if row[k] else None
                # Per repetition, for ratios within one repetition (the
                # layouts of one repetition run back to back).
                fper[(cfg, layout, load)] = {r.get("rep"): f for r, f in
                                             zip(rs, [r["files"] / t if t else None
                                                      for r, t in zip(rs, secs)])}
                fmed[(cfg, layout, load, "failures")] = row["failures"]
                lines.append(f"| {load} | {layout} | {fmt(fps, 1, 1)} | {fmt(mbs, 1, 1)} | "
                             f"{fmt(p50, 1, 0)} | {fmt(p99, 1, 0)} | "
                             f"{'-' if row['failures'] is None else row['failures']} | {full} | "
                             f"{errors} | {fmt(dmib, 1, 0)} | {fmt(bmib, 1, 0)} |")

    # Targets of the benchmark issue, reported, never asserted.
    def target(name, value, want):
        ok = value is not None and value >= want
        result["targets"].append({"target": name, "value": value, "want": want, "met": ok})
        return f"| {name} | {value:.2f} | >= {want} | {'met' if ok else 'MISSED'} |" if value is not None \
            else f"| {name} | - | >= {want} | no data |"

    lines += ["", "## Targets (" + CONFIG_TITLE["percpu"] + ")", "",
              "| target | value | want | |", "|---|---|---|---|"]
    for r in result["ratios"]:
        lines.append(target(f"per-device/global at {r['size'] >> 10} KiB", r["perdev_over_global"], 1.0))
    by_size = {r["size"]: r for r in result["ratios"]}
    if 4096 in by_size:
        lines.append(target("per-device/shared at 4 KiB", by_size[4096]["perdev_over_shared"], 1.5))
    if 65536 in by_size:
        lines.append(target("bounce efficiency at 64 KiB, to device (one copy per mapping)",
                            by_size[65536]["efficiency_to_device"], 0.8))
        lines.append(target("bounce efficiency at 64 KiB, alternating (1.5 copies per mapping)",
                            by_size[65536]["efficiency_alternating"], 0.8))
        lines.append(target("bounce efficiency at 64 KiB, to device, vs memcpy into pool memory",
                            by_size[65536]["efficiency_to_device_vs_pool_memcpy"], 0.8))
    pdiso = next((r for r in result["isolation"] if r["layout"] == "perdev"), None)
    if pdiso and pdiso["b_failures"]:
        v = pdiso["b_failures"]["max"]
        ok = v == 0
        result["targets"].append({"target": "isolation: B failures with per-device pools",
                                  "value": v, "want": 0, "met": ok})
        lines.append(f"| isolation: B failures with per-device pools | {v} | 0 | {'met' if ok else 'MISSED'} |")
    for job in ["seqwrite", "seqread", "randread", "net", "net+disk"]:
        if ("percpu", "perdev", job) in e2e_med:
            lines.append(target(f"end to end {job}: per-device/global",
                                ratio(e2e_med[("percpu", "perdev", job)],
                                      e2e_med[("percpu", "global", job)]), 1.0))

    def per_rep(cfg, other, load):
        """min-max of per-device/OTHER files/s within each repetition."""
        a, b = fper.get((cfg, "perdev", load), {}), fper.get((cfg, other, load), {})
        rs = [a[k] / b[k] for k in a if a[k] and b.get(k)]
        return f" (per repetition {min(rs):.2f}-{max(rs):.2f})" if rs else ""

    for load in LOADS:
        for cfg in CONFIGS:
            pd = fmed.get((cfg, "perdev", load, "files_per_s"))
            if pd is None:
                continue
            if cfg == "percpu":
                lines.append(target(f"small files {load}: per-device/global files/s"
                                    + per_rep(cfg, "global", load),
                                    ratio(pd, fmed.get((cfg, "global", load, "files_per_s"))), 1.0))
            lines.append(target(f"small files {load}: per-device/shared files/s ({cfg})"
                                + per_rep(cfg, "shared", load),
                                ratio(pd, fmed.get((cfg, "shared", load, "files_per_s"))), 1.0))
    for cfg in CONFIGS:
        # p99 no worse: shared p99 / per-device p99 >= 1.0.
        for load in LOADS[1:]:
            pd, sh = fmed.get((cfg, "perdev", load, "read_p99_us")), fmed.get((cfg, "shared", load, "read_p99_us"))
            if pd is not None and sh is not None:
                lines.append(target(f"small files {load}: shared p99 / per-device p99 ({cfg})",
                                    ratio(sh, pd) if pd else None, 1.0))
        fl = [fmed.get((cfg, "perdev", load, "failures")) for load in LOADS]
        fl = [v for v in fl if v is not None]
        if fl:
            ok = max(fl) == 0
            result["targets"].append({"target": f"small files: hostc failures with per-device pools ({cfg})",
                                      "value": max(fl), "want": 0, "met": ok})
            lines.append(f"| small files: hostc failures with per-device pools ({cfg}) | {max(fl)} | 0 | "
                         f"{'met' if ok else 'MISSED'} |")

    prof = out / "profile.txt"
    if prof.exists():
        lines += ["", "## Profile", "", "```", prof.read_text().rstrip(), "```"]

    head = ["# hv_pci_swiotlb benchmark", ""]
    for k in ("date", "host_cpu", "vcpus", "accel", "kernel", "reps", "ms", "files", "files_reps"):
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
