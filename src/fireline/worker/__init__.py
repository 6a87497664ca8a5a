"""The worker: claims due jobs from the database and runs them (outbox, timers, fan-out)."""
