#!/usr/bin/env bash
# Warm-up in fresh processes: value and gradient of sum(GELU(A·B)), 16×16, 50,000 calls per process (the `warmup`
# mode), ROUNDS processes each of: ours as built (IL only), ours with the packages' ReadyToRun code
# (.ci/ready-to-run), the same with the runtimeconfig setting the core package gives test projects (R2R-tier:
# src/Core.FSharp/buildTransitive/Functional.Core.targets), the same with the environment its run settings give
# the test host as well (R2R-test: Functional.Core.runsettings), and TorchSharp, with the defaults and with the
# test host's settings (Torch-test: the same runtimeconfig and environment as R2R-test); alternating, then the median
# of each figure.
# Usage: benchmarks/warmup.sh [ROUNDS]   (extra runtime settings may be given in the environment, e.g.
# DOTNET_TC_QuickJit=0 to measure quick JIT off, which docs/PERFORMANCE.md rejects: a steady state 1.4× slower)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$root/benchmarks" -c Release -v quiet -nologo >/dev/null
cp -rL "$root/benchmarks/bin/Release/net10.0" "$work/il"
cp -rL "$work/il" "$work/r2r"
dotnet publish "$root/.ci/ready-to-run/ReadyToRun.csproj" -c Release -o "$work/published" -v quiet -nologo >/dev/null
cp "$work"/published/Functional.*.dll "$work/r2r/"
cp -rL "$work/r2r" "$work/r2r-test"
python3 - "$work/r2r-test/Functional.Benchmarks.runtimeconfig.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
properties = config['runtimeOptions'].setdefault('configProperties', {})
properties['System.Runtime.TieredCompilation.CallCountingDelayMs'] = 0
properties['System.Runtime.TieredPGO'] = False
json.dump(config, open(sys.argv[1], 'w'), indent=2)
PY
lscpu | grep -E "^Model name|^CPU family|^Model:" | tr -s ' ' | paste -sd';'
for ((i = 1; i <= rounds; i++)); do
  ENGINE=functional dotnet "$work/il/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup functional/IL-only/p'
  ENGINE=functional dotnet "$work/r2r/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup functional/ReadyToRun/p'
  ENGINE=functional dotnet "$work/r2r-test/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup functional/R2R-tier/p'
  # The environment the core package's run settings give a test host.
  env $(sed -n 's|.*<\(DOTNET_[A-Za-z0-9_]*\)>\([^<]*\)<.*|\1=\2|p' "$root/src/Core.FSharp/buildTransitive/Functional.Core.runsettings") \
    ENGINE=functional dotnet "$work/r2r-test/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup functional/R2R-test/p'
  ENGINE=torch dotnet "$work/il/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup torch/TorchSharp/p'
  # TorchSharp in the test host's settings too: they are process-wide, so a test project gives them to its code.
  env $(sed -n 's|.*<\(DOTNET_[A-Za-z0-9_]*\)>\([^<]*\)<.*|\1=\2|p' "$root/src/Core.FSharp/buildTransitive/Functional.Core.runsettings") \
    ENGINE=torch dotnet "$work/r2r-test/Functional.Benchmarks.dll" warmup | sed -n 's/^warmup torch/Torch-test/p'
done | tee "$work/lines"
python3 - "$work/lines" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split(' ')[0]
    nums = [float(x) for x in re.findall(r'(\d+\.\d+) (?:ms|us)', line)]
    rows.setdefault(name, []).append(nums)
print('medians: first call (ms) | calls 2-10 | 11-1000 | 1001-10000 | steady (us)')
for name, rs in rows.items():
    med = [statistics.median(col) for col in zip(*rs)]
    print(f'{name:<11} {med[0]:8.1f} | {med[1]:7.1f} | {med[2]:7.1f} | {med[3]:7.1f} | {med[4]:6.1f}   (11-1000 / steady {med[2] / med[4]:.1f}x)')
PY
