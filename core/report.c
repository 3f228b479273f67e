/*
 * core/report.c: the run report as one HTML page. Everything it needs is inline (CSS, SVG), so the
 * page opens from a mail attachment or an air-gapped machine alike; it has no script, and every
 * text that comes from the summary or the rejects file goes through esc(). The timeline's rows and
 * bars carry data- attributes (worker-row/data-worker, part/data-partition) for tests and tools.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "report.h"

#include "runstats.h"

/* The charts' geometry, in SVG user units (the SVG scales to the page's width). */
#define CHART_W 1200.0
#define CHART_LEFT 96.0
#define CHART_RIGHT 16.0
#define ROW_H 26.0
#define BAR_H 16.0
#define AXIS_H 24.0
#define FLOW_H 200.0
#define SLOWEST_SHOWN 10
#define INPUT_COLOURS 8

/* A partition's bar has its input's colour, every other partition a shade lighter (opaque: a
 * wait drawn behind it must not show through). The class stays "part" alone, for tools. */
static const char *const colours[INPUT_COLOURS][2] = {
    {"#3f6fb5", "#6690cc"}, {"#2f9b8f", "#5cb8ad"}, {"#8a5cb8", "#a882cf"}, {"#c5733a", "#d9925f"},
    {"#5e8c31", "#80aa55"}, {"#b8487a", "#d06e99"}, {"#4c8fc7", "#76abd8"}, {"#8c7a3c", "#ab9a5e"},
};
#define MAX_ROWS 65536 /* worker slots taken from n_workers (a corrupt count draws no more) */

int
report_rejects_load(const char *path, size_t keep, struct report_rejects *out, struct error *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int rc = ERR_FAILED;

    if (f == NULL) {
        return errno == ENOENT ? 0 : error_errno(err, "%s", path);
    }
    out->present = 1;
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        struct report_reject *row;
        char *p = line;
        int i;

        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        if (line[0] == '#' || len == 0) {
            continue;
        }
        if (out->n >= keep) {
            out->more++;
            continue;
        }
        if (GROW(out->rows, out->cap, out->n + 1) != 0) {
            error_set(err, "%s: out of memory", path);
            goto out;
        }
        row = &out->rows[out->n++];
        memset(row, 0, sizeof(*row));
        for (i = 0; i < 6; i++) {
            /* The reason is the last field and keeps any tab in it. */
            size_t n = i < 5 ? strcspn(p, "\t") : strlen(p);

            row->field[i] = strndup(p, n);
            if (row->field[i] == NULL) {
                error_set(err, "%s: out of memory", path);
                goto out;
            }
            p += n + (p[n] == '\t');
        }
    }
    if (ferror(f)) {
        error_errno(err, "%s: read error", path);
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}

void
report_rejects_release(struct report_rejects *r)
{
    size_t i;
    int j;

    for (i = 0; i < r->n; i++) {
        for (j = 0; j < 6; j++) {
            free(r->rows[i].field[j]);
        }
    }
    free(r->rows);
    memset(r, 0, sizeof(*r));
}

/* Text as HTML, for element content and attribute values alike. Control characters, which HTML
 * does not allow, show as U+FFFD. */
static void
esc(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '&') {
            fputs("&amp;", f);
        } else if (c == '<') {
            fputs("&lt;", f);
        } else if (c == '>') {
            fputs("&gt;", f);
        } else if (c == '"') {
            fputs("&quot;", f);
        } else if (c == '\'') {
            fputs("&#39;", f);
        } else if (c < 0x20 && c != '\t' && c != '\n') {
            fputs("&#xFFFD;", f);
        } else {
            fputc(c, f);
        }
    }
}

/* Numbers as people read them; each writes into a caller's buffer of 32 bytes and returns it. */
static const char *
fmt_count(char *buf, uint64_t v)
{
    return runstats_grouped(v, buf, 32);
}

static const char *
fmt_bytes(char *buf, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;

    while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 32,
             u == 0    ? "%.0f %s"
             : v < 10  ? "%.2f %s"
             : v < 100 ? "%.1f %s"
                       : "%.0f %s",
             v, units[u]);
    return buf;
}

static const char *
fmt_secs(char *buf, double s)
{
    if (isnan(s)) {
        snprintf(buf, 32, "&#8211;");
    } else if (s < 1) {
        snprintf(buf, 32, "%.0f ms", s * 1000);
    } else if (s < 60) {
        snprintf(buf, 32, "%.2f s", s);
    } else if (s < 3600) {
        snprintf(buf, 32, "%d min %02d s", (int)s / 60, (int)s % 60);
    } else {
        snprintf(buf, 32, "%d h %02d min", (int)s / 3600, (int)s / 60 % 60);
    }
    return buf;
}

