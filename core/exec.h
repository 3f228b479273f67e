/*
 * core/exec.h: the built-in exec step, a step that runs a command (`exec:` in the job file) over
 * each partition, written against the plugin ABI like any plugin and compiled into the core, so
 * that the chain, the workers, the in-process mode, retries and record_info need nothing new.
 *
 * Contract (GNU parallel's --pipepart --keep-order): for each partition, one process; the
 * partition's records, each followed by the delimiter, on its standard input (a memfd, rewound:
 * a regular file, so nothing can deadlock on input); its standard output split into records at
 * the delimiter (a last record without one still counts) and emitted to the next step in order;
 * its standard error logged line by line, the last lines kept for the failure message. A
 * non-zero exit or a death by signal fails the partition from end_partition(); under on_error:
 * skip, the command runs again over each record alone instead, and only the records it fails on
 * are left out (chain_ctx_reject). When the command exits, whatever it left running (a
 * `sleep &`) is killed and reaped.
 */
#ifndef TRANCHE_EXEC_H
#define TRANCHE_EXEC_H

#include <stddef.h>

#include "config.h"
#include "tranche/plugin.h"

/* The descriptor of the exec step. Its option table: argv (list: the command and its arguments,
 * run with execvp), shell (string: run with /bin/sh -c), env (list of NAME=value, set on top of
 * the inherited environment), cwd (string: the directory it runs in), and delimiter (int: the
 * job's, which the loader sets; not a key of the job file). */
extern const struct tranche_plugin exec_plugin;

/* The name of EXEC_DELIMITER_OPTION, which loader.c sets to the job's delimiter. */
#define EXEC_DELIMITER_OPTION "delimiter"

/* What an exec step runs, shortened for a step's label: the command's first word ("awk"), as
 * written. Writes at most size bytes (NUL included) into buf and returns buf. */
const char *exec_short_name(const struct config_step *cs, char *buf, size_t size);

#endif
