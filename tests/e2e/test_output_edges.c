/*
 * tests/e2e/test_output_edges.c: the output side under a hostile or unusual file system (issue
 * P4): part directories planted under the names an older tranche used, two jobs with the same
 * process id sharing an output directory, outputs that are devices, FIFOs, links, directories,
 * sockets; directories made for an output whose job failed; links, FIFOs and foreign
 * directories planted where the logs go; and the durable commit, checked in this process. Exit 0
 * must mean the right output, a refusal is exit 2 before anything runs, and nothing outside the
 * output path is touched. Device nodes are made in the test's own directory (as root; skipped
 * otherwise), never used from the system's /dev.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "output.h"
#include "testutil.h"

#define FAILER TEST_PLUGIN_DIR "/failer.so"

/* Parks every partition that is not due at once, and spills any output that is not due. */
#define PARK_ALL "TRANCHE_TEST_SPILL_AFTER=1 TRANCHE_TEST_PARK_AFTER_MS=0 "

/* in.txt, 20000 records (about 290 KB: more than a pipe holds), and in.ref, its upper case. */
static void
make_input(void)
{
    tu_sh(0, "[ -e in.ref ] || { seq 1 20000 | sed 's/$/ line of input/' > in.txt && "
             "tr a-z A-Z < in.txt > in.ref; }");
}

/* A job on in.txt in small partitions: upper, then a failer that leaves `ran.mark` when it sees
 * a record (so that a test knows whether the job ran) and fails on `boom` when mode is error. */
static const char *
upper_job(const char *name, const char *extra)
{
    char file[256];

    snprintf(file, sizeof(file), "%s.yaml", name);
    return tu_write_job(file,
                        "input:\n  path: in.txt\noutput:\n  path: unused.out\n"
                        "partition_size: 8KiB\nlog_dir: logs/%s\n%s"
                        "steps:\n  - plugin: upper\n  - plugin: %s\n"
                        "    options: { match: LINE, mode: stderr, marker: %s/ran.mark }\n",
                        name, extra, FAILER, tu_dir);
}

/* ---- part directories ---------------------------------------------------------------------- */

/*
 * NAME/p0.log ... p4.log (one partition each) and NAME.ref. Partition 0 holds at its first
 * record until the file `release` exists; partition 4's last record leaves `mark`. With two
 * workers, the second runs partitions 1 to 4 meanwhile and parks each in a part file.
 */
static const char *
held_job(const char *name, const char *release, const char *mark)
{
    char file[256];

    tu_sh(0,
          "rm -rf %s && mkdir %s && { echo HOLD here; seq 1 300; } > %s/p0.log && "
          "for k in 1 2 3; do seq 1 400 | sed \"s/^/%s part $k line /\" > %s/p$k.log; done && "
          "{ seq 1 400 | sed 's/^/%s part 4 line /'; echo LAST line; } > %s/p4.log && "
          "cat %s/p*.log > %s.ref",
          name, name, name, name, name, name, name, name, name);
    snprintf(file, sizeof(file), "%s.yaml", name);
    return tu_write_job(
        file,
        "input:\n  path: %s/p*.log\noutput:\n  path: unused.out\n"
        "partition_size: 1GiB\nlog_dir: logs/%s\nsteps:\n"
        "  - plugin: %s\n    options: { match: HOLD, mode: wait, release: %s/%s }\n"
        "  - plugin: %s\n    options: { match: LAST, mode: stderr, marker: %s/%s }\n",
        name, name, FAILER, tu_dir, release, FAILER, tu_dir, mark);
}

/* Scripts sourced just before tranche is exec'ed, so that $$ is tranche's process id: they
 * plant `.tranche-parts-PID` in $W, the name the part directory used to have, as a directory of
 * links to pl/victim and files of injected lines, or as a link to the directory pl/vdir; and
 * check afterwards that none of it was used, followed, changed or removed. */
static const char plant_dir[] =
    "P=\"$W/.tranche-parts-$$\"; echo \"$P\" > pl/planted; mkdir \"$P\" || exit 97\n"
    "for k in 0 1 2; do ln -s \"$PWD/pl/victim\" \"$P/part-00000$k\"; done\n"
    "for k in 3 4 5; do echo INJECTED > \"$P/part-00000$k\"; done\n";
