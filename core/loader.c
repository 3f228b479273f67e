/*
 * core/loader.c: plugin search path, dlopen with ABI checks, and option validation against each
 * plugin's option table. Everything here runs in the parent, before any input is read.
 */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"

/* The descriptor fields a host of any 1.x minor may read: everything up to and including fini. */
#define DESC_MIN_SIZE (offsetof(struct tranche_plugin, fini) + sizeof(void (*)(void *)))

static int
push_dir(char ***dirs, size_t *n, const char *dir)
{
    char **grown;
    size_t i;

    for (i = 0; i < *n; i++) {
        if (strcmp((*dirs)[i], dir) == 0) {
            return 0;
        }
    }
    grown = realloc(*dirs, (*n + 2) * sizeof(**dirs));
    if (grown == NULL) {
        return -1;
    }
    *dirs = grown;
    grown[*n] = strdup(dir);
    if (grown[*n] == NULL) {
        return -1;
    }
    grown[++*n] = NULL;
    return 0;
}

char **
plugin_dirs(void)
{
    char **dirs = calloc(1, sizeof(*dirs));
    size_t n = 0;
    const char *env = getenv("TRANCHE_PLUGIN_PATH");
    char exe[PATH_MAX];
    char buf[PATH_MAX + 64];
    ssize_t len;

    if (dirs == NULL) {
        return NULL;
    }
    if (env != NULL) {
        const char *p = env;
        while (*p != '\0') {
            size_t seg = strcspn(p, ":");
            if (seg > 0 && seg < sizeof(buf)) {
                memcpy(buf, p, seg);
                buf[seg] = '\0';
                push_dir(&dirs, &n, buf);
            }
            p += seg;
            if (*p == ':') {
                p++;
            }
        }
    }
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        char *slash;
        exe[len] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            /* The build tree and a default install both put plugins in ../lib/tranche/plugins;
             * a Debian-style multiarch install uses ../LIBDIR/tranche/plugins. */
            snprintf(buf, sizeof(buf), "%s/../lib/tranche/plugins", exe);
            push_dir(&dirs, &n, buf);
            snprintf(buf, sizeof(buf), "%s/%s", exe, TRANCHE_PLUGIN_RELATIVE_DIR);
            push_dir(&dirs, &n, buf);
        }
    }
    push_dir(&dirs, &n, TRANCHE_PLUGIN_INSTALL_DIR);
    return dirs;
}

void
plugin_dirs_free(char **dirs)
{
    size_t i;

    if (dirs == NULL) {
        return;
    }
    for (i = 0; dirs[i] != NULL; i++) {
        free(dirs[i]);
    }
    free(dirs);
}

int
plugin_find(const char *name, char **path_out, struct error *err)
{
    char **dirs;
    char *path = NULL;
    char searched[ERROR_MSG_MAX / 2] = "";
    size_t i, used = 0;

    if (strchr(name, '/') != NULL) {
        if (access(name, F_OK) != 0) {
            return error_errno(err, "plugin file '%s'", name);
        }
        path = strdup(name);
        if (path == NULL) {
            return error_set(err, "out of memory");
        }
        *path_out = path;
        return 0;
    }
    dirs = plugin_dirs();
    if (dirs == NULL) {
        return error_set(err, "out of memory");
    }
    for (i = 0; dirs[i] != NULL; i++) {
        if (asprintf(&path, "%s/%s.so", dirs[i], name) < 0) {
            plugin_dirs_free(dirs);
            return error_set(err, "out of memory");
        }
        if (access(path, F_OK) == 0) {
            plugin_dirs_free(dirs);
            *path_out = path;
            return 0;
        }
        free(path);
        path = NULL;
        if (used < sizeof(searched)) {
            used += (size_t)snprintf(searched + used, sizeof(searched) - used, "%s%s",
                                     i > 0 ? ", " : "", dirs[i]);
        }
    }
    plugin_dirs_free(dirs);
    return error_set(err,
                     "plugin '%s' not found (looked for %s.so in: %s; set TRANCHE_PLUGIN_PATH or "
                     "give a path containing '/')",
                     name, name, searched);
}

