/*
 * core/loader.c: plugin search path, dlopen with ABI checks, and option validation against each
 * plugin's option table. Everything here runs in the parent, before any input is read.
 */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

int
plugin_load(const char *path, struct plugin **out, struct error *err)
{
    struct plugin *p = calloc(1, sizeof(*p));
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
    p->desc = dlsym(p->dl, TRANCHE_PLUGIN_SYMBOL);
    if (p->desc == NULL) {
        error_set(err, "%s is not a tranche plugin: it exports no '%s' symbol", path,
                  TRANCHE_PLUGIN_SYMBOL);
        goto out;
    }
    if (check_descriptor(p->desc, path, err) != 0) {
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
known_type(enum tranche_option_type type)
{
    return (size_t)type < sizeof(type_names) / sizeof(type_names[0]) &&
           type_names[type].word != NULL;
}

const char *
loader_type_word(enum tranche_option_type type)
{
    return known_type(type) ? type_names[type].word : "?";
}

static const char *
type_name(enum tranche_option_type type)
{
    return known_type(type) ? type_names[type].phrase : "a value of an unknown type";
}

/* Parses one text value into opt according to its spec's type. */
static int
parse_value(struct step_option *opt, const char *text)
{
    char *end;

    switch (opt->spec->type) {
    case TRANCHE_OPT_INT:
        errno = 0;
        opt->int_value = strtoll(text, &end, 10);
        return (errno != 0 || end == text || *end != '\0') ? -1 : 0;
    case TRANCHE_OPT_BOOL:
        return plugin_parse_bool(text, &opt->bool_value);
    case TRANCHE_OPT_STRING:
    case TRANCHE_OPT_LIST:
        return 0;
    }
    return -1;
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

/* Sets the option of `step` that the job gives as `co`, checked against its spec. */
static int
given_option(const struct job *job, const struct config_option *co, struct step *step,
             struct error *err)
{
    const struct tranche_plugin *d = step->plugin->desc;
    struct step_option *opt = NULL;
    char names[ERROR_MSG_MAX / 2];
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
    if (co->is_list && opt->spec->type != TRANCHE_OPT_LIST) {
        return error_set(err, "%s:%d:%d: %s: option '%s' of plugin %s must be %s, not a list",
                         job->file, co->value_pos.line, co->value_pos.column, step->label, co->name,
                         d->name, type_name(opt->spec->type));
    }
    if (opt->spec->type != TRANCHE_OPT_LIST &&
        (co->n_items != 1 || parse_value(opt, co->items[0]) != 0)) {
        return error_set(err, "%s:%d:%d: %s: option '%s' of plugin %s must be %s, not '%s'",
                         job->file, co->value_pos.line, co->value_pos.column, step->label, co->name,
                         d->name, type_name(opt->spec->type), co->n_items > 0 ? co->items[0] : "");
    }
    if (set_items(opt, co->items, co->n_items) != 0) {
        return error_set(err, "out of memory");
    }
    return 0;
}

/* An option the job does not give: an error when required, else its default (if any). */
static int
default_option(const struct job *job, const struct config_step *cs, struct step *step,
               struct step_option *opt, struct error *err)
{
    const struct tranche_option *spec = opt->spec;
    const char *plugin = step->plugin->desc->name;
    char *def = (char *)spec->default_value;

    if (spec->required) {
        return error_set(err, "%s:%d:%d: %s: plugin %s needs option '%s' (%s)", job->file,
                         cs->pos.line, cs->pos.column, step->label, plugin, spec->name,
                         spec->help != NULL ? spec->help : type_name(spec->type));
    }
    if (def == NULL) {
        return 0;
    }
    if (parse_value(opt, def) != 0) {
        return error_set(err, "%s: %s: plugin %s has a bad default '%s' for option '%s'", job->file,
                         step->label, plugin, def, spec->name);
    }
    if (set_items(opt, &def, 1) != 0) {
        return error_set(err, "out of memory");
    }
    return 0;
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
        if (asprintf(&s->label, "step %zu (%s)", i + 1, cs->plugin) < 0) {
            s->label = NULL;
            error_set(err, "out of memory");
            goto out;
        }
        if (plugin_find(cs->plugin, &path, err) != 0 || plugin_load(path, &s->plugin, err) != 0) {
            error_prefix(err, "%s:%d:%d: %s", job->file, cs->pos.line, cs->pos.column, s->label);
            goto out;
        }
        free(path);
        path = NULL;
        if (step_options(job, cs, s, err) != 0) {
            goto out;
        }
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
        }
        free(steps[i].options);
        plugin_free(steps[i].plugin);
        free(steps[i].label);
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
