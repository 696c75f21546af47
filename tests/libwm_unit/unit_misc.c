/* SPDX-License-Identifier: MIT */
/* The protocol registry, error texts and logging. Logging is checked by
 * reading back the file it wrote: the line format is part of the API
 * (operators grep it), so it is parsed field by field. */
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "wm_test.h"
#include "unit.h"

/* ---- protocol registry ---------------------------------------------------- */

static ssize_t dummy_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    return 0;
}

static const wm_protocol_t proto_custom = {"unit-jsonl", dummy_input, NULL, NULL, NULL};
static const wm_protocol_t proto_dup = {"unit-jsonl", NULL, NULL, NULL, NULL};
static const wm_protocol_t proto_dotted = {"a.b-c9", NULL, NULL, NULL, NULL};

void test_protocol_register(void)
{
    /* The built-ins are there from the start, under their scheme names. */
    ASSERT(wm_protocol_find("tcp") == &wm_protocol_tcp);
    ASSERT(wm_protocol_find("text") == &wm_protocol_text);
    ASSERT(wm_protocol_find("frame") == &wm_protocol_frame);
    ASSERT_STR_EQ(wm_protocol_text.name, "text");
    ASSERT_STR_EQ(wm_protocol_frame.name, "frame");

    ASSERT(wm_protocol_find("unit-jsonl") == NULL);
    ASSERT_EQ(wm_protocol_register(&proto_custom), WM_OK);
    ASSERT(wm_protocol_find("unit-jsonl") == &proto_custom);
    ASSERT_EQ(wm_protocol_register(&proto_dup), WM_EEXIST);
    ASSERT_EQ(wm_protocol_register(&proto_custom), WM_EEXIST);
    ASSERT(wm_protocol_find("unit-jsonl") == &proto_custom); /* the first stays */

    ASSERT_EQ(wm_protocol_register(&proto_dotted), WM_OK);
    ASSERT(wm_protocol_find("a.b-c9") == &proto_dotted);

    /* Built-in names are taken too. */
    static const wm_protocol_t fake[] = {{"tcp", NULL, NULL, NULL, NULL},
                                         {"text", NULL, NULL, NULL, NULL},
                                         {"frame", NULL, NULL, NULL, NULL}};
    for (size_t i = 0; i < 3; i++)
        ASSERT_EQ(wm_protocol_register(&fake[i]), WM_EEXIST);
    ASSERT(wm_protocol_find("text") == &wm_protocol_text);

    ASSERT(wm_protocol_find("") == NULL);
    ASSERT(wm_protocol_find("unit") == NULL); /* no prefix matching */
    ASSERT(wm_protocol_find("unit-jsonlx") == NULL);
}

void test_protocol_register_bad_names(void)
{
    static const char *const bad[] = {"udp",      "unix",      "ssl",    "",
                                      "Bad Name", "UPPER",     "sp ace", "sl/ash",
                                      "col:on",   "plus+sign", "und_er"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const wm_protocol_t p = {bad[i], NULL, NULL, NULL, NULL};
        int rc = wm_protocol_register(&p);
        if (rc != WM_EINVAL)
            WM_TEST_FAIL("registering \"%s\": got %d (%s), want WM_EINVAL", bad[i], rc,
                         wm_strerror(rc));
        ASSERT(wm_protocol_find(bad[i]) == NULL);
    }
    const wm_protocol_t unnamed = {NULL, NULL, NULL, NULL, NULL};
    ASSERT_EQ(wm_protocol_register(&unnamed), WM_EINVAL);
}

/* ---- error texts ---------------------------------------------------------- */

void test_strerror_codes(void)
{
    static const int codes[] = {
        WM_EAGAIN,    WM_ENOMEM,       WM_EINVAL,       WM_ENOENT,     WM_EEXIST,   WM_ECANCELED,
        WM_ETIMEDOUT, WM_ECONNREFUSED, WM_ECONNRESET,   WM_EADDRINUSE, WM_ENOTCONN, WM_ENOBUFS,
        WM_EMSGSIZE,  WM_EPROTO,       WM_EAFNOSUPPORT, WM_EBADURL,    WM_ENOPROTO, WM_EDNS,
    };
    enum { N = sizeof(codes) / sizeof(codes[0]) };
    const char *unknown = wm_strerror(-99999);
    ASSERT(unknown != NULL);
    ASSERT_STR_EQ(unknown, "unknown error");
    ASSERT(wm_strerror(WM_OK) != NULL);
    for (size_t i = 0; i < N; i++) {
        const char *s = wm_strerror(codes[i]);
        if (!s || !*s || strcmp(s, unknown) == 0)
            WM_TEST_FAIL("wm_strerror(%d) = \"%s\"", codes[i], s ? s : "(null)");
        for (size_t k = 0; k < i; k++)
            if (strcmp(s, wm_strerror(codes[k])) == 0)
                WM_TEST_FAIL("codes %d and %d share the text \"%s\"", codes[i], codes[k], s);
    }
    /* Any negated errno has a text (it passes through unchanged). */
    ASSERT(wm_strerror(-EPIPE) != NULL);
    ASSERT(wm_strerror(-EPIPE)[0] != '\0');
    ASSERT(wm_strerror(12345) != NULL);
}

