/* SPDX-License-Identifier: MIT */
/* Request-body helpers for the http:// protocol: query strings and
 * application/x-www-form-urlencoded bodies, multipart/form-data with file
 * uploads (RFC 7578), and JSON bodies.
 *
 * Every parser works on the body the protocol has already reassembled in
 * memory (bounded by the worker's max package size), so none of them waits
 * for the network. The result is a form (wm_http_form_t) the caller owns
 * and frees with wm_http_form_free(); every string and upload taken from it
 * is borrowed until then. Nothing points into the request, so a form may
 * outlive on_message.
 *
 * Uploads. A multipart part with a filename is written to a file of its own
 * in a temporary folder (opts.tmp_dir, else $TMPDIR, else /tmp), created
 * with mkstemp() and mode 0600. wm_http_form_free() deletes every such file
 * the caller has not moved (wm_http_upload_move_to) or kept
 * (wm_http_upload_keep). The client's filename is only reported, never used
 * in a path. Writing the files is blocking disk I/O on the loop: a straight
 * write() of bytes already in memory, bounded by max_file_size and
 * max_files, and no larger than the body; keep uploads on a local disk (a
 * tmpfs is best) and the worker's max package size no larger than the
 * uploads you mean to take.
 *
 * Errors. A parse that fails returns a negative code and fills a
 * wm_http_body_error_t with the HTTP status to answer and a reason;
 * wm_http_reply_body_error() answers with them and closes the connection.
 *   WM_EPROTO     malformed (400): a bad %-escape, a bad or missing
 *                 boundary, a truncated body, a part without a name, bad
 *                 JSON; or a Content-Type the call does not handle (415);
 *   WM_EMSGSIZE   a limit was passed (413): too many fields or files, a
 *                 field, file or part header block too large;
 *   WM_ENOMEM     out of memory (500);
 *   other         a negated errno from creating or writing an upload file
 *                 (500). */
#ifndef WM_HTTP_BODY_H
#define WM_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"
#include "json.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* What went wrong, for the answer and the log. */
typedef struct wm_http_body_error {
    int status;       /* the status to answer: 400, 413, 415 or 500 */
    size_t offset;    /* where in the body (or query) it was found */
    char reason[128]; /* a sentence, e.g. "bad %-escape in a field name" */
} wm_http_body_error_t;

/* Answers the current request with err->status and the reason as a
 * text/plain body, with Connection: close. Returns as wm_http_send(). */
int wm_http_reply_body_error(wm_conn_t *c, const wm_http_body_error_t *err);

#define WM_HTTP_FORM_DEFAULT_MAX_FIELDS 1000
#define WM_HTTP_FORM_DEFAULT_MAX_FIELD_SIZE ((size_t)1 << 20)
#define WM_HTTP_FORM_DEFAULT_MAX_FILES 20
#define WM_HTTP_FORM_DEFAULT_MAX_HEADER_SIZE 8192

/* Limits and where uploads go. A zero field takes its default; use
 * SIZE_MAX / UINT64_MAX for "no limit beyond the body's". */
typedef struct wm_http_form_opts {
    size_t max_fields;      /* fields, not counting files (default 1000) */
    size_t max_field_size;  /* bytes of one field's value (default 1 MiB) */
    size_t max_files;       /* file parts (default 20) */
    uint64_t max_file_size; /* bytes of one file (default: the body's bound) */
    size_t max_header_size; /* one multipart part's header block (default 8 KiB) */
    const char *tmp_dir;    /* uploads' folder (default $TMPDIR, else /tmp); copied */
} wm_http_form_opts_t;

/* One name/value pair, decoded. Both strings are NUL-terminated and may
 * also hold NUL bytes (from %00); the lengths count every byte. */
typedef struct wm_http_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} wm_http_field_t;

/* One uploaded file. A read-only view: change it only through the
 * functions below. */
typedef struct wm_http_upload {
    const char *name;         /* the form field's name */
    const char *filename;     /* the client's file name (filename*= when given,
                                 else filename=); "" when empty. Never a path
                                 of ours: do not open it */
    const char *content_type; /* the part's Content-Type, or
                                 "application/octet-stream" */
    uint64_t size;            /* bytes */
    const char *path;         /* where the bytes are now: the temporary file,
                                 or the destination after move_to */
} wm_http_upload_t;

typedef struct wm_http_form wm_http_form_t;

/* ---- Parsing -------------------------------------------------------------- */

/* Parses the request's body as a form, by its Content-Type:
 * application/x-www-form-urlencoded or multipart/form-data (parameters
 * allowed, case-insensitive). Any other type, or none, fails with WM_EPROTO
 * and status 415. `opts` may be NULL (defaults). On success stores a form
 * the caller frees with wm_http_form_free(); on failure stores NULL, has
 * left no file behind, and fills `err` (may be NULL). */
