"""The `fireline` command-line program."""
