/*
 * core/cmd_new.c: `tranche new NAME [DIR]`, the plugin project scaffold: a plugin with a record
 * callback and one option, a CMakeLists.txt that builds it against the installed package
 * (find_package(tranche), tranche_add_plugin), a sample job with its input and expected output,
 * and a ctest case that runs the job with the installed tranche and compares. What it writes
 * builds and passes as written (tests/sdk/sdk_test.sh checks that against a prefix install).
 * DIR must not exist, or be empty; nothing is ever overwritten, and a failure part-way removes
 * what was written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "io.h"
#include "loader.h"
#include "paths.h"

const char cli_new_help[] =
    "usage: tranche new NAME [DIR]\n"
    "\n"
    "Writes a plugin project into DIR (default: ./NAME), which must not exist or be empty:\n"
    "  NAME.c              the plugin: a record callback and one option (prefix)\n"
    "  CMakeLists.txt      builds NAME.so with find_package(tranche) and tranche_add_plugin\n"
    "  sample/job.yaml     a job that runs the plugin by name on sample/input.txt\n"
    "  sample/expected.txt what that job writes\n"
    "  tests/sample.cmake  the ctest case: runs the job with the installed tranche, compares\n"
    "  README.md           how to build, test, install and debug it\n"
    "NAME is a C identifier (letters, digits, underscores, not starting with a digit): the\n"
    "plugin's name in jobs and the prefix of its functions; not the name of a plugin tranche\n"
    "already finds (installing it would replace or hide that one).\n"
    "\n"
    "then:\n"
    "  cmake -S DIR -B DIR/build -DCMAKE_PREFIX_PATH=PREFIX   (where tranche is installed)\n"
    "  cmake --build DIR/build && ctest --test-dir DIR/build\n"
    "  cmake --install DIR/build    (NAME.so into the plugin directory: found by name)\n";

/* The files, with @NAME@ and @VERSION@ replaced when written. */

static const char plugin_c[] =
    "/*\n"
    " * @NAME@.c: a tranche plugin that puts the text of its `prefix` option before every\n"
    " * record. tranche/plugin.h is the manual of every call used here.\n"
    " */\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <tranche/plugin.h>\n"
    "\n"
    "/* The options a job may give (`options: { prefix: \"> \" }`), checked by tranche before\n"
    " * any record is read: name, type, default, required, help. */\n"
    "static const struct tranche_option @NAME@_options[] = {\n"
    "    {\"prefix\", TRANCHE_OPT_STRING, \"> \", 0, \"text put before each record\"},\n"
    "    {NULL, TRANCHE_OPT_STRING, NULL, 0, NULL},\n"
    "};\n"
    "\n"
    "/* One per step and worker: a job may use the plugin in two steps with two prefixes. */\n"
    "struct @NAME@_state {\n"
    "    const struct tranche_host *host;\n"
    "    const char *prefix; /* the host keeps option values until fini() */\n"
    "    size_t prefix_len;\n"
    "    char *buf; /* prefix + record, grown as records need */\n"
    "    size_t cap;\n"
    "};\n"
    "\n"
    "static int\n"
    "@NAME@_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)\n"
    "{\n"
    "    struct @NAME@_state *s = calloc(1, sizeof(*s));\n"
    "\n"
    "    if (s == NULL) {\n"
    "        return host->error(ctx, \"out of memory\");\n"
    "    }\n"
    "    s->host = host;\n"
    "    s->prefix = host->opt_string(ctx, \"prefix\");\n"
    "    s->prefix_len = strlen(s->prefix);\n"
    "    *state = s;\n"
    "    return TRANCHE_OK;\n"
    "}\n"
    "\n"
    "/* One record, without its delimiter; tranche writes one after each emitted record. */\n"
    "static int\n"
    "@NAME@_record(void *state, tranche_ctx *ctx, char *data, size_t len)\n"
    "{\n"
    "    struct @NAME@_state *s = state;\n"
    "    size_t need = s->prefix_len + len;\n"
    "\n"
    "    if (need >= s->cap) {\n"
    "        char *grown = realloc(s->buf, need + 1);\n"
    "\n"
    "        if (grown == NULL) {\n"
    "            return s->host->error(ctx, \"out of memory for a record of %zu bytes\", len);\n"
    "        }\n"
    "        s->buf = grown;\n"
    "        s->cap = need + 1;\n"
    "    }\n"
    "    memcpy(s->buf, s->prefix, s->prefix_len);\n"
    "    memcpy(s->buf + s->prefix_len, data, len);\n"
    "    /* emit copies what it is given: buf is ours again when it returns. */\n"
    "    return s->host->emit(ctx, s->buf, need);\n"
    "}\n"
    "\n"
    "static void\n"
    "@NAME@_fini(void *state)\n"
    "{\n"
    "    struct @NAME@_state *s = state;\n"
    "\n"
    "    if (s != NULL) {\n"
    "        free(s->buf);\n"
    "        free(s);\n"
    "    }\n"
    "}\n"
    "\n"
    "TRANCHE_PLUGIN = {\n"
    "    TRANCHE_PLUGIN_ABI,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1\",\n"
    "    .description = \"puts a prefix before every record\",\n"
    "    .options = @NAME@_options,\n"
    "    .init = @NAME@_init,\n"
    "    .record = @NAME@_record,\n"
    "    .fini = @NAME@_fini,\n"
    "};\n";

