/*
 * core/loader.h: finding and loading plugin shared objects, checking their ABI, and checking a
 * step's options against the plugin's option table. All of it runs in the parent before any
 * worker is forked; the loaded steps are inherited by the workers.
 */
#ifndef TRANCHE_LOADER_H
#define TRANCHE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "tranche/plugin.h"

struct plugin {
    char *path; /* the file that was loaded */
    void *dl;
    /* The plugin's descriptor, copied as far as its size goes and zero past that: a plugin
     * built for an older minor reads as one whose newer callbacks are NULL. */
    const struct tranche_plugin *desc;
    struct tranche_plugin copy; /* what desc points to */
};

/* One option of a step after validation: the plugin's spec, and the value (given or default). */
struct step_option {
    const struct tranche_option *spec;
    int set;      /* given in the job, or a default exists */
    char **items; /* text value(s); one item for non-list types */
    size_t n_items;
    int64_t int_value;
    int bool_value;
    int given;                   /* the job gave it (else the value is the default) */
    struct config_pos value_pos; /* of the value in the job file, when given */
    struct config_pos *item_pos; /* of each item, when given (n_items of them) */
};

/* A step of the chain: a loaded plugin and its validated options. */
struct step {
    size_t index; /* 0-based position in the chain */
    char *label;  /* "step 2 (grep)" for messages */
    char *file;   /* the job file, and the step's position in it, for messages */
    struct config_pos pos;
    struct plugin *plugin;
    struct step_option *options; /* one per entry of the plugin's option table, in its order */
    size_t n_options;
    int aggregate;   /* the job's aggregate stage (an aggregator: its desc has combine) */
    uint64_t memory; /* the aggregate stage's memory limit in bytes (aggregate_memory); 0 */
};

/* The aggregate stage's memory limit: aggregate.memory, or a quarter of the machine's RAM. */
uint64_t aggregate_memory(const struct job *job);

/*
 * Finds the shared object for a plugin name: a name containing '/' is a path and is used as is;
 * otherwise NAME.so is looked for in each directory of $TRANCHE_PLUGIN_PATH (colon-separated), then
 * beside the executable (../lib/tranche/plugins), then in the installed plugin directory.
 * On success *path_out is a malloc'd path. On failure err lists the directories searched.
 */
int plugin_find(const char *name, char **path_out, struct error *err);

/* The directories plugin_find searches for bare names, in order; a NULL-terminated malloc'd array
 * of malloc'd strings, freed with plugin_dirs_free(). */
char **plugin_dirs(void);
void plugin_dirs_free(char **dirs);

/*
 * dlopen()s `path` and checks the descriptor: present, ABI major equal, ABI minor not newer, size
 * large enough, name and record callback set, and its option table (names unique, types known,
 * no default on a required option, defaults that parse). *out is set only on success; free with
 * plugin_free().
 */
int plugin_load(const char *path, struct plugin **out, struct error *err);
void plugin_free(struct plugin *p);

/* The longest chain, and the stack each step may use in a callback (tranche/plugin.h): a
 * worker's stack is at least LOADER_MAX_STEPS x LOADER_STEP_STACK plus some for the runner. */
#define LOADER_MAX_STEPS 64
#define LOADER_STEP_STACK (256u << 10)

/*
 * Loads every step of the job and validates its options (at most LOADER_MAX_STEPS steps); errors
 * name the job file, line and column, the step and the plugin. On success *steps_out is an array of
 * n_steps steps owned by the caller (steps_free()).
 */
int steps_load(const struct job *job, struct step **steps_out, struct error *err);
void steps_free(struct step *steps, size_t n_steps);

/* The validated option of a step by name, or NULL if the plugin has no such option. */
const struct step_option *step_option_find(const struct step *step, const char *name);

/* "string", "int", "bool" or "list": an option type's name, as `tranche plugins NAME` lists it. */
const char *loader_type_word(int type);

/* Parses a boolean as the job file may write it (true/false, yes/no, on/off, 1/0). */
int plugin_parse_bool(const char *text, int *out);

#endif
