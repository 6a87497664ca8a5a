"""Worker task modules. Each module registers its handlers on `fireline.worker.registry`."""
