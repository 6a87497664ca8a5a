"""`python -m fireline` runs the command-line program."""

from fireline.cli.main import main

main()