/* An axis step of 1, 2 or 5 times a power of ten that cuts `range` into about `target` parts.
 * (Loops rather than log10 and pow: the core does not link libm.) */
static double
nice_step(double range, double target)
{
    double raw = range / target, mag = 1, norm;

    if (!(raw > 0)) {
        return 1;
    }
    while (mag * 10 <= raw) {
        mag *= 10;
    }
    while (mag > raw) {
        mag /= 10;
    }
    if (!(mag > 0)) {
        return range; /* below what a double's powers of ten reach: one step */
    }
    norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

static int
known(double v)
{
    return !isnan(v) && !isinf(v);
}

/* The last moment the timeline shows: the run's end, or anything the summary places later. */
static double
time_span(const struct summary *s)
{
    double t = known(s->wall_s) ? s->wall_s : 0;
    size_t i;

    for (i = 0; i < s->n_partitions; i++) {
        const struct summary_partition *p = &s->partitions[i];

        t = known(p->written_s) && p->written_s > t ? p->written_s : t;
        t = known(p->done_s) && p->done_s > t ? p->done_s : t;
    }
    for (i = 0; i < s->n_retries; i++) {
        t = known(s->retries[i].at_s) && s->retries[i].at_s > t ? s->retries[i].at_s : t;
    }
    /* At least a millisecond: the axes divide by it. */
    return t > 0.001 ? t : 0.001;
}

static int
ran(const struct summary_partition *p)
{
    return !p->resumed && known(p->start_s) && known(p->done_s);
}

static const char style[] =
    "<style>\n"
    ":root{--fg:#1d2433;--muted:#5b6478;--line:#dde1ea;--bg:#f6f7fb;--card:#fff}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;padding:24px 32px 48px;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\n"
    "h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:0 0 10px}\n"
    "header{display:flex;align-items:center;gap:14px;flex-wrap:wrap;margin-bottom:16px}\n"
    ".job{color:var(--muted);font-family:ui-monospace,'DejaVu Sans Mono',monospace;"
    "word-break:break-all}\n"
    ".badge{padding:3px 12px;border-radius:12px;font-weight:600;color:#fff;background:#6b7280}\n"
    ".badge.ok{background:#2f8f4e}.badge.skipped{background:#c27c0e}"
    ".badge.failed,.badge.timed_out{background:#c0392b}.badge.interrupted{background:#6b7280}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:16px 20px;margin:0 0 16px}\n"
    ".facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px 18px;"
    "margin:0}\n"
    ".facts div{border-left:3px solid var(--line);padding-left:10px}\n"
    ".facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-size:16px;"
    "font-weight:600;overflow-wrap:anywhere}\n"
    ".facts dd small{display:block;font-size:12px;font-weight:400;color:var(--muted)}\n"
    ".paths{margin:14px 0 0;display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;"
    "font-size:13px}\n"
    ".paths div{display:contents}.paths dt{color:var(--muted)}.paths dd{margin:0;"
    "font-family:ui-monospace,'DejaVu Sans Mono',monospace;overflow-wrap:anywhere}\n"
    ".error{background:#fdecea;border:1px solid #e6b0aa;border-radius:6px;padding:10px 14px;"
    "margin-top:14px}\n"
    ".error pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-all}\n"
    ".warn{background:#fff6e0;border:1px solid #ecd08f;border-radius:6px;padding:8px 14px;"
    "margin-top:14px}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th,td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);"
    "vertical-align:top}\n"
    "th{color:var(--muted);font-weight:600;background:#fafbfd}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.text{word-break:break-all}\n"
    "tbody tr:hover{background:#f0f4ff}\n"
    ".note{color:var(--muted);margin:8px 0 0}\n"
    "svg{display:block;width:100%;height:auto;font-size:12px}\n"
    "svg text{fill:var(--muted)}\n"
    ".grid{stroke:var(--line);stroke-width:1}\n"
    ".row-bg{fill:transparent}.row-bg.odd{fill:#8090b0;fill-opacity:.08}\n"
    ".part{stroke:#fff;stroke-width:1}\n"
    ".part:hover,.wait:hover,.bucket:hover{opacity:.75}\n"
    ".wait{fill:#b4c2dc}\n"
    ".failed{fill:#d63b2f}\n"
    ".legend i.part{background:#3f6fb5}.legend i.wait{background:#b4c2dc}"
    ".legend i.failed{background:#d63b2f}.legend i.area{background:#a9bde0}\n"
    ".area{fill:#3f6fb5;fill-opacity:.25;stroke:none}.line{fill:none;stroke:#3f6fb5;"
    "stroke-width:2}\n"
    ".mean{stroke:#c5733a;stroke-width:1.5;stroke-dasharray:6 4}\n"
    ".bucket{fill:transparent}\n"
    ".legend{display:flex;gap:18px;flex-wrap:wrap;color:var(--muted);font-size:12px;"
    "margin-top:8px}\n"
    ".legend i{display:inline-block;width:14px;height:10px;margin-right:6px;"
    "vertical-align:middle}\n"
    "footer{color:var(--muted);font-size:12px;word-break:break-all}\n"
    "</style>\n";

/* A fact of the header: a label and a value written by the caller's format. */
static void fact(FILE *f, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fact(FILE *f, const char *label, const char *fmt, ...)
{
    va_list ap;

    fprintf(f, "<div><dt>%s</dt><dd>", label);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputs("</dd></div>\n", f);
}

/* A path (or a long value) on a line of its own below the facts. */
static void
path_line(FILE *f, const char *label, const char *text)
{
    fprintf(f, "<div><dt>%s</dt><dd>", label);
    esc(f, text != NULL ? text : "-");
    fputs("</dd></div>", f);
}

static void
write_header(FILE *f, const struct summary *s)
{
    const struct summary_totals *t = &s->totals;
    double cpu =
        (known(s->cpu_user_s) ? s->cpu_user_s : 0) + (known(s->cpu_system_s) ? s->cpu_system_s : 0);
    char a[32], b[32], c[32];

    fputs("<header><div><h1>tranche run report</h1><div class=\"job\">", f);
    esc(f, s->job);
    fputs("</div></div><span class=\"badge ", f);
    esc(f, s->status);
    fputs("\">", f);
    esc(f, s->status != NULL ? s->status : "unknown");
    fputs("</span></header>\n<section id=\"overview\"><dl class=\"facts\">\n", f);
    fact(f, "Exit status", "%lld", (long long)s->exit_status);
    fact(f, "Wall time", "%s", fmt_secs(a, s->wall_s));
    fact(f, "CPU", "%s <small>%s user + %s system</small>", fmt_secs(a, cpu),
         fmt_secs(b, s->cpu_user_s), fmt_secs(c, s->cpu_system_s));
    fact(f, "Workers", "%lld", (long long)s->n_workers);
    fact(f, "Partitions", "%s <small>%llu written, %llu resumed</small>",
         fmt_count(a, t->partitions), (unsigned long long)t->partitions_written,
         (unsigned long long)t->partitions_resumed);
    fact(f, "Records in / out", "%s / %s", fmt_count(a, t->records_in),
         fmt_count(b, t->records_out));
    fact(f, "Bytes in / out", "%s / %s", fmt_bytes(a, (double)t->bytes_in),
         fmt_bytes(b, (double)t->bytes_out));
    fact(f, "Throughput", "%s/s",
         fmt_bytes(a, known(s->wall_s) && s->wall_s > 0 ? (double)t->bytes_in / s->wall_s : 0));
    fact(f, "Retries", "%llu", (unsigned long long)t->retries);
    fact(f, "Records skipped", "%s", fmt_count(a, t->skipped));
    fputs("</dl>\n<dl class=\"paths\">", f);
    path_line(f, "started (UTC)", s->started_at);
    path_line(f, "output", s->output);
    path_line(f, "log directory", s->log_dir);
    fputs("</dl>\n", f);
    if (s->error != NULL) {
        fputs("<div class=\"error\"><strong>Error</strong><pre>", f);
        esc(f, s->error);
        fputs("</pre></div>\n", f);
    }
    if (s->incomplete) {
        fputs("<div class=\"warn\">This summary is incomplete: the run was stopped before it "
              "could account for everything.</div>\n",
              f);
    }
    fputs("</section>\n", f);
}

/* The timeline's rows: every worker slot the summary names, in order, once. */
static size_t
worker_rows(const struct summary *s, int64_t **out)
{
    int64_t slots = s->n_workers < MAX_ROWS ? s->n_workers : MAX_ROWS;
    size_t cap =
        (size_t)(slots > 0 ? slots : 0) + s->n_workers_listed + s->n_partitions + s->n_retries + 1;
    int64_t *ids = calloc(cap, sizeof(*ids));
    size_t n = 0, i, j;

    if (ids == NULL) {
        *out = NULL;
        return 0;
    }
    for (i = 1; (int64_t)i <= slots; i++) {
        ids[n++] = (int64_t)i;
    }
    for (i = 0; i < s->n_workers_listed; i++) {
        ids[n++] = s->workers[i].id;
    }
    for (i = 0; i < s->n_partitions; i++) {
        if (ran(&s->partitions[i]) && s->partitions[i].worker > 0) {
            ids[n++] = s->partitions[i].worker;
        }
    }
    /* Sort (a few dozen at most: insertion) and drop repeats. */
    for (i = 1; i < n; i++) {
        int64_t v = ids[i];

        for (j = i; j > 0 && ids[j - 1] > v; j--) {
            ids[j] = ids[j - 1];
        }
        ids[j] = v;
    }
    for (i = 0, j = 0; i < n; i++) {
        if (j == 0 || ids[j - 1] != ids[i]) {
            ids[j++] = ids[i];
        }
    }
    *out = ids;
    return j;
}

/* Vertical grid lines and their time labels, at y0..y1, the labels below y1; in one unit for
 * the whole axis (ms, s or min), as short as the step allows. */
static void
time_axis(FILE *f, double span, double y0, double y1)
{
    double plot = CHART_W - CHART_LEFT - CHART_RIGHT, step = nice_step(span, 10), t;
    double scale = span < 1 ? 1000 : span < 300 ? 1 : 1.0 / 60;
    const char *unit = span < 1 ? "ms" : span < 300 ? "s" : "min";
    int k;

    for (k = 0; (t = k * step) <= span * 1.0001 && k <= 100; k++) {
        double x = CHART_LEFT + t / span * plot;

        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%.4g %s</text>\n",
                x, y0, x, y1, x, y1 + 16, k == 0 ? "start" : "middle", t * scale, unit);
    }
}

static void
partition_title(FILE *f, const struct summary *s, const struct summary_partition *p)
{
    char a[32], b[32], c[32];

    fprintf(f, "<title>partition %lld: bytes %llu-%llu", (long long)p->index,
            (unsigned long long)p->start, (unsigned long long)p->end);
    if (p->input >= 0 && (size_t)p->input < s->n_inputs) {
        fputs(" of ", f);
        esc(f, s->inputs[p->input].path);
    }
    fprintf(f, "\n%s records in, %s out; %s in\nworker %lld, attempt %lld\n",
            fmt_count(a, p->records_in), fmt_count(b, p->records_out),
            fmt_bytes(c, (double)p->bytes_in), (long long)p->worker, (long long)p->attempts);
    fprintf(f, "ran %s", fmt_secs(a, p->done_s - p->start_s));
    fprintf(f, " (from %s to %s)", fmt_secs(b, p->start_s), fmt_secs(c, p->done_s));
    if (known(p->written_s) && p->written_s > p->done_s) {
        fprintf(f, ", waited %s to be written", fmt_secs(a, p->written_s - p->done_s));
    }
    fputs("</title>", f);
}

static void
timeline_row(FILE *f, const struct summary *s, int64_t worker, size_t row, double span)
{
    double plot = CHART_W - CHART_LEFT - CHART_RIGHT, y = row * ROW_H,
           bar = y + (ROW_H - BAR_H) / 2;
    size_t i;

    fprintf(f,
            "<g class=\"worker-row\" data-worker=\"%lld\">"
            "<rect class=\"row-bg%s\" x=\"0\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
            "<text x=\"8\" y=\"%.1f\">worker %lld</text>\n",
            (long long)worker, row % 2 ? " odd" : "", y, CHART_W, ROW_H, y + ROW_H / 2 + 4,
            (long long)worker);
    /* The waits first: a worker that parks a partition's output goes on with the next one
     * while it waits, and that partition's bar is drawn over the wait. */
    for (i = 0; i < s->n_partitions; i++) {
        const struct summary_partition *p = &s->partitions[i];
        double x1, x2;

        if (!ran(p) || p->worker != worker || !known(p->written_s) || p->written_s <= p->done_s) {
            continue;
        }
        x1 = CHART_LEFT + p->done_s / span * plot;
        x2 = CHART_LEFT + p->written_s / span * plot;
        fprintf(f, "<rect class=\"wait\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">", x1,
                bar + BAR_H / 4, x2 - x1, BAR_H / 2);
        partition_title(f, s, p);
        fputs("</rect>\n", f);
    }
    for (i = 0; i < s->n_partitions; i++) {
        const struct summary_partition *p = &s->partitions[i];
        double x0, x1;

        if (!ran(p) || p->worker != worker) {
            continue;
        }
        x0 = CHART_LEFT + p->start_s / span * plot;
        x1 = CHART_LEFT + p->done_s / span * plot;
        fprintf(f,
                "<rect class=\"part\" data-partition=\"%lld\" x=\"%.2f\" y=\"%.1f\" "
                "width=\"%.2f\" height=\"%.1f\" fill=\"%s\">",
                (long long)p->index, x0, bar, x1 - x0 > 1 ? x1 - x0 : 1, BAR_H,
                colours[(p->input > 0 ? p->input : 0) % INPUT_COLOURS][p->index % 2 != 0]);
        partition_title(f, s, p);
        fputs("</rect>\n", f);
    }
    for (i = 0; i < s->n_retries; i++) {
        const struct summary_retry *r = &s->retries[i];
        char a[32];

        if (r->worker != worker || !known(r->at_s)) {
            continue;
        }
        fprintf(f,
                "<rect class=\"failed\" x=\"%.2f\" y=\"%.1f\" width=\"3\" height=\"%.1f\">"
                "<title>partition %lld, attempt %lld failed at %s: ",
                CHART_LEFT + r->at_s / span * plot - 1.5, y + 2, ROW_H - 4, (long long)r->partition,
                (long long)r->attempt, fmt_secs(a, r->at_s));
        esc(f, r->reason);
        fputs("</title></rect>\n", f);
    }
    fputs("</g>\n", f);
}

static void
partition_list(FILE *f, const struct summary *s, int resumed, const char *heading)
{
    size_t i, n = 0;
    char a[32], b[32];

    for (i = 0; i < s->n_partitions; i++) {
        const struct summary_partition *p = &s->partitions[i];

        if (ran(p) || p->resumed != resumed) {
            continue;
        }
        if (n++ == 0) {
            fprintf(f,
                    "<h2 style=\"margin-top:16px\">%s</h2><table><thead><tr><th "
                    "class=\"num\">partition</th><th>input</th><th class=\"num\">bytes</th><th "
                    "class=\"num\">records in</th><th class=\"num\">records out</th></tr>"
                    "</thead><tbody>\n",
                    heading);
        }
        fprintf(f, "<tr><td class=\"num\">%lld</td><td class=\"text\">", (long long)p->index);
        if (p->input >= 0 && (size_t)p->input < s->n_inputs) {
            esc(f, s->inputs[p->input].path);
        }
        fprintf(f,
                "</td><td class=\"num\">%llu-%llu</td><td class=\"num\">%s</td><td "
                "class=\"num\">%s</td></tr>\n",
                (unsigned long long)p->start, (unsigned long long)p->end,
                fmt_count(a, p->records_in), fmt_count(b, p->records_out));
    }
    if (n > 0) {
        fputs("</tbody></table>\n", f);
    }
}

static int
write_timeline(FILE *f, const struct summary *s, struct error *err)
{
    double span = time_span(s), height;
    int64_t *rows;
    size_t n_rows = worker_rows(s, &rows), i;

    if (rows == NULL) {
        return error_set(err, "out of memory");
    }
    height = n_rows * ROW_H + AXIS_H;
    fputs("<section id=\"timeline\"><h2>Timeline: partitions per worker</h2>\n", f);
    fprintf(f,
            "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"partitions per worker over "
            "time\">\n",
            CHART_W, height);
    time_axis(f, span, 0, n_rows * ROW_H);
    for (i = 0; i < n_rows; i++) {
        timeline_row(f, s, rows[i], i, span);
    }
    fputs("</svg>\n<div class=\"legend\"><span><i class=\"part\"></i>running a partition (colour: "
          "its input)</span><span><i class=\"wait\"></i>done, waiting for its turn to be "
          "written</span><span><i class=\"failed\"></i>an attempt that failed (retried)</span>"
          "</div>\n",
          f);
    if (n_rows == 0) {
        fputs("<p class=\"note\">No partition ran in a worker.</p>\n", f);
    }
    partition_list(f, s, 1, "Resumed partitions (kept from an earlier run)");
    partition_list(f, s, 0, "Partitions that did not run");
    fputs("</section>\n", f);
    free(rows);
    return 0;
}

/* Input bytes completed per time bucket: each partition's bytes_in counted when it was done. */
static int
write_throughput(FILE *f, const struct summary *s, struct error *err)
{
    double span = time_span(s), plot = CHART_W - CHART_LEFT - CHART_RIGHT, top = 10,
           bottom = FLOW_H - AXIS_H, peak = 0, width, step, v, total = 0, unit;
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t n_ran = 0, n_buckets, i, u;
    double *rate;
    int *count;
    char a[32], b[32], c[32];

    for (i = 0; i < s->n_partitions; i++) {
        n_ran += ran(&s->partitions[i]);
    }
    /* About three partitions a bucket, so that a bucket is more than one partition's end. */
    n_buckets = n_ran / 3 < 10 ? 10 : n_ran / 3 > 60 ? 60 : n_ran / 3;
    width = span / n_buckets;
    rate = calloc(n_buckets, sizeof(*rate));
    count = calloc(n_buckets, sizeof(*count));
    if (rate == NULL || count == NULL) {
        free(rate);
        free(count);
        return error_set(err, "out of memory");
    }
    for (i = 0; i < s->n_partitions; i++) {
        const struct summary_partition *p = &s->partitions[i];
        size_t k;

        if (!ran(p)) {
            continue;
        }
        k = p->done_s <= 0 ? 0 : (size_t)(p->done_s / width);
        k = k < n_buckets ? k : n_buckets - 1;
        rate[k] += (double)p->bytes_in / width;
        count[k]++;
        total += (double)p->bytes_in;
    }
    for (i = 0; i < n_buckets; i++) {
        peak = rate[i] > peak ? rate[i] : peak;
    }
    peak = peak > 0 ? peak : 1;
    /* Steps that are round in the unit the labels use (KiB/s, MiB/s...). */
    for (unit = 1, u = 0; peak / unit >= 1024 && u < 5; unit *= 1024, u++) {
    }
    step = nice_step(peak / unit, 4) * unit;
    peak = step * (double)(uint64_t)(peak / step + 0.999999);

    fputs("<section id=\"throughput\"><h2>Throughput: input bytes completed per second</h2>\n", f);
    fprintf(f, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"throughput over time\">\n",
            CHART_W, FLOW_H);
    for (i = 0; (v = (double)i * step) <= peak * 1.0001 && i <= 100; i++) {
        double y = bottom - v / peak * (bottom - top);

        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g %s/s</text>\n",
                CHART_LEFT, y, CHART_W - CHART_RIGHT, y, CHART_LEFT - 6, y + 4, v / unit, units[u]);
    }
    time_axis(f, span, bottom, bottom);
    /* A step outline: each bucket's rate held across its width. */
    fprintf(f, "<path class=\"area\" d=\"M%.2f %.2f", CHART_LEFT, bottom);
    for (i = 0; i < n_buckets; i++) {
        double y = bottom - rate[i] / peak * (bottom - top);

        fprintf(f, " L%.2f %.2f L%.2f %.2f", CHART_LEFT + i * width / span * plot, y,
                CHART_LEFT + (i + 1) * width / span * plot, y);
    }
    fprintf(f, " L%.2f %.2f Z\"/>\n<path class=\"line\" d=\"", CHART_W - CHART_RIGHT, bottom);
    for (i = 0; i < n_buckets; i++) {
        double y = bottom - rate[i] / peak * (bottom - top);

        fprintf(f, "%s%.2f %.2f L%.2f %.2f", i == 0 ? "M" : " L",
                CHART_LEFT + i * width / span * plot, y, CHART_LEFT + (i + 1) * width / span * plot,
                y);
    }
    fputs("\"/>\n", f);
    v = bottom - total / span / peak * (bottom - top);
    fprintf(f,
            "<line class=\"mean\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\">"
            "<title>mean over the run: %s/s</title></line>\n",
            CHART_LEFT, v, CHART_W - CHART_RIGHT, v, fmt_bytes(a, total / span));
    for (i = 0; i < n_buckets; i++) {
        fprintf(f,
                "<rect class=\"bucket\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">"
                "<title>%s to %s: %s/s (%d partitions done)</title></rect>\n",
                CHART_LEFT + i * width / span * plot, top, width / span * plot, bottom - top,
                fmt_secs(a, i * width), fmt_secs(b, (i + 1) * width), fmt_bytes(c, rate[i]),
                count[i]);
    }
    fprintf(f,
            "</svg>\n<div class=\"legend\"><span><i class=\"area\">"
            "</i>input bytes of the partitions done in each %s</span><span><i "
            "style=\"border-top:2px dashed #c5733a;height:0\"></i>mean over the run: %s/s</span>"
            "</div>\n</section>\n",
            fmt_secs(a, width), fmt_bytes(b, total / span));
    free(rate);
    free(count);
    return 0;
}

