/* core/repro.c: the reproduce command of a failed worker, and --replay's list (see repro.h). */
#include "repro.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "grow.h"

/* The options of `tranche run` as far as the reproduce command needs to know them: whether one
 * takes a value, and whether the replay drops it (it picks workers or the output). An option
 * not listed here is kept as it was written. */
struct shape {
    char letter; /* 0: long only */
    const char *name;
    int has_value;
    int dropped;
};

static const struct shape shapes[] = {
    {'w', "workers", 1, 1},  {'o', "output", 1, 1},
    {0, "in-process", 0, 1}, {'p', "partition", 1, 1},
    {0, "replay", 1, 1},     {0, "fsync", 0, 1},
    {'i', "input", 1, 0},    {'s', "partition-size", 1, 0},
    {'l', "log-dir", 1, 0},  {'q', "quiet", 0, 0},
    {0, "set", 1, 0},        {0, "step", 1, 0},
};

#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* The option --NAME (NAME up to '=' or the end) as getopt_long takes it: an exact name, or a
 * prefix of just one; NULL when unknown. */
static const struct shape *
long_shape(const char *word)
{
    size_t len = strcspn(word, "="), i;
    const struct shape *found = NULL;

    for (i = 0; i < N_SHAPES; i++) {
        if (strncmp(shapes[i].name, word, len) != 0) {
            continue;
        }
        if (shapes[i].name[len] == '\0') {
            return &shapes[i];
        }
        if (found != NULL) {
            return NULL; /* ambiguous: getopt refused it already */
        }
        found = &shapes[i];
    }
    return found;
}

static const struct shape *
short_shape(char letter)
{
    size_t i;

    for (i = 0; i < N_SHAPES; i++) {
        if (shapes[i].letter == letter) {
            return &shapes[i];
        }
    }
    return NULL;
}

/* Writes lead (no quote in it) and word, as one word quoted for a POSIX shell: in single
 * quotes, a quote as '\''. */
static void
put_led_word(FILE *f, const char *lead, const char *word)
{
    fprintf(f, " '%s", lead);
    for (; *word != '\0'; word++) {
        if (*word == '\'') {
            fputs("'\\''", f);
        } else {
            fputc(*word, f);
        }
    }
    fputc('\'', f);
}

static void
put_word(FILE *f, const char *word)
{
    put_led_word(f, "", word);
}

/* A word of short options ("-qw4"): writes those kept (with their values), and returns how many
 * of the next words were the value of the last one. */
static int
put_short(FILE *f, char *const *argv, int i)
{
    const char *w = argv[i] + 1;
    char kept[3] = {'-', 0, 0};

    for (; *w != '\0'; w++) {
        const struct shape *sh = short_shape(*w);
        if (sh == NULL) {
            /* unknown here: the rest of the word stays as written */
            put_led_word(f, "-", w);
            return 0;
        }
        if (sh->has_value) {
            int next = w[1] == '\0';
            if (!sh->dropped) {
                kept[1] = *w;
                put_word(f, kept);
                put_word(f, next ? (argv[i + 1] != NULL ? argv[i + 1] : "") : w + 1);
            }
            return next;
        }
        if (!sh->dropped) {
            kept[1] = *w;
            put_word(f, kept);
        }
    }
    return 0;
}

/* Writes the user's words but the dropped options, and --replay LIST before any "--". */
static void
put_args(FILE *f, const struct repro *rp, const size_t *list, size_t n)
{
    char *const *argv = rp->argv;
    int i;

    for (i = 0; i < rp->argc; i++) {
        const char *w = argv[i];
        const struct shape *sh;

        if (i > 0 && strcmp(w, "--") == 0) {
            break;
        }
        if (i > 0 && strncmp(w, "--", 2) == 0 && (sh = long_shape(w + 2)) != NULL) {
            int value_next = sh->has_value && strchr(w, '=') == NULL;
            if (!sh->dropped) {
                put_word(f, w);
                if (value_next && i + 1 < rp->argc) {
                    put_word(f, argv[i + 1]);
                }
            }
            i += value_next;
        } else if (i > 0 && w[0] == '-' && w[1] != '-' && w[1] != '\0') {
            i += put_short(f, argv, i);
        } else {
            put_word(f, w);
        }
    }
    if (rp->workers > 0) {
        fprintf(f, " '--workers' '%d'", rp->workers);
    }
    if (rp->index_off) {
        fputs(" '--set' 'input.index=off'", f);
    }
    fputs(" '--replay' '", f);
    repro_write_list(f, list, n);
    fputc('\'', f);
    for (; i < rp->argc; i++) {
        put_word(f, argv[i]);
    }
}

