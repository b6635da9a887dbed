#!/usr/bin/env bash
# The foundation tour behind `make demo`: a workspace, real data, Gate 0 evidence, and every
# built-in plugin proved against the SDK contract. Safe to re-run: existing data is reused.
set -euo pipefail
WS=${1:-demo-workspace}
T="$(dirname "$0")/../.venv/bin/torghut"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Workspace ($WS)"
if [ -f "$WS/torghut.toml" ]; then echo "reusing existing workspace $WS"; else "$T" init "$WS"; fi
export TORGHUT_WORKSPACE="$WS"

step "2. Real market data: S&P 500 and NASDAQ Composite daily, 1999-2018 (shipped in arch)"
"$T" data sample
step "3. Gate 0 evidence for the sample"
"$T" data check sample-us-indices-1d

step "4. A seeded synthetic intraday panel with a planted momentum edge, and its Gate 0 check"
"$T" data synth --symbols 4 --bars 5000 --timeframe 1m --seed 7 --regimes --planted-edge 2.0 \
    --name synth-demo-1m
"$T" data check synth-demo-1m
"$T" data list

step "5. Strategy plugins and the GitOps catalog"
"$T" strategy list
"$T" strategy validate "$WS/gitops/apps/torghut/strategy-catalog.yaml"

step "6. Conformance: every built-in against the SDK contract on the real sample"
for ref in legacy_macd_rsi@1.0.0 tsmom@1.0.0 mean_reversion@1.0.0 vol_breakout@1.0.0 \
           sma_crossover@1.0.0; do
    "$T" strategy conformance "$ref" --dataset sample-us-indices-1d
done

step "7. Batch signals: time-series momentum target exposures"
"$T" signals --strategy tsmom@1.0.0 --params '{"lookback": 126}' \
    --dataset sample-us-indices-1d --out "$WS/artifacts/tsmom-signals.parquet"

step "8. A realistic backtest with its report (latency, spreads, participation, costs)"
report="$WS/artifacts/reports/tsmom-$(date +%Y%m%d-%H%M%S)"
"$T" backtest --strategy tsmom@1.0.0 --params '{"lookback": 126}' \
    --dataset sample-us-indices-1d --report "$report"

step "9. A research run: a 12-point grid, walk-forward selection, PSR/DSR/PBO, stress"
"$T" research run "$(dirname "$0")/../examples/candidates/tsmom-us-indices.yaml" --force

printf '\nDone. Workspace: %s — try: %s -w %s data show sample-us-indices-1d\n' "$WS" "$T" "$WS"
