"""Operations services: the hard-stop conditions, drift, rollback, incidents, health."""