static const char check_dir[] =
    "P=$(cat pl/planted); [ $(ls -A \"$P\" | wc -l) -eq 6 ] || exit 1\n"
    "for k in 0 1 2; do [ -L \"$P/part-00000$k\" ] || exit 1; done\n"
    "for k in 3 4 5; do [ \"$(cat \"$P/part-00000$k\")\" = INJECTED ] || exit 1; done\n";
static const char plant_link[] =
    "P=\"$W/.tranche-parts-$$\"; echo \"$P\" > pl/planted; ln -s \"$PWD/pl/vdir\" \"$P\"\n";
static const char check_link[] = "[ -L \"$(cat pl/planted)\" ]\n";

/* Runs the held job with what `plant` plants in W (the output's directory pl/out, or $TMPDIR
 * pl/tmp for `-o -`), releasing partition 0 once `need` part files are seen there. */
static void
run_planted(const char *job, const char *w, const char *output, const char *plant,
            const char *check, int need)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/plant.sh", tu_dir);
    tu_write_file(path, plant, strlen(plant));
    snprintf(path, sizeof(path), "%s/check.sh", tu_dir);
    tu_write_file(path, check, strlen(check));
    tu_sh(
        0,
        TU_SH_WAIT
        "rm -rf pl pl.go && mkdir -p pl/out pl/tmp pl/vdir && echo victim > pl/victim && "
        "echo keep > pl/vdir/keep && { W=%s TMPDIR=\"$PWD/pl/tmp\" " PARK_ALL
        "sh -c '. ./plant.sh; exec \"$0\" run \"$1\" --workers 2 -o \"$2\"' %s %s %s "
        "> pl/stdout & } && pid=$! && "
        "tu_wait_for 20 '[ $(tu_count \"%s/.tranche-parts*/part-*\") -ge %d ]'; seen=$?; "
        "touch pl.go; tu_reap $pid 60; rc=$?; out=%s; [ \"$out\" = - ] && out=pl/stdout; "
        "[ \"$(cat pl/victim)\" = victim ] || { echo 'a planted link was followed' >&2; exit 91; "
        "}; "
        "[ \"$(ls -A pl/vdir)\" = keep ] || { echo 'a planted link was followed' >&2; exit 92; }; "
        "sh check.sh || { echo 'what was planted was used or removed' >&2; exit 93; }; "
        "[ $rc -eq 0 ] || { echo \"tranche exited $rc\" >&2; exit 94; }; "
        "cmp \"$out\" planted.ref || exit 95; "
        "[ $seen -eq 0 ] || { echo 'the partitions were not parked' >&2; exit 96; }; "
        "left=$(ls -A %s | grep -v -x -e out.txt -e \"$(basename \"$(cat pl/planted)\")\"); "
        "[ -z \"$left\" ] || { echo \"left in %s: $left\" >&2; exit 97; }",
        w, TRANCHE_BIN, job, output, w, need, output, w, w);
}

static void
test_output_edges__planted_part_directories_are_never_used(void **state)
{
    const char *job;

    (void)state;
    job = held_job("planted", "pl.go", "pl.last");
    /* 6 planted files, and partitions 1 to 4 parked beside them */
    run_planted(job, "pl/out", "pl/out/out.txt", plant_dir, check_dir, 9);
    run_planted(job, "pl/tmp", "-", plant_dir, check_dir, 9);
    run_planted(job, "pl/out", "pl/out/out.txt", plant_link, check_link, 3);
    run_planted(job, "pl/tmp", "-", plant_link, check_link, 3);
}

/* Two jobs that both have process id 1 (each in a PID namespace of its own, as in two
 * containers) write into the same directory at once, with their partitions parked: each holds
 * its partition 0 until the other has parked its partitions 1 to 3. */
