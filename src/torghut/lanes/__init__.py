"""Use cases: each lane composes engines and services."""