static const char cmakelists[] =
    "cmake_minimum_required(VERSION 3.20)\n"
    "project(@NAME@ C)\n"
    "\n"
    "# The installed tranche: configure with -DCMAKE_PREFIX_PATH=PREFIX when it is not in a\n"
    "# standard place. It gives tranche::plugin (the header), TRANCHE_EXECUTABLE and\n"
    "# tranche_add_plugin, which builds @NAME@.so (no lib prefix, hidden symbols but the\n"
    "# descriptor) and installs it into the plugin directory of that tranche, where it is found\n"
    "# by name (-DTRANCHE_PLUGIN_INSTALL_DIR=DIR to install elsewhere).\n"
    "find_package(tranche @VERSION@ REQUIRED)\n"
    "\n"
    "tranche_add_plugin(@NAME@ SOURCES @NAME@.c)\n"
    "target_compile_options(@NAME@ PRIVATE -Wall -Wextra)\n"
    "\n"
    "# ctest: the sample job, run by the installed tranche with the plugin just built (found\n"
    "# first in TRANCHE_PLUGIN_PATH), must write sample/expected.txt.\n"
    "enable_testing()\n"
    "add_test(NAME sample COMMAND ${CMAKE_COMMAND}\n"
    "    -DTRANCHE=${TRANCHE_EXECUTABLE}\n"
    "    -DJOB=${CMAKE_CURRENT_SOURCE_DIR}/sample/job.yaml\n"
    "    -DEXPECTED=${CMAKE_CURRENT_SOURCE_DIR}/sample/expected.txt\n"
    "    -DOUT=${CMAKE_CURRENT_BINARY_DIR}/sample-out\n"
    "    -P ${CMAKE_CURRENT_SOURCE_DIR}/tests/sample.cmake)\n"
    "set_tests_properties(sample PROPERTIES\n"
    "    ENVIRONMENT \"TRANCHE_PLUGIN_PATH=$<TARGET_FILE_DIR:@NAME@>\")\n";

static const char sample_cmake[] =
    "# Runs the sample job with tranche (-DTRANCHE) and compares what it writes with the\n"
    "# expected output, byte for byte; ctest runs it (see CMakeLists.txt).\n"
    "execute_process(COMMAND ${TRANCHE} run ${JOB} --workers 2 --output ${OUT}/output.txt\n"
    "    --log-dir ${OUT}/logs RESULT_VARIABLE status)\n"
    "if(NOT status EQUAL 0)\n"
    "    message(FATAL_ERROR \"${TRANCHE} run ${JOB} failed (${status}); logs in ${OUT}/logs\")\n"
    "endif()\n"
    "execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/output.txt ${EXPECTED}\n"
    "    RESULT_VARIABLE differ)\n"
    "if(differ)\n"
    "    file(READ ${OUT}/output.txt got)\n"
    "    file(READ ${EXPECTED} want)\n"
    "    message(FATAL_ERROR \"${OUT}/output.txt differs from ${EXPECTED}:\\n\"\n"
    "        \"--- got:\\n${got}--- expected:\\n${want}\")\n"
    "endif()\n";

