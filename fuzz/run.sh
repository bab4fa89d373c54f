#!/usr/bin/env bash
# Runs every fuzz target for a bounded time on seeds taken from the peer conformance suites,
# and prints one line per target: executions, corpus size, and whether it found a crash.
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 30; by hand, run longer: 600 or more)
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails the run; make it a regression
# test in the crate that owns the parser, then fix it.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
conf=../tests/conformance
targets=(${FUZZ_TARGETS:-dap2_constraint dap4_constraint nc3_header dap4_chunks url_path ncml remote_metadata remote_data})

seed() { # seed TARGET NAME < content
  mkdir -p "corpus/$1"
  cat > "corpus/$1/seed-$2"
}

# Constraint expressions the peers' suites send, and the forms real clients send.
n=0
while IFS= read -r ce; do
  n=$((n + 1)); printf '%s' "$ce" | seed dap2_constraint "bes$n"
done < <(grep -rhoP '(?<=<constraint>)[^<]*' "$conf/bes" | sort -u)
n=0
while IFS= read -r ce; do
  n=$((n + 1)); printf 'dap4.ce=%s' "$ce" | seed dap4_constraint "bes$n"
done < <(grep -rhoP '(?<=<dap4constraint>)[^<]*' "$conf/bes" | sort -u)
i=0
for ce in 'temperature[0:1:1][2][0:2:7]' 'time,lat' 'temperature.lat' 'u%5b0%5d%5b0%5d%5b0:20%5d' \
  'x&x>1' 'g1_v[0]' 's.i1' 'x[0:1:2**63-2]' 'f(x)' 'temperature[0:1:1]&lat<3'; do
  i=$((i + 1)); printf '%s' "$ce" | seed dap2_constraint "hand$i"
done
i=0
for q in 'dap4.ce=/temperature[0:1:1][2][0:2:7]&dap4.checksum=true' 'dap4.ce=/v16%5B0:1,3%5D' \
  'dap4.ce=/g/v[];/x' 'dap4.ce=s{i1}' 'dap4.ce=/x|x>1' 'dap4.ce=lat=[0:2:3];/temperature' \
  'dap4.ce=;;;' 'dap4.ce=/a[2:]'; do
  i=$((i + 1)); printf '%s' "$q" | seed dap4_constraint "hand$i"
done
# Real netCDF-3 files (headers are what the target reads; the rest is cut).
i=0
while IFS= read -r f; do
  if [ "$(head -c 3 "$f")" = "CDF" ]; then
    i=$((i + 1)); head -c 65536 "$f" | seed nc3_header "nc$i"
  fi
done < <(find "$conf" ../testdata/samples -name '*.nc' 2>/dev/null | sort)
# Real DAP4 responses from Hyrax and TDS.
i=0
while IFS= read -r f; do
  i=$((i + 1)); head -c 65536 "$f" | seed dap4_chunks "dap$i"
done < <(find "$conf" -name '*.dap' | sort)
# NcML documents from Hyrax's suite; DMRs, DDS + DAS pairs and data bodies from real servers.
i=0
while IFS= read -r f; do
  i=$((i + 1)); head -c 65536 "$f" | seed ncml "ncml$i"
done < <(find "$conf" -name '*.ncml' | sort)
i=0
while IFS= read -r f; do
  i=$((i + 1)); head -c 65536 "$f" | seed remote_metadata "dmr$i"
done < <(find "$conf" -name '*.dmr' | sort | head -n 200)
i=0
while IFS= read -r f; do
  das="${f%.dds}.das"
  [ -f "$das" ] || continue
  i=$((i + 1)); { head -c 32768 "$f"; printf '\0'; head -c 32768 "$das"; } | seed remote_metadata "dds$i"
done < <(find "$conf" -name '*.dds' | sort | head -n 200)
i=0
while IFS= read -r f; do
  i=$((i + 1)); { printf '\x02\x03\x04'; head -c 65536 "$f"; } | seed remote_data "body$i"
done < <(find "$conf" \( -name '*.dap' -o -name '*.dods' \) | sort | head -n 200)
i=0
for p in '/a.nc' '/sub/b.nc' '/leak' '/up/secret.txt' '/sub/etc/passwd' '/inside/b.nc' \
  '/a/%2e%2e/secret.txt' '/sub/..%2f..%2fsecret.txt' '/%c0%ae%c0%ae/secret.txt'; do
  i=$((i + 1)); printf '%s' "$p" | seed url_path "hand$i"
done

cargo fuzz build --sanitizer none -O >/dev/null
status=0
for t in "${targets[@]}"; do
  max_len=4096
  case $t in nc3_header | dap4_chunks | ncml | remote_metadata | remote_data) max_len=65536 ;; esac
  log=$(mktemp)
  if cargo fuzz run --sanitizer none -O "$t" -- -max_total_time="$secs" -max_len="$max_len" \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1; then
    found=none
  else
    found="CRASH (see fuzz/artifacts/$t/)"
    status=1
    tail -n 40 "$log"
  fi
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$log" || echo '?')
  corpus=$(find "corpus/$t" -type f | wc -l)
  printf 'fuzz %-16s %6s s  %10s execs  corpus %5s  found: %s\n' "$t" "$secs" "$execs" "$corpus" "$found"
  rm -f "$log"
done
exit "$status"
