#!/usr/bin/env python3
"""tests/e2e/check_report_html.py REPORT [options]: checks a page written by `tranche report` with
python's html.parser: every element it opens is closed in order (void elements aside), nothing
refers outside the page (no http:// or https://, no src=, no link, no href but #fragments, no
url() or @import in CSS, no script element), one timeline row per worker
(<g class="worker-row" data-worker="N">), one bar per partition that ran
(<rect class="part" data-partition="K">), each once. Options:
  --workers N          the number of worker rows, numbered 1..N
  --partitions LIST    the partitions that have a bar: 0,1,3 (empty: none)
  --text STRING        text the page shows (after its escapes are undone), repeatable
  --raw-absent STRING  what must not appear in the page's source, repeatable (unescaped text)
Exits 1 with the first problem."""
import argparse
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
OUTSIDE_TAGS = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "audio",
                "video", "source", "base", "form"}
URL_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "data", "poster", "background"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.rows = []
        self.parts = []
        self.text = []
        self.problems = []

    def where(self):
        line, col = self.getpos()
        return "%d:%d" % (line, col + 1)

    def check_element(self, tag, attrs):
        a = dict(attrs)
        if tag in OUTSIDE_TAGS:
            self.problems.append("%s: <%s> may refer outside the page" % (self.where(), tag))
        for name, value in attrs:
            if name in URL_ATTRS and not (value or "").startswith("#"):
                self.problems.append("%s: %s=%r refers outside the page" % (self.where(), name, value))
        classes = (a.get("class") or "").split()
        if tag == "g" and "worker-row" in classes:
            self.rows.append(a.get("data-worker"))
        if tag == "rect" and "part" in classes:
            self.parts.append(a.get("data-partition"))

    def handle_starttag(self, tag, attrs):
        self.check_element(tag, attrs)
        if tag not in VOID:
            self.stack.append((tag, self.where()))

    def handle_startendtag(self, tag, attrs):
        self.check_element(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack:
            self.problems.append("%s: </%s> closes nothing" % (self.where(), tag))
            return
        open_tag, at = self.stack.pop()
        if open_tag != tag:
            self.problems.append("%s: </%s> closes <%s> (opened at %s)" % (self.where(), tag,
                                                                         open_tag, at))

    def handle_data(self, data):
        self.text.append(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--partitions")
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--raw-absent", action="append", default=[])
    args = ap.parse_args()

    raw = open(args.report, encoding="utf-8").read()
    problems = []
    for bad in ("http://", "https://", "src=", "url(", "@import", "<script"):
        if bad in raw.lower():
            problems.append("the page holds %r" % bad)
    for bad in args.raw_absent:
        if bad in raw:
            problems.append("the page's source holds %r unescaped" % bad)
    if not raw.startswith("<!DOCTYPE html>"):
        problems.append("the page does not start with <!DOCTYPE html>")

    p = Checker()
    p.feed(raw)
    p.close()
    problems += p.problems
    if p.stack:
        problems.append("left open at the end: %s" % ", ".join("<%s> (%s)" % s for s in p.stack))

    if args.workers is not None:
        want = [str(i) for i in range(1, args.workers + 1)]
        if p.rows != want:
            problems.append("worker rows %r, expected %r" % (p.rows, want))
    if args.partitions is not None:
        want = sorted(x for x in args.partitions.split(",") if x != "")
        if sorted(p.parts) != want:
            problems.append("partition bars %r, expected each of %r once" % (sorted(p.parts), want))

    text = "".join(p.text)
    for t in args.text:
        if t not in text:
            problems.append("the page does not show %r" % t)

    if problems:
        for line in problems:
            print("check_report_html: %s: %s" % (args.report, line), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
