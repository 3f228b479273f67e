/* plugins/common/opterr.h: how the bundled plugins report an option value their init() rejects.
 * Under an ABI 1.1 host, the message points at the value (option_error) or at one item of a LIST
 * value (option_item_error): FILE:LINE:COLUMN in the job file, or the --set that gave it. A 1.0
 * host has neither, so the message goes through error() and points at the step. Both forms take
 * a printf format and its arguments after the option's name (and item index), and evaluate to
 * TRANCHE_ERROR. Header only: plugins link against nothing of the core. */
#ifndef TRANCHE_PLUGINS_OPTERR_H
#define TRANCHE_PLUGINS_OPTERR_H

#include <tranche/plugin.h>

#define PLUGIN_OPTION_ERROR(host, ctx, name, ...)                                                  \
    (TRANCHE_HOST_HAS(host, option_error) ? (host)->option_error((ctx), (name), __VA_ARGS__)       \
                                          : (host)->error((ctx), __VA_ARGS__))

#define PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, index, ...)                                      \
    (TRANCHE_HOST_HAS(host, option_item_error)                                                     \
         ? (host)->option_item_error((ctx), (name), (index), __VA_ARGS__)                          \
         : (host)->error((ctx), __VA_ARGS__))

#endif
