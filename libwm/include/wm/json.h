/* SPDX-License-Identifier: MIT */
/* JSON (RFC 8259): a strict parser into a read-only tree, and a small
 * writer into a growing buffer. No dependency.
 *
 * Parsing. wm_json_parse() reads the whole text and builds a document:
 *   - null, true/false, numbers, strings, arrays, objects;
 *   - a number without fraction or exponent that fits int64 is an integer
 *     (WM_JSON_INT), every other number a double (WM_JSON_DOUBLE); the
 *     number's text as written is kept too (wm_json_number_text), for
 *     numbers that neither type holds exactly (big decimals, ids past
 *     2^63). A number whose magnitude overflows a double (1e400) is an
 *     error; one that underflows (1e-400) becomes 0 or a subnormal;
 *   - strings are decoded: escapes, \u with surrogate pairs, to UTF-8.
 *     Invalid UTF-8, a lone surrogate, a raw control character (below
 *     0x20) and an unknown escape are errors. "\u0000" is allowed: such a
 *     string holds a NUL byte, which its length counts;
 *   - objects keep their members in order, duplicates included;
 *     wm_json_get() finds the LAST member with a key (as JavaScript's
 *     JSON.parse does), wm_json_key_at() lists all of them;
 *   - nothing but white space may follow the value; no comments, no
 *     trailing commas, no leading zeros, no NaN or Infinity, no BOM.
 * Limits: nesting depth (default 64) and input size (default 64 MiB), so
 * that "[[[[..." is an error, never a deep recursion (the parser keeps its
 * own stack; it never recurses). The tree takes at most about 40 bytes per
 * input byte.
 *
 * Ownership: the document owns every node and string, all in one arena; it
 * copies what it needs from the input, which the caller may free at once.
 * wm_json_doc_free() releases everything: every `const wm_json_t *` and
 * string taken from the document is borrowed until then.
 *
 * Accessors accept NULL for "no value" and then answer "none", so lookups
 * chain: wm_json_as_string(wm_json_get(root, "user"), NULL) is NULL when
 * root is not an object, has no "user", or "user" is not a string. */
#ifndef WM_JSON_H
#define WM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum wm_json_type {
    WM_JSON_NONE = 0, /* no value: what the accessors say of NULL */
    WM_JSON_NULL,
    WM_JSON_BOOL,
    WM_JSON_INT,
    WM_JSON_DOUBLE,
    WM_JSON_STRING,
    WM_JSON_ARRAY,
    WM_JSON_OBJECT
} wm_json_type_t;

typedef struct wm_json wm_json_t;         /* one value in a document */
typedef struct wm_json_doc wm_json_doc_t; /* a parsed document, its arena */

#define WM_JSON_DEFAULT_MAX_DEPTH 64
#define WM_JSON_DEFAULT_MAX_SIZE ((size_t)64 << 20)

/* Parser limits; a zero field takes its default. */
typedef struct wm_json_opts {
    size_t max_depth; /* arrays and objects nested deeper fail (default 64) */
    size_t max_size;  /* longer input fails before it is read (default 64 MiB) */
} wm_json_opts_t;

/* Why a parse failed: the byte offset in the input where the problem was
 * found, and a sentence ("expected ',' or ']' after an array element"). */
typedef struct wm_json_error {
    size_t offset;
    char reason[96];
} wm_json_error_t;

/* Parses `len` bytes at `text` (no NUL needed) with `opts` (NULL:
 * defaults). On success returns WM_OK and stores a document the caller
 * frees with wm_json_doc_free(). Otherwise stores NULL and returns
 * WM_EPROTO (not valid JSON, or deeper than max_depth), WM_EMSGSIZE (longer
 * than max_size) or WM_ENOMEM; `err` (may be NULL) then says where and why. */
int wm_json_parse(const char *text, size_t len, const wm_json_opts_t *opts, wm_json_doc_t **doc,
                  wm_json_error_t *err);

/* Frees the document and every value in it. NULL is ignored. */
void wm_json_doc_free(wm_json_doc_t *doc);

/* The top-level value (never NULL for a parsed document). */
const wm_json_t *wm_json_root(const wm_json_doc_t *doc);

/* The value's type; WM_JSON_NONE for NULL. */
wm_json_type_t wm_json_type(const wm_json_t *v);
bool wm_json_is_null(const wm_json_t *v);

/* Each stores the value in *out and returns true when `v` has a fitting
 * type, or returns false and leaves *out alone:
 *   as_bool    true/false only;
 *   as_int     an integer, or a double with an integral value in int64's
 *              range (so -0, 1.0 and 1e3 are integers here);
 *   as_double  any number (an integer converts, maybe rounding). */
bool wm_json_as_bool(const wm_json_t *v, bool *out);
bool wm_json_as_int(const wm_json_t *v, int64_t *out);
bool wm_json_as_double(const wm_json_t *v, double *out);

/* A string's decoded UTF-8 bytes, NUL-terminated, its length in *len (may
 * be NULL; the length counts NUL bytes from "\u0000"). NULL when `v` is not
 * a string. Borrowed from the document. */
const char *wm_json_as_string(const wm_json_t *v, size_t *len);

