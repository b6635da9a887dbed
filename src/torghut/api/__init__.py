"""The runtime's HTTP interface: FastAPI service, Prometheus metrics and the dashboard
(DESIGN.md ``api/``). Build the app with :func:`torghut.api.app.create_app`."""
