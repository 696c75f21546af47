/* SPDX-License-Identifier: MIT */
/* wm_fm_tests: the file monitor's behaviour, one table of scenarios run
 * against both backends (each scenario is a case "inotify_NAME" and
 * "poll_NAME"). A scenario prepares a fresh temporary tree, starts a
 * monitor (debounce 150 ms, polling every 40 ms), acts on the tree, runs
 * the loop until the expected number of callbacks came (and 250 ms more, to
 * catch an extra one) and then checks which paths were reported with which
 * bits, which were not, and how many directories are watched. The last
 * cases cover the watch limit (ENOSPC, simulated through the add_watch
 * hook: the system's settings are never touched) and freeing a monitor in
 * its own callback.
 *
 * Usage: wm_fm_tests [inotify|poll|other|CASE...] */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "wm_test.h"
#include "wm/filemonitor.h"
#include "fm_int.h"

#define DEBOUNCE_MS 150
#define POLL_MS 40
#define LATE_MS 450   /* when a scenario's late action runs */
#define SETTLE_MS 250 /* after the last expected callback */
#define GIVE_UP_MS 4000

/* ---- files ------------------------------------------------------------------- */

static char root[256];

static const char *at(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

static void put(const char *rel, const char *text)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
}

static void dir(const char *rel)
{
    ASSERT_EQ(mkdir(at(rel), 0755), 0);
}

static void mv(const char *from, const char *to)
{
    ASSERT_EQ(rename(at(from), at(to)), 0);
}

static void rm(const char *rel)
{
    ASSERT_EQ(remove(at(rel)), 0);
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ASSERT_EQ(system(cmd), 0);
}

/* ---- scenarios ------------------------------------------------------------------ */

typedef struct expect {
    const char *rel;
    unsigned what; /* bits that must be among those reported */
} expect_t;

typedef struct scenario {
    void (*setup)(void); /* before the monitor starts */
    void (*act)(void);   /* once it watches */
    void (*late)(void);  /* LATE_MS later, if set */
    const char *includes[3], *excludes[3];
    int callbacks;      /* how many bursts must be reported */
    expect_t expect[6]; /* paths reported */
    const char *absent[5];
    int dirs; /* directories watched at the end; 0: not checked */
} scenario_t;

static void setup_file(void)
{
    put("f.txt", "one");
}
static void act_create(void)
{
    put("new.txt", "hello");
}
static void act_modify(void)
{
    put("f.txt", "two and more");
}
static void act_delete(void)
{
    rm("f.txt");
}
static void act_rename(void)
{
    mv("f.txt", "g.txt");
}

static void act_new_dirs(void)
{
    /* Files created at once inside new directories, before any watch on
     * them can exist: found by scanning the new directory. */
    dir("sub");
    put("sub/inside.c", "x");
    dir("a");
    dir("a/b");
    dir("a/b/c");
    put("a/b/c/deep.c", "y");
}

static void setup_tree(void)
{
    dir("d");
    dir("d/e");
    put("d/x.txt", "x");
    put("d/e/y.txt", "y");
}
static void act_rm_tree(void)
{
    rm_tree(at("d"));
}

static void setup_old_dir(void)
{
    dir("old");
    put("old/f.c", "1");
}
static void act_move_dir(void)
{
    mv("old", "new");
}
static void late_edit_moved(void)
{
    put("new/f.c", "2 changed");
}

static void setup_main_c(void)
{
    put("main.c", "int main(void) { return 0; }\n");
}
/* Write a temporary file, rename it over the original (most editors,
 * and "write-to-temp + rename" tools). */
static void act_save_by_rename(void)
{
    put(".main.c.tmp123", "int main(void) { return 1; }\n");
    mv(".main.c.tmp123", "main.c");
}
/* vim with backupcopy=no: its "4913" write test, the original renamed to
 * the backup "main.c~", a new main.c written, the backup deleted. */
static void act_vim_save(void)
{
    put("4913", "");
    rm("4913");
    mv("main.c", "main.c~");
    put("main.c", "int main(void) { return 2; }\n");
    rm("main.c~");
}

