"""The notice's own text (or just its attachment table), tab separated, with cells wrapped
across lines by the publisher, page numbers, repeated headers and closing lines (R-CAT-1)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.catalog.importing.normalising import FIELDS, header_key, map_header
from services.catalog.importing.rows import (
    MAX_ROWS,
    Assembler,
    TableRejected,
    WinningRow,
    shown,
)
from services.runtime import texts
from services.runtime.rows import RowError

_ROW_START = re.compile(r"([0-9]{1,9}) *\t")
_ROW_SEQ = re.compile(r"([0-9]{1,9}) *(?:\t|$)")
_SEQ_ALONE = re.compile(r"[0-9]{1,9}")
_GLUED_SEQ = re.compile(r"([0-9]{1,9})(?![0-9.,])")
_MAX_LINES_PER_ROW = 20
_EDGE_SPACES = " \u3000\u00a0\r\n\f\v"


class _Record:
    """One table row being assembled from one or more physical lines."""

    __slots__ = ("cells", "line_nos", "lines", "problem", "seq")

    def __init__(self, line_no: int, line: str) -> None:
        self.line_nos = [line_no]
        self.lines = [line]
        self.cells = line.split("\t")
        match = _ROW_SEQ.match(line)
        self.seq = int(match[1]) if match else None
        self.problem: str | None = None

    def continue_inline(self, line_no: int, line: str) -> None:
        """The line carries on where the previous one stopped (a cell wrapped mid-row)."""
        fragments = line.split("\t")
        self.cells[-1] = f"{self.cells[-1]} {fragments[0]}"
        self.cells.extend(fragments[1:])
        self.lines.append(line)
        self.line_nos.append(line_no)

    def where(self) -> str:
        first, last = self.line_nos[0], self.line_nos[-1]
        return texts.text("line {line}", line=first) if first == last else \
            texts.text("lines {first}-{last}", first=first, last=last)


def _cells_of(lines: Sequence[str], width: int) -> list[str] | None:
    """The cells of a row written on these lines: breaks inside cells, else on boundaries."""
    cells = lines[0].split("\t")
    for line in lines[1:]:
        fragments = line.split("\t")
        cells[-1] = f"{cells[-1]} {fragments[0]}"
        cells.extend(fragments[1:])
    cells = _trim(cells, width)
    if len(cells) == width:
        return cells
    if len(cells) < width and len(lines) - 1 == width - len(cells):
        cells = _trim("\t".join(lines).split("\t"), width)
        if len(cells) == width:
            return cells
    return None


def _trim(cells: list[str], width: int) -> list[str]:
    while len(cells) > width and not cells[-1].strip():
        cells.pop()
    return cells


def _find_header(lines: Sequence[str]) -> tuple[int, int, list[str]]:
    """(index of the first body line, header line number, header cells)."""
    candidates = [i for i, line in enumerate(lines) if line.strip(_EDGE_SPACES).startswith("序号")]
    if not candidates:
        raise TableRejected(
            [RowError(0, None, texts.text("no attachment table: no header line starting with "
                                          "序号"))]
        )
    tabbed = [i for i in candidates if "\t" in lines[i]]
    start = (tabbed or candidates)[0]
    header = lines[start].strip(_EDGE_SPACES)
    body = start + 1
    _, problems = map_header(header.split("\t"))
    # a wrapped header: append following lines until it names every column
    while problems and body < len(lines) and body - start <= 3:
        following = lines[body].strip(_EDGE_SPACES)
        if _ROW_START.match(following):
            break
        body += 1
        if following:
            header = f"{header} {following}"
            _, problems = map_header(header.split("\t"))
    if problems:
        raise TableRejected(
            [RowError(0, None, texts.text("header on line {line}: {problem}", line=start + 1,
                                          problem=p)) for p in problems]
        )
    return body, start + 1, _trim(header.split("\t"), 0)


@dataclass(frozen=True)
class SkippedLine:
    """A line inside the table that is not a row of it (a page number, the header repeated
    after a page break, the notice's closing lines): skipped, and reported as skipped."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class NoticeTable:
    """What :func:`read_notice_text` read: every row, and the lines it skipped between them."""

    rows: list[WinningRow]
    skipped: list[SkippedLine]


MAX_SKIPPED_SHOWN = 1000
"""At most this many skipped lines are listed (their number is always given)."""

_PAGE_MARKER = re.compile(
    r"[-—–－―~～_·•]+\s*[0-9]{1,4}\s*[-—–－―~～_·•]*"  # — 3 —, - 3 -, -3
    r"|第\s*[0-9]{1,4}\s*页\s*[,，/／]?\s*(?:共\s*[0-9]{1,4}\s*页)?"  # 第 2 页 共 3 页
    r"|共\s*[0-9]{1,4}\s*页\s*[,，/／]?\s*第\s*[0-9]{1,4}\s*页"  # 共 3 页 第 2 页
    r"|[0-9]{1,4}\s*[/／]\s*[0-9]{1,4}"  # 2/3
    r"|page\s*[0-9]{1,4}(?:\s*(?:of|/)\s*[0-9]{1,4})?",  # Page 2 of 3
    re.IGNORECASE,
)
_DATE_LINE = re.compile(r"[0-9]{4}\s*年\s*[0-9]{1,2}\s*月")
_ROWISH = re.compile(r"([0-9]{1,9})\s*[.、．]?\s*([^\s0-9].*)")
_NAME_CHARACTER = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _page_marker(line: str) -> bool:
    """``— 3 —``, ``- 3 -``, ``第 2 页 共 3 页``, ``2/3``, ``Page 2 of 3``: a page's number."""
    return _PAGE_MARKER.fullmatch(line.strip()) is not None


def _broken_row_seq(line: str) -> int | None:
    """The 序号 of a line that looks like a row of the table but cannot be read as one: a
    sequence number followed by a product-like name (``9 钴铬合金… 国械注准 …`` without tabs,
    ``12药物洗脱支架系统``). A date (``2023 年 1 月 16 日``) is not a row."""
    match = _ROWISH.fullmatch(line.strip())
    if match is None or _DATE_LINE.match(line.strip()):
        return None
    name = match[2]
    if not _NAME_CHARACTER.match(name) or len(_NAME_CHARACTER.findall(name)) < 2:
        return None
    return int(match[1])


def parse_notice_text(text: str, *, max_rows: int = MAX_ROWS) -> list[WinningRow]:
    """The rows of :func:`read_notice_text` (the lines it skipped are dropped)."""
    return read_notice_text(text, max_rows=max_rows).rows


def read_notice_text(text: str, *, max_rows: int = MAX_ROWS) -> NoticeTable:
    """The attachment table from the notice's full text, or from just the table's text.

    The table starts at the first line beginning with 序号 (the header; columns are found by
    name, so their order may vary) and runs to another table's 序号 header or the end of the
    text: the whole text is read, so nothing after a stray line is ever lost. Inside it:

    * blank lines are skipped; the header repeated after a page break and page numbers
      (``— 3 —``, ``第 2 页 共 3 页``) are skipped and listed as skipped, wherever they are;
    * a line starting with a number and a tab starts a row, and so does the row's 序号 alone
      on its line;
    * while a row has fewer cells than the header, the next line carries it on: the line's
      first fragment continues the row's last cell (joined by a space, which normalisation
      later removes between Chinese characters) and its other fragments are the next cells.
      A line starting with the next 序号 starts the next row instead. If a row ends up exactly
      as many cells short as it has line breaks, its breaks were cell boundaries;
    * after a complete row, a line starting with a tab continues the row column by column
      (fragment *i* is appended to cell *i*);
    * after a complete row, a line without tabs is not part of a row: if a row of the table
      follows it, it is skipped and listed with its line number (the notice's closing lines,
      an issuing office and date, that a PDF's page break left between rows), unless it
      looks like a broken row -- a 序号 and a product-like name that cannot be read as the
      header's cells -- which refuses the table naming the line. Such lines after the last
      row are text after the table, not listed (a broken row there with a 序号 above the
      last one is refused: it would be a row left out);
    * the last row may have taken in text after the table (when its own last line lacked
      cells): trailing untabbed lines are dropped if that makes the row whole;
    * the 序号 must run 1, 2, ... without a gap (see :meth:`Assembler.finish`).

    Anything that cannot be resolved is a :class:`RowError`; nothing is guessed silently.
    """
    lines = text.splitlines()
    body, _, header_cells = _find_header(lines)
    columns, _ = map_header(header_cells)
    width = len(header_cells)
    own_header = header_key("".join(header_cells))
    indexes = [columns[name] for name in FIELDS]
    assembler = Assembler(max_rows)
    skipped: list[SkippedLine] = []
    located: dict[int, int] = {}  # 序号 -> the line its row starts on
    pending: list[tuple[int, str]] = []  # untabbed lines after a complete row, not yet judged

    def finish(record: _Record, *, last: bool = False) -> int | None:
        """Add the row; for the table's last row, the index of any trailing non-table line."""
        if record.seq is not None:
            located.setdefault(record.seq, record.line_nos[0])
        if record.problem is not None:
            assembler.structural_error(record.cells[0], record.problem)
            return None
        cells: list[str] | None = _trim(record.cells, width)
        if cells is not None and len(cells) != width:
            cells = _cells_of(record.lines, width)
        ended_at = None
        if cells is None and last:
            # the last row may have taken in untabbed text that follows the table
            for keep in range(len(record.lines) - 1, 0, -1):
                if "\t" in record.lines[keep]:
                    break
                cells = _cells_of(record.lines[:keep], width)
                if cells is not None:
                    ended_at = record.line_nos[keep] - 1
                    break
        if cells is None:
            assembler.structural_error(
                record.cells[0],
                texts.text("{where}: expected {width} tab-separated cells, found {found}",
                           where=record.where(), width=width,
                           found=len(_trim(record.cells, width))),
            )
            return None
        assembler.add_text([cells[i] for i in indexes])
        return ended_at

    def between_rows() -> None:
        """A row follows the pending lines: each is skipped, or refused as a broken row."""
        for line_no, line in pending:
            seq = _broken_row_seq(line)
            if seq is None:
                why = "a page number" if _SEQ_ALONE.fullmatch(line) else "not a row of the table"
                skipped.append(SkippedLine(line_no, line, why))
            else:
                assembler.errors.append(RowError(seq, None, _broken_row(line_no, line, width)))
        pending.clear()

    def start(line_no: int, line: str) -> _Record:
        between_rows()
        return _Record(line_no, line)

    current: _Record | None = None
    ended_at: int | None = None  # index of the line that ended the table
    last_seq = 0  # the highest 序号 seen, to notice a table that goes on after its "end"
    index = body
    while index < len(lines):
        line_no = index + 1
        line = lines[index].strip(_EDGE_SPACES)
        index += 1
        if not line.strip():
            continue
        if line.startswith("序号"):
            if header_key(line) == own_header:
                skipped.append(SkippedLine(line_no, line, "the table's header, repeated"))
                continue
            ended_at = index - 1
            break  # another table begins
        match = _ROW_START.match(line)
        if match is None and _page_marker(line):
            skipped.append(SkippedLine(line_no, line, "a page number"))
            continue
        alone = match is None and _SEQ_ALONE.fullmatch(line) is not None  # "9", cells below
        if current is None:
            if match is None and not alone and "\t" not in line:
                pending.append((line_no, line))
                continue
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        if len(_trim(current.cells, width)) < width:
            seq = int(match[1]) if match else (int(line) if alone else None)
            if match is not None and len(current.lines) == 1 and current.cells == [
                    str(seq)] and seq == current.seq:
                # "6" then "6<TAB>...": the number alone was the page's, not the row's
                skipped.append(SkippedLine(current.line_nos[0], current.lines[0],
                                           "a page number"))
                current = _Record(line_no, line)
                continue
            if seq is None and current.seq is not None:
                glued = _GLUED_SEQ.match(line)  # "12药物..." : the next 序号 lost its tab
                seq = int(glued[1]) if glued else None
            if seq is not None and current.seq is not None and seq == current.seq + 1:
                finish(current)
                current = start(line_no, line)
                last_seq = max(last_seq, seq)
            elif len(current.lines) >= _MAX_LINES_PER_ROW and "\t" not in line:
                ended_at = index - 1
                break  # no row wraps over that many lines: this is text after the table
            else:
                current.continue_inline(line_no, line)
            continue
        if match is not None or ("\t" in line and not line.startswith("\t")):
            finish(current)
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        if line.startswith("\t"):
            fragments = _trim(line.split("\t"), width)
            if len(fragments) > width:
                current.problem = texts.text(
                    "line {line} continues the row but has {cells} tab-separated cells, more "
                    "than the header's {width}", line=line_no, cells=len(fragments), width=width)
                continue
            for position, fragment in enumerate(fragments):
                if fragment.strip():
                    current.cells[position] = f"{current.cells[position]} {fragment}"
            continue
        if alone and current.seq is not None and int(line) == current.seq + 1:
            finish(current)  # the next 序号 alone on its line, the row's cells follow
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        pending.append((line_no, line))  # judged when a row follows, else text after the table
    if current is not None:
        dropped_at = finish(current, last=True)
        if dropped_at is not None:
            ended_at = dropped_at
    for line_no, line in pending:  # after the last row: a lost row is refused, not dropped
        seq = _broken_row_seq(line)
        if seq is not None and seq > last_seq:
            assembler.errors.append(RowError(seq, None, _broken_row(line_no, line, width)))
    if ended_at is not None and last_seq:
        _check_table_really_ended(lines, ended_at, last_seq, width, assembler)
    rows = assembler.finish(located)
    return NoticeTable(rows, sorted(skipped, key=lambda s: s.line))


def _broken_row(line_no: int, line: str, width: int) -> str:
    return texts.text("line {line} {text} looks like a row of the table (a 序号 and a name) but "
                      "cannot be read as one: a row has {width} tab-separated cells",
                      line=line_no, text=shown(line), width=width)


def _check_table_really_ended(
    lines: Sequence[str], ended_at: int, last_seq: int, width: int, assembler: Assembler
) -> None:
    """Rows of this table after its end mean the end was misread: report, never truncate.

    Up to the next table (a 序号 line), a line counts as a row of this table when it starts
    with a 序号 above ``last_seq`` and has tabs, has nearly the header's number of tabs, or is
    a 序号 above ``last_seq`` alone on its line with a tabbed line after it.
    """
    for index in range(ended_at + 1, len(lines)):
        line = lines[index].strip(_EDGE_SPACES)
        if line.startswith("序号"):
            return  # another table
        match = _ROW_SEQ.match(line)
        tabs = line.count("\t")
        rowish = tabs >= max(width - 2, 2) or (
            match is not None
            and int(match[1]) > last_seq
            and (tabs >= 2 or _tabbed_next(lines, index))
        )
        if rowish:
            assembler.errors.append(
                RowError(
                    last_seq,
                    None,
                    texts.text("line {end} {end_text} ended the table after row {row}, but "
                               "line {line} {text} looks like a row of it", end=ended_at + 1,
                               end_text=shown(lines[ended_at].strip()), row=last_seq,
                               line=index + 1, text=shown(line)),
                )
            )
            return


def _tabbed_next(lines: Sequence[str], index: int) -> bool:
    """Whether the next non-blank line after ``index`` has at least two tabs."""
    for j in range(index + 1, len(lines)):
        if lines[j].strip():
            return lines[j].count("\t") >= 2
    return False
