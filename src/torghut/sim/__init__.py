"""The execution simulator: latency, spreads, order types, partial fills, costs, scenarios."""
