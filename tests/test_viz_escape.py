"""Label text can neither break the DOT nor inject attributes or nodes: fuzzed, checked by Graphviz.

Each example puts random text (quotes, backslashes, ``<>&{}|[];=``, newlines, DOT keywords,
Graphviz escapes like ``\\N``, any unicode) into node labels and the title, then lets Graphviz
parse the DOT (libcgraph via pygraphviz, and ``dot -Tcanon`` when installed) and checks that
exactly the expected nodes, edges and attributes exist and that the label text round-trips.
The SVG test goes further: the text Graphviz *draws* is the label text.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_viz_support import (
    HAS_DOT,
    canon,
    label_text,
    needs_dot,
    needs_pygraphviz,
    parse_dot,
    squash,
    svg_lines,
)

import viz
from tinygrad_edu import Value, name_scope
from viz import backends, style

NASTY = list("\"\\<>&{}|[];=\n\t -#%'/*") + ["\\N", "\\G", "\\L", "\\n", "&amp;", "<B>", "]]>", "->", "--"]
NASTY += ["digraph", "node", "label=x", '" fontcolor="red', "<TABLE>", "\u202e", "\u0301", "😀", "σ′∂‖"]
label_texts = st.lists(st.sampled_from(NASTY) | st.characters(), max_size=12).map("".join)

NODE_ATTRS = {"label", "id", "fillcolor", "fontcolor", "color"}


def _graph(l1: str, l2: str, l3: str):
    a = Value(2.0, label=l1)
    b = Value(-3.0, label=l2)
    y = a * b
    y.label = l3
    y.backward()
    return y


def _expected(text: str) -> str:
    """What the label must show: the text with invisible control characters made visible."""
    return "\n".join(line.strip() for line in style.clean_text(text).split("\n")).strip("\n")


@needs_pygraphviz
@given(label_texts, label_texts, label_texts, label_texts)
def test_labels_round_trip_through_graphviz_parser(l1, l2, l3, title):
    source = viz.draw(_graph(l1, l2, l3), title=title).source
    parsed = parse_dot(source)
    assert sorted(parsed.nodes()) == ["legend", "n0", "n1", "n2"]
    assert sorted((u, v) for u, v in parsed.edges()) == [("n0", "n2"), ("n1", "n2")]
    (rank_row,) = parsed.subgraphs()  # the only subgraph: a and b share one depth
    assert sorted(rank_row.nodes()) == ["n0", "n1"]
    for name, text in (("n0", l1), ("n1", l2), ("n2", l3)):
        attrs = dict(parsed.get_node(name).attr)
        assert {k for k, v in attrs.items() if v} == NODE_ATTRS  # nothing injected
        shown = squash(label_text(attrs["label"]))
        assert shown.startswith(squash(_expected(text)))  # the label comes first, intact
        if name == "n2":
            assert "×" in shown  # the op symbol follows the label
    graph_label = label_text(dict(parsed.graph_attr).get("label", ""))
    assert squash(graph_label) == squash(_expected(title))
    for edge in parsed.edges():
        assert set(k for k, v in edge.attr.items() if v) == {"label", "id", "color", "fontcolor", "penwidth"}


@needs_dot
@needs_pygraphviz
@given(label_texts, label_texts)
def test_labels_survive_dot_canon(l1, title):
    source = viz.draw(_graph(l1, "b", "y"), title=title).source
    out = canon(source)
    assert out.count("->") == 2
    # Graphviz's own re-serialisation holds exactly our nodes and edges: nothing injected
    reparsed = parse_dot(out)
    assert sorted(reparsed.nodes()) == ["legend", "n0", "n1", "n2"]
    assert sorted((u, v) for u, v in reparsed.edges()) == [("n0", "n2"), ("n1", "n2")]
    assert squash(label_text(reparsed.get_node("n0").attr["label"])).startswith(squash(_expected(l1)))


@needs_pygraphviz
@given(label_texts)
def test_drawn_svg_text_is_the_label_text(text):
    a = Value(1.5, label=text)
    y = a.tanh()
    y.backward()
    svg = backends.render_bytes(viz.draw(y, legend=False).source, "svg", renderer="pygraphviz")
    drawn = squash(" ".join(svg_lines(svg, "n0")))
    expected = squash(_expected(text))
    assert drawn.startswith(expected), (drawn, expected)
    if HAS_DOT:
        svg = backends.render_bytes(viz.draw(y, legend=False).source, "svg", renderer="dot")
        assert squash(" ".join(svg_lines(svg, "n0"))).startswith(expected)


def test_graphviz_escape_sequences_are_not_expanded():
    # Graphviz turns \N into the node name even inside HTML labels; ours must show a backslash
    text = "a\\N b\\G c\\\\ d\\"
    assert style.html_text(text) == "a\\\\N b\\\\G c\\\\\\\\ d\\\\"
    html = style.html_text('"><B>x</B> & <]')
    assert not set('<>"]') & set(html)


@needs_pygraphviz
@given(st.lists(label_texts.filter(str.strip), min_size=2, max_size=3, unique=True))
def test_scope_names_are_escaped_in_grouped_drawings(scopes):
    h = Value(0.5, label="x")
    for scope in scopes:
        with name_scope(scope):
            h = (h * 1.5).tanh()
    h.backward()
    parsed = parse_dot(viz.draw(h, group="scope").source)
    groups = [n for n in parsed.nodes() if n != "legend"]
    assert all(n.startswith("g") for n in groups)
    shown = [squash(label_text(parsed.get_node(n).attr["label"])) for n in groups]
    for number, scope in enumerate(scopes, start=1):
        # each name_scope is one layer, titled by its L-number and the name as given
        assert any(text.startswith(squash(f"L{number} {_expected(scope)}")) for text in shown)


def test_control_characters_become_visible():
    assert style.clean_text("a\x00b\x07c\td\ne") == "a\\x00b\\x07c d\ne"
    assert style.clean_text("\ud800") == "\\ud800"