/* ---- logging -------------------------------------------------------------- */

static char log_dir[64];
static char log_path[96];

static void log_setup(void)
{
    snprintf(log_dir, sizeof(log_dir), "/tmp/wm_unit_log.XXXXXX");
    ASSERT(mkdtemp(log_dir) != NULL);
    snprintf(log_path, sizeof(log_path), "%s/test.log", log_dir);
}

static void log_teardown(void)
{
    char err_path[128];
    snprintf(err_path, sizeof(err_path), "%s/stderr", log_dir);
    unlink(err_path);
    unlink(log_path);
    rmdir(log_dir);
}

/* Reads the whole file; caller frees. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ASSERT(buf != NULL);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ASSERT(buf != NULL);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Finds the line holding `text`; NULL when none. */
static const char *find_line(const char *all, const char *text)
{
    const char *hit = strstr(all, text);
    if (!hit)
        return NULL;
    while (hit > all && hit[-1] != '\n')
        hit--;
    return hit;
}

static int count_lines(const char *all)
{
    int n = 0;
    for (; *all; all++)
        n += *all == '\n';
    return n;
}

/* "YYYY-MM-DD HH:MM:SS.mmm pid LEVEL text\n": checks each field. */
static void check_line(const char *line, const char *level, const char *text)
{
    int Y, M, D, h, m, s, ms, off = 0;
    long pid;
    char lvl[32];
    if (sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d.%3d %ld %31s %n", &Y, &M, &D, &h, &m, &s, &ms, &pid,
               lvl, &off) != 9 ||
        off == 0)
        WM_TEST_FAIL("bad log line: %.120s", line);
    ASSERT(line[4] == '-' && line[10] == ' ' && line[19] == '.' && line[23] == ' ');
    ASSERT_EQ(pid, getpid());
    ASSERT(ms >= 0 && ms <= 999);

    /* Local time or UTC, within a minute of now. */
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    struct tm tm2 = tm;
    time_t now = time(NULL);
    double dl = difftime(mktime(&tm), now), du = difftime(timegm(&tm2), now);
    if ((dl < -60 || dl > 60) && (du < -60 || du > 60))
        WM_TEST_FAIL("log time is off: %.23s", line);

    /* The level word, with or without brackets, any case. */
    char *w = lvl;
    if (*w == '[')
        w++;
    size_t wl = strlen(w);
    if (wl && w[wl - 1] == ']')
        w[--wl] = '\0';
    if (strncasecmp(w, level, strlen(level)) != 0)
        WM_TEST_FAIL("level \"%s\", want \"%s\" in: %.120s", lvl, level, line);

    const char *rest = line + off;
    size_t tl = strlen(text);
    if (strncmp(rest, text, tl) != 0 || rest[tl] != '\n')
        WM_TEST_FAIL("text is \"%.*s\", want \"%s\"", (int)strcspn(rest, "\n"), rest, text);
}

