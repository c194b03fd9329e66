"""Allow `python -m ponder`."""

from ponder.cli.entry import main

main()
