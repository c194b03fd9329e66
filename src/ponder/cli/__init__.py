"""The command line: the Typer app, the Rich renderer of events, and (later) the Textual viewer."""