static void
table_open(FILE *f, const char *id, const char *heading, const char *columns)
{
    fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n<table><thead><tr>%s</tr></thead><tbody>\n", id,
            heading, columns);
}

static void
table_close(FILE *f, size_t rows, const char *empty)
{
    fputs("</tbody></table>\n", f);
    if (rows == 0) {
        fprintf(f, "<p class=\"note\">%s</p>\n", empty);
    }
}

struct slow {
    double secs;
    size_t i;
};

static int
slower_first(const void *a, const void *b)
{
    const struct slow *x = a, *y = b;

    return x->secs < y->secs ? 1 : x->secs > y->secs ? -1 : (x->i > y->i) - (x->i < y->i);
}

static int
write_slowest(FILE *f, const struct summary *s, struct error *err)
{
    struct slow *order = calloc(s->n_partitions + 1, sizeof(*order));
    size_t n = 0, i;
    char a[32], b[32], c[32], d[32];

    if (order == NULL) {
        return error_set(err, "out of memory");
    }
    for (i = 0; i < s->n_partitions; i++) {
        if (ran(&s->partitions[i])) {
            order[n].secs = s->partitions[i].done_s - s->partitions[i].start_s;
            order[n++].i = i;
        }
    }
    qsort(order, n, sizeof(*order), slower_first);
    table_open(f, "slowest", "Slowest partitions",
               "<th class=\"num\">partition</th><th>input</th><th class=\"num\">bytes</th>"
               "<th class=\"num\">worker</th><th class=\"num\">attempts</th><th "
               "class=\"num\">time</th><th class=\"num\">records in</th><th class=\"num\">bytes "
               "in</th><th class=\"num\">rate</th>");
    for (i = 0; i < n && i < SLOWEST_SHOWN; i++) {
        const struct summary_partition *p = &s->partitions[order[i].i];

        fprintf(f, "<tr><td class=\"num\">%lld</td><td class=\"text\">", (long long)p->index);
        if (p->input >= 0 && (size_t)p->input < s->n_inputs) {
            esc(f, s->inputs[p->input].path);
        }
        fprintf(f,
                "</td><td class=\"num\">%llu-%llu</td><td class=\"num\">%lld</td><td "
                "class=\"num\">%lld</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td "
                "class=\"num\">%s</td><td class=\"num\">%s/s</td></tr>\n",
                (unsigned long long)p->start, (unsigned long long)p->end, (long long)p->worker,
                (long long)p->attempts, fmt_secs(a, order[i].secs), fmt_count(b, p->records_in),
                fmt_bytes(c, (double)p->bytes_in),
                fmt_bytes(d, order[i].secs > 0 ? (double)p->bytes_in / order[i].secs : 0));
    }
    table_close(f, n, "No partition ran in a worker.");
    fputs("</section>\n", f);
    free(order);
    return 0;
}

