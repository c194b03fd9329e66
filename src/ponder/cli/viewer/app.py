"""The Textual app of `ponder view`: a run list, and a run screen with a tree and a detail pane.

Rules that must hold:
- Every value from a trace, whatever its type, reaches a widget as `rich.text.Text` built from
  `display.shown` / `number` / `one_line` / `cell` (or, for step text and tool code, the
  Markdown widget after `visible()`, parsed without links, images or HTML, so a link's
  target is never hidden and nothing opens a browser); no widget is given a `str` it would parse.
- A value shown in the detail pane is cut at SHOWN_CHARS (the export keeps it whole), so a
  trace with a 50 MB step stays usable; step text of more than MARKDOWN_LINES lines is shown
  as plain text, not Markdown (each block is a widget: 3,000 list items took 29 s to show).
- `Folding` builds the tree; this module only mirrors it into a `Tree` widget (`RunTree.sync`),
  adding new nodes and relabelling old ones, so following a trace keeps cursor and expansion.
  A followed trace's new events are folded into the same tree (never the whole trace again),
  and the header's totals come from the events that are not text deltas.
- Tree data is a span (a `str`) for a node, or the index (an `int`) of an event kept on the
  run, so no span in a trace can pose as an event.
- Nothing here crashes on a bad file: damaged lines show as a warning bar, a file that is not
  a trace as a message in place of the tree.
- Everything is reachable from the keyboard; the footer lists the keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Markdown, Static, Tree
from textual.worker import get_current_worker

from ponder.cli.files import write_whole
from ponder.cli.safe import visible
from ponder.cli.viewer import detail as details
from ponder.cli.viewer.export import to_markdown
from ponder.cli.viewer.follow import Tail, follow
from ponder.cli.viewer.display import cell, number, one_line, shown, utc
from ponder.cli.viewer.labels import answer_span, chosen_spans, event_label, node_label
from ponder.cli.viewer.messages import FollowFailed, OpenRun, TraceAppended
from ponder.cli.viewer.runs import RunSummary, filter_runs, scan
from ponder.cli.viewer.source import Loaded, load_bytes, read_path
from ponder.errors import PonderError, UsageError
from ponder.trace.events import Answer, Event, RunFinished, RunStarted, TextDelta, UnknownEvent
from ponder.trace.tree import Folding, Node
from ponder.trace.usage import summarize

PENDING = "the last line is incomplete: the run is still writing it, or the trace was cut off"
THEMES = {"dark": "textual-dark", "light": "textual-light"}


@dataclass(frozen=True)
class Target:
    """What to open: a directory (run list), a trace file, or trace bytes read from stdin."""

    path: Path | None = None
    data: bytes | None = None
    is_dir: bool = False


class RunTree(Tree[object]):
    """The run's tree; node data is a span, or the index N (an int) of an event kept on the run."""

    def __init__(self) -> None:
        super().__init__(Text("run"), data="run", id="tree")
        self.items: dict[object, object] = {"run": self.root}
        self.nodes: dict[str, Node] = {}
        self.loose: list[Event] = []
        self.root.expand()

    def sync(self, root: Node) -> None:
        """Mirror a freshly folded tree: add what is new, relabel what exists."""
        self.nodes = {n.span: n for n in root.walk()}
        chosen, answer = chosen_spans(root), answer_span(root)
        for node in root.walk():
            label = node_label(node, chosen, answer)
            item = self.items.get(node.span)
            if item is None:
                parent = self.items.get(node.parent or "run", self.root)
                parent.allow_expand = True  # type: ignore[attr-defined]
                item = parent.add(label, data=node.span, expand=node.kind in ("run", "round"),  # type: ignore[attr-defined]
                                  allow_expand=bool(node.children))
                self.items[node.span] = item
            else:
                item.set_label(label)  # type: ignore[attr-defined]
        self._sync_loose(root)

    def _sync_loose(self, root: Node) -> None:
        loose = [e for e in root.events if isinstance(e, UnknownEvent)]
        for index in range(len(self.loose), len(loose)):
            self.items[index] = self.root.add_leaf(event_label(loose[index]), data=index)
        self.loose = loose

    def reveal(self, key: object) -> None:
        """Expand the ancestors of an item and put the cursor on it."""
        item = self.items[key]
        parent = item.parent  # type: ignore[attr-defined]
        while parent is not None:
            parent.expand()
            parent = parent.parent
        _ = self.last_line  # rebuild the lines so the item's line is known
        self.move_cursor(item)  # type: ignore[arg-type]


