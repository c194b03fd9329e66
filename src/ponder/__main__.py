"""Allow `python -m ponder`."""

from ponder.cli.app import main

main()
