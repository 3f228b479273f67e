/*
 * tests/e2e/test_csv_plugins.c: the cut and count plugins over `format: csv` inputs through the
 * real CLI, compared byte for byte with python3's csv module (csv.reader to read, csv.writer
 * with minimal quoting to write) for 1, 2 and 5 workers and partition sizes from 1 byte up:
 * quoted fields holding the separator, doubled quotes, LF and CRLF, empty fields, CRLF row
 * ends, column names, the header row of the output; and the option errors of column names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/*
 * Writes a CSV file: python3 gen.py PATH SEP ROWS SEED. The header is id,name,country,amount,
 * "note, free",name (a duplicate name: the first wins); values hold the separator, quotes, LF,
 * CRLF, a CR alone, empty fields, a quoted empty field, and text after a closing quote (Python's
 * strict=False reading); row ends are LF or CRLF at random, and the last row has no line end.
 * No quote stands inside an unquoted field, and no CR outside quotes but before an LF: Python
 * ends a row at either, the core only at an LF outside quotes.
 */
static const char gen_py[] =
    "import random, sys\n"
    "path, sep, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
    "random.seed(seed)\n"
    "q = lambda v: '\"' + v.replace('\"', '\"\"') + '\"'\n"
    "names = ['ann', 'bob', 'c' + sep + 'd', 'say \"hi\"', 'two\\nlines', 'cr\\r\\nlf', "
    "'lone\\rcr', '', "
    "' sp ', 'Z']\n"
    "countries = ['fr', 'de', 'x' + sep + 'y', '', 'q\"q', 'long' * 30]\n"
    "amounts = ['1', '-2', '3.5', '', '-', '+4', '0.000000001', '1000000']\n"
    "def cell(v):\n"
    "    if any(c in v for c in (sep, '\"', '\\n', '\\r')) or random.random() < 0.2:\n"
    "        return q(v)\n"
    "    return v\n"
    "out = ['id' + sep + 'name' + sep + 'country' + sep + 'amount' + sep + q('note' + sep + "
    "' free') + sep + 'name']\n"
    "for i in range(n):\n"
    "    f = [str(i), cell(random.choice(names)), cell(random.choice(countries)),\n"
    "         cell(random.choice(amounts)), random.choice(['', q(''), q('a') + 'b', q('x\"\"y'), "
    "'plain']), 'dup']\n"
    "    f = f[:random.choice([2, 4, 6, 6, 6, 6])]\n"
    "    out.append(sep.join(f))\n"
    "data = ''.join(r + random.choice(['\\n', '\\r\\n']) for r in out[:-1]) + out[-1]\n"
    "open(path, 'w', newline='').write(data)\n";

/*
 * The cut reference: python3 cut.py PATH SEP OUTSEP ITEMS, ITEMS separated by spaces, each a
 * column name (_ for a space), N or ~K: every row (the header too) keeps the fields named, in field
 * order, once, written by csv.writer (a CRLF terminator, so that CR and LF are both quoted, then
 * made an LF).
 */
static const char cut_py[] =
    "import csv, io, sys\n"
    "path, sep, osep = sys.argv[1], sys.argv[2], sys.argv[3]\n"
    "items = [x.replace('_', ' ') for x in sys.argv[4].split(' ')]\n"
    "rows = list(csv.reader(open(path, newline=''), delimiter=sep))\n"
    "hdr = rows[0]\n"
    "def wanted(n):\n"
    "    s = set()\n"
    "    for it in items:\n"
    "        if it.startswith('~'):\n"
    "            k = n + 1 - int(it[1:])\n"
    "            if k >= 1: s.add(k)\n"
    "        elif it.isdigit(): s.add(int(it))\n"
    "        else: s.add(hdr.index(it) + 1)\n"
    "    return sorted(k for k in s if k <= n)\n"
    "out = io.StringIO()\n"
    "for r in rows:\n"
    "    b = io.StringIO()\n"
    "    csv.writer(b, delimiter=osep, lineterminator='\\r\\n').writerow([r[k - 1] for k in "
    "wanted(len(r))])\n"
    "    out.write(b.getvalue()[:-2] + '\\n')\n"
    "sys.stdout.write(out.getvalue())\n";

/*
 * The count reference: python3 count.py PATH SEP KEYS SUMS MINS, each a space-separated list of
 * column names (or numbers: then the output header shows the number for a value, and the
 * header's name for a key). Keys are sorted by their CSV text's bytes; a key field is written
 * as in a row of several fields (an empty one as nothing, not as "").
 */
