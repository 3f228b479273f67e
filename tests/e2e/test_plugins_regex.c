/*
 * tests/e2e/test_plugins_regex.c: the regex engine of the bundled grep and replace plugins
 * (plugins/common/rx.c), through the real CLI, with each engine: the plugins as built (PCRE2 where
 * found) and their glibc-regex builds (tests/plugins/NAME_posix.so). Answers are compared with
 * LC_ALL=C grep -E (match or not, -o, -i, invalid patterns) and sed -E (s///g) over a corpus of
 * patterns and lines, and over edge inputs at several partition sizes and worker counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* The two builds of each plugin: the bundled one, and the glibc-regex fallback. */
static const char *const engines[] = {"bundled", "posix"};

static const char *
plugin_path(const char *name, const char *engine)
{
    static char path[2][1024];
    static int turn;

    turn ^= 1;
    if (strcmp(engine, "posix") == 0) {
        snprintf(path[turn], sizeof(path[turn]), "%s/%s_posix.so", TEST_PLUGIN_DIR, name);
    } else {
        snprintf(path[turn], sizeof(path[turn]), "%s/%s.so", BUNDLED_PLUGIN_DIR, name);
    }
    return path[turn];
}

/* s as a YAML double-quoted scalar (static buffer, valid until the next call). Bytes from 0x80
 * are written as they are: YAML's \x escapes are code points, and its input must be UTF-8. */
