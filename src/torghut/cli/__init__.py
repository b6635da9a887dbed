"""The ``torghut`` command line (typer). Each module holds one command group."""
