/* SPDX-License-Identifier: MIT */
/* wm_http_body_tests: the form parsers of wm/http_body.h on bodies given
 * directly (wm_http_form_parse_body): urlencoded decoding and its errors,
 * Content-Type detection, multipart fields and files with preambles,
 * epilogues, transport padding, content that looks like a boundary but is
 * not, every truncation of a valid body, each limit (413) and each
 * malformation (400), filename*=, and the upload files' lives: mode 0600,
 * deleted by the form unless moved or kept, none left after any error.
 * The request-level calls are tested against curl (curl_test.sh). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "wm_test.h"

/* ---- Helpers ------------------------------------------------------------------ */

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    strcpy(tmp_dir, "/tmp/wm-body-test.XXXXXX");
    ASSERT(mkdtemp(tmp_dir) != NULL);
}

static int count_files(void)
{
    DIR *d = opendir(tmp_dir);
    ASSERT(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The folder must be empty: the form deleted what it made. */
static void remove_tmp_dir(void)
{
    ASSERT_EQ(count_files(), 0);
    ASSERT_EQ(rmdir(tmp_dir), 0);
}

static wm_http_form_t *form_ok(const char *type, const char *body, size_t len,
                               const wm_http_form_opts_t *opts)
{
    wm_http_form_t *f = NULL;
    wm_http_body_error_t e;
    int rc = wm_http_form_parse_body(type, body, len, opts, &f, &e);
    if (rc != WM_OK)
        WM_TEST_FAIL("parse failed %d (%d at %zu: %s)", rc, e.status, e.offset, e.reason);
    return f;
}

/* Parses and expects failure with `code`, `status` and `words` in the
 * reason; returns the offset. */
static size_t form_bad(const char *type, const char *body, size_t len,
                       const wm_http_form_opts_t *opts, int code, int status, const char *words)
{
    wm_http_form_t *f = (wm_http_form_t *)1;
    wm_http_body_error_t e = {0};
    int rc = wm_http_form_parse_body(type, body, len, opts, &f, &e);
    if (rc != code || e.status != status || !strstr(e.reason, words))
        WM_TEST_FAIL("want %d/%d \"%s\", got %d/%d \"%s\" for:\n%.*s", code, status, words, rc,
                     e.status, e.reason, (int)len, body);
    ASSERT(f == NULL);
    return e.offset;
}

#define URLENC "application/x-www-form-urlencoded"
#define MP "multipart/form-data; boundary=XyZ"

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ASSERT(fp != NULL);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

/* ---- urlencoded ------------------------------------------------------------------ */

static void test_urlencoded(void)
{
    const char *b = "a=1&b=x+y%20z&c&&d=%41%62%2b&a=2&e=&%C3%A9=%e2%82%ac&n=%00x";
    wm_http_form_t *f = form_ok(URLENC, b, strlen(b), NULL);
    ASSERT_EQ(wm_http_form_count(f), 8);
    size_t len;
    ASSERT_STR_EQ(wm_http_form_get(f, "a", &len), "1");
    ASSERT_STR_EQ(wm_http_form_get(f, "b", NULL), "x y z");
    ASSERT_STR_EQ(wm_http_form_get(f, "c", &len), "");
    ASSERT_EQ(len, 0);
    ASSERT_STR_EQ(wm_http_form_get(f, "d", NULL), "Ab+");
    ASSERT_STR_EQ(wm_http_form_get(f, "e", NULL), "");
    ASSERT_STR_EQ(wm_http_form_get(f, "\xc3\xa9", NULL), "\xe2\x82\xac");
    const char *n = wm_http_form_get(f, "n", &len);
    ASSERT_EQ(len, 2);
    ASSERT_MEM_EQ(n, "\0x", 2);
    ASSERT(wm_http_form_get(f, "zz", NULL) == NULL);
    /* Repeated names: all kept, in order. */
    const wm_http_field_t *a = wm_http_form_next(f, "a", NULL);
    ASSERT_STR_EQ(a->value, "1");
    a = wm_http_form_next(f, "a", a);
    ASSERT_STR_EQ(a->value, "2");
    ASSERT(wm_http_form_next(f, "a", a) == NULL);
    ASSERT_STR_EQ(wm_http_form_field_at(f, 1)->name, "b");
    ASSERT(wm_http_form_field_at(f, 8) == NULL);
    ASSERT_EQ(wm_http_form_file_count(f), 0);
    wm_http_form_free(f);
    /* Empty body: an empty form. */
    f = form_ok(URLENC, "", 0, NULL);
    ASSERT_EQ(wm_http_form_count(f), 0);
    wm_http_form_free(f);
    wm_http_form_free(NULL);
}

static void test_urlencoded_errors(void)
{
    ASSERT_EQ(form_bad(URLENC, "a=1&b=%4", 8, NULL, WM_EPROTO, 400, "bad %-escape"), 6);
    ASSERT_EQ(form_bad(URLENC, "a=%zz", 5, NULL, WM_EPROTO, 400, "value"), 2);
    ASSERT_EQ(form_bad(URLENC, "%g1=1", 5, NULL, WM_EPROTO, 400, "name"), 0);
    form_bad(URLENC, "a=%", 3, NULL, WM_EPROTO, 400, "bad %-escape");
    wm_http_form_opts_t o = {.max_fields = 3, .max_field_size = 4};
    wm_http_form_t *f = form_ok(URLENC, "a=1&b=2&&c=1234", 15, &o);
    wm_http_form_free(f);
    form_bad(URLENC, "a=1&b=2&c=3&d=4", 15, &o, WM_EMSGSIZE, 413, "more than 3 fields");
    form_bad(URLENC, "a=12345", 7, &o, WM_EMSGSIZE, 413, "larger than 4 bytes");
    /* 1000 fields by default. */
    char *many = malloc(1001 * 4 + 1);
    for (int i = 0; i < 1001; i++)
        memcpy(many + i * 4, "a=1&", 4);
    f = form_ok(URLENC, many, 1000 * 4, NULL);
    ASSERT_EQ(wm_http_form_count(f), 1000);
    wm_http_form_free(f);
    form_bad(URLENC, many, 1001 * 4, NULL, WM_EMSGSIZE, 413, "more than 1000 fields");
    free(many);
}

static void test_content_types(void)
{
    wm_http_form_t *f =
        form_ok("Application/X-WWW-Form-Urlencoded ; charset=UTF-8", "a=1", 3, NULL);
    ASSERT_STR_EQ(wm_http_form_get(f, "a", NULL), "1");
    wm_http_form_free(f);
    form_bad(NULL, "a=1", 3, NULL, WM_EPROTO, 415, "no Content-Type");
    form_bad("text/plain", "a=1", 3, NULL, WM_EPROTO, 415, "not a form");
    form_bad("application/json", "{}", 2, NULL, WM_EPROTO, 415, "not a form");
    form_bad("multipart/form-data", "", 0, NULL, WM_EPROTO, 400, "without a boundary");
    form_bad("multipart/form-data; boundary=", "", 0, NULL, WM_EPROTO, 400, "malformed");
    form_bad("multipart/form-data; boundary=\"abc", "", 0, NULL, WM_EPROTO, 400, "malformed");
    form_bad("multipart/form-data; boundary=a{b", "", 0, NULL, WM_EPROTO, 400, "malformed");
    form_bad("multipart/form-data; boundary=\"a{b\"", "--a{b--", 7, NULL, WM_EPROTO, 400,
             "invalid multipart boundary");
    char longb[120] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'b', 71);
    form_bad(longb, "", 0, NULL, WM_EPROTO, 400, "invalid multipart boundary");
    form_bad("/x", "", 0, NULL, WM_EPROTO, 400, "malformed");
    /* A quoted boundary with a space and a colon, among other parameters. */
    const char *body = "--a b:c\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--a b:c--";
    f = form_ok("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\"", body, strlen(body), NULL);
    ASSERT_STR_EQ(wm_http_form_get(f, "x", NULL), "v");
    wm_http_form_free(f);
    ASSERT(wm_http_is_json_type("application/json"));
    ASSERT(wm_http_is_json_type("Application/JSON; charset=utf-8"));
    ASSERT(wm_http_is_json_type("application/problem+json"));
    ASSERT(!wm_http_is_json_type("application/jsonx"));
    ASSERT(!wm_http_is_json_type("text/plain"));
    ASSERT(!wm_http_is_json_type("json"));
    ASSERT(!wm_http_is_json_type(NULL));
}

/* ---- multipart --------------------------------------------------------------------- */

static const char full_body[] =
    "This is a preamble; --XyZ here is not a delimiter.\r\n"
    "--XyZ  \t\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "Hello\r\n--Xy-not the end\r\n--Xy\r\n"
    "--XyZ\r\n"
    "content-disposition: FORM-DATA; name=tag\r\n"
    "X-Other: ignored\r\n"
    "\r\n"
    "a\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"tag\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"upload\"; filename=\"re\\\"port.txt\"\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "line 1\r\nline 2\r\n\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"bin\"; filename=\"C:\\dir\\x.bin\"\r\n"
    "\r\n"
    "\0\1\2--XyZ\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "the epilogue, ignored\r\n--XyZ\r\nnot parsed";

static void test_multipart_fields_and_files(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    wm_http_form_t *f = form_ok(MP, full_body, sizeof full_body - 1, &o);
    ASSERT_EQ(wm_http_form_count(f), 3);
    size_t len;
    ASSERT_STR_EQ(wm_http_form_get(f, "title", &len), "Hello\r\n--Xy-not the end\r\n--Xy");
    const wm_http_field_t *t = wm_http_form_next(f, "tag", NULL);
    ASSERT_STR_EQ(t->value, "a");
    t = wm_http_form_next(f, "tag", t);
    ASSERT_STR_EQ(t->value, "");
    ASSERT_EQ(wm_http_form_file_count(f), 3);
    ASSERT_EQ(count_files(), 3);

    const wm_http_upload_t *u = wm_http_form_file(f, "upload");
    ASSERT_STR_EQ(u->name, "upload");
    ASSERT_STR_EQ(u->filename, "re\"port.txt");
    ASSERT_STR_EQ(u->content_type, "text/plain; charset=utf-8");
    ASSERT_EQ(u->size, 16);
    ASSERT(strncmp(u->path, tmp_dir, strlen(tmp_dir)) == 0);
    ASSERT(strstr(u->path, "report") == NULL); /* the client's name is not a path */
    ASSERT_STR_EQ(read_file(u->path, &len), "line 1\r\nline 2\r\n");
    struct stat st;
    ASSERT_EQ(stat(u->path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);

    u = wm_http_form_file(f, "bin");
    ASSERT_STR_EQ(u->filename, "C:\\dir\\x.bin");
    ASSERT_STR_EQ(u->content_type, "application/octet-stream");
    const char *data = read_file(u->path, &len);
    ASSERT_EQ(len, 8);
    ASSERT_MEM_EQ(data, "\0\1\2--XyZ", 8);

    u = wm_http_form_file_at(f, 2);
    ASSERT_STR_EQ(u->name, "empty");
    ASSERT_STR_EQ(u->filename, "");
    ASSERT_EQ(u->size, 0);
    ASSERT(wm_http_form_file_at(f, 3) == NULL);
    ASSERT(wm_http_form_file(f, "title") == NULL);
    wm_http_form_free(f);
    remove_tmp_dir();
}

static void test_multipart_shapes(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    /* No parts at all. */
    wm_http_form_t *f = form_ok(MP, "--XyZ--", 7, &o);
    ASSERT_EQ(wm_http_form_count(f), 0);
    wm_http_form_free(f);
    /* A part with no headers but a name is impossible; one with only the
     * disposition and a body that ends in CRLFs (they are content). */
    const char *b = "\r\n--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n\r\n"
                    "\r\n--XyZ--";
    f = form_ok(MP, b, strlen(b), &o);
    ASSERT_STR_EQ(wm_http_form_get(f, "a", NULL), "\r\n\r\n");
    wm_http_form_free(f);
    /* Content that ends with most of a delimiter, then the real one. */
    b = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--Xy\r\n--XyZ--";
    f = form_ok(MP, b, strlen(b), &o);
    ASSERT_STR_EQ(wm_http_form_get(f, "a", NULL), "abc\r\n--Xy");
    wm_http_form_free(f);
    /* filename* (RFC 8187) wins over filename; a bad one is ignored. */
    b = "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"cafe.txt\"; "
        "filename*=UTF-8''caf%C3%A9.txt\r\n\r\nx\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=g; filename*=UTF-8''bad%G1; "
        "filename=plain.txt\r\n\r\ny\r\n--XyZ--";
    f = form_ok(MP, b, strlen(b), &o);
    ASSERT_STR_EQ(wm_http_form_file(f, "f")->filename, "caf\xc3\xa9.txt");
    ASSERT_STR_EQ(wm_http_form_file(f, "g")->filename, "plain.txt");
    wm_http_form_free(f);
    remove_tmp_dir();
}

static void test_multipart_errors(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    static const struct {
        const char *body, *words;
    } cases[] = {
        {"", "no multipart boundary"},
        {"--XY\r\n", "no multipart boundary"},
        {"--XyZ", "ends after a boundary"},
        {"--XyZ\r", "ends after a boundary"},
        {"--XyZx\r\n", "junk after a multipart boundary"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n", "headers do not end"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue", "no closing boundary"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ", "ends after"},
        {"--XyZ\r\n\r\nv\r\n--XyZ--", "without a Content-Disposition name"},
        {"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--", "without"},
        {"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--XyZ--", "not form-data"},
        {"--XyZ\r\nContent-Disposition form-data\r\n\r\nv\r\n--XyZ--", "without a name"},
        {"--XyZ\r\nContent Type: a\r\n\r\nv\r\n--XyZ--", "bad character"},
        {"--XyZ\r\nA: b\nc\r\n\r\nv\r\n--XyZ--", "bad character"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--XyZ--", "parameter"},
        {"--XyZ\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n--XyZ--", "parameter"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ\r\n"
         "Content-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nfile\r\n--XyZ",
         "ends after"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        form_bad(MP, cases[i].body, strlen(cases[i].body), &o, WM_EPROTO, 400, cases[i].words);
    remove_tmp_dir();
}

/* Every prefix of a valid body short of its close delimiter fails cleanly
 * and leaves no file; the prefixes that contain it parse the same form. */
static void test_multipart_every_truncation(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    size_t full = sizeof full_body - 1;
    const char *close = memmem(full_body, full, "--XyZ--", 7); /* NULs inside */
    size_t need = (size_t)(close - full_body) + 7;
    for (size_t n = 0; n <= full; n++) {
        wm_http_form_t *f = NULL;
        wm_http_body_error_t e;
        int rc = wm_http_form_parse_body(MP, full_body, n, &o, &f, &e);
        if (n < need) {
            if (rc != WM_EPROTO || e.status != 400 || f)
                WM_TEST_FAIL("prefix %zu: %d (%s)", n, rc, e.reason);
        } else {
            ASSERT_EQ(rc, WM_OK);
            ASSERT_EQ(wm_http_form_count(f), 3);
            ASSERT_EQ(wm_http_form_file_count(f), 3);
            wm_http_form_free(f);
        }
        ASSERT_EQ(count_files(), 0);
    }
    remove_tmp_dir();
}

static void test_multipart_limits(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir, .max_files = 2, .max_fields = 2};
    size_t full = sizeof full_body - 1;
    /* Three files, three fields: each limit in turn, no file left. */
    form_bad(MP, full_body, full, &o, WM_EMSGSIZE, 413, "more than 2 fields");
    o.max_fields = 3;
    form_bad(MP, full_body, full, &o, WM_EMSGSIZE, 413, "more than 2 files");
    o.max_files = 3;
    o.max_file_size = 15;
    form_bad(MP, full_body, full, &o, WM_EMSGSIZE, 413, "file \"upload\" is larger than 15");
    o.max_file_size = 16;
    o.max_field_size = 10;
    form_bad(MP, full_body, full, &o, WM_EMSGSIZE, 413, "field \"title\" is larger than 10");
    o.max_field_size = 0;
    wm_http_form_t *f = form_ok(MP, full_body, full, &o);
    wm_http_form_free(f);
    /* Part headers over the limit: 413; under it: fine. */
    char body[400];
    int n = snprintf(body, sizeof body,
                     "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX-Pad: %0100d\r\n\r\n"
                     "v\r\n--XyZ--",
                     0);
    o.max_header_size = 100;
    form_bad(MP, body, (size_t)n, &o, WM_EMSGSIZE, 413, "headers are longer than 100");
    o.max_header_size = 160;
    f = form_ok(MP, body, (size_t)n, &o);
    wm_http_form_free(f);
    ASSERT_EQ(count_files(), 0);
    /* An unwritable folder: 500 with the errno, nothing left. */
    o.tmp_dir = "/nonexistent/wm-body";
    wm_http_body_error_t e;
    ASSERT_EQ(wm_http_form_parse_body(MP, full_body, full, &o, &f, &e), -ENOENT);
    ASSERT_EQ(e.status, 500);
    ASSERT(strstr(e.reason, "cannot create an upload file") != NULL);
    remove_tmp_dir();
}

static void test_upload_move_and_keep(void)
{
    make_tmp_dir();
    wm_http_form_opts_t o = {.tmp_dir = tmp_dir};
    wm_http_form_t *f = form_ok(MP, full_body, sizeof full_body - 1, &o);
    wm_http_form_t *g = form_ok(MP, full_body, sizeof full_body - 1, &o);
    ASSERT_EQ(count_files(), 6);
    char dest[128], kept[128];
    snprintf(dest, sizeof dest, "%s/saved.txt", tmp_dir);
    const wm_http_upload_t *u = wm_http_form_file(f, "upload");
    const char *old = u->path;
    ASSERT_EQ(wm_http_upload_move_to(f, u, dest), WM_OK);
    ASSERT_STR_EQ(u->path, dest);
    ASSERT_EQ(access(old, F_OK), -1);
    ASSERT_EQ(wm_http_upload_move_to(f, u, dest), WM_EINVAL); /* moved already */
    /* Another form's upload is not this form's to move. */
    ASSERT_EQ(wm_http_upload_move_to(f, wm_http_form_file(g, "bin"), dest), WM_EINVAL);
    ASSERT_EQ(wm_http_upload_keep(f, wm_http_form_file(g, "bin")), WM_EINVAL);
    ASSERT_EQ(wm_http_upload_move_to(f, wm_http_form_file(f, "bin"), "/nonexistent/x"), -ENOENT);
    snprintf(kept, sizeof kept, "%s", wm_http_form_file(f, "bin")->path);
    ASSERT_EQ(wm_http_upload_keep(f, wm_http_form_file(f, "bin")), WM_OK);
    wm_http_form_free(f);
    wm_http_form_free(g);
    /* Left: the moved file and the kept one. */
    ASSERT_EQ(count_files(), 2);
    size_t len;
    ASSERT_STR_EQ(read_file(dest, &len), "line 1\r\nline 2\r\n");
    ASSERT_EQ(unlink(dest), 0);
    ASSERT_EQ(unlink(kept), 0);
    remove_tmp_dir();
}

static const wm_test_case_t cases[] = {
    {"urlencoded", test_urlencoded},
    {"urlencoded_errors", test_urlencoded_errors},
    {"content_types", test_content_types},
    {"multipart_fields_and_files", test_multipart_fields_and_files},
    {"multipart_shapes", test_multipart_shapes},
    {"multipart_errors", test_multipart_errors},
    {"multipart_every_truncation", test_multipart_every_truncation},
    {"multipart_limits", test_multipart_limits},
    {"upload_move_and_keep", test_upload_move_and_keep},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
