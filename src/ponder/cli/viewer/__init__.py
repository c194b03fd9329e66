"""`ponder view`: the Textual trace viewer, its run list, and the Markdown export.

Rules that must hold:
- Untrusted text (model output, questions, tool output) is never parsed as Rich or Textual
  markup: labels and panes are built from `rich.text.Text`, step text goes to the Markdown
  widget only after `visible()`, and the Markdown export fences or escapes it.
- A bad file never crashes the viewer: damaged lines become warnings, a file that is not a
  trace becomes a message on screen (or one line and exit 2 for `--export md`).
- Only `app.py` imports Textual; the other modules are pure and testable without a terminal.
"""