/* With no file, lines go to fd 2: catch them there. */
static void check_stderr_line(void)
{
    char err_path[128];
    snprintf(err_path, sizeof(err_path), "%s/stderr", log_dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(saved >= 0 && fd >= 0);
    ASSERT_EQ(dup2(fd, 2), 2);
    close(fd);
    wm_log_error("marker-stderr");
    ASSERT_EQ(dup2(saved, 2), 2);
    close(saved);
    size_t len;
    char *all = slurp(err_path, &len);
    ASSERT_EQ(count_lines(all), 1);
    check_line(all, "ERROR", "marker-stderr");
    free(all);
}

void test_log_file_levels(void)
{
    log_setup();
    ASSERT_EQ(wm_log_set_file(log_path), WM_OK);

    wm_log_set_level(WM_LOG_WARN);
    ASSERT_EQ(wm_log_get_level(), WM_LOG_WARN);
    wm_log_debug("marker-debug-1");
    wm_log_info("marker-info-1");
    wm_log_warn("marker-warn-%d", 1);
    wm_log_error("marker-error-%s n=%d", "one", 42);

    wm_log_set_level(WM_LOG_DEBUG);
    wm_log_debug("marker-debug-2");
    wm_log(WM_LOG_INFO, "marker-info-2");

    wm_log_set_level(WM_LOG_OFF);
    wm_log_error("marker-error-off");
    ASSERT_EQ(wm_log_set_file(NULL), WM_OK); /* back to stderr, file closed */
    wm_log_set_level(WM_LOG_ERROR);
    check_stderr_line();

    size_t len;
    char *all = slurp(log_path, &len);
    ASSERT(len > 0 && all[len - 1] == '\n');
    ASSERT(find_line(all, "marker-debug-1") == NULL);
    ASSERT(find_line(all, "marker-info-1") == NULL);
    ASSERT(find_line(all, "marker-error-off") == NULL);
    ASSERT(find_line(all, "marker-stderr") == NULL);
    check_line(find_line(all, "marker-warn-1"), "WARN", "marker-warn-1");
    check_line(find_line(all, "marker-error-one"), "ERROR", "marker-error-one n=42");
    check_line(find_line(all, "marker-debug-2"), "DEBUG", "marker-debug-2");
    check_line(find_line(all, "marker-info-2"), "INFO", "marker-info-2");
    ASSERT_EQ(count_lines(all), 4);

    /* Appends: a second open keeps what is there. */
    wm_log_set_level(WM_LOG_INFO);
    ASSERT_EQ(wm_log_set_file(log_path), WM_OK);
    wm_log_info("marker-appended");
    ASSERT_EQ(wm_log_set_file(NULL), WM_OK);
    free(all);
    all = slurp(log_path, &len);
    ASSERT_EQ(count_lines(all), 5);
    ASSERT(find_line(all, "marker-warn-1") != NULL);
    check_line(find_line(all, "marker-appended"), "INFO", "marker-appended");
    struct stat st;
    mode_t mask = umask(022);
    umask(mask);
    ASSERT_EQ(stat(log_path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0644 & ~mask);
    free(all);
    log_teardown();
}

void test_log_set_file_fails(void)
{
    log_setup();
    ASSERT_EQ(wm_log_set_file(log_path), WM_OK);
    wm_log_set_level(WM_LOG_INFO);
    int rc = wm_log_set_file("/nonexistent-wm-dir/sub/x.log");
    ASSERT_EQ(rc, -ENOENT);
    wm_log_info("marker-after-failure"); /* still goes to the first file */
    ASSERT_EQ(wm_log_set_file(NULL), WM_OK);
    size_t len;
    char *all = slurp(log_path, &len);
    check_line(find_line(all, "marker-after-failure"), "INFO", "marker-after-failure");
    free(all);
    log_teardown();
}

void test_log_long_line(void)
{
    enum { BIG = 100000 };
    log_setup();
    ASSERT_EQ(wm_log_set_file(log_path), WM_OK);
    wm_log_set_level(WM_LOG_INFO);
    char *msg = malloc(BIG + 1);
    ASSERT(msg != NULL);
    memset(msg, 'y', BIG);
    memcpy(msg, "marker-long:", 12);
    msg[BIG] = '\0';
    wm_log_error("%s", msg);
    wm_log_info("marker-after-long");
    ASSERT_EQ(wm_log_set_file(NULL), WM_OK);

    /* One line per event, whether or not the long one was cut short. */
    size_t len;
    char *all = slurp(log_path, &len);
    ASSERT_EQ(count_lines(all), 2);
    const char *line = find_line(all, "marker-long:");
    ASSERT(line == all);
    const char *text = strstr(line, "marker-long:");
    ASSERT_GT(strcspn(text, "\n"), 1000); /* kept a useful amount */
    check_line(find_line(all, "marker-after-long"), "INFO", "marker-after-long");
    free(all);
    free(msg);
    log_teardown();
}

void test_log_level_parse(void)
{
    ASSERT_EQ(wm_log_level_parse("debug"), WM_LOG_DEBUG);
    ASSERT_EQ(wm_log_level_parse("info"), WM_LOG_INFO);
    ASSERT_EQ(wm_log_level_parse("warn"), WM_LOG_WARN);
    ASSERT_EQ(wm_log_level_parse("error"), WM_LOG_ERROR);
    ASSERT_EQ(wm_log_level_parse("off"), WM_LOG_OFF);
    ASSERT_EQ(wm_log_level_parse(""), -1);
    ASSERT_EQ(wm_log_level_parse("verbose"), -1);
    ASSERT_EQ(wm_log_level_parse("debugx"), -1);
    ASSERT_EQ(wm_log_level_parse("inf"), -1);
    for (int l = WM_LOG_DEBUG; l <= WM_LOG_OFF; l++) {
        wm_log_set_level((wm_log_level_t)l);
        ASSERT_EQ(wm_log_get_level(), l);
    }
}
