"""Seeded, labelled synthetic data for benchmarks, tests and demo databases (pure, no I/O)."""

from fireline.synthetic.incidents import (
    GeneratorConfig,
    LabelledIncident,
    SyntheticHistory,
    SyntheticService,
    generate,
)

__all__ = [
    "GeneratorConfig",
    "LabelledIncident",
    "SyntheticHistory",
    "SyntheticService",
    "generate",
]