/* A number's text as written in the input ("-1.50e3"), NUL-terminated;
 * NULL when `v` is not a number. Borrowed from the document. */
const char *wm_json_number_text(const wm_json_t *v);

/* The number of elements of an array or members of an object; 0 for any
 * other value. */
size_t wm_json_size(const wm_json_t *v);

/* Element `i` of an array, NULL when out of range or not an array. */
const wm_json_t *wm_json_at(const wm_json_t *v, size_t i);

/* The value of the last member called `key` (exact bytes; NUL-terminated
 * key) of an object, NULL when absent or not an object. A linear scan:
 * objects are usually small; iterate with key_at/value_at for big ones. */
const wm_json_t *wm_json_get(const wm_json_t *v, const char *key);
/* As wm_json_get, for a key of `len` bytes (may contain NUL). */
const wm_json_t *wm_json_getn(const wm_json_t *v, const char *key, size_t len);

/* Member `i` of an object, in input order: its key (NUL-terminated, length
 * in *len, may be NULL) and its value. NULL when out of range or not an
 * object. */
const char *wm_json_key_at(const wm_json_t *v, size_t i, size_t *len);
const wm_json_t *wm_json_value_at(const wm_json_t *v, size_t i);

/* Follows a dotted path from `v`: "user.name", "items.0.id" (a segment of
 * digits indexes an array, any segment looks up an object key). Keys that
 * contain '.' cannot be reached this way. NULL when any step is missing.
 * An empty path gives `v`. */
const wm_json_t *wm_json_get_path(const wm_json_t *v, const char *path);

/* ---- Writer --------------------------------------------------------------- */

/* Writes JSON text into a growing buffer, putting in the commas and
 * colons itself:
 *
 *   wm_json_writer_t *w = wm_json_writer_new();
 *   wm_json_write_object_begin(w);
 *   wm_json_write_key(w, "id");   wm_json_write_int(w, 7);
 *   wm_json_write_key(w, "tags"); wm_json_write_array_begin(w);
 *   wm_json_write_string(w, "a"); wm_json_write_array_end(w);
 *   wm_json_write_object_end(w);
 *   size_t len; const char *text = wm_json_writer_text(w, &len);
 *   ... {"id":7,"tags":["a"]} ...
 *   wm_json_writer_free(w);
 *
 * Output is compact (no spaces) and always valid JSON: strings are escaped
 * (", \, and control characters; everything else is written as UTF-8).
 * Errors stick: the first misuse (a value where a key is due, an end that
 * does not match, a string that is not UTF-8) or allocation failure makes
 * that call and every later one return its code, and wm_json_writer_text()
 * return NULL. */
typedef struct wm_json_writer wm_json_writer_t;

/* Returns a new empty writer, or NULL when out of memory. */
wm_json_writer_t *wm_json_writer_new(void);
void wm_json_writer_free(wm_json_writer_t *w);

/* Each returns WM_OK, WM_EINVAL (misuse, see above) or WM_ENOMEM. */
int wm_json_write_null(wm_json_writer_t *w);
int wm_json_write_bool(wm_json_writer_t *w, bool b);
int wm_json_write_int(wm_json_writer_t *w, int64_t i);
/* An unsigned integer: all of uint64's range, past int64's too. */
int wm_json_write_uint(wm_json_writer_t *w, uint64_t u);
/* The shortest text that reads back as the same double, always with a '.'
 * or an exponent ("1.0", not "1"), so that it parses back as a double.
 * NaN and infinities have no JSON form: they are written as null. */
int wm_json_write_double(wm_json_writer_t *w, double d);
/* A NUL-terminated string, or `len` bytes (may contain NUL). Must be
 * UTF-8 (WM_EINVAL otherwise). */
int wm_json_write_string(wm_json_writer_t *w, const char *s);
int wm_json_write_stringn(wm_json_writer_t *w, const char *s, size_t len);
/* An object member's key; the next write is its value. */
int wm_json_write_key(wm_json_writer_t *w, const char *key);
int wm_json_write_keyn(wm_json_writer_t *w, const char *key, size_t len);
int wm_json_write_array_begin(wm_json_writer_t *w);
int wm_json_write_array_end(wm_json_writer_t *w);
int wm_json_write_object_begin(wm_json_writer_t *w);
int wm_json_write_object_end(wm_json_writer_t *w);
/* A whole parsed value (any depth; no recursion). Integers and doubles are
 * written from their values, not their input text. */
int wm_json_write_value(wm_json_writer_t *w, const wm_json_t *v);

/* The text so far (NUL-terminated, length in *len, may be NULL), or NULL
 * after an error. Complete JSON once every array and object has ended and
 * one top-level value was written (wm_json_writer_done). Borrowed: valid
 * until the next write or wm_json_writer_free(). */
const char *wm_json_writer_text(const wm_json_writer_t *w, size_t *len);
/* Whether the text is one complete value with nothing left open. */
bool wm_json_writer_done(const wm_json_writer_t *w);
/* WM_OK, or the sticky error. */
int wm_json_writer_error(const wm_json_writer_t *w);

/* Whether `len` bytes at `s` are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF): what the string writers
 * accept. For deciding beforehand how to show bytes that may not be text. */
bool wm_json_is_utf8(const char *s, size_t len);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