static wm_timer_id_t burst_timer;
static int burst_left;
static void on_burst(wm_timer_id_t id, void *ud)
{
    char text[32];
    snprintf(text, sizeof text, "write %d", burst_left);
    put("hot.c", text);
    if (--burst_left == 0) {
        wm_timer_del(id);
        burst_timer = 0;
    }
}
/* 100 writes, one every 2 ms: 200 ms of changes, longer than the window. */
static void act_burst(void)
{
    burst_left = 100;
    burst_timer = wm_timer_add(2, true, on_burst, NULL, NULL);
}

static void setup_ignored_dirs(void)
{
    dir("build");
    dir(".git");
}
static void act_excluded(void)
{
    put("build/x.o", "o");
    dir("build/sub");
    put("build/sub/y.o", "o");
    put(".git/index", "i");
    put("notes.swp", "vim swap");
    put("keep.c", "kept");
    put("readme.txt", "not included");
}
static void act_only_excluded(void)
{
    put("build/x.o", "o");
    put(".git/HEAD", "ref");
    put("scratch.c~", "backup");
}

static const scenario_t s_create = {.setup = setup_file,
                                    .act = act_create,
                                    .callbacks = 1,
                                    .expect = {{"new.txt", WM_FM_CREATED}},
                                    .absent = {"f.txt"},
                                    .dirs = 1};
static const scenario_t s_modify = {.setup = setup_file,
                                    .act = act_modify,
                                    .callbacks = 1,
                                    .expect = {{"f.txt", WM_FM_MODIFIED}},
                                    .dirs = 1};
static const scenario_t s_delete = {.setup = setup_file,
                                    .act = act_delete,
                                    .callbacks = 1,
                                    .expect = {{"f.txt", WM_FM_DELETED}},
                                    .dirs = 1};
static const scenario_t s_rename = {.setup = setup_file,
                                    .act = act_rename,
                                    .callbacks = 1,
                                    .expect = {{"f.txt", WM_FM_DELETED}, {"g.txt", WM_FM_CREATED}},
                                    .dirs = 1};
static const scenario_t s_new_dirs = {.act = act_new_dirs,
                                      .callbacks = 1,
                                      .expect = {{"sub", WM_FM_CREATED},
                                                 {"sub/inside.c", WM_FM_CREATED},
                                                 {"a/b/c", WM_FM_CREATED},
                                                 {"a/b/c/deep.c", WM_FM_CREATED}},
                                      .dirs = 5};
static const scenario_t s_rm_tree = {
    .setup = setup_tree,
    .act = act_rm_tree,
    .callbacks = 1,
    .expect = {{"d", WM_FM_DELETED}, {"d/x.txt", WM_FM_DELETED}, {"d/e", WM_FM_DELETED}},
    .dirs = 1};
static const scenario_t s_move_dir = {
    .setup = setup_old_dir,
    .act = act_move_dir,
    .late = late_edit_moved,
    .callbacks = 2,
    .expect = {{"old", WM_FM_DELETED}, {"new", WM_FM_CREATED}, {"new/f.c", WM_FM_MODIFIED}},
    .dirs = 2};
static const scenario_t s_save_by_rename = {.setup = setup_main_c,
                                            .act = act_save_by_rename,
                                            .includes = {"*.c"},
                                            .callbacks = 1,
                                            .expect = {{"main.c", WM_FM_CREATED}},
                                            .absent = {".main.c.tmp123"}};
static const scenario_t s_vim_save = {.setup = setup_main_c,
                                      .act = act_vim_save,
                                      .callbacks = 1,
                                      .expect = {{"main.c", WM_FM_CREATED}},
                                      .absent = {"4913", "main.c~"}};
static const scenario_t s_burst = {
    .act = act_burst, .callbacks = 1, .expect = {{"hot.c", WM_FM_CREATED | WM_FM_MODIFIED}}};
static const scenario_t s_excluded = {
    .setup = setup_ignored_dirs,
    .act = act_excluded,
    .includes = {"*.c", "*.o"},
    .excludes = {"build/", ".git/"},
    .callbacks = 1,
    .expect = {{"keep.c", WM_FM_CREATED}},
    .absent = {"build/x.o", "build/sub/y.o", ".git/index", "notes.swp", "readme.txt"},
    .dirs = 1};