static const char job_yaml[] =
    "# The sample job: tranche run sample/job.yaml (paths are relative to "
    "this file).\n"
    "input:\n"
    "  path: input.txt\n"
    "output:\n"
    "  path: output.txt\n"
    "steps:\n"
    "  - plugin: @NAME@\n"
    "    options: { prefix: \"@NAME@: \" }\n";

static const char input_txt[] = "alpha\n"
                                "bravo charlie\n"
                                "\n"
                                "delta\n";

static const char expected_txt[] = "@NAME@: alpha\n"
                                   "@NAME@: bravo charlie\n"
                                   "@NAME@: \n"
                                   "@NAME@: delta\n";

static const char readme_md[] =
    "# @NAME@\n"
    "\n"
    "A tranche plugin: puts the text of its `prefix` option before every record.\n"
    "Written by `tranche new @NAME@`.\n"
    "\n"
    "```sh\n"
    "cmake -S . -B build -DCMAKE_PREFIX_PATH=PREFIX   # PREFIX: where tranche is installed\n"
    "cmake --build build\n"
    "ctest --test-dir build --output-on-failure     # runs sample/job.yaml, compares\n"
    "cmake --install build                          # @NAME@.so into tranche's plugin directory\n"
    "tranche plugins @NAME@                         # found by name from now on\n"
    "```\n"
    "\n"
    "Without CMake, one line builds it: `cc -shared -fPIC $(pkg-config --cflags tranche-plugin)\n"
    "@NAME@.c -o @NAME@.so` (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when tranche is not in a\n"
    "standard place). Before installing, run it from the build directory with\n"
    "`TRANCHE_PLUGIN_PATH=build tranche run sample/job.yaml`, or name it by path\n"
    "(`plugin: ./build/@NAME@.so`).\n"
    "\n"
    "Debugging: `gdb --args tranche run sample/job.yaml --in-process` runs every partition in\n"
    "the tranche process itself; a failed run prints a `reproduce:` command that replays the\n"
    "failing worker's partitions in the same order. The plugin's ABI is in tranche-plugin(7) and\n"
    "in the header, tranche/plugin.h.\n";

static const char gitignore[] = "/build/\n/sample/output.txt\n";

static const struct {
    const char *path; /* relative to DIR; a name ending in '/' is a directory */
    const char *text;
} files[] = {
    {"@NAME@.c", plugin_c},
    {"CMakeLists.txt", cmakelists},
    {"README.md", readme_md},
    {".gitignore", gitignore},
    {"sample/", NULL},
    {"sample/job.yaml", job_yaml},
    {"sample/input.txt", input_txt},
    {"sample/expected.txt", expected_txt},
    {"tests/", NULL},
    {"tests/sample.cmake", sample_cmake},
};

#define NFILES (sizeof(files) / sizeof(files[0]))

/* CMake refuses these as target names, and the project would not configure. */
static const char *const reserved_targets[] = {
    "all",           "ALL_BUILD",  "help",           "install",
    "INSTALL",       "preinstall", "clean",          "edit_cache",
    "rebuild_cache", "ZERO_CHECK", "test",           "RUN_TESTS",
    "package",       "PACKAGE",    "package_source", "list_install_components",
};

#define NAME_MAX_LEN 64

/* A plugin this tranche already finds by that name (a bundled one, say) would be replaced in
 * the plugin directory by `cmake --install`, or would hide the new one. */
static int
check_name_is_free(const char *name)
{
    struct error err;
    char *path = NULL;

    if (plugin_find(name, &path, &err) != 0) {
        return 0;
    }
    fprintf(stderr,
            "tranche new: a plugin named '%s' exists already (%s): installing another would "
            "replace or hide it; choose another name\n",
            name, path);
    free(path);
    return ERR_INVALID;
}

