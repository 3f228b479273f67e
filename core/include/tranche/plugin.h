/*
 * tranche/plugin.h: the whole plugin ABI of tranche. A plugin includes this header and nothing
 * else of the core, and does not link against the runner: everything it needs from the host
 * arrives as a table of function pointers at init time.
 *
 * A plugin is a shared object that exports one descriptor named `tranche_plugin`:
 *
 *     TRANCHE_PLUGIN = {
 *         TRANCHE_PLUGIN_ABI,
 *         .name = "rev", .version = "1.0", .description = "reverses each record",
 *         .record = rev_record,
 *     };
 *
 * Lifecycle, per step of a job and per worker process:
 *   1. The host dlopen()s the file in the parent and checks abi_major, abi_minor and size
 *      before touching anything else; then it checks the plugin's option table, and the job's
 *      options against it.
 *   2. The parent calls init() and fini() once per step, with no records in between, so that
 *      option values the plugin itself rejects (a bad regex, say) stop the job before it starts
 *      (in a child process of its own: a crash there is reported, it cannot take the runner
 *      down); host->is_option_check() is 1 there. Then, after fork, each worker calls init()
 *      once for each step that uses the plugin.
 *   3. For each partition a worker gets, it calls begin_partition() if set (ABI 1.1), then
 *      record() for every record of the partition, then end_partition() if set.
 *   4. When the worker is done, it calls fini(), if set.
 * A worker is a single-threaded process: no callback is ever called concurrently with another
 * in the same process, so per-step state needs no locks.
 *
 * Stack: a step's record() runs inside the emit() of the step before it, so the stack adds up
 * along the chain. A callback may use up to 256 KiB of stack; a job has at most 64 steps, and
 * the host raises the stack limit to what that needs (as far as the hard limit allows).
 *
 * Compatibility: the host refuses a plugin built for another abi_major or for a newer abi_minor.
 * Structures here only grow at the end (append-only), and each carries its size, so a host
 * built against minor N loads a plugin built against any minor <= N.
 *
 * ABI 1.1 added host->record_info (the record's input, offset and partition),
 * host->is_option_check, host->option_error and option_item_error, the descriptor's
 * begin_partition, data[len] == '\0' at every step, checks of the plugin's option table at load,
 * and a TRANCHE_PLUGIN that works in C++. ABI 1.2 added aggregators (the descriptor's combine
 * and combine_end; host->phase, memory_limit and temp_dir). ABI 1.3 added record formats
 * (host->format: lines, csv or fastq, and the input's separators) and header rows
 * (host->header, the descriptor's header). tranche-plugin(7) is the overview.
 *
 * Aggregators (ABI 1.2): a plugin with a combine() callback may stand under a job's `aggregate:`
 * (and only there). It runs in two phases:
 *   - map, in the workers, as the last step of the chain: record() folds each record into state
 *     of its own, and end_partition() emits that state as records (the partition's "partial");
 *     record() may also emit part of its state early, to bound its memory (memory_limit()): a
 *     key may then appear in several partial records of one partition, and combine() must
 *     merge them. Begin each partition with empty state (begin_partition), as for any step.
 *   - combine, once, in a process of the runner's own after every partition succeeded: init(),
 *     then combine() for every partial record, in input order (the partitions' partials one after
 *     another), then combine_end(), which emits the job's output, then fini(). host->phase()
 *     says which phase init() is in. No process ever reads the whole input; the combine reads
 *     the partials only. Beyond memory_limit(), an aggregator spills sorted runs under
 *     temp_dir() and merges them in combine_end().
 */
#ifndef TRANCHE_PLUGIN_H
#define TRANCHE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRANCHE_ABI_MAJOR 1
#define TRANCHE_ABI_MINOR 3

/* Return codes of plugin callbacks and host functions. */
#define TRANCHE_OK 0
#define TRANCHE_ERROR (-1)

/* Log levels for tranche_host.log. */
enum tranche_log_level {
    TRANCHE_LOG_DEBUG = 0,
    TRANCHE_LOG_INFO = 1,
    TRANCHE_LOG_WARN = 2,
    TRANCHE_LOG_ERROR = 3
};

/* The type of an option's value, as written in the job file. */
enum tranche_option_type {
    TRANCHE_OPT_STRING = 1, /* any scalar, kept as text */
    TRANCHE_OPT_INT = 2,    /* a decimal integer (64-bit, may be negative) */
    TRANCHE_OPT_BOOL = 3,   /* true/false, yes/no, on/off, 1/0 */
    TRANCHE_OPT_LIST = 4    /* a sequence of scalars; a single scalar is a list of one */
};

