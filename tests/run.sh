#!/bin/bash
# Run the unit tests (TAP binaries under OUT/unit) then the integration tests (pytest) against
# OUT/statusd, and print one closing line: "N passed, N failed".
set -u
OUT=${1:-build/check}
cd "$(dirname "$0")/.."
upass=0; ufail=0
echo "== unit tests ($OUT)"
while IFS= read -r t; do
    out=$("$t" 2>&1); rc=$?
    p=$(grep -c '^ok ' <<<"$out"); f=$(grep -c '^not ok ' <<<"$out")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$out" | tail -20; echo "CRASH/EXIT $rc: $t"; fi
    [ "$f" -gt 0 ] && grep -B1 -A3 '^not ok ' <<<"$out" | head -40
    echo "  $t: $p passed, $f failed"
    upass=$((upass + p)); ufail=$((ufail + f))
done < <(find "$OUT/unit" -type f -perm -u+x | sort)

echo "== integration tests"
log=$(mktemp)
STATUSD_BIN="$PWD/$OUT/statusd" /usr/bin/python3 -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests/integration 2>&1 | tee "$log"
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|no tests ran|[0-9]+ (passed|failed|error)' "$log" | tail -1)
ipass=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || true)
ifail=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{s+=$1} END{print s+0}')
rm -f "$log"
ipass=${ipass:-0}; ifail=${ifail:-0}
[ "$ipass" -eq 0 ] && [ "$ifail" -eq 0 ] && ifail=1   # no integration test ran: that is a failure
total_pass=$((upass + ipass)); total_fail=$((ufail + ifail))
echo "unit: $upass passed, $ufail failed; integration: $ipass passed, $ifail failed"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