static int
check_descriptor(const struct tranche_plugin *d, const char *path, struct error *err)
{
    if (d->abi_major == 0) {
        /* Every field before `name` is 0: the descriptor was written without the macro. */
        return error_set(err,
                         "plugin %s has no ABI version in its descriptor (abi_major is 0): add "
                         "TRANCHE_PLUGIN_ABI as the first entry of its TRANCHE_PLUGIN = { ... }",
                         path);
    }
    if (d->abi_major != TRANCHE_ABI_MAJOR) {
        return error_set(err,
                         "plugin %s was built for plugin ABI %" PRIu32 ".%" PRIu32
                         ", this tranche speaks ABI %d.%d (rebuild the plugin against this "
                         "tranche's plugin.h)",
                         path, d->abi_major, d->abi_minor, TRANCHE_ABI_MAJOR, TRANCHE_ABI_MINOR);
    }
    if (d->abi_minor > TRANCHE_ABI_MINOR) {
        return error_set(err,
                         "plugin %s needs plugin ABI %" PRIu32 ".%" PRIu32
                         ", newer than this tranche's ABI %d.%d (upgrade tranche)",
                         path, d->abi_major, d->abi_minor, TRANCHE_ABI_MAJOR, TRANCHE_ABI_MINOR);
    }
    if (d->size < DESC_MIN_SIZE) {
        return error_set(err,
                         "plugin %s has a descriptor of %" PRIu32
                         " bytes, too small for ABI %" PRIu32 ".%" PRIu32
                         " (at least %zu expected): was it built with TRANCHE_PLUGIN_ABI?",
                         path, d->size, d->abi_major, d->abi_minor, (size_t)DESC_MIN_SIZE);
    }
    if (d->name == NULL || d->name[0] == '\0') {
        return error_set(err, "plugin %s has no name in its descriptor", path);
    }
    if (d->record == NULL) {
        return error_set(err, "plugin %s (%s) has no record callback", path, d->name);
    }
    return 0;
}

/*
 * Whether the file at `path` looks like C++: a mangled name of the descriptor (a const at
 * namespace scope has internal linkage in C++, and is then at most a local symbol
 * _ZL14tranche_plugin) or of a callback (its parameters mangled: 11tranche_ctx), a C++
 * compiler's name in the debug information, or the C++ runtime among what it needs.
 */
static int
looks_like_cxx(const char *path)
{
    static const char *const needles[] = {"14tranche_plugin",  "11tranche_ctx", "GNU C++",
                                          "libstdc++",         "libc++.so",     "GLIBCXX_",
                                          "__gxx_personality", "clang++"};
    struct stat st;
    void *map;
    size_t i;
    int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;

    if (fd < 0) {
        return 0;
    }
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return 0;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return 0;
    }
    for (i = 0; i < sizeof(needles) / sizeof(needles[0]) && !found; i++) {
        found = memmem(map, (size_t)st.st_size, needles[i], strlen(needles[i])) != NULL;
    }
    munmap(map, (size_t)st.st_size);
    return found;
}

/* The message for a shared object without the descriptor symbol. */
static int
no_descriptor(const char *path, struct error *err)
{
    if (looks_like_cxx(path)) {
        return error_set(
            err,
            "%s is not a tranche plugin: it exports no '%s' symbol; it looks like C++, "
            "where a const at namespace scope is not exported: define the descriptor "
            "with TRANCHE_PLUGIN from <tranche/plugin.h>, which gives it C linkage "
            "(extern \"C\")",
            path, TRANCHE_PLUGIN_SYMBOL);
    }
    return error_set(err,
                     "%s is not a tranche plugin: it exports no '%s' symbol (define it with "
                     "TRANCHE_PLUGIN from <tranche/plugin.h>, which in C++ also gives it the C "
                     "linkage it needs, extern \"C\")",
                     path, TRANCHE_PLUGIN_SYMBOL);
}

static int check_option_table(const struct tranche_plugin *d, const char *path, struct error *err);