/*
 * One option a plugin accepts. The host refuses, before any input is read, a job that names an
 * option not listed here, omits a required one (a YAML null, `name:` or `name: ~`, counts as
 * omitted), or gives a value that does not parse as `type` (an integer outside 64 bits is "out of
 * range"). `default_value` is text in the same syntax as the job file (NULL: no default); for a
 * LIST it is one item, or several separated by commas ("a,b,c"). The array ends with an entry
 * whose name is NULL; write it `{NULL, 0, NULL, 0, NULL}`, which compiles as C and as C++.
 *
 * The host checks the table itself when it loads the plugin (exit status 2, naming the plugin and
 * the option): no two entries with one name, `type` one of enum tranche_option_type, no default
 * on a required option, and every default parses as its type.
 *
 * `type` holds an enum tranche_option_type; it is declared int (the same size and layout as in
 * ABI 1.0) so that the sentinel above is valid C++.
 */
struct tranche_option {
    const char *name;
    int type; /* enum tranche_option_type */
    const char *default_value;
    int required;
    const char *help;
};

/* An opaque handle to one step of the chain in one worker; passed to every callback. */
typedef struct tranche_ctx tranche_ctx;

struct tranche_record_info; /* below */
struct tranche_format;      /* below */

/* Whether the host table has member `m` (one added after ABI 1.0): a plugin built against 1.1
 * that may run under a 1.0 host tests TRANCHE_HOST_HAS(host, record_info) before calling it. */
#define TRANCHE_HOST_HAS(host, m) (offsetof(struct tranche_host, m) < (host)->size)

/*
 * Functions the host lends the plugin, passed to init(). The table and everything it points to
 * stay valid until fini() returns. `size` is sizeof(struct tranche_host) as the host was built:
 * a plugin that uses a member added after ABI 1.0 checks that it lies within `size` first
 * (TRANCHE_HOST_HAS).
 */
struct tranche_host {
    uint32_t size;
    uint32_t abi_major;
    uint32_t abi_minor;

    /*
     * Passes one record to the next step (or to the output after the last step). `data` is
     * borrowed for the call only: the host copies or consumes it before returning, so a plugin may
     * emit from a stack buffer or from the record it was given. Do not include the delimiter: the
     * host writes one after every record. May be called any number of times per record, from
     * record() and end_partition(). Returns TRANCHE_OK, or TRANCHE_ERROR if a later step or the
     * output failed; the plugin must then return TRANCHE_ERROR itself.
     */
    int (*emit)(tranche_ctx *ctx, const void *data, size_t len);