static void
percent_cell(FILE *f, uint64_t part, uint64_t whole)
{
    if (whole == 0) {
        fputs("<td class=\"num\">&#8211;</td>", f);
    } else {
        fprintf(f, "<td class=\"num\">%.1f%%</td>", 100.0 * (double)part / (double)whole);
    }
}

static void
write_steps(FILE *f, const struct summary *s)
{
    size_t i;
    char a[32], b[32], c[32], d[32];

    table_open(f, "steps", "Steps",
               "<th>step</th><th class=\"num\">records in</th><th class=\"num\">records "
               "out</th><th class=\"num\">kept</th><th class=\"num\">bytes in</th><th "
               "class=\"num\">bytes out</th><th class=\"num\">bytes kept</th>");
    for (i = 0; i < s->n_steps; i++) {
        const struct summary_step *st = &s->steps[i];

        fputs("<tr><td class=\"text\">", f);
        esc(f, st->label);
        fprintf(f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>",
                fmt_count(a, st->records_in), fmt_count(b, st->records_out));
        percent_cell(f, st->records_out, st->records_in);
        fprintf(f, "<td class=\"num\">%s</td><td class=\"num\">%s</td>",
                fmt_bytes(c, (double)st->bytes_in), fmt_bytes(d, (double)st->bytes_out));
        percent_cell(f, st->bytes_out, st->bytes_in);
        fputs("</tr>\n", f);
    }
    table_close(f, s->n_steps, "The summary lists no steps.");
    fputs("</section>\n", f);
}

