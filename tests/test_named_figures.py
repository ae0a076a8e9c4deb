"""Every figure a reader acts on says what it is (issue 25): no memory number without its named kind, and every
answer sentence names its loss - in the README, in what `oocbench headline` prints and in the published reports."""

from __future__ import annotations

import html
import re

import pytest

from oocbench.metrics import TASKS
from oocbench.reports.headline import headline_markdown
from oocbench.reports.load import load_records
from tests.conftest import REPO

BYTES = re.compile(r"\b\d[\d.,]*\s?(?:KiB|MiB|GiB|TiB)\b")
#: what a memory figure may be: the learner's fit memory, the process tree's peak RSS, its RSS growth, the
#: heap peak or kernel high-water mark, the machine's RAM, or the data's size on disk
KINDS = ("fit memory", "peak rss", "rss growth", "rss", "heap", "high-water", "ram", "parquet", "disk",
         "dataset", "data size", "page cache",
         # not memory figures: sizes of files, lines and limits
         "file", "line", "limit", "margin", "manifest", "reading ")
LOSSES = {t.loss.label for t in TASKS.values()}
ANSWER = re.compile(r"reaches the best (.+?) \(")


def _named(text: str) -> bool:
    return any(k in text.lower() for k in KINDS)


def unnamed_memory_in_markdown(text: str) -> list[str]:
    """Byte figures with no kind in their sentence, their table cell, its column header or the line that
    introduces the table."""
    bad, header, intro, last = [], None, "", ""
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header, intro = cells, last
                continue
            if set("".join(cells)) <= set("-: "):
                continue
            for i, cell in enumerate(cells):
                if BYTES.search(cell) and not (_named(cell) or _named(intro)
                                               or (i < len(header) and _named(header[i]))):
                    bad.append(f"{cell!r} under {header[i] if i < len(header) else '?'!r}")
            continue
        header = None
        if line.strip():
            last = line
    # prose: each paragraph (lines up to a blank line, a table or a heading) sentence by sentence
    for paragraph in re.split(r"\n\s*\n|\n(?=\||#)", text):
        if paragraph.lstrip().startswith(("|", "#")):
            continue
        for sentence in re.split(r"(?<=[.;])\s", " ".join(paragraph.split())):
            if BYTES.search(sentence) and not _named(sentence):
                bad.append(sentence)
    return bad


def unnamed_memory_in_html(page: str) -> list[str]:
    """The same rule on a report page: a table cell is named by its column header, its table's caption or the
    heading / paragraph just before the table; text outside tables by its sentence."""
    bad = []
    for m in re.finditer(r"(?P<before>(?:<h[23][^>]*>[^<]*</h[23]>|<p[^>]*>(?:(?!</p>).)*</p>)?)"
                         r"<table[^>]*>(?P<body>.*?)</table>", page, re.S):
        body = m["body"]
        caption = re.search(r"<caption[^>]*>(.*?)</caption>", body, re.S)
        around = _text(m["before"] + (caption[1] if caption else ""))
        head = [_text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", body.split("</thead>")[0], re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
            for i, cell in enumerate(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)):
                text = _text(cell)
                if BYTES.search(text) and not (_named(text) or _named(around)
                                               or (i < len(head) and _named(head[i]))):
                    bad.append(f"{text[:120]!r} under {head[i] if i < len(head) else '?'!r}")
    outside = re.sub(r"<table.*?</table>|<figure.*?</figure>", " ", page, flags=re.S)
    for block in re.findall(r"<(?:p|li|div|summary)[^>]*>(.*?)</(?:p|li|div|summary)>", outside, re.S):
        for sentence in re.split(r"(?<=[.;])\s", _text(block)):
            if BYTES.search(sentence) and not _named(sentence):
                bad.append(sentence[:200])
    return bad


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_the_checker_catches_a_bare_figure():
    assert unnamed_memory_in_markdown("sklearn.sgd needs 12 MiB.") == ["sklearn.sgd needs 12 MiB."]
    assert unnamed_memory_in_markdown("| a | b |\n|---|---|\n| x | 3 MiB |")
    assert not unnamed_memory_in_markdown("| a | peak RSS |\n|---|---|\n| x | 3 MiB |")
    assert unnamed_memory_in_html("<table><thead><tr><th>a</th><th>b</th></tr></thead><tr><td>x</td>"
                                  "<td>3 MiB</td></tr></table>")
    assert not unnamed_memory_in_html("<table><thead><tr><th>a</th><th>fit memory</th></tr></thead><tr><td>x</td>"
                                      "<td>3 MiB</td></tr></table>")


@pytest.mark.parametrize("page", ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))])
def test_no_memory_figure_in_the_readme_or_the_docs_without_its_kind(page):
    assert unnamed_memory_in_markdown((REPO / page).read_text()) == []


@pytest.mark.parametrize("name", ["default", "huge"])
def test_no_memory_figure_in_a_published_report_or_its_headline_without_its_kind(name):
    page = (REPO / "reports" / name / "index.html").read_text()
    assert unnamed_memory_in_html(page) == []
    printed = headline_markdown(load_records(REPO / "reports" / name / "results.json"), f"reports/{name}")
    assert unnamed_memory_in_markdown(printed) == []


@pytest.mark.parametrize("name", ["default", "huge"])
def test_every_answer_sentence_names_its_loss(name):
    printed = headline_markdown(load_records(REPO / "reports" / name / "results.json"), f"reports/{name}")
    texts = [printed, _text((REPO / "reports" / name / "index.html").read_text()), (REPO / "README.md").read_text(),
             (REPO / "docs" / "results.md").read_text()]
    said = [label for text in texts for label in ANSWER.findall(text)]
    assert said and set(said) <= LOSSES, sorted(set(said) - LOSSES)
