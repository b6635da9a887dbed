"""The strategy plugin SDK, registry, sandbox, conformance harness and built-in plugins."""
