from ponder.cli.safe import visible


def test_escape_sequences_become_visible():
    assert visible("a\x1b[31mred\x07") == "a\\x1b[31mred\\x07"


def test_newlines_and_tabs_stay():
    assert visible("a\n\tb") == "a\n\tb"


def test_c1_and_bidi_controls_become_visible():
    assert visible("\x9b2J\u202eevil") == "\\x9b2J\\u202eevil"


def test_rich_markup_is_left_as_text():
    assert visible("[bold red]x[/]") == "[bold red]x[/]"


def test_one_line_escapes_newlines_and_tabs_too():
    from ponder.cli.safe import one_line

    assert one_line("a\nb\tc\x1b[2J") == "a\\x0ab\\x09c\\x1b[2J"


def test_markdown_inline_text_makes_no_link_even_a_bare_one():
    import markdown_it

    from ponder.cli.safe import markdown_inline

    html = markdown_it.MarkdownIt("gfm-like").render(
        markdown_inline("see http://auto.example, www.x.org, a@b.c, [l](http://e.example) <b>x</b>"))
    assert "<a " not in html and "<b>" not in html
    assert "http://auto.example, www.x.org, a@b.c, [l](http://e.example) &lt;b&gt;x&lt;/b&gt;" in html
