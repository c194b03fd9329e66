"""`ponder view`: the Textual trace viewer, its run list, and the Markdown export.

Rules that must hold:
- Every field of a trace is untrusted, whatever its type. `source.parse` is the one way the
  viewer reads events: it checks each against its declared types (an ill-typed or incomplete
  event is kept as an unknown event, one nested too deeply is skipped, with a warning), so
  nothing downstream crashes on a value of the wrong type.
- `display.shown` is the one way a trace value becomes text (strings through `visible()`,
  numbers formatted only when they are numbers, the rest as JSON); labels, cells, fields and
  the export all use it. Untrusted text is never parsed as Rich or Textual markup: widgets
  get `rich.text.Text`, step text goes to the Markdown widget only after `visible()`, and the
  Markdown export fences or escapes it.
- Every read is bounded and regular-file-only, through `ponder.inputs` (the trace, stdin, the
  run list, the follower).
- A bad file never crashes the viewer: damaged lines become warnings, a file that is not a
  trace becomes a message on screen (or one line and exit 2 for `--export md`).
- Only `app.py` imports Textual; the other modules are pure and testable without a terminal.
"""
