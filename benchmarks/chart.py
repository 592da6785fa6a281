#!/usr/bin/python3
"""Draws matmul time against size, ours and TorchSharp's, from BenchmarkDotNet's MatMulScaling CSV.

    /usr/bin/python3 benchmarks/chart.py   (Debian's python3-matplotlib)
"""
import csv, os, re
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
# BenchmarkDotNet writes its artifacts under the directory it was started from: take the newest report.
name = os.path.join("BenchmarkDotNet.Artifacts", "results", "Functional.Benchmarks.MatMulScaling-report.csv")
found = [p for p in (os.path.join(here, name), os.path.join(here, "..", name), name) if os.path.exists(p)]
src = max(found, key=os.path.getmtime)
unit = {"ns": 1e-6, "μs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
series = {}
with open(src, encoding="utf-8") as f:
    for row in csv.DictReader(f):
        value, u = re.match(r"([\d.,]+)\s*(\S+)", row["Mean"]).groups()
        ms = float(value.replace(",", "")) * unit[u]
        series.setdefault(row["Method"], []).append((int(row["N"]), ms))

plt.figure(figsize=(7, 4.5))
for name, pts in series.items():
    pts.sort()
    plt.plot([n for n, _ in pts], [t for _, t in pts], marker="o", label=name)
plt.xscale("log", base=2)
plt.yscale("log")
plt.xlabel("n (n×n times n×n, float64)")
plt.ylabel("time per product (ms)")
plt.title("matmul forward: Functional vs TorchSharp")
plt.grid(True, which="both", alpha=0.3)
plt.legend()
plt.tight_layout()
plt.savefig(os.path.join(here, "matmul-scaling.png"), dpi=110)
