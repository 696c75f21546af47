/* SPDX-License-Identifier: MIT */
/* wm_http_body_server: the request-body helpers (wm/http_body.h) on a real
 * http:// worker at 127.0.0.1:0, for curl_test.sh.
 *
 *   wm_http_body_server PORTFILE SAVEDIR
 *
 * writes its port to PORTFILE and serves until SIGTERM, with a max package
 * size of 64 MiB and uploads first written to SAVEDIR/tmp:
 *   /form    wm_http_form_parse; answers one line per field
 *            ("field NAME=VALUE") and per file ("file NAME FILENAME TYPE
 *            SIZE"), after moving each file to SAVEDIR/saved-NAME;
 *   /small   the same with small limits (3 fields, 1 file of 1 KiB);
 *   /json    wm_http_request_json; answers the document written back;
 *   /query   wm_http_request_query_param for "x", then the query form's
 *            field count.
 * Errors are answered with wm_http_reply_body_error (status, reason,
 * Connection: close). */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "wm/wm.h"

static const char *save_dir;
static char tmp_dir[4096];

/* A growing text answer; out of room is a test failure, not an answer. */
typedef struct text {
    char buf[16384];
    size_t len;
} text_t;

static void add(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof t->buf - t->len)
        abort();
    t->len += (size_t)n;
}

static void answer_form(wm_conn_t *c, const wm_http_request_t *req, bool small)
{
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    if (small) {
        o.max_fields = 3;
        o.max_files = 1;
        o.max_file_size = 1024;
    }
    wm_http_form_t *form;
    wm_http_body_error_t err;
    if (wm_http_form_parse(req, &o, &form, &err) != WM_OK) {
        wm_http_reply_body_error(c, &err);
        return;
    }
    static text_t t;
    t.len = 0;
    for (size_t i = 0; i < wm_http_form_count(form); i++) {
        const wm_http_field_t *f = wm_http_form_field_at(form, i);
        add(&t, "field %s=%s\n", f->name, f->value);
    }
    for (size_t i = 0; i < wm_http_form_file_count(form); i++) {
        const wm_http_upload_t *u = wm_http_form_file_at(form, i);
        char dest[4200];
        snprintf(dest, sizeof dest, "%s/saved-%s", save_dir, u->name);
        int rc = wm_http_upload_move_to(form, u, dest);
        add(&t, "file %s %s %s %llu%s\n", u->name, u->filename, u->content_type,
            (unsigned long long)u->size, rc == WM_OK ? "" : " (not moved)");
    }
    wm_http_form_free(form);
    wm_http_reply(c, 200, "text/plain", t.buf, t.len);
}

static void answer_json(wm_conn_t *c, const wm_http_request_t *req)
{
    wm_json_doc_t *doc;
    wm_http_body_error_t err;
    if (wm_http_request_json(req, NULL, &doc, &err) != WM_OK) {
        wm_http_reply_body_error(c, &err);
        return;
    }
    wm_json_writer_t *w = wm_json_writer_new();
    size_t len = 0;
    const char *text = NULL;
    if (w && wm_json_write_value(w, wm_json_root(doc)) == WM_OK)
        text = wm_json_writer_text(w, &len);
    if (text)
        wm_http_reply(c, 200, "application/json", text, len);
    else
        wm_http_reply(c, 500, "text/plain", "writer failed\n", 14);
    wm_json_writer_free(w);
    wm_json_doc_free(doc);
}

static void answer_query(wm_conn_t *c, const wm_http_request_t *req)
{
    char x[256];
    int n = wm_http_request_query_param(req, "x", x, sizeof x);
    if (n == WM_EPROTO) {
        wm_http_body_error_t err = {.status = 400};
        snprintf(err.reason, sizeof err.reason, "bad query string");
        wm_http_reply_body_error(c, &err);
        return;
    }
    wm_http_form_t *q;
    wm_http_body_error_t err;
    if (wm_http_request_query_form(req, NULL, &q, &err) != WM_OK) {
        wm_http_reply_body_error(c, &err);
        return;
    }
    static text_t t;
    t.len = 0;
    add(&t, "x=%s count=%zu\n", n >= 0 ? x : "(none)", wm_http_form_count(q));
    wm_http_form_free(q);
    wm_http_reply(c, 200, "text/plain", t.buf, t.len);
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    if (strcmp(path, "/form") == 0 || strcmp(path, "/small") == 0)
        answer_form(c, req, strcmp(path, "/small") == 0);
    else if (strcmp(path, "/json") == 0)
        answer_json(c, req);
    else if (strcmp(path, "/query") == 0)
        answer_query(c, req);
    else
        wm_http_reply(c, 404, "text/plain", "no\n", 3);
}

static void stop_on_signal(int signum, void *ud)
{
    wm_loop_stop();
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORTFILE SAVEDIR\n", argv[0]);
        return 2;
    }
    save_dir = argv[2];
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", save_dir);
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    if (!w)
        return 1;
    wm_worker_set_max_package(w, (size_t)64 << 20);
    wm_worker_on_message(w, on_message, NULL);
    if (wm_worker_start(w) != WM_OK)
        return 1;
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 1;
    fprintf(f, "%u\n", wm_worker_port(w));
    fclose(f);
    wm_signal_add(SIGTERM, stop_on_signal, NULL);
    wm_loop_run();
    wm_worker_free(w);
    wm_loop_free();
    return 0;
}