static void
write_workers(FILE *f, const struct summary *s)
{
    size_t i;
    char a[32], b[32], c[32], d[32];

    table_open(f, "workers", "Workers",
               "<th class=\"num\">worker</th><th class=\"num\">processes</th><th "
               "class=\"num\">partitions</th><th class=\"num\">busy</th><th class=\"num\">busy "
               "share</th><th class=\"num\">CPU user</th><th class=\"num\">CPU system</th><th "
               "class=\"num\">peak RSS</th>");
    for (i = 0; i < s->n_workers_listed; i++) {
        const struct summary_worker *w = &s->workers[i];

        fprintf(f,
                "<tr><td class=\"num\">%lld</td><td class=\"num\">%lld</td><td "
                "class=\"num\">%lld</td><td class=\"num\">%s</td>",
                (long long)w->id, (long long)w->processes, (long long)w->partitions,
                fmt_secs(a, w->busy_s));
        if (known(w->busy_s) && known(s->wall_s) && s->wall_s > 0) {
            fprintf(f, "<td class=\"num\">%.0f%%</td>", 100 * w->busy_s / s->wall_s);
        } else {
            fputs("<td class=\"num\">&#8211;</td>", f);
        }
        fprintf(f,
                "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                "</tr>\n",
                fmt_secs(b, w->cpu_user_s), fmt_secs(c, w->cpu_system_s),
                fmt_bytes(d, (double)w->max_rss_kib * 1024));
    }
    table_close(f, s->n_workers_listed, "The summary lists no workers.");
    fputs("</section>\n", f);
}

