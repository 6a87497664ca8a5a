"""Storage: engine and session factory, ORM models, query functions, migrations."""