    /* Writes one timestamped line to this worker's log, tagged with the step and partition. */
    void (*log)(tranche_ctx *ctx, enum tranche_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /*
     * Records why this step failed; the job stops and the message is shown to the user with the
     * partition, the byte range, the step and (since ABI 1.1) the offset of the input record
     * being processed. Always returns TRANCHE_ERROR, so a plugin can write
     * `return host->error(ctx, "bad field %d", n);`. The first message of a partition wins.
     */
    int (*error)(tranche_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

    /*
     * Option values, by name, as validated against the plugin's option table (defaults applied).
     * A name the table does not list, or an unset option without default, gives NULL / 0 / false
     * / 0 items. Returned strings live until fini() returns. Valid from init() on.
     */
    const char *(*opt_string)(tranche_ctx *ctx, const char *name);
    int64_t (*opt_int)(tranche_ctx *ctx, const char *name);
    int (*opt_bool)(tranche_ctx *ctx, const char *name);
    size_t (*opt_list_len)(tranche_ctx *ctx, const char *name);
    const char *(*opt_list_item)(tranche_ctx *ctx, const char *name, size_t index);

    /* ---- ABI 1.1: check `offsetof(struct tranche_host, X) < host->size` before using these. */

    /*
     * Where the current record comes from (struct tranche_record_info). Valid in record(),
     * begin_partition() and end_partition(); the pointer and what it points to stay valid until
     * the callback returns (copy what you keep). Outside them (init, fini) it returns NULL.
     */
    const struct tranche_record_info *(*record_info)(tranche_ctx *ctx);

    /*
     * 1 when this init() is the parent's option check (init and then fini at once, with no
     * records, in a process of its own), 0 in a worker. A plugin whose set-up is expensive may
     * check its options and skip the rest while this is 1. Valid in every callback.
     */
    int (*is_option_check)(tranche_ctx *ctx);

    /*
     * Like error(), for a value of option `name` that init() rejects: the message points at that
     * value in the job file (`job.yaml:LINE:COL: step N (plugin): option 'NAME': ...`), or at the
     * step when the value is the option's default. option_item_error points at item `index` of a
     * LIST value. Both always return TRANCHE_ERROR.
     */
    int (*option_error)(tranche_ctx *ctx, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    int (*option_item_error)(tranche_ctx *ctx, const char *name, size_t index, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

    /* ---- ABI 1.2: check TRANCHE_HOST_HAS(host, X) before using these. */

    /* Which phase this step runs in (enum tranche_phase): TRANCHE_PHASE_MAP in the workers (and
     * in the option check), TRANCHE_PHASE_COMBINE in an aggregator's combine phase. */
    int (*phase)(tranche_ctx *ctx);

    /* The memory, in bytes, this step's state should stay under in this process: the
     * aggregate stage's `memory:` (by default a quarter of the machine's RAM); beyond it an
     * aggregator emits (map) or spills (combine) what it holds. 0 for a step that is not an
     * aggregator: no limit is set. */
    uint64_t (*memory_limit)(tranche_ctx *ctx);

    /* A directory private to this job and this process, for an aggregator's spill files: it
     * exists from init() on and is removed, with what it holds, when the process is done (also on
     * failure). Valid in every callback but the option check's, where it is NULL. */
    const char *(*temp_dir)(tranche_ctx *ctx);

    /* ---- ABI 1.3: check TRANCHE_HOST_HAS(host, X) before using these. */

    /* How the job reads its input (struct tranche_format, below): the record format, the
     * record delimiter or CSV field separator, the CSV quote. Valid in every callback; the
     * pointer stays valid until fini() returns. */
    const struct tranche_format *(*format)(tranche_ctx *ctx);

    /*
     * The input's header row (`format: csv` with `header: true`): the first row of the input
     * files, which is not a record, without its line ending; data[len] == '\0'. NULL (and *len
     * 0) when the job has none. Every input file begins with the same header (the runner checks).
     * Valid in every callback, init() and the option check included, so that a plugin can find
     * columns by name before the first record.
     */
    const char *(*header)(tranche_ctx *ctx, size_t *len);
};

/* host->format()->kind. */
enum tranche_format_kind {
    TRANCHE_FORMAT_LINES = 0, /* records between delimiters (input.delimiter, 1 to 16 bytes) */
    TRANCHE_FORMAT_CSV = 1,   /* RFC 4180 rows: a record is one row, without its line ending */
    TRANCHE_FORMAT_FASTQ = 2  /* a record is one read: its 4 lines joined by '\n', no final one */
};

/*
 * What format() returns. `size` is sizeof(struct tranche_format) as the host was built; members
 * are only appended.
 */
struct tranche_format {
    uint32_t size;
    int kind;              /* enum tranche_format_kind */
    const char *delimiter; /* lines: the record delimiter; csv: the field separator (1 byte);
                            * fastq: "\n" */
    size_t delimiter_len;
    const char *output_delimiter; /* written after each emitted record: lines: the delimiter;
                                   * csv and fastq: "\n" */
    size_t output_delimiter_len;
    unsigned char quote;       /* csv: the quote character (default '"'); 0 otherwise */
    unsigned char has_header;  /* csv: header: true */
    unsigned char reserved[6]; /* 0 */
};

/* What host->phase() returns. */
enum tranche_phase {
    TRANCHE_PHASE_MAP = 0,    /* a worker: record(), begin_partition(), end_partition() */
    TRANCHE_PHASE_COMBINE = 1 /* the combine phase: combine(), combine_end() */
};

/*
 * What record_info() returns: where a record came from. `size` is sizeof(struct
 * tranche_record_info) as the host was built; members are only appended, so check that a member
 * lies within `size` before reading one added after ABI 1.1.
 *
 * In record(), `offset` and `length` are those of the input record being processed: its first
 * byte's offset in the input (in decompressed bytes for a gzip input) and its length without the
 * delimiter. A step after the first sees the input record that the emits before it came from
 * (every record step 1 emits for input record R carries R's offset and length, whatever its own
 * length). In begin_partition() and end_partition(), and for what is emitted from them, there is
 * no input record: `offset` and `length` are the partition's (its first byte and its byte length,
 * partition_offset and partition_length).
 */
struct tranche_record_info {
    uint32_t size;
    uint32_t reserved;         /* 0 */
    const char *input_path;    /* the input as the job named it (a glob's match; "-": stdin) */
    uint64_t input_index;      /* 0-based position of the input in the job's input list */
    uint64_t offset;           /* the record's first byte in its input (see above) */
    uint64_t length;           /* the record's length, without its delimiter */
    uint64_t partition;        /* 0-based partition index, over all inputs, in output order */
    uint64_t partition_offset; /* the partition's first byte in its input */
    uint64_t partition_length; /* its bytes (a compressed input's: decompressed bytes) */
};

/*
 * The descriptor. Fill it with TRANCHE_PLUGIN_ABI first so the ABI fields are right.
 *
 * init (optional): called once per step per worker after fork (and once in the parent to check
 *   the options, followed at once by fini). Store what you need in *state
 *   (it starts as NULL) and keep `host` for later calls. Return TRANCHE_OK, or report with
 *   host->error() and return TRANCHE_ERROR to fail the job.
 * record (required): one record without its delimiter. `data` is writable and stays valid until
 *   the call returns, so a plugin may change it in place and emit it. It may contain NUL bytes.
 *   data[len] is always '\0' (since ABI 1.1, at every step; the host puts it where the delimiter
 *   was), so C string functions stop at the end of the record, or earlier at a NUL inside it.
 *   Write only data[0, len): data[len] belongs to the host.
 * end_partition (optional): after the last record of each partition; may emit (a per-partition
 *   summary, say). Partitions of one worker are not contiguous: keep no state across them that
 *   must be in input order.
 * begin_partition (optional, ABI 1.1): before the first record of each partition; may emit
 *   (what it emits comes before the partition's records in the output). The host calls the steps'
 *   begin_partition from the last step to the first, so a step's begin_partition has run before
 *   anything reaches its record(); end_partition runs from the first step to the last.
 *   Stateful plugins: state kept from one record to the next makes the output depend on where
 *   partitions fall. Reset it in begin_partition, and finish it in end_partition.
 * fini (optional): once per step per worker whose init() succeeded, after the last partition or
 *   after a failure in that worker. Release *state here. It may not emit (the job fails if it
 *   does). An init() that fails gets no fini(): it releases what it allocated itself. When the
 *   job stops for another reason (another worker failed, a stop signal), the other workers are
 *   killed at once, without fini(): keep nothing in fini() that must happen outside the process.
 * emit is refused (TRANCHE_ERROR, and the job fails) outside record(), begin_partition(),
 * end_partition(), combine() and combine_end().
 */
struct tranche_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size;

    const char *name;
    const char *version;
    const char *description;
    const struct tranche_option *options; /* may be NULL: no options */

    int (*init)(tranche_ctx *ctx, const struct tranche_host *host, void **state);
    int (*record)(void *state, tranche_ctx *ctx, char *data, size_t len);
    int (*end_partition)(void *state, tranche_ctx *ctx);
    void (*fini)(void *state);

    /* ---- ABI 1.1 (a plugin built against 1.0 has none of these: the host reads them only
     * when the descriptor's size covers them). */
    int (*begin_partition)(void *state, tranche_ctx *ctx);

    /* ---- ABI 1.2: aggregators only (see the top of this file). A plugin that sets combine is an
     * aggregator: it may stand under `aggregate:` and nowhere else.
     *
     * combine (required of an aggregator): one partial record, as map's end_partition() (or
     *   record()) emitted it, without its delimiter; writable, data[len] == '\0', valid for the
     *   call. Called in input order. May emit, but usually folds and emits in combine_end.
     * combine_end (optional): after the last partial record; emits the job's output (sorted,
     *   say, so that it does not depend on the partitions). */
    int (*combine)(void *state, tranche_ctx *ctx, char *data, size_t len);
    int (*combine_end)(void *state, tranche_ctx *ctx);

    /* ---- ABI 1.3.
     *
     * header (optional): the job's header row (host->header()) as the step before passed it on
     *   (the input's, for the first step); emits the header row of this step's output: usually
     *   one record (the selected columns, say), none to drop it. Called once per job, in the
     *   worker that runs the job's first partition, before that partition's begin_partition; what
     *   the last step passes on begins the output, once. A step without header() passes the row
     *   on unchanged. An aggregator's header() is called in the combine phase instead, before the
     *   first combine(), with the input's header row; an aggregator without one gives an output
     *   without a header. `data` is writable, data[len] == '\0'. */
    int (*header)(void *state, tranche_ctx *ctx, char *data, size_t len);
};

#define TRANCHE_PLUGIN_ABI                                                                         \
    .abi_major = TRANCHE_ABI_MAJOR, .abi_minor = TRANCHE_ABI_MINOR,                                \
    .size = (uint32_t)sizeof(struct tranche_plugin)

/* The symbol the host looks up. */
#define TRANCHE_PLUGIN_SYMBOL "tranche_plugin"

/*
 * Defines the descriptor, exported with C linkage: in C++, a const at namespace scope would have
 * internal linkage and the plugin would export nothing, so the macro adds extern "C". The
 * descriptor is written with designated initializers, in the order of the members (C++20; g++ and
 * clang++ accept them in C++17 as well, with a warning under -Wpedantic). In C++, -Wextra warns
 * of each member left out (-Wmissing-field-initializers): they are zero, as in C, and harmless.
 */
#ifdef __cplusplus
#define TRANCHE_PLUGIN                                                                             \
    extern "C" __attribute__((visibility("default"))) const struct tranche_plugin tranche_plugin
#else
#define TRANCHE_PLUGIN                                                                             \
    __attribute__((visibility("default"))) const struct tranche_plugin tranche_plugin
#endif

#ifdef __cplusplus
}
#endif

#endif /* TRANCHE_PLUGIN_H */