class DetailPane(VerticalScroll):
    """Fields, step text (Markdown), blocks, or the raw JSON of the selected node."""

    def compose(self) -> ComposeResult:
        yield Static(id="fields")
        yield Markdown(id="text", parser_factory=text_parser, open_links=False)
        yield Static(id="plain")
        yield Static(id="blocks")
        yield Static(id="raw")

    def show(self, detail: details.Detail, raw: str, show_raw: bool) -> None:
        """Show a node's detail, or its raw JSON when asked."""
        self.query_one("#fields", Static).update(details.render_fields(detail))
        markdown, plain = self.query_one("#text", Markdown), self.query_one("#plain", Static)
        text = None if detail.markdown is None else visible(cut(detail.markdown))
        long = text is not None and text.count("\n") >= MARKDOWN_LINES
        markdown.display = text is not None and not long and not show_raw
        plain.display = long and not show_raw
        if long:
            plain.update(Text(text or ""))
        elif text is not None:
            markdown.update(hard_breaks(text))
        blocks = self.query_one("#blocks", Static)
        blocks.display = bool(detail.blocks) and not show_raw
        blocks.update(details.render_blocks(detail))
        raw_view = self.query_one("#raw", Static)
        raw_view.display = show_raw
        raw_view.update(Text(visible(cut(raw))))


SHOWN_CHARS = 100_000
MARKDOWN_LINES = 200


def cut(text: str) -> str:
    """Text as the detail pane shows it: at most SHOWN_CHARS, then how much more there is."""
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"\n\n[… {len(text) - SHOWN_CHARS:,} more characters: x exports the whole run]"


def text_parser() -> MarkdownIt:
    """Markdown for step text: emphasis, lists, tables and code, but no links, images or HTML (nor
    link reference definitions, which would hide their lines)."""
    return MarkdownIt("gfm-like").disable(
        ["link", "image", "autolink", "html_inline", "html_block", "linkify", "reference"], ignoreInvalid=True)


def hard_breaks(text: str) -> str:
    """Keep the model's line breaks in Markdown: outside code fences, each line ends in a hard break."""
    out, fence = [], ""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            marker = stripped[:3]
            fence = "" if fence and fence == marker else (fence or marker)
            out.append(line)
        else:
            out.append(line if fence or not stripped else line.rstrip() + "  ")
    return "\n".join(out)


