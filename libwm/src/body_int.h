/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the body parsers (json.c, http_form.c,
 * http_multipart.c): an allocation arena, a locale-independent strtod, and
 * the pieces of the form object that the urlencoded and multipart parsers
 * both fill. Nothing here is part of the API. */
#ifndef WM_BODY_INT_H
#define WM_BODY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wm/http_body.h"

/* ---- arena (arena.c) ------------------------------------------------------ */

/* Many small allocations released together: a document's nodes, a form's
 * strings. Chunks grow geometrically; an allocation larger than a chunk
 * gets a chunk of its own. */
typedef struct wm__arena_chunk wm__arena_chunk_t;
typedef struct wm__arena {
    wm__arena_chunk_t *head;
    size_t next_size;
} wm__arena_t;

/* `n` bytes aligned for any type, or NULL when out of memory (or n so
 * large that the header would overflow). */
void *wm__arena_alloc(wm__arena_t *a, size_t n);
/* A NUL-terminated copy of `n` bytes at `s`. */
char *wm__arena_strndup(wm__arena_t *a, const char *s, size_t n);
void wm__arena_free(wm__arena_t *a);

/* strtod in the "C" locale, whatever setlocale() the program made. */
double wm__strtod_c(const char *s, char **end);
/* snprintf of one double with "%.*g" in the "C" locale. */
int wm__format_double_c(char *out, size_t cap, int precision, double d);

/* ---- forms (http_form.c) --------------------------------------------------- */

/* An upload and whether the form still owns (will delete) its file. */
typedef struct wm__upload {
    wm_http_upload_t pub;
    bool owned;
} wm__upload_t;

struct wm_http_form {
    wm__arena_t arena; /* every string of the form */
    wm_http_field_t *fields;
    size_t n_fields, cap_fields;
    wm__upload_t *uploads;
    size_t n_uploads, cap_uploads;
};

/* The options with every zero field replaced by its default. */
wm_http_form_opts_t wm__form_opts(const wm_http_form_opts_t *opts);
wm_http_form_t *wm__form_new(void);
/* Appends a field whose strings are already in the form's arena. Returns
 * WM_OK or WM_ENOMEM. */
int wm__form_add_field(wm_http_form_t *f, const char *name, size_t name_len, const char *value,
                       size_t value_len);
/* Appends an upload (strings in the arena); the form owns its file. */
int wm__form_add_upload(wm_http_form_t *f, const wm_http_upload_t *u);
/* Fills `err` (may be NULL) and returns `code`. */
int wm__body_error(wm_http_body_error_t *err, int code, int status, size_t offset, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

/* Splits a Content-Type value into its media type ("multipart/form-data",
 * lower-cased into type[cap]) and, when `param` is not NULL, finds that
 * parameter's value (quoted-string unquoted) into value[vcap]. Returns
 * true for a well-formed value; *found says whether the parameter was
 * there. */
bool wm__media_type(const char *content_type, char *type, size_t cap, const char *param,
                    char *value, size_t vcap, bool *found);

/* Parses a multipart/form-data body (http_multipart.c); `boundary` as
 * taken from the Content-Type. */
int wm__multipart_parse(wm_http_form_t *f, const char *boundary, const char *body, size_t len,
                        const wm_http_form_opts_t *opts, wm_http_body_error_t *err);

#endif