static const char count_py[] =
    "import csv, io, sys\n"
    "from decimal import Decimal, getcontext\n"
    "getcontext().prec = 100\n"
    "path, sep = sys.argv[1], sys.argv[2]\n"
    "ls = lambda a: a.split(' ') if a else []\n"
    "keys, sums, mins = ls(sys.argv[3]), ls(sys.argv[4]), ls(sys.argv[5])\n"
    "rows = list(csv.reader(open(path, newline=''), delimiter=sep))\n"
    "hdr, data = rows[0], rows[1:]\n"
    "col = lambda c: int(c) if c.isdigit() else hdr.index(c) + 1\n"
    "def w(fields):\n"
    "    b = io.StringIO()\n"
    "    csv.writer(b, delimiter=sep, lineterminator='\\r\\n').writerow(fields)\n"
    "    return b.getvalue()[:-2]\n"
    "enc1 = lambda v: w([v, ''])[:-1]\n"
    "get = lambda r, c: r[c - 1] if c <= len(r) else ''\n"
    "num = lambda v: None if v in ('', '-') else Decimal(v)\n"
    "c, s, mn = {}, {}, {}\n"
    "for r in data:\n"
    "    k = sep.join(enc1(get(r, col(x))) for x in keys)\n"
    "    c[k] = c.get(k, 0) + 1\n"
    "    s.setdefault(k, [Decimal(0)] * len(sums))\n"
    "    mn.setdefault(k, [None] * len(mins))\n"
    "    for i, x in enumerate(sums):\n"
    "        v = num(get(r, col(x)))\n"
    "        s[k][i] += v if v is not None else 0\n"
    "    for i, x in enumerate(mins):\n"
    "        v = num(get(r, col(x)))\n"
    "        if v is not None and (mn[k][i] is None or v < mn[k][i]): mn[k][i] = v\n"
    "def fmt(d):\n"
    "    if d is None: return ''\n"
    "    return format(d.normalize(), 'f') if d != 0 else '0'\n"
    "name = lambda x: hdr[col(x) - 1] if col(x) <= len(hdr) else str(col(x))\n"
    "vname = lambda x: x\n"
    "out = [w([name(x) for x in keys] + ['count'] + ['sum_' + vname(x) for x in sums] +\n"
    "         ['min_' + vname(x) for x in mins])]\n"
    "for k in sorted(c, key=lambda k: k.encode()):\n"
    "    vals = [str(c[k])] + [fmt(v) for v in s[k]] + [fmt(v) for v in mn[k]]\n"
    "    out.append((k + sep if keys else '') + sep.join(vals))\n"
    "sys.stdout.write(''.join(x + '\\n' for x in out))\n";

static const char *
write_csv_job(const char *file, const char *input, const char *input_extra, const char *body)
{
    return tu_write_job(file,
                        "input:\n  path: %s\n  format: csv\n  header: true\n%s"
                        "output:\n  path: out\nlog_dir: logs\n%s",
                        input, input_extra, body);
}

/* Runs job at every partition size and worker count; its output must be `ref`'s bytes. */
static void
check_job(const char *name, const char *job, const char *ref)
{
    static const char *const sizes[] = {"1", "100", "4KiB", "1MiB"};
    static const int workers[] = {1, 2, 5};

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            if (!tu_thin()) {
                continue;
            }
            tu_sh(0, "rm -f out && %s run %s --workers %d --partition-size %s", TRANCHE_BIN, job,
                  workers[w], sizes[s]);
            if (!tu_files_equal(tu_join(tu_dir, "out"), tu_join(tu_dir, ref))) {
                fail_msg("%s: %d workers, partition size %s differs from python3's csv", name,
                         workers[w], sizes[s]);
            }
        }
    }
}

static int
setup(void **state)
{
    tu_group_setup(state);
    tu_write_file(tu_join(tu_dir, "gen.py"), gen_py, strlen(gen_py));
    tu_write_file(tu_join(tu_dir, "cut.py"), cut_py, strlen(cut_py));
    tu_write_file(tu_join(tu_dir, "count.py"), count_py, strlen(count_py));
    tu_sh(0, "python3 gen.py in.csv , 800 1 && python3 gen.py semi.csv ';' 600 2 && "
             "grep -q '\"\"' in.csv && grep -q \"$(printf '\\r')\" in.csv");
    return 0;
}

/* ---- cut --------------------------------------------------------------------------------- */