class RunScreen(Screen[None]):
    """One run: header, warnings, the tree, the detail pane, a search box."""

    BINDINGS = [
        Binding("e", "expand_all", "Expand all"),
        Binding("c", "collapse_all", "Collapse"),
        Binding("r", "toggle_raw", "Raw JSON"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("x", "export", "Export md"),
        Binding("y", "copy", "Copy md", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, target: Target, follow: bool = False, can_go_back: bool = False) -> None:
        super().__init__()
        self.target = target
        self.follow_requested = follow
        self.can_go_back = can_go_back
        self.events: list[Event] = []
        self.kept: list[Event] = []  # the events that are not text deltas (for the header's totals)
        self.folding = Folding()
        self.warnings: list[str] = []
        self.show_raw = False
        self.query_text = ""
        self.following = False
        self.pending = False
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="warnings")
        with Horizontal(id="body"):
            yield RunTree()
            yield DetailPane(id="detail")
        yield Input(placeholder="search the run (Enter: find, Esc: close)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        loaded = self._load()
        self.warnings, self.pending = loaded.warnings, loaded.pending
        self._add(loaded.events)
        if loaded.problem:
            self.problem = loaded.problem
            self._show_problem(loaded.problem)
            return
        self._refresh_all()
        tree = self.query_one(RunTree)
        tree.focus()
        tree.move_cursor(tree.root)
        running = not any(isinstance(e, RunFinished) for e in self.events)
        if self.target.path is not None and (self.follow_requested or running):
            self.following = True
            self._follow(Tail(self.target.path, loaded.offset))
            self._refresh_header()

    def _load(self) -> Loaded:
        if self.target.data is not None:
            return load_bytes(self.target.data)
        assert self.target.path is not None
        try:
            data = read_path(self.target.path)
        except UsageError as exc:
            return Loaded(problem=str(exc))
        loaded = load_bytes(data, follow=True)
        finished = any(isinstance(e, RunFinished) for e in loaded.events)
        if not self.follow_requested and (finished or loaded.problem):
            return load_bytes(data)
        return loaded

    def _show_problem(self, problem: str) -> None:
        name = str(self.target.path) if self.target.path else "stdin"
        self.query_one("#header", Static).update(Text.assemble(("ponder view: ", "bold"), shown(name)))
        warn = self.query_one("#warnings", Static)
        warn.update(Text.assemble(("✗ ", "bold red"), visible(problem)))
        warn.add_class("problem")
        self.query_one("#body").display = False

    @work(thread=True, exclusive=True, group="follow")
    def _follow(self, tail: Tail) -> None:
        worker = get_current_worker()
        follow(tail, self.post_message, lambda: worker.is_cancelled)  # type: ignore[arg-type]

    def _add(self, events: list[Event]) -> None:
        """Take new events: keep them, and fold them into the tree."""
        self.events.extend(events)
        self.kept.extend(e for e in events if not isinstance(e, TextDelta))
        self.folding.add(events)

    @on(TraceAppended)
    def _appended(self, message: TraceAppended) -> None:
        self._add(message.events)
        self.warnings.extend(message.warnings)
        self.pending = message.pending
        self._refresh_all()

    @on(FollowFailed)
    def _follow_failed(self, message: FollowFailed) -> None:
        self.following = False
        self.warnings.append(message.reason)
        self._refresh_all()

    def _refresh_all(self) -> None:
        self.query_one(RunTree).sync(self.folding.root)
        self._refresh_header()
        self._refresh_warnings()
        self._refresh_detail()

    def _refresh_header(self) -> None:
        self.query_one("#header", Static).update(header_text(self.kept, self.following))

    def _refresh_warnings(self) -> None:
        warnings = self.warnings + ([PENDING] if self.pending else [])
        warn = self.query_one("#warnings", Static)
        warn.display = bool(warnings)
        latest = warnings[-3:]
        more = f" (+{len(warnings) - 3} more)" if len(warnings) > 3 else ""
        warn.update(Text("\n".join(f"⚠ {visible(w)}" for w in latest) + more))

    def _refresh_detail(self) -> None:
        if self.problem:
            return
        tree = self.query_one(RunTree)
        key = tree.cursor_node.data if tree.cursor_node is not None else "run"
        detail, events = self._detail_of(key, tree)
        self.query_one(DetailPane).show(detail, details.raw_json(events), self.show_raw)

    def _detail_of(self, key: object, tree: RunTree) -> tuple[details.Detail, list[Event]]:
        if isinstance(key, int) and 0 <= key < len(tree.loose):
            event = tree.loose[key]
            return details.describe_event(event), [event]
        node = (tree.nodes.get(key) if isinstance(key, str) else None) or tree.nodes["run"]
        return details.describe(node), node.events

    @on(Tree.NodeHighlighted)
    def _highlighted(self) -> None:
        self._refresh_detail()

    def action_expand_all(self) -> None:
        """Expand every node."""
        self.query_one(RunTree).root.expand_all()

    def action_collapse_all(self) -> None:
        """Collapse every node below the run."""
        tree = self.query_one(RunTree)
        for child in tree.root.children:
            child.collapse_all()
        tree.move_cursor(tree.root)

    def action_toggle_raw(self) -> None:
        """Toggle the raw JSON of the selected node."""
        self.show_raw = not self.show_raw
        self._refresh_detail()

    def action_search(self) -> None:
        """Open the search box."""
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, message: Input.Submitted) -> None:
        self.query_text = message.value
        self._close_search()
        self.action_next_match()

    def _close_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.query_one(RunTree).focus()

    def action_next_match(self) -> None:
        """Select the next node whose text contains the search query."""
        if not self.query_text.strip():
            return
        tree = self.query_one(RunTree)
        current = tree.cursor_node.data if tree.cursor_node is not None else None
        key = next_match(self.folding.root, tree.loose, self.query_text, current)
        if key is None:
            self.notify(f"no match for {visible(self.query_text)!r}", severity="warning", markup=False)
            return
        tree.reveal(key)

    def action_back(self) -> None:
        """Close the search box, or go back to the run list."""
        box = self.query_one("#search", Input)
        if box.display:
            self._close_search()
        elif self.can_go_back:
            self.app.pop_screen()

    def markdown(self) -> str:
        """The run as Markdown."""
        return to_markdown(self.events, self.warnings)

    def action_export(self) -> None:
        """Write the run as Markdown next to where the viewer was started."""
        app = self.app
        directory = getattr(app, "export_dir", Path.cwd())
        stem = self.target.path.stem if self.target.path else "stdin"
        path = directory / f"{stem}.md"
        try:
            write_whole(path, self.markdown(), overwrite=False)
        except FileExistsError:
            self.notify(f"{visible(str(path))} exists; not overwritten (ponder view --export md -o FILE writes "
                        "anywhere)", severity="warning", markup=False)
            return
        except PonderError as exc:
            self.notify(visible(str(exc)), severity="error", markup=False)
            return
        self.notify(f"exported to {visible(str(path))}", markup=False)

    def action_copy(self) -> None:
        """Copy the run as Markdown to the clipboard (OSC 52, works over SSH)."""
        self.app.copy_to_clipboard(self.markdown())
        self.notify("copied the run as Markdown", markup=False)


def header_text(events: list[Event], following: bool) -> Text:
    """Question, answer, model, strategy and totals, as two or three lines of Text."""
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    finished = next((e for e in reversed(events) if isinstance(e, RunFinished)), None)
    usage = finished.usage if finished and finished.usage else summarize(events)
    text = Text()
    text.append("Q ", style="bold")
    text.append(one_line(started.question, 200) if started else "(no run_started event)")
    text.append("\nA ", style="bold")
    given = next((e for e in reversed(events) if isinstance(e, Answer)), None)
    answer = finished.answer if finished else (given.text if given else None)
    text.append(shown(answer) if answer else "(none yet)", style="bold")
    status = finished.status if finished else ("following…" if following else "unfinished")
    text.append(f"   {one_line(status, 40)}", style="green" if status == "ok" else "yellow")
    text.append("\n")
    if started:
        text.append(f"{one_line(started.model.removesuffix('.gguf'), 40)} · {one_line(started.strategy, 20)} · "
                    f"{utc(started.ts)} UTC · ", style="dim")
    totals = (f"{one_line(usage.get('steps', 0), 12)} steps · {one_line(usage.get('completion_tokens', 0), 12)} tok · "
              f"{one_line(usage.get('seconds', 0.0), 12)} s")
    text.append(totals, style="dim")
    return text


def next_match(root: Node, loose: list[Event], query: str, current: object) -> object:
    """The key (a span, or a loose event's index) of the first node after `current` (wrapping)
    whose text contains the query."""
    keys: list[object] = [n.span for n in root.walk()]
    keys += list(range(len(loose)))
    texts: dict[object, str] = {n.span: _searchable(n.label, n.text, n.events) for n in root.walk()}
    texts.update({i: _searchable("", "", [e]) for i, e in enumerate(loose)})
    start = keys.index(current) + 1 if current in keys else 0
    needle = query.lower().strip()
    for key in keys[start:] + keys[:start]:
        if needle in texts[key]:
            return key
    return None


def _searchable(label: str, text: str, events: list[Event]) -> str:
    parts = [label, text] + [shown(v) for e in events for v in vars(e).values()]
    return "\n".join(parts).lower()


class RunListScreen(Screen[None]):
    """The runs in a trace directory, newest first, with a filter box."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "leave_filter", "Back to list", show=False),
        Binding("g", "rescan", "Rescan"),
        Binding("q", "app.quit", "Quit"),
    ]
    COLUMNS = ("time (UTC)", "chat", "question", "answer", "status", "strategy", "tokens", "seconds")

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.runs: list[RunSummary] = []
        self.shown: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("runs in ", "bold"), visible(str(self.directory))), id="header")
        yield Input(placeholder="filter runs by text (/)", id="filter")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static(id="empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.COLUMNS:
            table.add_column(Text(column), key=column)
        self.action_rescan()
        table.focus()

    def action_rescan(self) -> None:
        """Read the trace directory again."""
        self.runs = scan(self.directory)
        self._fill(self.query_one("#filter", Input).value)

    def _fill(self, query: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.shown = filter_runs(self.runs, query)
        for run in self.shown:
            table.add_row(*run_row(run))
        empty = self.query_one("#empty", Static)
        empty.display = not self.shown
        reason = "no runs match the filter" if self.runs else "no traces here yet: run `ponder ask` first"
        empty.update(Text(reason, style="italic"))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, message: Input.Changed) -> None:
        self._fill(message.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(DataTable).focus()

    def action_filter(self) -> None:
        """Focus the filter box."""
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        """Go back from the filter box to the list."""
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, message: DataTable.RowSelected) -> None:
        self.app.post_message(OpenRun(self.shown[message.cursor_row].path))


def run_row(run: RunSummary) -> list[Text]:
    """The cells of one run in the list, as Text."""
    seconds = None if run.seconds is None else number(run.seconds, ".1f")
    chat = f"{one_line(run.session[-6:], 6)} #{run.turn if run.turn is not None else '?'}" if run.session else None
    return [cell(utc(run.started)), cell(chat), cell(one_line(run.question, 40)), cell(one_line(run.answer, 16)),
            cell(one_line(run.status, 16)), cell(one_line(run.strategy, 16)), cell(run.tokens, justify="right"),
            cell(seconds, justify="right")]


class ViewerApp(App[None]):
    """`ponder view`: browse the runs in a directory, or open one trace."""

    TITLE = "ponder view"
    CSS = """
    #header { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    #warnings { height: auto; max-height: 4; padding: 0 1; color: $warning; background: $warning 10%; }
    #warnings.problem { color: $error; background: $error 10%; max-height: 8; }
    #body { height: 1fr; }
    #tree { width: 46%; min-width: 30; border-right: solid $primary 40%; }
    #detail { width: 1fr; padding: 0 1; }
    #detail Markdown { margin: 1 0 0 0; padding: 0; }
    #blocks { margin: 1 0 0 0; }
    #search { dock: bottom; display: none; margin-bottom: 1; }
    #filter { margin: 0 1; }
    #empty { padding: 1 2; }
    """

    def __init__(self, target: Target, follow: bool = False, theme: str = "dark",
                 export_dir: Path | None = None) -> None:
        super().__init__()
        self.target = target
        self.follow = follow
        self.theme_name = THEMES.get(theme, theme)
        self.export_dir = export_dir or Path.cwd()

    def on_mount(self) -> None:
        self.theme = self.theme_name
        if self.target.is_dir and self.target.path is not None:
            self.push_screen(RunListScreen(self.target.path))
        else:
            self.push_screen(RunScreen(self.target, follow=self.follow))

    @on(OpenRun)
    def _open_run(self, message: OpenRun) -> None:
        self.push_screen(RunScreen(Target(path=message.path), follow=self.follow, can_go_back=True))
