"""The GitOps repository: manifests under apps/torghut/, changed only through git."""