static const scenario_t s_only_excluded = {.setup = setup_ignored_dirs,
                                           .act = act_only_excluded,
                                           .excludes = {"build/", ".git/"},
                                           .callbacks = 0,
                                           .dirs = 1};

/* ---- the runner ------------------------------------------------------------------- */

typedef struct seen {
    char rel[256];
    unsigned what;
} seen_t;

static struct {
    seen_t seen[512];
    int n_seen, callbacks, want;
    wm_timer_id_t stop_timer;
    const scenario_t *s;
} run;

static void on_stop(wm_timer_id_t id, void *ud)
{
    run.stop_timer = 0;
    wm_loop_stop();
}

static void stop_in(uint64_t ms)
{
    if (run.stop_timer)
        wm_timer_del(run.stop_timer);
    run.stop_timer = wm_timer_add(ms, false, on_stop, NULL, NULL);
}

static void on_change(wm_fm_t *fm, const wm_fm_change_t *c, size_t n, void *ud)
{
    run.callbacks++;
    size_t rl = strlen(root) + 1;
    for (size_t i = 0; i < n; i++) {
        ASSERT(strncmp(c[i].path, root, rl - 1) == 0);
        const char *rel = c[i].path + rl;
        int k = 0;
        while (k < run.n_seen && strcmp(run.seen[k].rel, rel))
            k++;
        if (k == run.n_seen && run.n_seen < 512)
            snprintf(run.seen[run.n_seen++].rel, sizeof run.seen[0].rel, "%s", rel);
        run.seen[k].what |= c[i].what;
        printf("  burst %d: %s%s%s%s\n", run.callbacks, rel, c[i].what & WM_FM_CREATED ? " C" : "",
               c[i].what & WM_FM_MODIFIED ? " M" : "", c[i].what & WM_FM_DELETED ? " D" : "");
    }
    if (run.callbacks >= run.want)
        stop_in(SETTLE_MS);
}

static void on_late(wm_timer_id_t id, void *ud)
{
    run.s->late();
}

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/wm-fm-test.XXXXXX");
    ASSERT(mkdtemp(root) != NULL);
}

static void run_scenario(const scenario_t *s, wm_fm_backend_t backend)
{
    memset(&run, 0, sizeof run);
    run.s = s;
    run.want = s->callbacks;
    make_root();
    if (s->setup)
        s->setup();
    wm_fm_opts_t o = {.backend = backend, .debounce_ms = DEBOUNCE_MS, .poll_interval_ms = POLL_MS};
    wm_fm_t *fm = wm_fm_new(&o, on_change, NULL);
    ASSERT(fm != NULL);
    ASSERT_STR_EQ(wm_fm_backend_name(fm), backend == WM_FM_BACKEND_POLL ? "poll" : "inotify");
    for (int i = 0; i < 3 && s->includes[i]; i++)
        ASSERT_EQ(wm_fm_include(fm, s->includes[i]), WM_OK);
    for (int i = 0; i < 3 && s->excludes[i]; i++)
        ASSERT_EQ(wm_fm_exclude(fm, s->excludes[i]), WM_OK);
    ASSERT_EQ(wm_fm_watch_add(fm, root), WM_OK);
    s->act();
    if (s->late)
        wm_timer_add(LATE_MS, false, on_late, NULL, NULL);
    stop_in(s->callbacks ? GIVE_UP_MS : 4 * DEBOUNCE_MS + 4 * POLL_MS);
    ASSERT_EQ(wm_loop_run(), WM_OK);
    ASSERT_EQ(run.callbacks, s->callbacks);
    for (int i = 0; i < 6 && s->expect[i].rel; i++) {
        int k = 0;
        while (k < run.n_seen && strcmp(run.seen[k].rel, s->expect[i].rel))
            k++;
        if (k == run.n_seen)
            WM_TEST_FAIL("%s was not reported", s->expect[i].rel);
        if (!(run.seen[k].what & s->expect[i].what))
            WM_TEST_FAIL("%s was reported with bits %u, expected some of %u", s->expect[i].rel,
                         run.seen[k].what, s->expect[i].what);
    }
    for (int i = 0; i < 5 && s->absent[i]; i++)
        for (int k = 0; k < run.n_seen; k++)
            if (!strcmp(run.seen[k].rel, s->absent[i]))
                WM_TEST_FAIL("%s was reported; it must not be", s->absent[i]);
    if (s->dirs)
        ASSERT_EQ(wm_fm_dir_count(fm), s->dirs);
    wm_fm_free(fm);
    rm_tree(root);
    WM_TEST_CLEAN();
}

