"""Paper and shadow runtime: feed → strategies → aggregator → allocator → risk chain → firewall
→ execution adapter → TCA, with reconciliation (DESIGN.md ``runtime``)."""