static void
write_retries(FILE *f, const struct summary *s)
{
    size_t i;
    char a[32];

    table_open(f, "retries", "Retries",
               "<th class=\"num\">partition</th><th class=\"num\">attempt</th><th "
               "class=\"num\">worker</th><th class=\"num\">at</th><th>reason</th>");
    for (i = 0; i < s->n_retries; i++) {
        const struct summary_retry *r = &s->retries[i];

        fprintf(f,
                "<tr><td class=\"num\">%lld</td><td class=\"num\">%lld</td><td "
                "class=\"num\">%lld</td><td class=\"num\">%s</td><td class=\"text\">",
                (long long)r->partition, (long long)r->attempt, (long long)r->worker,
                fmt_secs(a, r->at_s));
        esc(f, r->reason);
        fputs("</td></tr>\n", f);
    }
    table_close(f, s->n_retries, "No partition was retried.");
    fputs("</section>\n", f);
}

static void
write_rejects(FILE *f, const struct summary *s, const struct report_rejects *rj)
{
    static const char *const numeric[6] = {"text", "num", "num", "num", "num", "text"};
    size_t i;
    int j;

    table_open(f, "skipped", "Skipped records",
               "<th>input</th><th class=\"num\">offset</th><th class=\"num\">length</th><th "
               "class=\"num\">partition</th><th class=\"num\">step</th><th>reason</th>");
    for (i = 0; i < rj->n; i++) {
        fputs("<tr>", f);
        for (j = 0; j < 6; j++) {
            fprintf(f, "<td class=\"%s\">", numeric[j]);
            esc(f, rj->rows[i].field[j]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    if (rj->present) {
        table_close(f, rj->n, "No record was skipped.");
    } else {
        table_close(f, rj->n,
                    s->totals.skipped > 0 || s->rejects.count > 0
                        ? "The rejects file (rejects.tsv) is not in the log directory."
                        : "No record was skipped.");
    }
    if (rj->more > 0) {
        fprintf(f, "<p class=\"note\">and %llu more in rejects.tsv (the first %d are shown).</p>\n",
                (unsigned long long)rj->more, REPORT_REJECTS_SHOWN);
    }
    fputs("</section>\n", f);
}

static void
write_inputs(FILE *f, const struct summary *s)
{
    size_t i;
    char a[32];

    table_open(f, "inputs", "Inputs",
               "<th class=\"num\">#</th><th>path</th><th>kind</th><th class=\"num\">size</th>");
    for (i = 0; i < s->n_inputs; i++) {
        fprintf(f, "<tr><td class=\"num\">%zu</td><td class=\"text\">", i);
        esc(f, s->inputs[i].path);
        fputs("</td><td>", f);
        esc(f, s->inputs[i].kind);
        fprintf(f, "</td><td class=\"num\">%s</td></tr>\n",
                fmt_bytes(a, (double)s->inputs[i].size));
    }
    table_close(f, s->n_inputs, "The summary lists no inputs.");
    fputs("</section>\n", f);
}

int
report_write_html(FILE *f, const struct summary *s, const struct report_rejects *rejects,
                  const char *source, struct error *err)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fputs("tranche report: ", f);
    esc(f, s->job);
    fprintf(f, "</title>\n%s</head>\n<body>\n", style);
    write_header(f, s);
    if (write_timeline(f, s, err) != 0 || write_throughput(f, s, err) != 0 ||
        write_slowest(f, s, err) != 0) {
        return ERR_FAILED;
    }
    write_steps(f, s);
    write_workers(f, s);
    write_retries(f, s);
    write_rejects(f, s, rejects);
    write_inputs(f, s);
    fputs("<footer>Made by tranche report from ", f);
    esc(f, source);
    fputs(" (written by tranche ", f);
    esc(f, s->tranche);
    fputs(").</footer>\n</body></html>\n", f);
    if (ferror(f)) {
        return error_set(err, "out of memory writing the report");
    }
    return 0;
}