static void
test_output_edges__two_jobs_with_the_same_pid_share_a_directory(void **state)
{
    const char *a, *b;
    char ja[1024], jb[1024];

    (void)state;
    if (geteuid() != 0 || tu_run("unshare --pid --fork true 2>/dev/null", NULL) != 0) {
        printf("skipped: needs root and unshare --pid\n");
        skip();
    }
    a = held_job("same-a", "same-b.last", "same-a.last");
    snprintf(ja, sizeof(ja), "%s", a);
    b = held_job("same-b", "same-a.last", "same-b.last");
    snprintf(jb, sizeof(jb), "%s", b);
    tu_sh(0,
          TU_SH_WAIT
          "rm -rf same same-a.last same-b.last && mkdir same && "
          "{ " PARK_ALL "unshare --pid --fork %s run %s --workers 2 -o same/a.txt & } && "
          "pa=$! && { " PARK_ALL "unshare --pid --fork %s run %s --workers 2 "
          "-o same/b.txt & } && pb=$! && tu_reap $pa 60; ra=$?; tu_reap $pb 60; rb=$?; "
          "[ $ra -eq 0 ] && [ $rb -eq 0 ] && cmp same/a.txt same-a.ref && "
          "cmp same/b.txt same-b.ref && [ \"$(ls -A same | tr '\\n' ' ')\" = 'a.txt b.txt ' ]",
          TRANCHE_BIN, ja, TRANCHE_BIN, jb);
}

/* ---- outputs that are not regular files ------------------------------------------------------ */

static void
test_output_edges__devices_are_written_in_place(void **state)
{
    const char *job;
    char *err = NULL;

    (void)state;
    if (geteuid() != 0) {
        printf("skipped: making device nodes needs root\n");
        skip();
    }
    make_input();
    job = upper_job("dev", "");
    tu_sh(0, "rm -rf dev dev-tmp && mkdir dev dev-tmp && mknod dev/null c 1 3 && "
             "mknod dev/full c 1 7 && ln -s null dev/link");
    /* what a job gives its partitions' part files goes to $TMPDIR, not beside a device */
    tu_sh(0,
          "TMPDIR=\"$PWD/dev-tmp\" " PARK_ALL "%s run %s --workers 3 -o dev/null && "
          "[ -c dev/null ] && [ \"$(ls -A dev | sort | tr '\\n' ' ')\" = 'full link null ' ] && "
          "[ -z \"$(ls -A dev-tmp)\" ]",
          TRANCHE_BIN, job);
    tu_sh(0, "%s run %s -o dev/link && [ -L dev/link ] && [ -c dev/null ]", TRANCHE_BIN, job);
    assert_int_equal(tu_run_here(&err, "TMPDIR=\"$PWD/dev-tmp\" %s run %s --workers 3 -o dev/full",
                                 TRANCHE_BIN, job),
                     1);
    tu_assert_contains(err, "No space left on device");
    free(err);
    tu_sh(0, "[ -c dev/full ] && [ \"$(ls -A dev | sort | tr '\\n' ' ')\" = 'full link null ' ] && "
             "[ -z \"$(ls -A dev-tmp)\" ]");
}

static void
test_output_edges__a_fifo_reader_gets_all_the_output(void **state)
{
    const char *job;

    (void)state;
    make_input();
    job = upper_job("fifo", "");
    tu_sh(0, "rm -rf f f-tmp && mkdir f f-tmp && mkfifo f/fifo f/fifo.gz");
    /* parked and spilled partitions too, whose part files go to $TMPDIR */
    tu_sh(0,
          "{ timeout 30 cat f/fifo > f.got & } && r=$! && TMPDIR=\"$PWD/f-tmp\" " PARK_ALL
          "%s run %s --workers 3 -o f/fifo; rc=$?; wait $r; [ $rc -eq 0 ] && cmp f.got in.ref && "
          "[ -p f/fifo ] && [ -z \"$(ls -A f-tmp)\" ] && "
          "[ \"$(ls -A f | sort | tr '\\n' ' ')\" = 'fifo fifo.gz ' ]",
          TRANCHE_BIN, job);
    tu_sh(0,
          "{ timeout 30 sh -c 'zcat < f/fifo.gz > f.got' & } && r=$! && "
          "TMPDIR=\"$PWD/f-tmp\" " PARK_ALL
          "%s run %s --workers 3 -o f/fifo.gz; rc=$?; wait $r; [ $rc -eq 0 ] && "
          "cmp f.got in.ref && [ -p f/fifo.gz ] && [ -z \"$(ls -A f-tmp)\" ]",
          TRANCHE_BIN, job);
    /* a reader that goes away: as for standard output, 141 and no message */
    tu_sh(0,
          "{ timeout 30 head -c 10 f/fifo > f.got & } && r=$! && %s run %s --workers 3 -o f/fifo "
          "2> f.err; rc=$?; wait $r; [ $rc -eq 141 ] && ! grep tranche f.err && [ -p f/fifo ] && "
          "[ \"$(ls -A f | sort | tr '\\n' ' ')\" = 'fifo fifo.gz ' ]",
          TRANCHE_BIN, job);
}