static const char *
yq(const char *s)
{
    static char out[4096];
    size_t n = 0;

    out[n++] = '"';
    for (; *s != '\0' && n + 8 < sizeof(out); s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Lines every pattern of the corpus is tried on (LC_ALL=C: bytes). */
static const char *const lines[] = {
    "",
    "a",
    "b",
    "ab",
    "aab",
    "abab",
    "abcd",
    "baaac",
    "a*b",
    "*b",
    "a+b",
    "a?",
    "{1}a",
    "a{1",
    "a{1,2",
    "a{,2}",
    "aa",
    "aaaaaa",
    "x",
    "(a)",
    "a)",
    "a|b",
    "$a",
    "a^b",
    "a$",
    "^a",
    "\\d and d",
    "back\\slash",
    "]bracket[",
    "[x]",
    "-dash-",
    "tab\there",
    "foo bar",
    "foo  bar baz",
    "hello world",
    "Hello World",
    "HELLO",
    "GET /index.html HTTP/1.1",
    "POST /api/v1/items?id=42 HTTP/1.0",
    "10.0.0.1 - - [01/Jan/2024:00:00:01 +0000] \"GET / HTTP/1.1\" 404 512",
    "user_42@example.com",
    "Word_1 w2 _x",
    "under_score",
    "x.y.z",
    "xyz",
    "a.b",
    "1234567890",
    "12ab34",
    "caf\xc3\xa9 \xe9t\xe9",
    "\x01\x7f control",
    "   leading",
    "trailing   ",
    "comma,separated,,values",
    "aaa bbb aaa",
    "abcabcabc",
    "the cat sat on the mat",
    "mississippi",
    "x\\y",
    "a.b.c.d",
    "%s %d {}",
};

/* Patterns, in grep -E's dialect, including its oddities and invalid ones (grep exits 2). */
static const char *const patterns[] = {
    /* plain and alternation */
    "a",
    "ab",
    "a|b",
    "a|ab",
    "ab|a",
    "foo|bar|baz",
    "a||b",
    "|a",
    "a|",
    "()",
    "(|a)",
    "(a|)+b",
    /* quantifiers, and grep's treatment of odd ones */
    "a*",
    "a+",
    "a?",
    "a*b",
    "a+b",
    "ba*c",
    "a**",
    "a+*",
    "a+?",
    "a*?",
    "a?+",
    "*b",
    "+a",
    "?a",
    "(*a)",
    "a|*b",
    "^*",
    "x^*",
    "$*",
    "a$*",
    "(?:a)",
    "a{2}",
    "a{2,}",
    "a{,2}",
    "a{1,3}b",
    "a{0}",
    "(a){0}b",
    "a{,}",
    "a{1}{2}",
    "a{1}*",
    "a{1}?",
    "a{01}",
    "{1}a",
    "a{1",
    "a{1,2",
    "a{x}",
    "a{",
    "a{2,1}",
    "a{}",
    "a{32768}",
    /* anchors */
    "^a",
    "a$",
    "^a$",
    "^$",
    "^",
    "$",
    "a^b",
    "a$b",
    "(^a)",
    "(a$)",
    "^(a|b)",
    "(a|^b)c",
    "^.*$",
    /* dot and brackets */
    ".",
    "a.b",
    "^.$",
    "[abc]",
    "[^abc]",
    "[a-c]+",
    "[]]",
    "[^]]",
    "[]a]",
    "[]-a]",
    "[a-]",
    "[-a]",
    "[a\\]",
    "[\\d]",
    "[[]",
    "[[:alpha:]]+",
    "[[:digit:]]{3}",
    "[[:upper:]]",
    "[[:lower:]]",
    "[[:space:]]",
    "[[:punct:]]",
    "[[:alnum:]_]+",
    "[[:xdigit:]]+",
    "[[:cntrl:]]",
    "[[:print:]]",
    "[[:graph:]]",
    "[[:blank:]]",
    "[^[:alpha:]]",
    "[[:space:][:alpha:]]",
    "[[=a=]]",
    "[[.a.]]",
    "[[.-.]a]",
    "[[.].]]",
    "[[=]=]]",
    "[a-a]",
    "[^ -~]",
    "[[:foo:]]",
    "[z-a]",
    "[[.hyphen.]]",
    "[a",
    "[[:alpha:]",
    "[[:alpha:]-z]",
    "[a-[:alpha:]]",
    /* backslashes */
    "\\.",
    "\\*",
    "\\{",
    "\\}",
    "\\(",
    "\\)",
    "\\|",
    "\\\\",
    "\\[",
    "\\d",
    "\\n",
    "\\t",
    "\\y",
    "\\ ",
    "\\w",
    "\\w+",
    "\\W",
    "\\W+",
    "\\s",
    "\\S+",
    "\\b",
    "\\bw",
    "a\\b",
    "\\B",
    "\\Ba",
    "\\<a",
    "\\<[a-z]+\\>",
    "b\\>",
    "\\`a",
    "b\\'",
    "\\<*a",
    "\\b+a",
    "a\\>*",
    "\\",
    "a\\",
    /* groups and back-references */
    "(a)",
    "a)",
    "(a",
    "((a)b)",
    "(a)(b)",
    "(a*)+",
    "(a|b)*c",
    "(a)\\1",
    "(a*)\\1",
    "([a-z])\\1",
    "(.)(.)\\2\\1",
    "(a|b)*\\1",
    "a*(ab)?b",
    "(a|ab)(c|bcd)(d*)",
    "(a*)(ab)*b",
    "(a\\1)",
    "\\1(a)",
    "(a)\\2",
    "(ab|a)(bc|c)",
    "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10",
    /* realistic ones */
    "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+",
    "\" [45][0-9][0-9] ",
    "^(GET|POST) /[^ ]*",
    "[[:alnum:]_.]+@[[:alnum:].]+",
    "(is|ss)+",
    "(the|a) [a-z]at",
    "[^,]*,[^,]*,,",
    "HTTP/1\\.[01]$",
    "\\[[0-9]{2}/[A-Z][a-z]{2}/",
    "%[sd]",
    "^[[:space:]]+",
    "[[:space:]]+$",
    "\xc3\xa9",
    "caf.",
    "[\xc3\xa9]+",
    "[\xc2\xa0-\xc3\xbf]+",
    "\x7f",
    /* several patterns in one, as grep's newline-separated list */
    "foo\nbar",
    "^a\nb$",
    "(a)\\1\n(b)\\1",
    "\n",
};

struct corpus_case {
    const char *option; /* YAML options beside the pattern */
    const char *grep;   /* grep's flags */
};

static const struct corpus_case corpus_cases[] = {
    {"", "-E"},
    {", only_matching: true", "-E -o"},
    {", ignore_case: true", "-E -i"},
    {", invert: true", "-E -v"},
};

/*
 * Where GNU grep disagrees with itself there is nothing to compare with. With -o it reads a
 * quantifier after an anchor, or with nothing before it, otherwise than when selecting lines
 * (`x^*` selects the lines holding x, yet -o prints nothing; `{1}a` selects the lines holding
 * a, and -o prints "1}a"): the plugin keeps to the line-selecting reading in both. With -i it
 * refuses the range []-a] that it accepts without.
 */
static int
grep_is_inconsistent(const char *pattern, const struct corpus_case *c)
{
    static const char *const with_o[] = {"x^*", "a$*", "{1}a", "\\<*a", "a\\>*"};

    if (strcmp(c->grep, "-E -i") == 0) {
        return strcmp(pattern, "[]-a]") == 0;
    }
    for (size_t i = 0; strcmp(c->grep, "-E -o") == 0 && i < sizeof(with_o) / sizeof(*with_o); i++) {
        if (strcmp(pattern, with_o[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
corpus_setup(void **state)
{
    FILE *f;

    (void)state;
    tu_group_setup(state);
    f = fopen(tu_join(tu_dir, "lines.txt"), "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        fprintf(f, "%s\n", lines[i]);
    }
    assert_int_equal(fclose(f), 0);
    return 0;
}

/* What grep_agrees() runs on. */
static const char *grep_input = "lines.txt";

/* Runs one pattern through one build of grep; 1 if it agrees with LC_ALL=C grep, else 0 (and
 * says how on stderr). */
static int
grep_agrees(const char *engine, const char *pattern, const struct corpus_case *c)
{
    char *err = NULL;
    int want, got, same = 1;

    /* (one line per pattern: an empty file would be no pattern at all, not an empty one) */
    tu_write_file(tu_join(tu_dir, "pattern.txt"), pattern, strlen(pattern));
    tu_sh(0, "echo >> pattern.txt");
    want = tu_run_here(NULL, "LC_ALL=C grep -a %s -f pattern.txt %s > ref.txt 2>/dev/null", c->grep,
                       grep_input);
    tu_write_job("g.yaml",
                 "input: {path: %s}\noutput: {path: out.txt}\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options: {pattern: %s%s}\n",
                 grep_input, plugin_path("grep", engine), yq(pattern), c->option);
    got = tu_tranche(&err, "run g.yaml -q");
    if (want == 2) {
        /* grep refuses the pattern: so must the plugin, before any input is read */
        same = got == 2 && err != NULL && strstr(err, "invalid pattern") != NULL;
    } else {
        same = got == 0 && tu_files_equal(tu_join(tu_dir, "out.txt"), tu_join(tu_dir, "ref.txt"));
    }
    if (!same) {
        fprintf(stderr, "%s grep %s: pattern %s: grep exit %d, tranche exit %d%s%s\n", engine,
                c->grep, yq(pattern), want, got, err != NULL ? ": " : "", err != NULL ? err : "");
    }
    free(err);
    return same;
}

static void
check_grep_corpus(const char *engine)
{
    size_t bad = 0;

    for (size_t c = 0; c < sizeof(corpus_cases) / sizeof(corpus_cases[0]); c++) {
        for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
            if (grep_is_inconsistent(patterns[p], &corpus_cases[c]) || !tu_thin()) {
                continue;
            }
            bad += !grep_agrees(engine, patterns[p], &corpus_cases[c]);
        }
    }
    assert_int_equal(bad, 0);
}

static void
test_regex__grep_agrees_with_grep_E(void **state)
{
    (void)state;
    check_grep_corpus("bundled");
}

static void
test_regex__grep_agrees_with_grep_E_with_glibc_regex(void **state)
{
    (void)state;
    check_grep_corpus("posix");
}

/* (pattern, replacement) pairs, in sed -E's syntax where it is grep -E's. */
static const char *const substitutions[][2] = {
    {"a*", "x"},
    {"b*", "<&>"},
    {"x*", "-"},
    {"^", ">"},
    {"$", "<"},
    {"^a*", "X"},
    {"z*$", "E"},
    {"\\b", "!"},
    {"\\<", "["},
    {"\\>", "]"},
    {".", "[&]"},
    {"a", "\\n"},
    {"a", "\\t"},
    {"o", "\\\\&\\&"},
    {"&", "\\&\\&"},
    {"/", "\\/"},
    {"(a)|b", "\\1\\1"},
    {"([a-z]+) ([a-z]+)", "\\2 \\1"},
    {"(.)(.)", "\\2\\1"},
    {"(a|ab)(c|bcd)(d*)", "[\\1,\\2,\\3]"},
    {"a|ab|abc", "{&}"},
    {"(x|xy)(z|yz)?", "<\\1.\\2>"},
    {"(^|,)([^,]*)", "\\1(\\2)"},
    {"[0-9]+", "#"},
    {" +", " "},
    {"^[[:space:]]*", ""},
    {"[[:space:]]*$", ""},
    {"[^ -~]", "?"},
    {"(is|ss)+", "<\\1>"},
    {"([[:alpha:]]+)@", "\\1 at "},
    {"\\w+", "\\0\\0"},
    {"(a*)(b*)", "(\\1|\\2)"},
    {"(ab)*c", "[&]"},
    {"(t)(h)(e)( )(c)(a)(t)( )(s)", "\\9\\8\\7\\6\\5\\4\\3\\2\\1"},
};

struct sed_case {
    const char *option; /* YAML options beside pattern and replacement */
    const char *flags;  /* sed's s/// flags */
};

static const struct sed_case sed_cases[] = {
    {"", "g"},
    {", global: false", ""},
    {", ignore_case: true", "gI"},
};

/* Runs one substitution through one build of replace; 1 if it agrees with LC_ALL=C sed -E. */
static int
replace_agrees(const char *engine, const char *input, const char *pattern, const char *replacement,
               const struct sed_case *c, const char *more)
{
    char *err = NULL;
    char script[2048];
    int got, same;

    /* \001 delimits the s command, so no pattern or replacement needs escaping for sed */
    snprintf(script, sizeof(script), "s\001%s\001%s\001%s\n", pattern, replacement, c->flags);
    tu_write_file(tu_join(tu_dir, "script.sed"), script, strlen(script));
    tu_sh(0, "LC_ALL=C sed -E -f script.sed '%s' > ref.txt", input);
    tu_write_job("r.yaml",
                 "input: {path: '%s'}\noutput: {path: out.txt}\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options: {pattern: %s, ",
                 input, plugin_path("replace", engine), yq(pattern));
    /* (yq's buffer is reused: the replacement goes in a second write) */
    {
        FILE *f = fopen(tu_join(tu_dir, "r.yaml"), "a");

        assert_non_null(f);
        fprintf(f, "replacement: %s%s}\n", yq(replacement), c->option);
        assert_int_equal(fclose(f), 0);
    }
    got = tu_tranche(&err, "run r.yaml -q %s", more);
    same = got == 0 && tu_files_equal(tu_join(tu_dir, "out.txt"), tu_join(tu_dir, "ref.txt"));
    if (!same) {
        fprintf(stderr, "%s replace %s -> %s (sed flags '%s'): tranche exit %d%s%s\n", engine,
                yq(pattern), replacement, c->flags, got, err != NULL ? ": " : "",
                err != NULL ? err : "");
    }
    free(err);
    return same;
}

static void
check_sed_corpus(const char *engine)
{
    size_t bad = 0;

    for (size_t c = 0; c < sizeof(sed_cases) / sizeof(sed_cases[0]); c++) {
        for (size_t s = 0; s < sizeof(substitutions) / sizeof(substitutions[0]); s++) {
            if (!tu_thin()) {
                continue;
            }
            bad += !replace_agrees(engine, "lines.txt", substitutions[s][0], substitutions[s][1],
                                   &sed_cases[c], "");
        }
    }
    assert_int_equal(bad, 0);
}

static void
test_regex__replace_agrees_with_sed_E(void **state)
{
    (void)state;
    check_sed_corpus("bundled");
}

static void
test_regex__replace_agrees_with_sed_E_with_glibc_regex(void **state)
{
    (void)state;
    check_sed_corpus("posix");
}

/*
 * Random patterns of groups that may match empty, alternatives of different lengths and repeats
 * of both: where a backtracking matcher's first way and POSIX's longest differ, in the match and
 * in its groups. Every group is in the replacement, so any group that differs shows.
 */
static void
test_regex__replace_random_patterns_agree_with_sed(void **state)
{
    static const char *const atoms[] = {"a",    "b",    ".",    "[ab]", "(a|ab)",
                                        "(a*)", "(b|)", "(ab)", "x",    "(x|xa)"};
    static const char *const repeats[] = {"", "", "?", "*", "+", "{1,2}"};
    static const struct sed_case global = {"", "g"};
    uint64_t seed = 9;
    size_t bad = 0;

    (void)state;
    for (int n = 0; n < 60; n++) {
        char pattern[256] = "", replacement[64] = "<";
        int groups = 0;

        for (uint64_t k = 1 + tu_rand(&seed) % 4; k > 0; k--) {
            const char *atom = atoms[tu_rand(&seed) % (sizeof(atoms) / sizeof(atoms[0]))];

            groups += atom[0] == '(';
            strcat(pattern, atom);
            strcat(pattern, repeats[tu_rand(&seed) % (sizeof(repeats) / sizeof(repeats[0]))]);
        }
        for (int g = 1; g <= groups; g++) {
            char ref[3] = {'\\', (char)('0' + g), '\0'};

            strcat(replacement, ref);
        }
        strcat(replacement, "|&>");
        for (size_t e = 0; e < 2; e++) {
            if (tu_thin()) {
                bad += !replace_agrees(engines[e], "lines.txt", pattern, replacement, &global, "");
            }
        }
    }
    assert_int_equal(bad, 0);
}

/* Over edge inputs (NUL bytes, CRLF, long records, empty ones) at partition sizes down to 1 byte
 * and 1 to 3 workers, replace and grep -o give the reference tools' bytes. */
static void
test_regex__edge_inputs_any_partitioning(void **state)
{
    static const struct sed_case global = {"", "g"};
    static const char *const runs[] = {"--workers 1", "--workers 3 --partition-size 4KiB",
                                       "--workers 2 --partition-size 1"};

    (void)state;
    tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 200000, 1, 0);
    for (size_t e = 0; e < 2; e++) {
        for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
            /* (1-byte partitions of the small input only: one per byte costs time) */
            const char *input = r == 2 ? "lines.txt" : "edge.txt";
            const char *extra = runs[r];

            assert_true(
                replace_agrees(engines[e], input, "([a-z]+)([0-9]*)", "\\2<\\1>", &global, extra));
            assert_true(replace_agrees(engines[e], input, "x*", "-", &global, extra));
            tu_write_job("o.yaml",
                         "input: {path: %s}\noutput: {path: out.txt}\nlog_dir: logs\nsteps:\n"
                         "  - plugin: %s\n    options: {pattern: '[[:alpha:]]+[0-9]*|,,', "
                         "only_matching: true}\n",
                         input, plugin_path("grep", engines[e]));
            tu_sh(0, "LC_ALL=C grep -a -o -E '[[:alpha:]]+[0-9]*|,,' %s > ref.txt", input);
            assert_int_equal(tu_tranche(NULL, "run o.yaml -q %s", runs[r]), 0);
            assert_true(tu_files_equal(tu_join(tu_dir, "out.txt"), tu_join(tu_dir, "ref.txt")));
        }
    }
}

/*
 * Patterns with exponentially many ways to try on a record of 40 a's: PCRE2's backtracking gives
 * up (its match limit), and the plugin asks its DFA matcher or, with back-references, glibc's
 * regex, so the answers are still grep's.
 */
static void
test_regex__patterns_too_hard_to_backtrack_still_get_an_answer(void **state)
{
    static const char *const hard[] = {"(a|a)*z", "(a|a)*\\1z", "(a|a)*(a)\\2z", "^(a|a)*c"};
    char line[64];
    size_t bad = 0;

    (void)state;
    memset(line, 'a', 40);
    memcpy(line + 40, "cz\naac\nb\n", 10);
    tu_write_file(tu_join(tu_dir, "hard.txt"), line, 50);
    grep_input = "hard.txt";
    for (size_t e = 0; e < 2; e++) {
        for (size_t c = 0; c < 2; c++) {
            for (size_t p = 0; p < sizeof(hard) / sizeof(hard[0]); p++) {
                bad += !grep_agrees(engines[e], hard[p], &corpus_cases[c]);
            }
        }
    }
    grep_input = "lines.txt";
    assert_int_equal(bad, 0);
}

/* fixed (grep -F) through the engine too, where only_matching needs the matches themselves. */
static void
test_regex__grep_fixed_strings_like_grep_F(void **state)
{
    static const struct corpus_case cases[] = {
        {", fixed: true", "-F"},
        {", fixed: true, only_matching: true", "-F -o"},
        {", fixed: true, only_matching: true, ignore_case: true", "-F -o -i"},
        {", fixed: true, invert: true, ignore_case: true", "-F -v -i"},
    };
    static const char *const strings[] = {"a.b", "a|b", "ab\na", "A",          "aa",
                                          "[x]", "\\",  "",      "a\nab\nabc", "is\nissi"};
    size_t bad = 0;

    (void)state;
    for (size_t e = 0; e < 2; e++) {
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            for (size_t s = 0; s < sizeof(strings) / sizeof(strings[0]); s++) {
                char pattern[64];
                size_t n = 0;

                /* (\n in the table: a newline, which makes several strings) */
                for (const char *p = strings[s]; *p != '\0'; p++) {
                    if (p[0] == '\\' && p[1] == 'n') {
                        pattern[n++] = '\n';
                        p++;
                    } else {
                        pattern[n++] = *p;
                    }
                }
                pattern[n] = '\0';
                bad += !grep_agrees(engines[e], pattern, &cases[c]);
            }
        }
    }
    assert_int_equal(bad, 0);
}

/* fixed: both strings are plain, as Python's bytes.replace() has them. */
static void
test_regex__replace_fixed_is_plain_strings(void **state)
{
    static const char *const pairs[][2] = {{"a.b", "\\1&"}, {"(a)", "[\\0]"}, {"aa", "a"},
                                           {"", "-"},       {"\\", "/"},      {"ss", ""}};

    (void)state;
    for (size_t e = 0; e < 2; e++) {
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
            tu_write_file(tu_join(tu_dir, "p.txt"), pairs[i][0], strlen(pairs[i][0]));
            tu_write_file(tu_join(tu_dir, "r.txt"), pairs[i][1], strlen(pairs[i][1]));
            tu_sh(0, "python3 -c 'import sys; p = open(\"p.txt\", \"rb\").read(); r = open("
                     "\"r.txt\", \"rb\").read(); sys.stdout.buffer.write(b\"\".join(l[:-1].replace("
                     "p, r) + b\"\\n\" for l in open(\"lines.txt\", \"rb\")))' > ref.txt");
            tu_write_job("f.yaml",
                         "input: {path: lines.txt}\noutput: {path: out.txt}\n"
                         "log_dir: logs\nsteps:\n  - plugin: %s\n    options: {fixed: "
                         "true, pattern: %s, ",
                         plugin_path("replace", engines[e]), yq(pairs[i][0]));
            tu_sh(0, "printf 'replacement: %%s}\\n' '%s' >> f.yaml", yq(pairs[i][1]));
            assert_int_equal(tu_tranche(NULL, "run f.yaml -q"), 0);
            assert_true(tu_files_equal(tu_join(tu_dir, "out.txt"), tu_join(tu_dir, "ref.txt")));
        }
    }
}

/*
 * Mistakes are found before any input is read, each naming the option: a value the plugin rejects
 * at the value's own line and column (line 6 here), a missing option or a combination of options
 * at the step's line (line 5).
 */
static void
test_regex__mistakes_are_reported(void **state)
{
    static const struct {
        const char *plugin, *options, *where, *message;
    } cases[] = {
        {"replace", "{pattern: '(a)', replacement: '\\2'}",
         "bad.yaml:6:44: step 1 (replace): option 'replacement': ",
         "refers to \\2, but the pattern has 1 group(s)"},
        {"replace", "{pattern: 'a', replacement: 'x\\'}",
         "bad.yaml:6:42: ", "ends with a lone backslash"},
        {"replace", "{pattern: 'a', replacement: '\\U&'}",
         "bad.yaml:6:42: ", "\\U (sed's case conversion)"},
        {"replace", "{pattern: 'a(', replacement: ''}",
         "bad.yaml:6:24: step 1 (replace): option 'pattern': ",
         "invalid pattern 'a(': unmatched ("},
        {"replace", "{pattern: 'a'}", "bad.yaml:5:5: ", "replacement"},
        {"grep", "{pattern: 'a', only_matching: true, invert: true}",
         "bad.yaml:5:5: ", "'only_matching' and 'invert' cannot be combined"},
        {"grep", "{pattern: '[[:foo:]]', only_matching: true}",
         "bad.yaml:6:24: step 1 (grep): option 'pattern': ", "invalid character class"},
        {"grep", "{pattern: 'a{2,1}'}",
         "bad.yaml:6:24: step 1 (grep): option 'pattern': ", "invalid pattern 'a{2,1}'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err = NULL;

        tu_write_job("bad.yaml",
                     "input: {path: lines.txt}\noutput: {path: bad.out}\nlog_dir: logs\n"
                     "steps:\n  - plugin: %s\n    options: %s\n",
                     cases[i].plugin, cases[i].options);
        assert_int_equal(tu_tranche(&err, "validate bad.yaml"), 2);
        tu_assert_contains(err, cases[i].where);
        tu_assert_contains(err, cases[i].message);
        free(err);
    }
    tu_sh(0, "[ ! -e bad.out ]");
}

/*
 * A value grep or replace rejects is reported at the value itself, FILE:LINE:COLUMN, with either
 * engine: here each value sits on a line of its own (from line 7), below the step's (line 5).
 */
static void
test_regex__bad_values_point_at_the_value(void **state)
{
    static const struct {
        const char *plugin, *options, *where, *message;
    } cases[] = {
        {"grep", "      pattern: 'a{2,1}'\n",
         "bad.yaml:7:16: ", "option 'pattern': invalid pattern 'a{2,1}'"},
        /* a pattern of two lines, the second one bad: still the value's position */
        {"grep", "      pattern: |-\n        ok\n        a(\n",
         "bad.yaml:7:16: ", "option 'pattern': invalid pattern 'a(': unmatched ("},
        {"grep", "      only_matching: true\n      pattern:\n        '[[:foo:]]'\n",
         "bad.yaml:9:9: ",
         "option 'pattern': invalid pattern '[[:foo:]]': invalid character class"},
        {"replace", "      pattern: 'a('\n      replacement: x\n",
         "bad.yaml:7:16: ", "option 'pattern': invalid pattern 'a(': unmatched ("},
        {"replace", "      pattern: '(a)'\n      replacement:\n        '\\2'\n", "bad.yaml:9:9: ",
         "option 'replacement': replacement '\\2' refers to \\2, but the pattern has 1 group(s)"},
        {"replace", "      replacement: '\\L&'\n      pattern: a\n", "bad.yaml:7:20: ",
         "option 'replacement': replacement '\\L&': \\L (sed's case conversion) is not supported"},
    };

    (void)state;
    for (size_t e = 0; e < 2; e++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char *err = NULL;

            tu_write_job("bad.yaml",
                         "input: {path: lines.txt}\noutput: {path: bad.out}\nlog_dir: logs\n"
                         "steps:\n  - plugin: %s\n    options:\n%s",
                         plugin_path(cases[i].plugin, engines[e]), cases[i].options);
            assert_int_equal(tu_tranche(&err, "validate bad.yaml"), 2);
            tu_assert_contains(err, cases[i].where);
            tu_assert_contains(err, cases[i].message);
            free(err);
        }
    }
    /* a value given with --set: the message names that --set */
    {
        char *err = NULL;

        tu_write_job("bad.yaml", "input: {path: lines.txt}\noutput: {path: bad.out}\n"
                                 "log_dir: logs\nsteps:\n  - plugin: grep\n"
                                 "    options:\n      pattern: x\n");
        assert_int_equal(tu_tranche(&err, "validate bad.yaml --set 'grep.pattern=a{2,1}'"), 2);
        tu_assert_contains(err, "--set grep.pattern=a{2,1}: step 1 (grep): option 'pattern': "
                                "invalid pattern 'a{2,1}'");
        free(err);
    }
    tu_sh(0, "[ ! -e bad.out ]");
}

/* tranche --version names the engine this build's plugins use. */
static void
test_regex__version_names_the_engine(void **state)
{
    (void)state;
    tu_sh(0,
          "%s --version | grep -Eq '^regex engine of the grep and replace plugins: "
          "(PCRE2 [0-9.]+|glibc regex)'",
          TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex__grep_agrees_with_grep_E),
        cmocka_unit_test(test_regex__grep_agrees_with_grep_E_with_glibc_regex),
        cmocka_unit_test(test_regex__replace_agrees_with_sed_E),
        cmocka_unit_test(test_regex__replace_agrees_with_sed_E_with_glibc_regex),
        cmocka_unit_test(test_regex__replace_random_patterns_agree_with_sed),
        cmocka_unit_test(test_regex__edge_inputs_any_partitioning),
        cmocka_unit_test(test_regex__grep_fixed_strings_like_grep_F),
        cmocka_unit_test(test_regex__patterns_too_hard_to_backtrack_still_get_an_answer),
        cmocka_unit_test(test_regex__replace_fixed_is_plain_strings),
        cmocka_unit_test(test_regex__mistakes_are_reported),
        cmocka_unit_test(test_regex__bad_values_point_at_the_value),
        cmocka_unit_test(test_regex__version_names_the_engine),
    };

    return cmocka_run_group_tests(tests, corpus_setup, tu_group_teardown);
}
