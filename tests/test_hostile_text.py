"""Text from users, model folders and uploads shows literally (issue 18, class 5).

Three parts: :func:`dashboard.fmt.md` against hostile strings; an AST walk over every
text-rendering Streamlit call of the app that fails when a built string interpolates an
unescaped value (with a self-test on planted source); and AppTests of the sidebar with a
hostile meta.json and a corrupt upload.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dashboard.fmt import WORD_JOINER, code, md
from tests.helpers import ROOT

# --- md against hostile strings -----------------------------------------------------------

HOSTILE = [
    "![x](http://127.0.0.1:9/p.png)",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[ref]: http://h/p.png\n![x][ref]",
    "<http://evil.example/a>",
    "$\\href{http://h}{x}$ and $$x^2$$",
    ":red[danger] :material/home: :smile:",
    "# heading\n---\n| a | b |\n|---|---|\n> quote\n1. item\n* star",
    "**bold** _it_ ~~strike~~ `code`",
    "&lt;img src=x&gt; &#60;b&#62;",
    "\\![x](y) trailing backslash \\",
]


def unescape(markdown: str) -> str:
    """What CommonMark shows for backslash escapes (\\x -> x), word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def active(markdown: str) -> str:
    """``markdown`` with its escaped characters removed: what is left is what a Markdown
    renderer could still act on."""
    return re.sub(r"\\[!-/:-@\[-`{-~]", "", markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_md_leaves_no_markdown_syntax_active(text):
    out = md(text)
    assert unescape(out) == text  # shown literally, nothing lost
    left = active(out)
    for syntax in "![]()<>$`*_#|~:&\\":
        assert syntax not in left, (text, out)


@pytest.mark.parametrize(
    "text", ["see http://127.0.0.1:9/p.png", "HTTPS://h/x", "www.example.com", "a.b@example.org"]
)
def test_md_defangs_bare_urls_and_emails(text):
    """remark-gfm links bare URLs and e-mail addresses *after* resolving escapes, so each
    gets an invisible word joiner that breaks its pattern."""
    out = md(text).replace("\\", "")
    assert WORD_JOINER in out
    # the patterns of mdast-util-gfm-autolink-literal, on the text as the renderer sees it
    assert not re.search(r"(?i)(https?://|www(?=\.))", out)
    assert not re.search(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+", out)


def test_md_takes_any_value_and_keeps_plain_text():
    assert md("plain words 123") == "plain words 123"
    assert md(12) == "12"
    assert md(None) == "None"
    assert md(["a*"]) == "\\[\\'a\\*\\'\\]"


def test_md_and_code_drop_bidirectional_overrides():
    # "\u202egnp.exe" shows as "exe.png" in a browser: the override must not survive
    spoof = "report\u202egnp.exe and \u2066x\u2069"
    for out in (md(spoof), code(spoof)):
        assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", out)
        assert "gnp" in out and "exe" in out


# --- the walker over every text-rendering call --------------------------------------------

#: Streamlit calls whose text is Markdown (or HTML for "html")
TEXT_CALLS = {
    "markdown", "caption", "write", "info", "warning", "error", "success", "toast",
    "title", "header", "subheader", "html", "expander", "metric", "tabs", "popover",
    "status",
}  # fmt: skip
#: keyword arguments that are not shown text
NOT_TEXT = {"key", "icon", "width", "height", "expanded", "border", "type", "anchor"}
#: calls whose result is safe in Markdown (md) or HTML (html.escape), or has no user text
SAFE_CALLS = {
    "md": "markdown",
    "html.escape": "html",
    "escape": "html",
    "len": "any",
    "int": "any",
    "round": "any",
    "float": "any",
    "min": "any",  # of safe arguments (checked): a number
    "max": "any",
    "code": "markdown",  # dashboard.fmt.code: a code span, where Markdown is not parsed
    "headline": "any",  # dashboard.sidebar.headline: numbers and fixed words only
    "summary": "markdown",  # dashboard.sidebar.summary: escapes every meta field with md
    "signed": "any",  # dashboard/panels/ablation.py: a float as :+.4f, or "n/a"
    "ordinal": "any",  # dashboard/panels/ablation.py: an int and "st"/"nd"/"rd"/"th"
    "_range": "any",  # dashboard/panels/train.py: two limits as :,
    "first_epoch_of_best": "any",  # lib.analysis.evolution: an int
}
#: a name in capitals is a constant of the code (a label table, a cookie name)
CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*")
#: a format spec that only numbers accept (:.2f, :,, :d, :.1%), so the value is a number
NUMERIC_SPEC = re.compile(
    r"(.?[<>=^])?[+\- ]?z?#?0?\d*(?:[,_](?:\.\d+)?[bdeEfFgGnoxX%]?|(?:\.\d+)?[bdeEfFgGnoxX%])"
)

#: sites left as they are: (file, the unescaped expression) -> why it is safe
ALLOWLIST: dict[tuple[str, str], str] = {
    ("dashboard/state.py", "token"): "matched against _TOKEN ([0-9a-f]{12}) or a uuid4 hex",
    ("dashboard/widgets/vectors.py", "info.format"): 'sniff gives "glove" or "word2vec" only',
    ("dashboard/widgets/vectors.py", "info.dim"): "an int parsed by sniff",
    ("dashboard/widgets/vectors.py", "embedding"): "the embedding size, an int of the spec",
    ("dashboard/widgets/vectors.py", "folders_text()"): (
        '"uploads", repository paths or the operator\'s folder names (RNN_LENS_VECTOR_DIRS)'
    ),
}

SOURCES = sorted(
    [*ROOT.glob("dashboard/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "streamlit_app.py"]
)


@dataclass(frozen=True)
class Site:
    """One interpolated value of a text-rendering call that is not shown to be escaped."""

    file: str
    line: int
    call: str
    expr: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {{{self.expr}}} in .{self.call}(...)"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class _Scope:
    """The assignments of one function (or module) body, to follow a name to its value."""

    def __init__(self, body: ast.AST) -> None:
        self.values: dict[str, list[ast.expr]] = {}
        self.appended: dict[str, list[ast.expr]] = {}
        for node in ast.walk(body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.values.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                if isinstance(node.target, ast.Name):
                    self.values.setdefault(node.target.id, []).append(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert")
                and isinstance(node.func.value, ast.Name)
                and node.args
            ):
                self.appended.setdefault(node.func.value.id, []).append(node.args[-1])


class _Checker:
    def __init__(self, scope: _Scope, kind: str) -> None:
        self.scope, self.kind, self.bad = scope, kind, []

    # a built string: f-string, +, %, .format, "".join, or a name holding one
    def text(self, node: ast.expr, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and not self._numeric(part):
                    self.value(part.value, depth)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            for side in (node.left, node.right):
                self._piece(side, depth)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
                for item in items:
                    self.value(item, depth)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format" and isinstance(node.func.value, ast.Constant):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    self.value(arg, depth)
            elif node.func.attr == "join" and node.args:
                self._elements(node.args[0], depth)
        elif isinstance(node, ast.IfExp):
            self.text(node.body, depth)
            self.text(node.orelse, depth)
        elif isinstance(node, ast.List | ast.Tuple):
            for elt in node.elts:
                self.text(elt, depth)
        elif isinstance(node, ast.Name):
            for value in self.scope.values.get(node.id, []):
                self.text(value, depth + 1)

    def _piece(self, node: ast.expr, depth: int) -> None:
        """One operand of ``+``: a built string is checked as text, anything else as a
        value (a name or call whose text we cannot see must be escaped)."""
        if isinstance(node, ast.JoinedStr | ast.BinOp | ast.Constant):
            self.text(node, depth)
        else:
            self.value(node, depth)

    def _safe_items(self, node: ast.expr, depth: int) -> bool:
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            return self._safe(node.elt, depth)
        if isinstance(node, ast.List | ast.Tuple):
            return all(self._safe(elt, depth) for elt in node.elts)
        return False

    def _elements(self, node: ast.expr, depth: int) -> None:
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            self.text(node.elt, depth)
        elif isinstance(node, ast.List | ast.Tuple):
            for elt in node.elts:
                self.text(elt, depth)
        elif isinstance(node, ast.Name):
            for value in self.scope.values.get(node.id, []):
                self._elements(value, depth + 1)
            for value in self.scope.appended.get(node.id, []):
                self._elements(value, depth + 1) if isinstance(
                    value, ast.List | ast.ListComp | ast.GeneratorExp
                ) else self.text(value, depth + 1)

    @staticmethod
    def _numeric(part: ast.FormattedValue) -> bool:
        spec = part.format_spec
        if not isinstance(spec, ast.JoinedStr) or part.conversion != -1:
            return False
        if not all(isinstance(v, ast.Constant) for v in spec.values):
            return False
        return bool(NUMERIC_SPEC.fullmatch("".join(v.value for v in spec.values)))

    # an interpolated value: must be escaped or provably safe
    def value(self, node: ast.expr, depth: int) -> None:
        before = len(self.bad)
        if not self._safe(node, depth) and len(self.bad) == before:  # inner ones are named
            self.bad.append(node)

    def _safe(self, node: ast.expr, depth: int) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "join" and node.args:
                return isinstance(func.value, ast.Constant) and self._safe_items(
                    node.args[0], depth
                )
            kind = SAFE_CALLS.get(_dotted(func))
            if _dotted(func) in ("min", "max"):
                return all(self._safe(a, depth) for a in node.args)
            return kind in ("any", self.kind)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            numbers = [
                isinstance(v, ast.Constant) and type(v.value) in (int, float)
                for v in (node.left, node.right)
            ]
            if any(numbers):  # str + 1 raises: the result is a number
                return True
            return self._safe(node.left, depth) and self._safe(node.right, depth)
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr == "shape":
                return True  # an array's dimension
            return isinstance(base, ast.Name) and bool(CONSTANT.fullmatch(base.id))
        if isinstance(node, ast.Name) and CONSTANT.fullmatch(node.id):
            return True
        if isinstance(node, ast.IfExp):
            return self._safe(node.body, depth) and self._safe(node.orelse, depth)
        if isinstance(node, ast.BoolOp):
            return all(self._safe(v, depth) for v in node.values)
        if isinstance(node, ast.JoinedStr):
            before = len(self.bad)
            self.text(node, depth)
            return len(self.bad) == before
        if isinstance(node, ast.Name) and depth < 4:
            values = self.scope.values.get(node.id, [])
            return bool(values) and all(self._safe(v, depth + 1) for v in values)
        return False


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, _Scope]]:
    """Every call of the module with the scope (innermost function, else module) it is in."""
    scopes: list[tuple[ast.AST, _Scope]] = [(tree, _Scope(tree))]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            scopes.append((node, _Scope(node)))
    owner: dict[int, _Scope] = {}
    for body, scope in scopes:  # outer first, so an inner function's scope wins
        for node in ast.walk(body):
            owner[id(node)] = scope
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, owner[id(node)]


def unescaped_sites(source: str, file: str = "<planted>") -> list[Site]:
    """The interpolated values of text-rendering calls in ``source`` that are neither
    escaped (md in Markdown, html.escape in HTML) nor provably safe."""
    sites = []
    for call, scope in _calls(ast.parse(source)):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        html_kw = any(
            k.arg in ("unsafe_allow_html", "unsafe_allow_javascript")
            and isinstance(k.value, ast.Constant)
            and k.value.value is True
            for k in call.keywords
        )
        helped = [k.value for k in call.keywords if k.arg == "help"]
        if name in TEXT_CALLS or html_kw:
            kind = "html" if name == "html" or html_kw else "markdown"
            texts = [*call.args, *(k.value for k in call.keywords if k.arg not in NOT_TEXT)]
        elif helped:  # a widget's help tooltip is Markdown too
            kind, texts = "markdown", helped
        else:
            continue
        checker = _Checker(scope, kind)
        for text in texts:
            checker.text(text)
        sites += [Site(file, n.lineno, name or "help", ast.unparse(n)) for n in checker.bad]
    return sites


def all_sites() -> list[Site]:
    out = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        out += unescaped_sites(path.read_text(encoding="utf-8"), rel)
    return out


def test_every_text_rendering_call_escapes_what_it_interpolates():
    sites = [s for s in all_sites() if (s.file, s.expr) not in ALLOWLIST]
    assert not sites, "unescaped text (wrap it in md(...) or allowlist it):\n" + "\n".join(
        map(str, sites)
    )


def test_allowlist_has_no_stale_entries():
    found = {(s.file, s.expr) for s in all_sites()}
    assert not set(ALLOWLIST) - found, set(ALLOWLIST) - found


PLANTED = """
import streamlit as st
from dashboard.fmt import md

def page(name, n, x, rows):
    st.markdown(f"Model {name}")  # flagged
    st.sidebar.caption(f"Model {md(name)}, {n:,} tokens, {len(rows)} rows, {x:.2f}")
    st.info("corpus: " + name)  # flagged
    st.warning("{} and {}".format(md(name), name))  # flagged: the second
    st.error("%s failed" % name)  # flagged
    label = f"**{name}**"  # flagged where it is shown
    with st.expander(label):
        pass
    parts = [f"{md(r)}" for r in rows]
    parts.append(f"<{name}>")  # flagged
    st.markdown("".join(parts))
    st.html(f"<p>{md(name)}</p>")  # flagged: md is no escape for HTML
    st.markdown(f"<b>{name}</b>", unsafe_allow_html=True)  # flagged
    st.number_input("n", help=f"from {name}")  # flagged
    st.caption(f"{'a' if n else 'b'} {name!r:>5}")  # flagged (a string spec)
    st.caption(f"{n + 1} {min(3, len(rows))} {code(name)} {SIGNAL_LABELS[x]}")
    col = st.columns(2)[0]
    col.metric(f"{name}", f"{x:+.3f}")  # flagged
"""


def test_walker_flags_unescaped_and_passes_escaped_planted_sites():
    flagged = [(s.line, s.expr) for s in unescaped_sites(PLANTED)]
    lines = PLANTED.splitlines()
    expected = [i for i, line in enumerate(lines, 1) if "# flagged" in line]
    assert sorted({line for line, _ in flagged}) == sorted(expected), flagged
    assert ("md(name)" in dict(flagged).values()) and len(flagged) == len(expected), flagged


# --- the sidebar: summary, headline, import ----------------------------------------------

HOSTILE_CORPUS = "![x](http://127.0.0.1:9/p.png) <img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    "meta",
    [
        {},
        [],
        "meta",
        {"spec": None, "corpus": "a string", "metrics": [1, 2]},
        {"spec": {"cell": 3}, "dataset": ["x"], "metrics": {"val_bpc": "low"}},
        {"spec": {"cell": "lstm", "layers": "*"}, "metrics": {"test_accuracy": None}},
        {"metrics": {"val_perplexity": True, "baseline_perplexity": {}}},
    ],
)
def test_summary_and_headline_never_raise_on_wrong_types(meta):
    from dashboard.sidebar import headline, summary

    assert isinstance(headline(meta), str)
    line = summary(meta)
    assert "units" in line and "epochs" in line


def test_summary_escapes_every_meta_field():
    from dashboard.sidebar import summary

    spec = {"cell": "<b>", "level": "$x$", "layers": "[a](b)", "units": "**9**"}
    meta = {"spec": spec, "corpus": {"name": HOSTILE_CORPUS}, "epochs_done": ":red[3]"}
    line = summary(meta)
    assert unescape(line).count(HOSTILE_CORPUS) == 1
    left = active(line.replace("**\\<B\\>**", ""))  # the cell's own bold is the one kept
    for syntax in "![]()<>$":  # (the line's own "corpus:" is a colon)
        assert syntax not in left, line
    assert "**" not in left


def test_summary_of_an_imported_model_names_its_file_and_check_escaped():
    from dashboard.sidebar import summary

    meta = {
        "spec": {"cell": "gru", "level": "word", "layers": 1, "units": 9},
        "epochs_done": 0,
        "imported": {"from": HOSTILE_CORPUS, "max_abs_delta_h": 3.2e-7},
    }
    line = summary(meta)
    assert "imported from" in line and "max |Δh| 3.2e-07" in line
    assert "corpus" not in line and "epochs" not in line and "no metrics" not in line
    assert unescape(line).count(HOSTILE_CORPUS) == 1
    assert "<" not in active(line)
    # a wrong type in imported never raises
    assert "nan" in summary({**meta, "imported": {"from": 3, "max_abs_delta_h": "x"}})


def test_sidebar_caption_shows_a_hostile_corpus_name_as_text(tiny_registry):
    from tests.helpers import TINY, app

    meta_path = tiny_registry / TINY / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["corpus"]["name"] = HOSTILE_CORPUS
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    at = app()
    caption = next(c.value for c in at.sidebar.caption if "corpus:" in c.value)
    assert HOSTILE_CORPUS in unescape(caption)
    left = active(caption)  # what the renderer could act on: no image, tag or link syntax
    assert "img" in left and not any(c in left for c in "![]()<>"), caption
    assert "http://" not in caption.replace("\\", "")  # no bare URL left to link


def _corrupt_archive(data: bytes) -> bytes:
    """``data`` (a model archive) stored uncompressed, with one byte of vocab.json's
    contents changed: a zip whose directory is fine and whose member fails its CRC."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            w.writestr(info.filename, z.read(info), compress_type=zipfile.ZIP_STORED)
    raw = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("vocab.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.file_size // 2] ^= 0x01
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        assert z.testzip() == "vocab.json"  # the test's own check: the CRC is what is bad
    return bytes(raw)


def test_a_corrupt_upload_is_a_message_not_a_traceback(tiny_registry):
    from lib.model.registry import export_archive
    from tests.helpers import TINY, app

    bad = _corrupt_archive(export_archive(TINY))
    before = sorted(p.name for p in tiny_registry.iterdir())
    at = app()
    at.sidebar.text_input(key="import.name").input("copied").run()
    at.file_uploader(key="upload.model").set_value(("copied.zip", bad, "application/zip")).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert errors and errors[0].startswith("Not imported"), errors
    assert "vocab" in unescape(errors[0]) and str(tiny_registry) not in unescape(errors[0])
    assert sorted(p.name for p in tiny_registry.iterdir()) == before


@pytest.mark.parametrize(
    "error, shown",
    [
        (zipfile.BadZipFile("Bad CRC-32 for file 'vocab.json'"), "BadZipFile: Bad CRC-32"),
        (
            OSError(28, "No space left on device", "/srv/rnn/models/.x.tmp-1/model.keras"),
            "model.keras",
        ),
        (MemoryError(), "MemoryError"),
        (KeyError("config"), "KeyError: 'config'"),
    ],
)
def test_import_failure_names_the_error_and_no_server_path(error, shown):
    from dashboard.sidebar import import_failure

    text = unescape(import_failure(error))
    assert text.startswith("Not imported") and shown in text
    assert "/srv" not in text and "\n" not in text


def test_import_catches_any_error_and_checks_the_archive_limit(monkeypatch):
    """_import with a fake upload and a fake sidebar: an unexpected error is a message, and
    the archive limit (max_archive_mb, not max_upload_mb) is what refuses a big file."""
    from dashboard import sidebar

    shown = []
    monkeypatch.setattr(sidebar.st, "sidebar", type("S", (), {"error": shown.append})())
    monkeypatch.setattr(sidebar.st, "session_state", {})

    class Upload:
        name = "x.zip"

        def __init__(self, data):
            self.data = data

        def getvalue(self):
            return self.data

    def explode(data, name):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(sidebar, "import_archive", explode)
    sidebar._import(Upload(b"PK"))
    assert (
        unescape(shown[-1]) == "Not imported: the archive could not be read (RuntimeError: boom)."
    )
    monkeypatch.setenv("RNN_LENS_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("RNN_LENS_MAX_ARCHIVE_MB", "2")
    sidebar._import(Upload(b"\0" * (3 * 2**20)))
    assert "max_archive_mb" in unescape(shown[-1])
    sidebar._import(Upload(b"\0" * (3 * 2**19)))  # 1.5 MB: over max_upload_mb, under 2 MB
    assert "RuntimeError" in unescape(shown[-1])