#define BOTH(name)                                                                                 \
    static void inotify_##name(void)                                                               \
    {                                                                                              \
        run_scenario(&s_##name, WM_FM_BACKEND_INOTIFY);                                            \
    }                                                                                              \
    static void poll_##name(void)                                                                  \
    {                                                                                              \
        run_scenario(&s_##name, WM_FM_BACKEND_POLL);                                               \
    }
BOTH(create)
BOTH(modify)
BOTH(delete)
BOTH(rename)
BOTH(new_dirs)
BOTH(rm_tree)
BOTH(move_dir)
BOTH(save_by_rename)
BOTH(vim_save)
BOTH(burst)
BOTH(excluded)
BOTH(only_excluded)

/* ---- the watch limit ------------------------------------------------------------------ */

static int watches_left;
/* inotify_add_watch as it behaves once max_user_watches is used up. */
static int limited_add_watch(int fd, const char *path, uint32_t mask)
{
    if (watches_left-- > 0)
        return inotify_add_watch(fd, path, mask);
    errno = ENOSPC;
    return -1;
}

static void test_limit_text(void)
{
    make_root();
    put("limit", "8192\n");
    char buf[512];
    wm__fm_watch_limit_text(buf, sizeof buf, "/src/x", at("limit"));
    printf("  %s\n", buf);
    ASSERT(strstr(buf, "cannot watch /src/x") != NULL);
    ASSERT(strstr(buf, "raise fs.inotify.max_user_watches (now 8192)") != NULL);
    ASSERT(strstr(buf, "or use the polling backend") != NULL);
    rm_tree(root);
}

/* Two directories below the root, one watch allowed: the second add fails
 * with ENOSPC, reported by name, and the call says so. */
static void test_limit_inotify(void)
{
    make_root();
    dir("a");
    dir("b");
    watches_left = 1;
    wm__fm_add_watch = limited_add_watch;
    wm_fm_opts_t o = {.backend = WM_FM_BACKEND_INOTIFY};
    wm_fm_t *fm = wm_fm_new(&o, on_change, NULL);
    ASSERT_EQ(wm_fm_watch_add(fm, root), -ENOSPC);
    const char *err = wm_fm_last_error(fm);
    printf("  %s\n", err);
    ASSERT(strstr(err, "raise fs.inotify.max_user_watches (now ") != NULL);
    ASSERT(strstr(err, "or use the polling backend") != NULL);
    ASSERT_STR_EQ(wm_fm_backend_name(fm), "inotify");
    wm_fm_free(fm);
    rm_tree(root);
    WM_TEST_CLEAN();
}

/* The same under WM_FM_BACKEND_AUTO: the monitor switches to polling and
 * still sees changes. */
static void test_limit_auto(void)
{
    memset(&run, 0, sizeof run);
    run.want = 1;
    make_root();
    dir("a");
    watches_left = 0;
    wm__fm_add_watch = limited_add_watch;
    wm_fm_opts_t o = {.debounce_ms = DEBOUNCE_MS, .poll_interval_ms = POLL_MS};
    wm_fm_t *fm = wm_fm_new(&o, on_change, NULL);
    ASSERT_EQ(wm_fm_watch_add(fm, root), WM_OK);
    ASSERT_STR_EQ(wm_fm_backend_name(fm), "poll");
    ASSERT(strstr(wm_fm_last_error(fm), "max_user_watches") != NULL);
    put("a/after.c", "x");
    stop_in(GIVE_UP_MS);
    ASSERT_EQ(wm_loop_run(), WM_OK);
    ASSERT_EQ(run.callbacks, 1);
    ASSERT_STR_EQ(run.seen[0].rel, "a/after.c");
    wm_fm_free(fm);
    rm_tree(root);
    WM_TEST_CLEAN();
}

static void free_in_callback(wm_fm_t *fm, const wm_fm_change_t *c, size_t n, void *ud)
{
    run.callbacks++;
    wm_fm_free(fm);
    stop_in(SETTLE_MS);
}

static void test_free_in_callback(void)
{
    memset(&run, 0, sizeof run);
    make_root();
    wm_fm_t *fm = wm_fm_new(NULL, free_in_callback, NULL);
    ASSERT_EQ(wm_fm_watch_add(fm, root), WM_OK);
    put("x.c", "x");
    stop_in(GIVE_UP_MS);
    ASSERT_EQ(wm_loop_run(), WM_OK);
    ASSERT_EQ(run.callbacks, 1);
    rm_tree(root);
    WM_TEST_CLEAN();
}

static void test_bad_root(void)
{
    make_root();
    put("file", "x");
    for (int b = WM_FM_BACKEND_INOTIFY; b <= WM_FM_BACKEND_POLL; b++) {
        wm_fm_opts_t o = {.backend = (wm_fm_backend_t)b};
        wm_fm_t *fm = wm_fm_new(&o, on_change, NULL);
        ASSERT_EQ(wm_fm_watch_add(fm, at("missing")), WM_ENOENT);
        ASSERT_EQ(wm_fm_watch_add(fm, at("file")), -ENOTDIR);
        ASSERT_EQ(wm_fm_exclude(fm, ""), WM_EINVAL);
        ASSERT_EQ(wm_fm_dir_count(fm), 0);
        wm_fm_free(fm);
    }
    rm_tree(root);
    WM_TEST_CLEAN();
}

/* ---- the core additions the monitor worker stands on ---------------------------- */

static int unbound_started;
static void on_unbound_start(wm_worker_t *w, void *ud)
{
    unbound_started++;
}

/* wm_worker_new(NULL): a worker that listens on nothing still starts (its
 * on_worker_start runs) and stops; outside a master, wm_reload_request has
 * nobody to ask and says so. */
static void test_unbound_worker(void)
{
    wm_worker_t *w = wm_worker_new(NULL);
    ASSERT(w != NULL);
    ASSERT_STR_EQ(wm_worker_url(w), "none");
    wm_worker_on_worker_start(w, on_unbound_start, NULL);
    ASSERT_EQ(wm_worker_listen(w), WM_OK);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    ASSERT_EQ(unbound_started, 1);
    ASSERT_EQ(wm_worker_port(w), 0);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    ASSERT_EQ(wm_process_role(), WM_ROLE_SINGLE);
    ASSERT_EQ(wm_reload_request(true), WM_EINVAL);
    ASSERT(!wm_daemonized());
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

#define CASES(name)                                                                                \
    {"inotify_" #name, inotify_##name},                                                            \
    {                                                                                              \
        "poll_" #name, poll_##name                                                                 \
    }
static const wm_test_case_t cases[] = {CASES(create),
                                       CASES(modify),
                                       CASES(delete),
                                       CASES(rename),
                                       CASES(new_dirs),
                                       CASES(rm_tree),
                                       CASES(move_dir),
                                       CASES(save_by_rename),
                                       CASES(vim_save),
                                       CASES(burst),
                                       CASES(excluded),
                                       CASES(only_excluded),
                                       {"other_limit_text", test_limit_text},
                                       {"other_limit_inotify", test_limit_inotify},
                                       {"other_limit_auto", test_limit_auto},
                                       {"other_free_in_callback", test_free_in_callback},
                                       {"other_bad_root", test_bad_root},
                                       {"other_unbound_worker", test_unbound_worker},
                                       {NULL, NULL}};

/* "inotify", "poll" or "other" runs the cases with that prefix. */
int main(int argc, char **argv)
{
    if (argc == 2 && strchr(argv[1], '_') == NULL && strcmp(argv[1], "--list") != 0) {
        static wm_test_case_t picked[sizeof cases / sizeof *cases];
        size_t n = 0, pl = strlen(argv[1]);
        for (const wm_test_case_t *c = cases; c->name; c++)
            if (!strncmp(c->name, argv[1], pl) && c->name[pl] == '_')
                picked[n++] = *c;
        return wm_test_main(1, argv, picked);
    }
    return wm_test_main(argc, argv, cases);
}