static void
test_csv_plugins__cut_matches_python(void **state)
{
    static const struct {
        const char *name;
        const char *input, *input_extra;
        const char *options;
        const char *sep, *out_sep, *items;
    } cases[] = {
        {"names", "in.csv", "", "fields: [country, id]", ",", ",", "country id"},
        {"numbers and ~K", "in.csv", "", "fields: [\"2\", \"~1\"]", ",", ",", "2 ~1"},
        {"a range and a name", "in.csv", "", "fields: [\"4-\", name]", ",", ",", "4 5 6 name"},
        {"one column, often empty", "in.csv", "", "fields: [\"amount\"]", ",", ",", "amount"},
        {"the quoted name, the separator ';'", "semi.csv", "  delimiter: \";\"\n",
         "fields: [\"note; free\", name, amount]", ";", ";", "note;_free name amount"},
        {"output_delimiter", "in.csv", "", "fields: [name, country], output_delimiter: \";\"", ",",
         ";", "name country"},
        {"delimiter given as the separator", "in.csv", "", "fields: [\"1-3\"], delimiter: \",\"",
         ",", ",", "1 2 3"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        const char *job;

        snprintf(body, sizeof(body), "steps:\n  - plugin: cut\n    options: {%s}\n",
                 cases[i].options);
        job = write_csv_job("cut.yaml", cases[i].input, cases[i].input_extra, body);
        tu_sh(0, "python3 cut.py %s '%s' '%s' '%s' > ref", cases[i].input, cases[i].sep,
              cases[i].out_sep, cases[i].items);
        check_job(cases[i].name, job, "ref");
    }
}

/* The first column of a name wins when the header has two; the header row is cut like a row. */
static void
test_csv_plugins__cut_duplicate_name_and_header(void **state)
{
    (void)state;
    tu_sh(0, "printf 'a,b,a\\n1,2,3\\r\\n\"x,\"\"y\",,z' > dup.csv");
    write_csv_job("dup.yaml", "dup.csv", "",
                  "steps:\n  - plugin: cut\n    options: {fields: [a, b]}\n");
    tu_sh(0, "%s run dup.yaml && printf 'a,b\\n1,2\\n\"x,\"\"y\",\\n' | cmp - out", TRANCHE_BIN);
    /* a row of one empty field is "", as csv.writer writes it; a row of none is empty */
    write_csv_job("dup.yaml", "dup.csv", "",
                  "steps:\n  - plugin: cut\n    options: {fields: [\"2\"]}\n");
    tu_sh(0, "%s run dup.yaml && printf 'b\\n2\\n\"\"\\n' | cmp - out", TRANCHE_BIN);
    /* a blank row has no fields (csv.reader gives []): it stays a blank row */
    tu_sh(0, "printf 'a,b\\n\\n1,2\\n\\n' > blank.csv");
    write_csv_job("blank.yaml", "blank.csv", "",
                  "steps:\n  - plugin: cut\n    options: {fields: [b]}\n");
    tu_sh(0, "%s run blank.yaml && printf 'b\\n\\n2\\n\\n' | cmp - out", TRANCHE_BIN);
}

static void
expect_refused(const char *job_text, const char *needle)
{
    char *err = NULL;

    tu_write_job("bad.yaml", "%s", job_text);
    assert_int_equal(tu_tranche(&err, "validate bad.yaml"), 2);
    tu_assert_contains(err, needle);
    free(err);
    err = NULL;
    assert_int_equal(tu_tranche(&err, "run bad.yaml"), 2);
    tu_assert_contains(err, needle);
    free(err);
    tu_sh(0, "[ ! -e bad.out ]");
}

static void
test_csv_plugins__column_name_errors(void **state)
{
    (void)state;
    /* an unknown name, at its item, with the header's columns */
    expect_refused("input:\n  path: in.csv\n  format: csv\n  header: true\noutput:\n"
                   "  path: bad.out\nlog_dir: logs\nsteps:\n  - plugin: cut\n"
                   "    options: {fields: [id, nope]}\n",
                   "option 'fields', item 2: bad fields item 'nope': no such column in the "
                   "header (its columns: id, name, country, amount, note, free, name)");
    expect_refused("input:\n  path: in.csv\n  format: csv\n  header: true\noutput:\n"
                   "  path: bad.out\nlog_dir: logs\naggregate:\n  plugin: count\n"
                   "  options: {key: [country], sum: [amout]}\n",
                   "option 'sum', item 1: no column 'amout' in the header (its columns: id, ");
    /* a name without a header: csv without header: true, and lines */
    expect_refused("input:\n  path: in.csv\n  format: csv\noutput:\n"
                   "  path: bad.out\nlog_dir: logs\nsteps:\n  - plugin: cut\n"
                   "    options: {fields: [\"1\", id]}\n",
                   "bad fields item 'id': a column name needs the input's `format: csv` and "
                   "`header: true`");
    expect_refused("input:\n  path: in.csv\noutput:\n  path: bad.out\nlog_dir: logs\n"
                   "aggregate:\n  plugin: count\n  options: {key: [country]}\n",
                   "or a column name where the input has `format: csv` and `header: true`, got "
                   "'country'");
    /* cut's delimiter, when given, must be the input's separator */
    expect_refused("input:\n  path: in.csv\n  format: csv\n  header: true\noutput:\n"
                   "  path: bad.out\nlog_dir: logs\nsteps:\n  - plugin: cut\n"
                   "    options: {fields: [id], delimiter: \";\"}\n",
                   "option 'delimiter': with format: csv, fields are split on the input's "
                   "separator ','");
}

/* ---- count ------------------------------------------------------------------------------- */

static void
test_csv_plugins__count_matches_python(void **state)
{
    static const struct {
        const char *name;
        const char *input, *input_extra;
        const char *options;
        const char *sep, *keys, *sums, *mins;
    } cases[] = {
        {"key and sum by name", "in.csv", "", "key: [country], sum: [amount]", ",", "country",
         "amount", ""},
        {"two key columns, a min by number", "in.csv", "",
         "key: [name, \"3\"], sum: [amount], min: [\"4\"]", ",", "name 3", "amount", "4"},
        {"no key", "in.csv", "", "sum: [amount, amount], min: [amount]", ",", "", "amount amount",
         "amount"},
        {"the separator ';', the key's name quoted", "semi.csv", "  delimiter: \";\"\n",
         "key: [\"note; free\"], sum: [\"4\"]", ";", "5", "4", ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        const char *job;

        snprintf(body, sizeof(body), "aggregate:\n  plugin: count\n  options: {%s}\n",
                 cases[i].options);
        job = write_csv_job("count.yaml", cases[i].input, cases[i].input_extra, body);
        tu_sh(0, "python3 count.py %s '%s' '%s' '%s' '%s' > ref", cases[i].input, cases[i].sep,
              cases[i].keys, cases[i].sums, cases[i].mins);
        check_job(cases[i].name, job, "ref");
    }
}

/* A step before count that changes the columns: count finds its columns by name in the header as
 * cut left it (host->header per step), in the workers and in the combine phase alike. */
static void
test_csv_plugins__count_after_cut_by_name(void **state)
{
    const char *job;

    (void)state;
    job =
        write_csv_job("cutcount.yaml", "in.csv", "",
                      "steps:\n  - plugin: cut\n    options: {fields: [amount, country]}\n"
                      "aggregate:\n  plugin: count\n  options: {key: [country], sum: [amount]}\n");
    tu_sh(0, "python3 count.py in.csv , country amount '' > ref");
    check_job("cut, then count by name", job, "ref");
}

/* The header row of count's output, spelled out. */
static void
test_csv_plugins__count_header_row(void **state)
{
    (void)state;
    tu_sh(0, "printf 'who,\"what, exactly\",n\\nann,\"a,b\",1\\nbob,x,2.5\\r\\nann,\"a,b\",-\\n' "
             "> small.csv");
    write_csv_job("small.yaml", "small.csv", "",
                  "aggregate:\n  plugin: count\n"
                  "  options: {key: [\"what, exactly\"], sum: [n, \"3\"], max: [n]}\n");
    tu_sh(0, "%s run small.yaml --workers 2 --partition-size 1 && printf '%s' | cmp - out",
          TRANCHE_BIN,
          "\"what, exactly\",count,sum_n,sum_3,max_n\\n\"a,b\",2,1,1,1\\nx,1,2.5,2.5,2.5\\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_plugins__cut_matches_python),
        cmocka_unit_test(test_csv_plugins__cut_duplicate_name_and_header),
        cmocka_unit_test(test_csv_plugins__column_name_errors),
        cmocka_unit_test(test_csv_plugins__count_matches_python),
        cmocka_unit_test(test_csv_plugins__count_header_row),
        cmocka_unit_test(test_csv_plugins__count_after_cut_by_name),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
