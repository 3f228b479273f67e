/* core/cmd_plugins.c: `tranche plugins [NAME]`: the plugins found, or one plugin's options. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "grow.h"
#include "loader.h"

const char cli_plugins_help[] = "usage: tranche plugins [NAME]\n"
                                "  without NAME: every plugin found, one per line\n"
                                "  with NAME: its file, ABI and options\n";

/* text with tabs and newlines written as \t and \n, so a default of white space shows. */
static const char *
escaped(const char *text, char *buf, size_t size)
{
    size_t n = 0;

    for (; *text != '\0' && n + 3 < size; text++) {
        if (*text == '\t' || *text == '\n') {
            buf[n++] = '\\';
            buf[n++] = *text == '\t' ? 't' : 'n';
        } else {
            buf[n++] = *text;
        }
    }
    buf[n] = '\0';
    return buf;
}

static void
describe_plugin(const struct plugin *p)
{
    const struct tranche_plugin *d = p->desc;
    const struct tranche_option *o;
    char shown[64];
    size_t name_width = 0, default_width = 0;

    printf("%s %s: %s\n", d->name, d->version != NULL ? d->version : "",
           d->description != NULL ? d->description : "");
    printf("  file: %s\n  ABI: %" PRIu32 ".%" PRIu32 "\n", p->path, d->abi_major, d->abi_minor);
    if (d->combine != NULL) {
        printf("  kind: aggregator (it goes under the job's aggregate: key)\n");
    }
    if (d->options == NULL || d->options[0].name == NULL) {
        printf("  options: none\n");
        return;
    }
    /* Columns as wide as the widest name and default. */
    for (o = d->options; o->name != NULL; o++) {
        size_t len = strlen(o->name);
        name_width = len > name_width ? len : name_width;
        len = o->default_value != NULL
                  ? strlen(escaped(o->default_value, shown, sizeof(shown))) + sizeof("default")
                  : 0;
        default_width = len > default_width ? len : default_width;
    }
    printf("  options:\n");
    for (o = d->options; o->name != NULL; o++) {
        char def[sizeof(shown) + sizeof("default ")] = "";

        if (o->default_value != NULL) {
            snprintf(def, sizeof(def), "default %s",
                     escaped(o->default_value, shown, sizeof(shown)));
        }
        printf("    %-*s %-7s %-9s %-*s  %s\n", (int)name_width, o->name, loader_type_word(o->type),
               o->required ? "required" : "optional", (int)default_width, def,
               o->help != NULL ? o->help : "");
    }
}

static int
describe_one(const char *name)
{
    struct plugin *p;
    struct error err;
    char *path = NULL;

    if (plugin_find(name, &path, &err) != 0 || plugin_load(path, &p, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        free(path);
        return ERR_INVALID;
    }
    describe_plugin(p);
    plugin_free(p);
    free(path);
    return 0;
}

/* "NAME\tPATH" of every plugin found, the first directory winning, as plugin_find does. */
struct found {
    char **names;
    size_t n;
    size_t cap;
};

static int
seen(const struct found *f, const char *file, size_t stem)
{
    size_t k;

    for (k = 0; k < f->n; k++) {
        if (strncmp(f->names[k], file, stem) == 0 && f->names[k][stem] == '\t') {
            return 1;
        }
    }
    return 0;
}

static int
scan_dir(struct found *f, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    while (d != NULL && rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || seen(f, e->d_name, len - 3)) {
            continue;
        }
        if (GROW(f->names, f->cap, f->n + 1) != 0) {
            rc = -1;
        } else if (asprintf(&f->names[f->n], "%.*s\t%s/%s", (int)(len - 3), e->d_name, dir,
                            e->d_name) >= 0) {
            f->n++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return rc;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads and lists each plugin found; a plugin that does not load is listed as such. */
static int
list_found(struct found *f)
{
    struct plugin *p;
    struct error err;
    int rc = 0;
    size_t i;

    qsort(f->names, f->n, sizeof(*f->names), name_cmp);
    for (i = 0; i < f->n; i++) {
        char *path = strchr(f->names[i], '\t') + 1;
        if (plugin_load(path, &p, &err) != 0) {
            printf("%-10s (not loadable: %s)\n", "?", err.msg);
            rc = ERR_FAILED;
            continue;
        }
        printf("%-10s %-8s %s%s\n", p->desc->name, p->desc->version != NULL ? p->desc->version : "",
               p->desc->description != NULL ? p->desc->description : "",
               p->desc->combine != NULL ? " (aggregator)" : "");
        plugin_free(p);
    }
    if (f->n == 0) {
        printf("no plugins found (set TRANCHE_PLUGIN_PATH)\n");
    }
    return rc;
}

int
cmd_plugins(int argc, char **argv)
{
    struct found f = {NULL, 0, 0};
    char **dirs;
    size_t i;
    int rc = 0;

    if (argc > 2) {
        return cli_usage_error("usage: tranche plugins [NAME]%s", "");
    }
    if (argc == 2) {
        return describe_one(argv[1]);
    }
    dirs = plugin_dirs();
    for (i = 0; dirs != NULL && dirs[i] != NULL && rc == 0; i++) {
        rc = scan_dir(&f, dirs[i]);
    }
    plugin_dirs_free(dirs);
    if (rc == 0) {
        rc = list_found(&f);
    } else {
        fprintf(stderr, "tranche: out of memory\n");
    }
    for (i = 0; i < f.n; i++) {
        free(f.names[i]);
    }
    free(f.names);
    return rc;
}