int
plugin_load(const char *path, struct plugin **out, struct error *err)
{
    struct plugin *p = calloc(1, sizeof(*p));
    const struct tranche_plugin *d;
    int rc = -1;

    if (p == NULL) {
        return error_set(err, "out of memory loading %s", path);
    }
    p->path = strdup(path);
    if (p->path == NULL) {
        error_set(err, "out of memory loading %s", path);
        goto out;
    }
    /* RTLD_NODELETE: a plugin's code stays mapped after dlclose, for what of it may still run
     * (a thread it started, an atexit handler) until the process ends. */
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (p->dl == NULL) {
        error_set(err, "cannot load plugin %s: %s", path, dlerror());
        goto out;
    }
    d = dlsym(p->dl, TRANCHE_PLUGIN_SYMBOL);
    if (d == NULL) {
        no_descriptor(path, err);
        goto out;
    }
    if (check_descriptor(d, path, err) != 0) {
        goto out;
    }
    memcpy(&p->copy, d, d->size < sizeof(p->copy) ? d->size : sizeof(p->copy));
    p->desc = &p->copy;
    if (check_option_table(p->desc, path, err) != 0) {
        goto out;
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    plugin_free(p);
    return rc;
}

void
plugin_free(struct plugin *p)
{
    if (p == NULL) {
        return;
    }
    if (p->dl != NULL) {
        dlclose(p->dl);
    }
    free(p->path);
    free(p);
}

int
plugin_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* The option types' names, in the plugins listing and in messages. */
static const struct {
    const char *word;   /* "int" */
    const char *phrase; /* "an integer" */
} type_names[] = {
    [TRANCHE_OPT_STRING] = {"string", "a string"},
    [TRANCHE_OPT_INT] = {"int", "an integer"},
    [TRANCHE_OPT_BOOL] = {"bool", "a boolean (true or false)"},
    [TRANCHE_OPT_LIST] = {"list", "a list"},
};

static int
known_type(int type)
{
    return type >= 0 && (size_t)type < sizeof(type_names) / sizeof(type_names[0]) &&
           type_names[type].word != NULL;
}

const char *
loader_type_word(int type)
{
    return known_type(type) ? type_names[type].word : "?";
}

static const char *
type_name(int type)
{
    return known_type(type) ? type_names[type].phrase : "a value of an unknown type";
}

enum parse_result { PARSE_OK = 0, PARSE_BAD = -1, PARSE_RANGE = -2 };

/* Parses one text value of an option of `type` into *int_value or *bool_value. */
static enum parse_result
parse_text(int type, const char *text, int64_t *int_value, int *bool_value)
{
    long long v;
    char *end;

    switch (type) {
    case TRANCHE_OPT_INT:
        errno = 0;
        v = strtoll(text, &end, 10);
        if (end == text || *end != '\0') {
            return PARSE_BAD;
        }
        if (errno == ERANGE) {
            return PARSE_RANGE;
        }
        *int_value = v;
        return PARSE_OK;
    case TRANCHE_OPT_BOOL:
        return plugin_parse_bool(text, bool_value) == 0 ? PARSE_OK : PARSE_BAD;
    case TRANCHE_OPT_STRING:
    case TRANCHE_OPT_LIST:
        return PARSE_OK;
    }
    return PARSE_BAD;
}

static enum parse_result
parse_value(struct step_option *opt, const char *text)
{
    return parse_text(opt->spec->type, text, &opt->int_value, &opt->bool_value);
}

/* What is wrong with a value that parse_text refused, for a message: "must be an integer, not
 * 'x'" or "'99999999999999999999' is out of range". */
static void
describe_bad_value(int type, enum parse_result why, const char *text, char *buf, size_t size)
{
    if (why == PARSE_RANGE) {
        snprintf(buf, size, "'%s' is out of range (an integer from %" PRId64 " to %" PRId64 ")",
                 text, INT64_MIN, INT64_MAX);
    } else {
        snprintf(buf, size, "must be %s, not '%s'", type_name(type), text);
    }
}

/* A LIST default: its items, separated by commas. *items is a malloc'd array of malloc'd
 * strings (free_items). */
static int
split_default(const char *def, char ***items, size_t *n)
{
    size_t count = 1, i = 0;
    const char *p;

    for (p = def; *p != '\0'; p++) {
        count += *p == ',';
    }
    *items = calloc(count, sizeof(**items));
    if (*items == NULL) {
        return -1;
    }
    for (p = def;; i++) {
        size_t len = strcspn(p, ",");

        (*items)[i] = strndup(p, len);
        if ((*items)[i] == NULL) {
            *n = i;
            return -1;
        }
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    *n = count;
    return 0;
}

static void
free_items(char **items, size_t n)
{
    size_t i;

    for (i = 0; items != NULL && i < n; i++) {
        free(items[i]);
    }
    free(items);
}

/* Checks the plugin's own option table, once, at load. */
static int
check_option_table(const struct tranche_plugin *d, const char *path, struct error *err)
{
    const struct tranche_option *o, *q;
    char why[256];
    int64_t i64;
    int b;
    enum parse_result pr;

    for (o = d->options; o != NULL && o->name != NULL; o++) {
        if (o->name[0] == '\0') {
            return error_set(err, "plugin %s (%s): option %zu of its table has an empty name", path,
                             d->name, (size_t)(o - d->options) + 1);
        }
        for (q = d->options; q < o; q++) {
            if (strcmp(q->name, o->name) == 0) {
                return error_set(err, "plugin %s (%s): option '%s' is listed twice in its table",
                                 path, d->name, o->name);
            }
        }
        if (!known_type(o->type)) {
            return error_set(err,
                             "plugin %s (%s): option '%s' has an unknown type %d (expected "
                             "TRANCHE_OPT_STRING, TRANCHE_OPT_INT, TRANCHE_OPT_BOOL or "
                             "TRANCHE_OPT_LIST)",
                             path, d->name, o->name, o->type);
        }
        if (o->required && o->default_value != NULL) {
            return error_set(err,
                             "plugin %s (%s): option '%s' is required and has a default ('%s'): "
                             "a required option cannot have one",
                             path, d->name, o->name, o->default_value);
        }
        if (o->default_value != NULL &&
            (pr = parse_text(o->type, o->default_value, &i64, &b)) != PARSE_OK) {
            describe_bad_value(o->type, pr, o->default_value, why, sizeof(why));
            return error_set(err, "plugin %s (%s): the default of option '%s': %s", path, d->name,
                             o->name, why);
        }
    }
    return 0;
}

static int
set_items(struct step_option *opt, char *const *items, size_t n)
{
    size_t i;

    opt->items = calloc(n + 1, sizeof(*opt->items));
    if (opt->items == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        opt->items[i] = strdup(items[i]);
        if (opt->items[i] == NULL) {
            return -1;
        }
        opt->n_items++;
    }
    opt->set = 1;
    return 0;
}

static void
list_option_names(const struct tranche_option *spec, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    if (spec == NULL || spec[0].name == NULL) {
        snprintf(buf, size, "it takes no options");
        return;
    }
    used += (size_t)snprintf(buf, size, "its options are: ");
    for (; spec->name != NULL && used < size; spec++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%s", spec->name,
                                 spec[1].name != NULL ? ", " : "");
    }
}

/* Sets the option of `step` that the job gives as `co`, checked against its spec. A null value
 * leaves the option unset (its default applies), unless it is required. */
static int
given_option(const struct job *job, const struct config_option *co, struct step *step,
             struct error *err)
{
    const struct tranche_plugin *d = step->plugin->desc;
    struct step_option *opt = NULL;
    char names[ERROR_MSG_MAX / 2];
    enum parse_result pr = PARSE_OK;
    size_t k;

    for (k = 0; k < step->n_options; k++) {
        if (strcmp(step->options[k].spec->name, co->name) == 0) {
            opt = &step->options[k];
        }
    }
    if (opt == NULL) {
        list_option_names(d->options, names, sizeof(names));
        return error_set(err, "%s:%d:%d: %s: plugin %s has no option '%s'; %s", job->file,
                         co->pos.line, co->pos.column, step->label, d->name, co->name, names);
    }
    if (co->is_null) {
        if (!opt->spec->required) {
            return 0;
        }
        return error_set(err,
                         "%s:%d:%d: %s: option '%s' of plugin %s is required, and a null value "
                         "(empty, ~ or null) does not give it one (%s)",
                         job->file, co->value_pos.line, co->value_pos.column, step->label, co->name,
                         d->name,
                         opt->spec->help != NULL ? opt->spec->help : type_name(opt->spec->type));
    }
    if (co->is_list && opt->spec->type != TRANCHE_OPT_LIST) {
        /* (a negative line is a --set: its [ ] was read as a YAML list, where a regex meant a
         * bracket expression) */
        return error_set(err, "%s:%d:%d: %s: option '%s' of plugin %s must be %s, not a list%s",
                         job->file, co->value_pos.line, co->value_pos.column, step->label, co->name,
                         d->name, type_name(opt->spec->type),
                         co->value_pos.line < 0 ? " (a --set value that begins with [ is read as "
                                                  "a YAML list: quote it, as in --set "
                                                  "'NAME=\"[a-z]+\"')"
                                                : "");
    }
    if (opt->spec->type != TRANCHE_OPT_LIST &&
        (co->n_items != 1 || (pr = parse_value(opt, co->items[0])) != PARSE_OK)) {
        describe_bad_value(opt->spec->type, pr, co->n_items > 0 ? co->items[0] : "", names,
                           sizeof(names));
        return error_set(err, "%s:%d:%d: %s: option '%s' of plugin %s %s", job->file,
                         co->value_pos.line, co->value_pos.column, step->label, co->name, d->name,
                         names);
    }
    if (set_items(opt, co->items, co->n_items) != 0) {
        return error_set(err, "out of memory");
    }
    opt->given = 1;
    opt->value_pos = co->value_pos;
    if (co->n_items > 0) {
        opt->item_pos = malloc(co->n_items * sizeof(*opt->item_pos));
        if (opt->item_pos == NULL) {
            return error_set(err, "out of memory");
        }
        memcpy(opt->item_pos, co->item_pos, co->n_items * sizeof(*opt->item_pos));
    }
    return 0;
}

/* An option the job does not give: an error when required, else its default (if any; the
 * plugin's table was checked at load, so it parses). */
static int
default_option(const struct job *job, const struct config_step *cs, struct step *step,
               struct step_option *opt, struct error *err)
{
    const struct tranche_option *spec = opt->spec;
    const char *plugin = step->plugin->desc->name;
    char *def = (char *)spec->default_value;
    char **items = NULL;
    size_t n = 0;
    int rc;

    if (spec->required) {
        return error_set(err, "%s:%d:%d: %s: plugin %s needs option '%s' (%s)", job->file,
                         cs->pos.line, cs->pos.column, step->label, plugin, spec->name,
                         spec->help != NULL ? spec->help : type_name(spec->type));
    }
    if (def == NULL) {
        return 0;
    }
    if (parse_value(opt, def) != PARSE_OK) {
        return error_set(err, "%s: %s: plugin %s has a bad default '%s' for option '%s'", job->file,
                         step->label, plugin, def, spec->name);
    }
    if (spec->type != TRANCHE_OPT_LIST) {
        rc = set_items(opt, &def, 1);
    } else {
        rc = split_default(def, &items, &n) != 0 ? -1 : set_items(opt, items, n);
        free_items(items, n);
    }
    return rc != 0 ? error_set(err, "out of memory") : 0;
}

/* Checks the step's options against its plugin's table, and fills in the defaults. */
static int
step_options(const struct job *job, const struct config_step *cs, struct step *step,
             struct error *err)
{
    const struct tranche_option *spec = step->plugin->desc->options;
    size_t n_spec = 0, i, k;

    while (spec != NULL && spec[n_spec].name != NULL) {
        n_spec++;
    }
    step->options = calloc(n_spec + 1, sizeof(*step->options));
    if (step->options == NULL) {
        return error_set(err, "out of memory");
    }
    step->n_options = n_spec;
    for (k = 0; k < n_spec; k++) {
        step->options[k].spec = &spec[k];
    }
    for (i = 0; i < cs->n_options; i++) {
        if (given_option(job, &cs->options[i], step, err) != 0) {
            return -1;
        }
    }
    for (k = 0; k < n_spec; k++) {
        if (!step->options[k].set && default_option(job, cs, step, &step->options[k], err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* An aggregator (a plugin with combine, ABI 1.2) stands under `aggregate:` and nowhere else. */
static int
check_role(const struct job *job, const struct config_step *cs, const struct step *s,
           struct error *err)
{
    const struct tranche_plugin *d = s->plugin->desc;

    if (cs->aggregate && d->combine == NULL) {
        return error_set(err,
                         "%s:%d:%d: %s: plugin '%s' is not an aggregator (it has no combine(), "
                         "ABI 1.2): put it under steps, or name an aggregator such as count",
                         job->file, cs->pos.line, cs->pos.column, s->label, d->name);
    }
    if (!cs->aggregate && d->combine != NULL) {
        return error_set(err,
                         "%s:%d:%d: %s: plugin '%s' is an aggregator: it goes under the job's "
                         "'aggregate:' key, not in steps",
                         job->file, cs->pos.line, cs->pos.column, s->label, d->name);
    }
    return 0;
}

/* Sets s->label and s->file ("step 2 (exec awk)"), and s->label only when out of memory. */
static int
label_step(const struct job *job, const struct config_step *cs, struct step *s, struct error *err)
{
    char name[64];
    int n;

    if (cs->exec) {
        n = asprintf(&s->label, "step %zu (exec %s)", s->index + 1,
                     exec_short_name(cs, name, sizeof(name)));
    } else if (cs->aggregate) {
        n = asprintf(&s->label, "step %zu (aggregate %s)", s->index + 1, cs->plugin);
    } else {
        n = asprintf(&s->label, "step %zu (%s)", s->index + 1, cs->plugin);
    }
    if (n < 0) {
        s->label = NULL;
        return error_set(err, "out of memory");
    }
    s->file = strdup(job->file != NULL ? job->file : "(command line)");
    return s->file == NULL ? error_set(err, "out of memory") : 0;
}

/* An exec step: the built-in descriptor (exec.h), nothing loaded; its options are checked
 * against its table as a plugin's are (it reads the job's format through host->format()). */
static int
exec_step_load(const struct job *job, const struct config_step *cs, struct step *s,
               struct error *err)
{
    s->plugin = calloc(1, sizeof(*s->plugin));
    if (s->plugin == NULL || (s->plugin->path = strdup("(built-in exec step)")) == NULL) {
        return error_set(err, "out of memory");
    }
    s->plugin->copy = exec_plugin;
    s->plugin->desc = &s->plugin->copy;
    return step_options(job, cs, s, err);
}

uint64_t
aggregate_memory(const struct job *job)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    if (job->aggregate_memory > 0) {
        return job->aggregate_memory;
    }
    if (pages <= 0 || page <= 0) {
        return 1ull << 30;
    }
    return (uint64_t)pages * (uint64_t)page / 4;
}

int
steps_load(const struct job *job, struct step **steps_out, struct error *err)
{
    struct step *steps;
    char *path = NULL;
    size_t i;
    int rc = -1;

    if (job->n_steps > LOADER_MAX_STEPS) {
        /* Each step's record() runs inside the emit() of the step before it, so the stack a
         * record needs adds up along the chain (see LOADER_STEP_STACK). */
        const struct config_step *cs = &job->steps[LOADER_MAX_STEPS];
        return error_set(err, "%s:%d:%d: a job has at most %d steps; this is step %d", job->file,
                         cs->pos.line, cs->pos.column, LOADER_MAX_STEPS, LOADER_MAX_STEPS + 1);
    }
    steps = calloc(job->n_steps, sizeof(*steps));
    if (steps == NULL) {
        return error_set(err, "out of memory");
    }
    for (i = 0; i < job->n_steps; i++) {
        const struct config_step *cs = &job->steps[i];
        struct step *s = &steps[i];

        s->index = i;
        s->pos = cs->pos;
        s->aggregate = cs->aggregate;
        if (label_step(job, cs, s, err) != 0) {
            goto out;
        }
        if (cs->exec) {
            if (exec_step_load(job, cs, s, err) != 0) {
                goto out;
            }
            continue;
        }
        if (plugin_find(cs->plugin, &path, err) != 0 || plugin_load(path, &s->plugin, err) != 0) {
            error_prefix(err, "%s:%d:%d: %s", job->file, cs->pos.line, cs->pos.column, s->label);
            goto out;
        }
        free(path);
        path = NULL;
        if (check_role(job, cs, s, err) != 0 || step_options(job, cs, s, err) != 0) {
            goto out;
        }
        s->memory = cs->aggregate ? aggregate_memory(job) : 0;
    }
    *steps_out = steps;
    steps = NULL;
    rc = 0;
out:
    free(path);
    steps_free(steps, job->n_steps);
    return rc;
}

void
steps_free(struct step *steps, size_t n_steps)
{
    size_t i, k, j;

    if (steps == NULL) {
        return;
    }
    for (i = 0; i < n_steps; i++) {
        for (k = 0; steps[i].options != NULL && k < steps[i].n_options; k++) {
            for (j = 0; j < steps[i].options[k].n_items; j++) {
                free(steps[i].options[k].items[j]);
            }
            free(steps[i].options[k].items);
            free(steps[i].options[k].item_pos);
        }
        free(steps[i].options);
        plugin_free(steps[i].plugin);
        free(steps[i].label);
        free(steps[i].file);
    }
    free(steps);
}

const struct step_option *
step_option_find(const struct step *step, const char *name)
{
    size_t k;

    for (k = 0; k < step->n_options; k++) {
        if (strcmp(step->options[k].spec->name, name) == 0) {
            return &step->options[k];
        }
    }
    return NULL;
}