/* A FIFO nobody reads: tranche waits for a reader, as a shell's `>` does, and a stop signal
 * ends the wait as it ends a job: exit 1, with a message, nothing left. */
static void
test_output_edges__waiting_for_a_fifo_reader_can_be_interrupted(void **state)
{
    const char *job;
    char *err = NULL;

    (void)state;
    make_input();
    job = upper_job("nofifo", "");
    assert_int_equal(
        tu_run_here(&err,
                    TU_SH_WAIT
                    "rm -rf nf ran.mark && mkdir nf && mkfifo nf/fifo && "
                    "{ %s run %s -o nf/fifo & } && pid=$! && "
                    "tu_wait_for 20 '[ \"$(cat /proc/$pid/wchan 2>/dev/null)\" = "
                    "wait_for_partner ]' || { echo 'never waited for a reader' >&2; "
                    "tu_reap $pid 1; exit 99; }; kill -TERM $pid; tu_reap $pid 20; rc=$?; "
                    "[ -p nf/fifo ] && [ \"$(ls -A nf)\" = fifo ] && [ ! -e ran.mark ] && "
                    "exit $rc",
                    TRANCHE_BIN, job),
        1);
    tu_assert_contains(err, "interrupted by signal SIGTERM");
    free(err);
}

/* ---- outputs that are refused before anything runs ---------------------------------------- */

