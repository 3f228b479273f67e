/*
 * core/exec.h: the built-in exec step, a step that runs a command (`exec:` in the job file) over
 * each partition, written against the plugin ABI like any plugin and compiled into the core, so
 * that the chain, the workers, the in-process mode, retries and record_info need nothing new.
 *
 * Contract (GNU parallel's --pipepart --keep-order): for each partition, one process; the
 * partition's records, each followed by the output delimiter, on its standard input (a memfd,
 * rewound: a regular file, so nothing can deadlock on input); its standard output cut into records
 * as the job's input is (framing.h: lines, CSV rows, FASTQ reads; a last record without its
 * delimiter still counts) and emitted to the next step in order;
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
 * the inherited environment) and cwd (string: the directory it runs in). */
extern const struct tranche_plugin exec_plugin;

/* What an exec step runs, shortened for a step's label: the command's first word ("awk"), as
 * written. Writes at most size bytes (NUL included) into buf and returns buf. */
const char *exec_short_name(const struct config_step *cs, char *buf, size_t size);

#endif
