"""Research: splits, overfitting statistics, sweeps, metrics bundles and reports."""