static void
make_socket(const char *rel)
{
    struct sockaddr_un addr;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    assert_true((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", tu_dir, rel) <
                sizeof(addr.sun_path));
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
}

/* `-o PATH` must exit 2 with `message`, before the job runs (no ran.mark), and leave the
 * refusal test's directory r as it was. */
static void
assert_refused(const char *job, const char *path, const char *message)
{
    char *err = NULL;
    int rc;

    rc = tu_run_here(
        &err,
        "rm -f ran.mark && ls -lAR r > r.before && %s run %s -o '%s'; rc=$?; "
        "[ ! -e ran.mark ] || { echo 'the job ran' >&2; exit 98; }; "
        "ls -lAR r | cmp -s - r.before || { echo 'r changed' >&2; ls -lAR r >&2; exit 97; }; "
        "exit $rc",
        TRANCHE_BIN, job, path);
    if (rc != 2 || err == NULL || strstr(err, message) == NULL) {
        fail_msg("-o '%s': exit %d, expected 2 with \"%s\"; stderr:\n%s", path, rc, message,
                 err != NULL ? err : "");
    }
    free(err);
}

static void
test_output_edges__directories_sockets_and_block_devices_are_refused(void **state)
{
    const char *job;

    (void)state;
    make_input();
    job = upper_job("refuse", "");
    tu_sh(0, "rm -rf r && mkdir -p r/d && echo keep > r/d/keep && ln -s d r/dirlink && "
             "ln -s nothing r/dangling");
    make_socket("r/sock");
    assert_refused(job, "r/d", "is a directory");
    assert_refused(job, "r/d/", "names a directory");
    assert_refused(job, "r/d/.", "names a directory");
    assert_refused(job, "r/d/..", "names a directory");
    assert_refused(job, ".", "names a directory");
    assert_refused(job, "", "the output path is empty");
    assert_refused(job, "r/new/", "names a directory");
    assert_refused(job, "r/new/x/", "names a directory");
    assert_refused(job, "r/dirlink", "is a directory");
    assert_refused(job, "r/sock", "is a socket");
    assert_refused(job, "r/dangling", "symbolic link to nothing");
    /* validate says so too, and makes nothing */
    tu_sh(2, "%s validate %s -o r/d 2>/dev/null", TRANCHE_BIN, job);
    tu_sh(2, "%s validate %s -o r/new/ 2>/dev/null", TRANCHE_BIN, job);
    tu_sh(0, "[ ! -e r/new ] && %s validate %s -o r/new/out.txt > /dev/null && [ ! -e r/new ]",
          TRANCHE_BIN, job);
    if (geteuid() != 0) {
        printf("skipped: block device and planted link cases (need root)\n");
        return;
    }
    /* a block device node in the test's directory (loop0's numbers; never opened) */
    tu_sh(0, "mknod r/blk b 7 0");
    assert_refused(job, "r/blk", "is a block device");
    /* a link in a sticky directory anyone can write to, planted by someone else */
    tu_sh(0, "mkdir r/sticky && chmod 1777 r/sticky && echo victim > r/victim && "
             "ln -s ../victim r/sticky/out.txt && chown -h 65534 r/sticky/out.txt");
    assert_refused(job, "r/sticky/out.txt", "does not follow it");
    tu_sh(0, "[ \"$(cat r/victim)\" = victim ]");
    /* the same for a directory link on the way to the output */
    tu_sh(0, "mkdir r/vdir && ln -s ../vdir r/sticky/dlink && chown -h 65534 r/sticky/dlink");
    assert_refused(job, "r/sticky/dlink/out.txt", "goes through");
    tu_sh(0, "[ -z \"$(ls -A r/vdir)\" ]");
}

/* A link is followed: its target is replaced, with its temporary file beside the target, and
 * the link stays. */
static void
test_output_edges__a_symbolic_link_is_followed_to_its_target(void **state)
{
    const char *job;

    (void)state;
    make_input();
    job = upper_job("link", "");
    tu_sh(0, "rm -rf s t && mkdir s t && echo old > s/real.txt && echo old > t/real.txt && "
             "ln -s real.txt s/link.txt && ln -s ../t/real.txt s/far.txt && ln -s far.txt s/chain");
    tu_sh(0, "%s run %s --workers 2 -o s/link.txt && [ -L s/link.txt ] && cmp s/real.txt in.ref",
          TRANCHE_BIN, job);
    tu_sh(0,
          "%s run %s --workers 2 -o s/chain && [ -L s/chain ] && [ -L s/far.txt ] && "
          "cmp t/real.txt in.ref && [ \"$(ls -A t)\" = real.txt ] && "
          "[ \"$(ls -A s | sort | tr '\\n' ' ')\" = 'chain far.txt link.txt real.txt ' ]",
          TRANCHE_BIN, job);
}

/* ---- directories made for an output ---------------------------------------------------------- */

static void
test_output_edges__directories_made_for_a_failed_job_are_removed(void **state)
{
    const char *fails, *waits, *ok, *logs_inside;
    char fails_path[1024], waits_path[1024], ok_path[1024];

    (void)state;
    make_input();
    /* (boom in the first partition: a job that fails after writing partitions keeps them, for
     * --resume, in the directories it made; test_resume.c) */
    tu_sh(0, "rm -rf nd* ex && mkdir ex && sed 's/^15 /15 boom /' in.txt > boom.txt");
    fails = tu_write_job("mk-fails.yaml",
                         "input:\n  path: boom.txt\noutput:\n  path: unused.out\n"
                         "partition_size: 8KiB\nlog_dir: logs/mk\nsteps:\n  - plugin: %s\n"
                         "    options: { match: boom, mode: error }\n",
                         FAILER);
    snprintf(fails_path, sizeof(fails_path), "%s", fails);
    tu_sh(1, "%s run %s --workers 2 -o nd1/a/b/out.txt", TRANCHE_BIN, fails_path);
    tu_sh(1, "%s run %s --in-process -o nd2/a/out.txt", TRANCHE_BIN, fails_path);
    tu_sh(1, "%s run %s --workers 2 -o ex/x/y/out.txt", TRANCHE_BIN, fails_path);
    tu_sh(0, "[ ! -e nd1 ] && [ ! -e nd2 ] && [ -d ex ] && [ -z \"$(ls -A ex)\" ]");
    /* a directory that holds something else by then (the logs) stays */
    logs_inside = tu_write_job("mk-logs.yaml",
                               "input:\n  path: boom.txt\noutput:\n  path: nd3/sub/out.txt\n"
                               "partition_size: 8KiB\nlog_dir: nd3/logs\nsteps:\n  - plugin: %s\n"
                               "    options: { match: boom, mode: error }\n",
                               FAILER);
    tu_sh(1, "%s run %s --workers 2", TRANCHE_BIN, logs_inside);
    tu_sh(0, "[ -d nd3/logs ] && [ ! -e nd3/sub ]");
    /* a job stopped by a signal */
    waits = tu_write_job("mk-waits.yaml",
                         "input:\n  path: boom.txt\noutput:\n  path: unused.out\n"
                         "partition_size: 8KiB\nlog_dir: logs/mk\nsteps:\n  - plugin: %s\n"
                         "    options: { match: boom, mode: wait, release: %s/never, "
                         "marker: %s/mk.mark }\n",
                         FAILER, tu_dir, tu_dir);
    snprintf(waits_path, sizeof(waits_path), "%s", waits);
    tu_sh(1,
          TU_SH_WAIT "rm -f mk.mark && { %s run %s --workers 2 -o nd4/a/out.txt & } && pid=$! && "
                     "tu_wait_for 20 '[ -e mk.mark ]'; kill -TERM $pid; tu_reap $pid 20",
          TRANCHE_BIN, waits_path);
    tu_sh(0, "[ ! -e nd4 ]");
    /* a job that succeeds keeps them */
    ok = upper_job("mk-ok", "");
    snprintf(ok_path, sizeof(ok_path), "%s", ok);
    tu_sh(0, "%s run %s -o nd5/a/out.txt && cmp nd5/a/out.txt in.ref", TRANCHE_BIN, ok_path);
}

/* ---- the log directory ------------------------------------------------------------------------
 */

/* The default log base with TMPDIR=lt, and lj.yaml's directory in it, lj-TAG (TAG: from the job
 * file's path), once a run has made it. */
#define LOG_BASE "lt/tranche-logs-$(id -u)"
#define LOG_JOB "$(echo " LOG_BASE "/lj-*)"

static void
test_output_edges__planted_log_files_are_never_followed(void **state)
{
    const char *job;

    (void)state;
    make_input();
    job = tu_write_job("lj.yaml", "input:\n  path: in.txt\noutput:\n  path: lj/out.txt\n"
                                  "partition_size: 8KiB\nsteps:\n  - plugin: upper\n");
    /* The default place: each run's logs go to a new directory (mkdtemp), where nothing can be
     * planted first; `latest` and old run directories planted as links to a directory outside
     * are replaced or passed over, never followed (nor emptied when old runs are removed). */
    tu_sh(0,
          "rm -rf lt lj lvdir && mkdir lt lvdir && echo victim > lvictim && "
          "echo victim > lvdir/f && TMPDIR=\"$PWD/lt\" %s run %s --workers 2 && "
          "rm -rf " LOG_JOB "/latest " LOG_JOB "/run-* && "
          "ln -s \"$PWD/lvdir\" " LOG_JOB "/latest && for i in 1 2 3 4 5 6 7 8 9 10 11; do "
          "ln -s \"$PWD/lvdir\" " LOG_JOB "/run-0$i || exit 1; done",
          TRANCHE_BIN, job);
    tu_sh(0,
          "TMPDIR=\"$PWD/lt\" %s run %s --workers 2 && [ \"$(cat lvdir/f)\" = victim ] && "
          "[ \"$(ls lvdir)\" = f ] && [ -f " LOG_JOB "/latest/worker-1.log ] && "
          "case $(readlink " LOG_JOB "/latest) in run-2*) ;; *) exit 1;; esac && "
          "[ -L " LOG_JOB "/run-01 ]",
          TRANCHE_BIN, job);
    /* the same in a log directory given explicitly */
    tu_sh(0,
          "rm -rf lx && mkdir lx && ln -s \"$PWD/lvictim\" lx/worker-2.log && "
          "%s run %s --workers 2 --log-dir lx; [ $? -ne 0 ] && [ \"$(cat lvictim)\" = victim ]",
          TRANCHE_BIN, job);
    /* a FIFO as a log: refused at once, not waited on */
    tu_sh(0,
          "rm -rf lx && mkdir lx && mkfifo lx/tranche.log && "
          "timeout 20 %s run %s --log-dir lx; [ $? -eq 2 ] && [ -p lx/tranche.log ]",
          TRANCHE_BIN, job);
}

static void
assert_log_base_refused(const char *job, const char *setup, const char *message)
{
    char *err = NULL;
    int rc;

    tu_sh(0, "rm -rf lt lt-other lj && mkdir lt lt-other && %s", setup);
    rc = tu_run_here(&err, "TMPDIR=\"$PWD/lt\" %s run %s", TRANCHE_BIN, job);
    if (rc != 2 || err == NULL || strstr(err, message) == NULL) {
        fail_msg("%s: exit %d, expected 2 with \"%s\"; stderr:\n%s", setup, rc, message,
                 err != NULL ? err : "");
    }
    free(err);
    tu_sh(0, "[ ! -e lj ] && [ -z \"$(ls -A lt-other)\" ]");
}

/* The default log base is in a shared place: one someone else made, or could write to, is
 * refused; and the one tranche makes is never writable by others, whatever the umask. */
static void
test_output_edges__a_foreign_default_log_directory_is_refused(void **state)
{
    const char *job;

    (void)state;
    make_input();
    job = tu_write_job("lj.yaml", "input:\n  path: in.txt\noutput:\n  path: lj/out.txt\n"
                                  "partition_size: 8KiB\nsteps:\n  - plugin: upper\n");
    assert_log_base_refused(job, "mkdir " LOG_BASE " && chmod 0777 " LOG_BASE,
                            "writable by others");
    assert_log_base_refused(job,
                            "TMPDIR=\"$PWD/lt\" " TRANCHE_BIN " run lj.yaml && rm -rf lj && "
                            "chmod 0777 " LOG_JOB,
                            "writable by others");
    assert_log_base_refused(job, "ln -s \"$PWD/lt-other\" " LOG_BASE, "symbolic link");
    if (geteuid() == 0) {
        assert_log_base_refused(job, "mkdir " LOG_BASE " && chown 65534 " LOG_BASE,
                                "belongs to uid 65534");
    }
    tu_sh(0,
          "rm -rf lt lj && mkdir lt && umask 000 && TMPDIR=\"$PWD/lt\" %s run %s && "
          "cmp lj/out.txt in.ref && [ -z \"$(find lt -type d -perm -o+w)\" ]",
          TRANCHE_BIN, job);
}

/* ---- the durable commit, in this process ---------------------------------------------------- */

/* fsync and rename as this binary's output.c calls them, in order, recorded while `recording`:
 * "fsync PATH" (the descriptor's path) and "rename FROM TO". */
static char events[8192];
static int recording;

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
record(const char *fmt, ...)
{
    size_t used = strlen(events);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(events + used, sizeof(events) - used, fmt, ap);
    va_end(ap);
}

int
fsync(int fd)
{
    char link[64], path[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (recording && n > 0) {
        path[n] = '\0';
        record("fsync %s\n", path);
    }
    return (int)syscall(SYS_fsync, fd);
}

int
rename(const char *from, const char *to)
{
    if (recording) {
        record("rename %s %s\n", from, to);
    }
    return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

/* Writes `path` through output.c with fsync on or off; returns the events recorded. */
static const char *
commit_recorded(const char *path, int durable)
{
    struct output o;
    struct error err;

    events[0] = '\0';
    recording = 1;
    assert_int_equal(output_open(&o, path, &err), 0);
    output_set_fsync(&o, durable);
    assert_int_equal(output_write(&o, "x\n", 2, &err), 0);
    if (output_commit(&o, &err) != 0) {
        fail_msg("output_commit: %s", err.msg);
    }
    recording = 0;
    return events;
}

static void
test_output_edges__fsync_syncs_the_file_before_and_the_directories_after_the_rename(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], want[3 * PATH_MAX];
    const char *ev, *renamed;

    (void)state;
    assert_non_null(realpath(tu_dir, dir));
    tu_sh(0, "rm -rf fs && mkdir fs");
    /* the default: no sync at all, one rename */
    snprintf(path, sizeof(path), "%s/fs/plain.txt", dir);
    ev = commit_recorded(path, 0);
    assert_null(strstr(ev, "fsync"));
    assert_non_null(strstr(ev, "rename "));
    /* durable: the temporary file, then the rename, then the directories whose entries changed:
     * the output's (new2), and the parents of the two it made (fs, new1) */
    snprintf(path, sizeof(path), "%s/fs/new1/new2/out.txt", dir);
    ev = commit_recorded(path, 1);
    renamed = strstr(ev, "rename ");
    assert_non_null(renamed);
    assert_true(strncmp(ev, "fsync ", 6) == 0);
    assert_true(strstr(ev, ".tranche-") != NULL && strstr(ev, ".tranche-") < renamed);
    snprintf(want, sizeof(want), "fsync %s/fs/new1/new2\n", dir);
    assert_non_null(strstr(renamed, want));
    snprintf(want, sizeof(want), "fsync %s/fs/new1\n", dir);
    assert_non_null(strstr(renamed, want));
    snprintf(want, sizeof(want), "fsync %s/fs\n", dir);
    assert_non_null(strstr(renamed, want));
    tu_sh(0, "[ \"$(cat fs/new1/new2/out.txt)\" = x ] && [ \"$(ls -A fs/new1/new2)\" = out.txt ]");
}

/* output_open's refusals: ERR_INVALID, and nothing made. */
static void
test_output_edges__output_open_refuses_with_err_invalid(void **state)
{
    static const char *const refused[] = {"", "op/d", "op/d/", "op/new/x/", "op/new/x/.."};
    char path[PATH_MAX];
    struct output o;
    struct error err;
    size_t i;

    (void)state;
    tu_sh(0, "rm -rf op && mkdir -p op/d");
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(path, sizeof(path), "%s%s%s", *refused[i] != '\0' ? tu_dir : "",
                 *refused[i] != '\0' ? "/" : "", refused[i]);
        if (output_open(&o, path, &err) != ERR_INVALID) {
            fail_msg("output_open(\"%s\") did not refuse it", path);
        }
    }
    tu_sh(0, "[ \"$(ls -A op)\" = d ] && [ -z \"$(ls -A op/d)\" ]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_edges__planted_part_directories_are_never_used),
        cmocka_unit_test(test_output_edges__two_jobs_with_the_same_pid_share_a_directory),
        cmocka_unit_test(test_output_edges__devices_are_written_in_place),
        cmocka_unit_test(test_output_edges__a_fifo_reader_gets_all_the_output),
        cmocka_unit_test(test_output_edges__waiting_for_a_fifo_reader_can_be_interrupted),
        cmocka_unit_test(test_output_edges__directories_sockets_and_block_devices_are_refused),
        cmocka_unit_test(test_output_edges__a_symbolic_link_is_followed_to_its_target),
        cmocka_unit_test(test_output_edges__directories_made_for_a_failed_job_are_removed),
        cmocka_unit_test(test_output_edges__planted_log_files_are_never_followed),
        cmocka_unit_test(test_output_edges__a_foreign_default_log_directory_is_refused),
        cmocka_unit_test(
            test_output_edges__fsync_syncs_the_file_before_and_the_directories_after_the_rename),
        cmocka_unit_test(test_output_edges__output_open_refuses_with_err_invalid),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