int wm_http_form_parse(const wm_http_request_t *req, const wm_http_form_opts_t *opts,
                       wm_http_form_t **form, wm_http_body_error_t *err);

/* As wm_http_form_parse, for a body and its Content-Type given apart (a
 * body from elsewhere, tests). `content_type` may be NULL (415). */
int wm_http_form_parse_body(const char *content_type, const void *body, size_t len,
                            const wm_http_form_opts_t *opts, wm_http_form_t **form,
                            wm_http_body_error_t *err);

/* Parses `len` bytes of "a=1&b=x+y&c" form data: '&'-separated pairs,
 * split at the first '='; '+' is a space and %XX a byte (a '%' not
 * followed by two hex digits is an error); a pair without '=' has an empty
 * value; empty pairs ("a=1&&b=2") are skipped; repeated names are all
 * kept, in order. The bytes are not checked to be UTF-8. */
int wm_http_urlencoded_parse(const char *data, size_t len, const wm_http_form_opts_t *opts,
                             wm_http_form_t **form, wm_http_body_error_t *err);

/* Parses the request's query string the same way ('+' is a space there
 * too, as in HTML forms sent with GET, PHP's $_GET and URLSearchParams). */
int wm_http_request_query_form(const wm_http_request_t *req, const wm_http_form_opts_t *opts,
                               wm_http_form_t **form, wm_http_body_error_t *err);

/* Looks up one query parameter without building a form: copies the
 * decoded value of the first `name` into out[out_size], NUL-terminated.
 * Returns its length (>= 0), or WM_ENOENT (no such parameter), WM_EPROTO
 * (a malformed escape in the query) or WM_ENOBUFS (out_size too small;
 * nothing useful in out). */
int wm_http_request_query_param(const wm_http_request_t *req, const char *name, char *out,
                                size_t out_size);

/* Frees the form, its strings, and the temporary files of uploads neither
 * moved nor kept. NULL is ignored. */
void wm_http_form_free(wm_http_form_t *form);

/* ---- Fields ---------------------------------------------------------------- */

/* The number of fields (files not counted) and field `i` in body order;
 * NULL past the end. */
size_t wm_http_form_count(const wm_http_form_t *form);
const wm_http_field_t *wm_http_form_field_at(const wm_http_form_t *form, size_t i);

/* The value of the first field called `name` (NUL-terminated, exact bytes),
 * its length in *len (may be NULL); NULL when absent. */
const char *wm_http_form_get(const wm_http_form_t *form, const char *name, size_t *len);

/* Every field called `name`, one at a time: pass NULL for the first, then
 * the previous result; NULL after the last.
 *   for (f = wm_http_form_next(form, "tag", NULL); f; f = wm_http_form_next(form, "tag", f)) */
const wm_http_field_t *wm_http_form_next(const wm_http_form_t *form, const char *name,
                                         const wm_http_field_t *prev);

/* ---- Uploads --------------------------------------------------------------- */

size_t wm_http_form_file_count(const wm_http_form_t *form);
const wm_http_upload_t *wm_http_form_file_at(const wm_http_form_t *form, size_t i);
/* The first upload of the field `name`, NULL when none. */
const wm_http_upload_t *wm_http_form_file(const wm_http_form_t *form, const char *name);

/* Moves the upload's file to `dest` (rename(2); across file systems a copy
 * then unlink, which blocks for the file's size). An existing `dest` is
 * replaced. The form then no longer deletes it, and upload->path becomes
 * `dest`. Returns WM_OK, WM_EINVAL (not this form's upload, or moved
 * already), WM_ENOMEM or a negated errno. */
int wm_http_upload_move_to(wm_http_form_t *form, const wm_http_upload_t *upload, const char *dest);

/* Keeps the temporary file: wm_http_form_free() will not delete it, and
 * the caller becomes responsible for it (copy upload->path first: the
 * string goes with the form). Returns WM_OK or WM_EINVAL. */
int wm_http_upload_keep(wm_http_form_t *form, const wm_http_upload_t *upload);

/* ---- JSON ------------------------------------------------------------------ */

/* Parses the request's body as JSON when its Content-Type is
 * application/json or any "+json" type (application/vnd.api+json,
 * application/problem+json), with or without parameters. On success stores
 * a document the caller frees with wm_json_doc_free(). Otherwise stores
 * NULL and returns WM_EPROTO (415 for another type; 400 for bad JSON, err
 * says at which byte and why), WM_EMSGSIZE (413: over opts->max_size) or
 * WM_ENOMEM. `opts` and `err` may be NULL. */
int wm_http_request_json(const wm_http_request_t *req, const wm_json_opts_t *opts,
                         wm_json_doc_t **doc, wm_http_body_error_t *err);

/* Whether a Content-Type value names JSON as above. */
bool wm_http_is_json_type(const char *content_type);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