static int
check_name(const char *name)
{
    size_t i, len = strlen(name);

    if (len == 0) {
        return cli_usage_error("new: the plugin name is empty%s", "");
    }
    if (len > NAME_MAX_LEN) {
        return cli_usage_error("new: plugin name '%s' is longer than 64 characters", name);
    }
    for (i = 0; i < len; i++) {
        char c = name[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        if (!letter && !(i > 0 && c >= '0' && c <= '9')) {
            return cli_usage_error("new: plugin name '%s' is not a C identifier "
                                   "(letters, digits and '_', not starting with a digit)",
                                   name);
        }
    }
    for (i = 0; i < sizeof(reserved_targets) / sizeof(reserved_targets[0]); i++) {
        if (strcmp(name, reserved_targets[i]) == 0) {
            return cli_usage_error("new: plugin name '%s' is reserved by CMake as a "
                                   "target name; choose another",
                                   name);
        }
    }
    return check_name_is_free(name);
}

/* ERR_INVALID when dir exists and is not an empty directory; *exists says whether it does. */
static int
check_dir(const char *dir, int *exists)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int empty = 1;

    *exists = 0;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        fprintf(stderr, "tranche new: %s: %s\n", dir, strerror(errno));
        return ERR_INVALID;
    }
    if (S_ISLNK(st.st_mode) && stat(dir, &st) != 0) {
        fprintf(stderr, "tranche new: %s is a symbolic link to nothing (%s)\n", dir,
                strerror(errno));
        return ERR_INVALID;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "tranche new: %s exists and is not a directory: give a new or empty "
                "directory\n",
                dir);
        return ERR_INVALID;
    }
    d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "tranche new: cannot read directory %s: %s\n", dir, strerror(errno));
        return ERR_INVALID;
    }
    while (empty && (e = readdir(d)) != NULL) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    closedir(d);
    if (!empty) {
        fprintf(stderr,
                "tranche new: directory %s is not empty: give a new or empty directory "
                "(nothing is overwritten)\n",
                dir);
        return ERR_INVALID;
    }
    *exists = 1;
    return 0;
}

/* text with every @NAME@ replaced by name and @VERSION@ by tranche's version; malloc'd. */
static char *
expand(const char *text, const char *name)
{
    static const struct {
        const char *key;
        const char *value;
    } subst[] = {{"@NAME@", NULL}, {"@VERSION@", TRANCHE_VERSION}};
    size_t cap = strlen(text) + 1, n = 0, i;
    char *out;

    /* Each replacement grows the text by at most the value's length minus the key's. */
    for (const char *p = strstr(text, "@NAME@"); p != NULL; p = strstr(p + 1, "@NAME@")) {
        cap += strlen(name);
    }
    for (const char *p = strstr(text, "@VERSION@"); p != NULL; p = strstr(p + 1, "@VERSION@")) {
        cap += strlen(TRANCHE_VERSION);
    }
    out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    while (*text != '\0') {
        for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++) {
            size_t klen = strlen(subst[i].key);

            if (strncmp(text, subst[i].key, klen) == 0) {
                const char *value = subst[i].value != NULL ? subst[i].value : name;

                memcpy(out + n, value, strlen(value));
                n += strlen(value);
                text += klen;
                break;
            }
        }
        if (i == sizeof(subst) / sizeof(subst[0])) {
            out[n++] = *text++;
        }
    }
    out[n] = '\0';
    return out;
}