void
repro_write_list(FILE *f, const size_t *list, size_t n)
{
    size_t i = 0, j;

    while (i < n) {
        for (j = i; j + 1 < n && list[j + 1] == list[j] + 1; j++) {
        }
        fprintf(f, "%s%zu", i > 0 ? "," : "", list[i]);
        if (j >= i + 2) {
            fprintf(f, "-%zu", list[j]);
        } else {
            j = i;
        }
        i = j + 1;
    }
}

int
repro_set(struct repro *rp, const size_t *list, size_t n)
{
    size_t size = 0;
    FILE *f;
    int bad;

    free(rp->line);
    rp->line = NULL;
    f = open_memstream(&rp->line, &size);
    if (f == NULL) {
        return -1;
    }
    if (rp->from_stdin) {
        fputs("none: the input was standard input, which cannot be read again (save it to a "
              "file, run with --input FILE, and the report of a failure there gives the line)",
              f);
    } else {
        if (rp->cwd != NULL) {
            fputs("cd", f);
            put_word(f, rp->cwd);
            fputs(" &&", f);
        }
        put_word(f, rp->exe != NULL ? rp->exe : "tranche");
        put_args(f, rp, list, n);
    }
    bad = ferror(f) != 0; /* (a short write: out of memory) */
    if (fclose(f) != 0 || bad || rp->line == NULL || size == 0) {
        free(rp->line);
        rp->line = NULL;
        return -1;
    }
    /* (the first character is the space before the first word) */
    memmove(rp->line, rp->line + (rp->line[0] == ' '), strlen(rp->line) + 1 - (rp->line[0] == ' '));
    return 0;
}

int
repro_init(struct repro *rp, int argc, char *const *argv)
{
    char exe[PATH_MAX];
    ssize_t len;
    int i;

    memset(rp, 0, sizeof(*rp));
    rp->argv = calloc((size_t)argc + 1, sizeof(*rp->argv));
    if (rp->argv == NULL) {
        return -1;
    }
    rp->argc = argc;
    for (i = 0; i < argc; i++) {
        rp->argv[i] = argv[i];
    }
    rp->cwd = getcwd(NULL, 0);
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        rp->exe = strdup(exe);
    }
    return 0;
}

void
repro_release(struct repro *rp)
{
    free(rp->argv);
    free(rp->cwd);
    free(rp->exe);
    free(rp->line);
    memset(rp, 0, sizeof(*rp));
}

/* One decimal index at *p, moving *p past it. */
static int
parse_index(const char **p, size_t *out)
{
    char *end;
    unsigned long long v;

    if (**p < '0' || **p > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(*p, &end, 10);
    if (errno != 0 || v > SIZE_MAX / 2) {
        return -1;
    }
    *p = end;
    *out = (size_t)v;
    return 0;
}

int
repro_parse_list(const char *text, size_t **out, size_t *n, struct error *err)
{
    const char *p = text, *item;
    size_t *list = NULL, cap = 0, count = 0, first, last, k;

    do {
        item = p;
        if (parse_index(&p, &first) != 0) {
            goto bad;
        }
        last = first;
        if (*p == '-' && (p++, parse_index(&p, &last) != 0 || last < first)) {
            goto bad;
        }
        if (*p != ',' && *p != '\0') {
            goto bad;
        }
        if (GROW(list, cap, count + (last - first) + 1) != 0) {
            free(list);
            return error_set(err, "--replay: out of memory");
        }
        for (k = first; k <= last; k++) {
            list[count++] = k;
        }
    } while (*p++ == ',');
    *out = list;
    *n = count;
    return 0;
bad:
    free(list);
    return error_set(err,
                     "--replay: expected partition indexes such as 0,3,4 or 2-9, not '%.*s' "
                     "(in '%s')",
                     (int)strcspn(item, ","), item, text);
}
