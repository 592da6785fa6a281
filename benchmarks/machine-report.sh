#!/usr/bin/env bash
# Every figure the performance issue's Must-show asks for, on the machine at hand, into one file: the CPU as lscpu
# and CPUID see it, what the library chose for it (`functional machine`'s report), the FMA peak (C# and C), the GEMM table, the cache blocks ranked, the elementwise family, the
# store switches (results around or through the caches), exact GELU on 10⁷, the sums' accuracy tests and the fresh-process warm-up. About 16 minutes on a 2-core Zen 4 VM;
# nothing else should run meanwhile (timings).
# Usage: benchmarks/machine-report.sh [OUT]   (default: machine-report-<cpu family>-<model>.txt in the current folder)
# As on a machine without AVX-512: DOTNET_EnableAVX512=0 ATEN_CPU_CAPABILITY=avx2 benchmarks/machine-report.sh OUT
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
family=$(lscpu | sed -n 's/^CPU family: *//p')
model=$(lscpu | sed -n 's/^Model: *//p')
out=${1:-"machine-report-$family-$model.txt"}
bench() { dotnet "$root/benchmarks/bin/Release/net10.0/Functional.Benchmarks.dll" "$@"; }
section() { printf '\n## %s (%s)\n\n' "$1" "$(date -u +%FT%TZ)"; }
dotnet build "$root/benchmarks" -c Release -v quiet -nologo >/dev/null
{
  section "CPU"
  lscpu | grep -E "^(Model name|Vendor ID|CPU family|Model|Thread|Core|Socket|L1d|L2|L3|Hypervisor)"
  grep -o -w -E "avx512f|avx512dq|avx512vl|avx2|fma" /proc/cpuinfo | sort -u | paste -sd' '
  # Settings that change which code runs (DOTNET_EnableAVX512=0 with ATEN_CPU_CAPABILITY=avx2 stands in for an
  # AVX2 machine).
  env | grep -E "^(DOTNET_Enable|ATEN_CPU|MKL_|OMP_)" | sort || true
  section "What the library chose here (-- machine)"
  bench machine
  section "FMA peak, C# (-- peak)"
  bench peak
  section "FMA peak, C (benchmarks/native/peak.sh)"
  bash "$root/benchmarks/native/peak.sh"
  section "GEMM against TorchSharp and the peak (-- gemm)"
  bench gemm | grep -v '^round'
  section "Cache blocks ranked (-- gemmtune)"
  bench gemmtune
  section "Elementwise family fwd+bwd on 10⁶ (-- elementwise)"
  bench elementwise | grep -v '^round'
  section "Large results around or through the caches (-- stores)"
  bench stores
  section "Exact GELU fwd+bwd on 10⁷ and sum(GELU(A·B)) (-- small)"
  bench small
  # LibTorch allocates through glibc, which maps blocks of 32 MiB and more afresh for every call: TorchSharp's 80 MB
  # results pay first touches that ours (reused) do not. With glibc's mmap off and its trimming out of reach, they
  # reuse mapped memory too; both figures are shown.
  section "Exact GELU fwd+bwd on 10⁷ with glibc keeping freed memory (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=2^36)"
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 bench small | grep "GELU fwd+bwd"
  section "Sums: the accuracy tests"
  dotnet test "$root/tests/Core.Tests" --filter "FullyQualifiedName~ReduceTests" -v quiet -nologo 2>&1 | grep -E "Passed!|Failed!|error" || true
  section "Warm-up in fresh processes (benchmarks/warmup.sh)"
  bash "$root/benchmarks/warmup.sh" 5
} 2>&1 | tee "$out"
echo "written: $out"