static int
write_file(int dir_fd, const char *dir, const char *path, const char *text, struct error *err)
{
    int fd = openat(dir_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = 0;

    if (fd < 0) {
        return error_errno(err, "cannot create %s/%s", dir, path);
    }
    if (io_write_all(fd, text, strlen(text)) != 0) {
        rc = error_errno(err, "cannot write %s/%s", dir, path);
    }
    if (close(fd) != 0 && rc == 0) {
        rc = error_errno(err, "cannot write %s/%s", dir, path);
    }
    if (rc != 0) {
        unlinkat(dir_fd, path, 0); /* ours: O_EXCL made it */
    }
    return rc;
}

/* Writes files[] into the directory open on dir_fd; *written says how many were (all of them,
 * or those before the one that failed, which the caller removes). */
static int
write_project(int dir_fd, const char *dir, const char *name, size_t *written, struct error *err)
{
    for (*written = 0; *written < NFILES; ++*written) {
        char *path = expand(files[*written].path, name);
        char *text = NULL;
        size_t len;
        int rc;

        if (path == NULL) {
            return error_set(err, "out of memory");
        }
        len = strlen(path);
        if (path[len - 1] == '/') {
            path[len - 1] = '\0';
            rc = mkdirat(dir_fd, path, 0775) == 0
                     ? 0
                     : error_errno(err, "cannot create %s/%s", dir, path);
        } else if ((text = expand(files[*written].text, name)) == NULL) {
            rc = error_set(err, "out of memory");
        } else {
            rc = write_file(dir_fd, dir, path, text, err);
        }
        free(text);
        free(path);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Removes the first n entries of files[], deepest first (they are listed parents first). */
static void
remove_project(int dir_fd, const char *name, size_t n)
{
    while (n-- > 0) {
        char *path = expand(files[n].path, name);
        size_t len;

        if (path == NULL) {
            continue;
        }
        len = strlen(path);
        if (path[len - 1] == '/') {
            path[len - 1] = '\0';
            unlinkat(dir_fd, path, AT_REMOVEDIR);
        } else {
            unlinkat(dir_fd, path, 0);
        }
        free(path);
    }
}

/* The prefix of this tranche's CMake package, what CMAKE_PREFIX_PATH should name: the install
 * prefix (bin/..), or the build directory, which holds the package too (lib/cmake/tranche).
 * NULL when neither has it; malloc'd. */
static char *
package_prefix(void)
{
    static const char *const package_dirs[] = {TRANCHE_PACKAGE_RELATIVE_DIR,
                                               "../lib/cmake/tranche"};
    char exe[PATH_MAX], *slash, *prefix = NULL;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (len <= 0) {
        return NULL;
    }
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    for (size_t i = 0; prefix == NULL && i < 2; i++) {
        char *config = NULL;

        if (asprintf(&config, "%s/%s/trancheConfig.cmake", exe, package_dirs[i]) < 0) {
            return NULL;
        }
        if (access(config, F_OK) == 0) {
            prefix = realpath(exe, NULL);
        }
        free(config);
    }
    if (prefix != NULL && (slash = strrchr(prefix, '/')) != NULL) {
        *slash = '\0'; /* bin/.. */
    }
    return prefix;
}

static void
print_next_steps(const char *dir, const char *name)
{
    char *prefix = package_prefix();

    printf("tranche new: wrote the plugin project '%s' in %s/:\n ", name, dir);
    for (size_t i = 0; i < NFILES; i++) {
        char *path = expand(files[i].path, name);

        if (path != NULL && path[strlen(path) - 1] != '/') {
            printf(" %s", path);
        }
        free(path);
    }
    printf("\nbuild it, run its test, and install %s.so where tranche finds it by name:\n", name);
    printf("  cmake -S %s -B %s/build -DCMAKE_PREFIX_PATH=%s\n", dir, dir,
           prefix != NULL ? (prefix[0] != '\0' ? prefix : "/") : "PREFIX");
    printf("  cmake --build %s/build && ctest --test-dir %s/build --output-on-failure\n", dir, dir);
    printf("  cmake --install %s/build\n", dir);
    if (prefix == NULL) {
        printf("(PREFIX: the directory tranche is installed into, by make install PREFIX=... or "
               "cmake --install)\n");
    }
    free(prefix);
}

int
cmd_new(int argc, char **argv)
{
    const char *name, *dir;
    struct path_made made = {0};
    struct error err;
    size_t written = 0;
    int exists, dir_fd, rc;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cli_new_help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("new: unknown option '%s' (usage: tranche new NAME "
                                   "[DIR]; see tranche new --help)",
                                   argv[i]);
        }
    }
    if (argc < 2 || argc > 3) {
        return cli_usage_error("usage: tranche new NAME [DIR]%s", "");
    }
    name = argv[1];
    dir = argc == 3 ? argv[2] : name;
    if (check_name(name) != 0) {
        return ERR_INVALID;
    }
    if (dir[0] == '\0') {
        return cli_usage_error("new: the directory is empty%s", "");
    }
    rc = check_dir(dir, &exists);
    if (rc != 0) {
        return rc;
    }
    if (!exists && path_mkdirs_undoable(dir, &made, &err) != 0) {
        fprintf(stderr, "tranche new: %s\n", err.msg);
        path_made_undo(&made);
        return ERR_FAILED;
    }
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        fprintf(stderr, "tranche new: cannot open directory %s: %s\n", dir, strerror(errno));
        path_made_undo(&made);
        return ERR_FAILED;
    }
    rc = write_project(dir_fd, dir, name, &written, &err);
    if (rc != 0) {
        fprintf(stderr, "tranche new: %s (nothing is left of the project)\n", err.msg);
        remove_project(dir_fd, name, written);
        close(dir_fd);
        path_made_undo(&made);
        return ERR_FAILED;
    }
    close(dir_fd);
    path_made_release(&made);
    print_next_steps(dir, name);
    return 0;
}
