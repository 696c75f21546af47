/* SPDX-License-Identifier: MIT */
/* PHP serialize() / unserialize() <-> msgpack objects (php_serial.h).
 *
 * The reader is a recursive descent over PHP's grammar (php-src
 * ext/standard/var_unserializer.re), bounded by the buffer's end at every
 * byte; the writer follows php-src ext/standard/var.c
 * (php_var_serialize_intern) and, for floats, zend_gcvt() with
 * serialize_precision = -1 (Zend/zend_strtod.c): the shortest digits that
 * read back as the same double, laid out with 17 as the limit between plain
 * and E notation. */
#include "php_serial.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wm/error.h"

/* The fewest bytes one array element can take: "i:0;" and "N;". */
#define PHP_MIN_ELEMENT 6
/* The longest float text read (php-src's ZEND_DOUBLE_MAX_LENGTH is 1080). */
#define PHP_MAX_FLOAT_TEXT 1100

/* ---- number text in the C locale ------------------------------------------ */

/* printf and strtod follow LC_NUMERIC; PHP's text always uses '.', so every
 * conversion runs in the "C" locale whatever the program set. */
static locale_t php_c_locale(void)
{
    static locale_t c_locale;
    if (!c_locale)
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return c_locale;
}

typedef struct php_locale_scope {
    locale_t saved;
    bool switched;
} php_locale_scope_t;

static php_locale_scope_t php_locale_enter(void)
{
    php_locale_scope_t s = {(locale_t)0, false};
    locale_t c = php_c_locale();
    if (c) {
        s.saved = uselocale(c);
        s.switched = true;
    }
    return s;
}

static void php_locale_leave(php_locale_scope_t s)
{
    if (s.switched)
        uselocale(s.saved);
}

/* ---- array keys ------------------------------------------------------------- */

/* One array key as PHP holds it: an integer or a byte string. */
typedef struct php_key {
    bool is_str;
    int64_t i;
    const char *p;
    size_t n;
} php_key_t;

/* PHP's rule for string keys that are stored as integers (php-src
 * _zend_handle_numeric_str_ex): an optional '-', then "0" or a digit string
 * without a leading zero, in int64 range; "-0" stays a string. */
static bool php_numeric_key(const char *p, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n || n - i > 19)
        return false;
    if (p[i] == '0' && n > 1)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0'); /* 19 digits cannot overflow */
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

static int php_key_cmp(const void *a, const void *b)
{
    const php_key_t *x = a, *y = b;
    if (x->is_str != y->is_str)
        return x->is_str ? 1 : -1;
    if (!x->is_str)
        return x->i < y->i ? -1 : x->i > y->i;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Up to this many keys are compared pairwise, on the stack; more are
 * sorted in a copy. */
#define PHP_FEW_KEYS 16

/* WM_OK when keys[0, n) are all different, WM_EINVAL when two are equal,
 * WM_ENOMEM. */
static int php_keys_distinct(const php_key_t *keys, size_t n)
{
    if (n <= PHP_FEW_KEYS) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (php_key_cmp(&keys[i], &keys[j]) == 0)
                    return WM_EINVAL;
        return WM_OK;
    }
    php_key_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return WM_ENOMEM;
    memcpy(sorted, keys, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, php_key_cmp);
    int rc = WM_OK;
    for (size_t i = 1; i < n && rc == WM_OK; i++)
        if (php_key_cmp(&sorted[i - 1], &sorted[i]) == 0)
            rc = WM_EINVAL;
    free(sorted);
    return rc;
}

/* Room for n keys: the stack buffer (PHP_FEW_KEYS) or the heap. */
static php_key_t *php_keys_alloc(size_t n, php_key_t *few)
{
    return n <= PHP_FEW_KEYS ? few : malloc(n * sizeof(php_key_t));
}

static void php_keys_free(php_key_t *keys, php_key_t *few)
{
    if (keys != few)
        free(keys);
}

static void php_set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

/* ---- reader ------------------------------------------------------------------ */

typedef struct php_reader {
    const char *p, *end;
    msgpack_zone *zone;
    const char *why;
} php_reader_t;

static int php_fail(php_reader_t *r, const char *why)
{
    r->why = why;
    return WM_EPROTO;
}

static size_t php_left(const php_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

/* Consumes the literal s (n bytes) or fails saying why. */
static int php_expect(php_reader_t *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r->p == r->end)
            return php_fail(r, "input ends inside a value");
        if (*r->p != s[i])
            return php_fail(r, "unexpected byte");
        r->p++;
    }
    return WM_OK;
}

/* An unsigned decimal ([0-9]+, leading zeros allowed as PHP does) that must
 * not exceed limit: lengths and counts, checked against the bytes left. */
static int php_read_uint(php_reader_t *r, size_t limit, size_t *out)
{
    size_t v = 0;
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        v = v * 10 + (size_t)(*r->p - '0');
        if (v > limit)
            return php_fail(r, "length or count larger than the input could hold");
        r->p++;
    }
    if (r->p == start)
        return php_fail(r, r->p == r->end ? "input ends inside a value" : "expected a digit");
    *out = v;
    return WM_OK;
}

/* [+-]?[0-9]+ in int64 range (PHP would saturate; serialize() never writes
 * such a number, so it is refused). */
static int php_read_int64(php_reader_t *r, int64_t *out)
{
    bool neg = false;
    if (r->p < r->end && (*r->p == '-' || *r->p == '+')) {
        neg = *r->p == '-';
        r->p++;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        unsigned d = (unsigned)(*r->p - '0');
        if (v > (limit - d) / 10)
            return php_fail(r, "integer out of int64 range");
        v = v * 10 + d;
        r->p++;
    }
    if (r->p == start)
        return php_fail(r, r->p == r->end ? "input ends inside a value" : "expected a digit");
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return WM_OK;
}

static size_t php_skip_digits(php_reader_t *r)
{
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return (size_t)(r->p - start);
}

/* The text of a d: value, up to (not including) its ';': NAN, INF, -INF, or
 * [+-]? digits with an optional '.' (at least one digit in all) and an
 * optional exponent [eE][+-]?[0-9]+ — PHP's iv | nv | nvexp. */
static int php_read_double(php_reader_t *r, double *out)
{
    static const struct {
        const char *text;
        size_t n;
    } specials[] = {{"NAN", 3}, {"INF", 3}, {"-INF", 4}};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        if (php_left(r) >= specials[i].n && memcmp(r->p, specials[i].text, specials[i].n) == 0) {
            r->p += specials[i].n;
            *out = i == 0 ? NAN : i == 1 ? INFINITY : -INFINITY;
            return WM_OK;
        }
    }
    const char *start = r->p;
    if (r->p < r->end && (*r->p == '-' || *r->p == '+'))
        r->p++;
    size_t digits = php_skip_digits(r);
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        digits += php_skip_digits(r);
    }
    if (digits == 0)
        return php_fail(r, r->p == r->end ? "input ends inside a value" : "malformed float");
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '-' || *r->p == '+'))
            r->p++;
        if (php_skip_digits(r) == 0)
            return php_fail(r, r->p == r->end ? "input ends inside a value" : "malformed float");
    }
    size_t n = (size_t)(r->p - start);
    if (n > PHP_MAX_FLOAT_TEXT)
        return php_fail(r, "float text too long");
    char text[PHP_MAX_FLOAT_TEXT + 1];
    memcpy(text, start, n);
    text[n] = '\0';
    locale_t c = php_c_locale();
    *out = c ? strtod_l(text, NULL, c) : strtod(text, NULL);
    return WM_OK;
}

/* The bytes of s:N:"..."; after the "s:": returns a view into the input. */
static int php_read_string_body(php_reader_t *r, const char **p, size_t *n)
{
    int rc = php_read_uint(r, php_left(r), n);
    if (rc == WM_OK)
        rc = php_expect(r, ":\"", 2);
    if (rc != WM_OK)
        return rc;
    if (*n > php_left(r))
        return php_fail(r, "string length past the end of the input");
    if (*n > UINT32_MAX)
        return php_fail(r, "string longer than msgpack allows");
    *p = r->p;
    r->p += *n;
    return php_expect(r, "\";", 2);
}

static int php_copy_str(php_reader_t *r, const char *p, size_t n, msgpack_object *out)
{
    char *copy = NULL;
    if (n > 0) {
        copy = msgpack_zone_malloc_no_align(r->zone, n);
        if (!copy) {
            r->why = "out of memory";
            return WM_ENOMEM;
        }
        memcpy(copy, p, n);
    }
    out->type = MSGPACK_OBJECT_STR;
    out->via.str.ptr = copy;
    out->via.str.size = (uint32_t)n;
    return WM_OK;
}

static int php_read_value(php_reader_t *r, msgpack_object *out, int depth);

/* An array key: i: or s:, a numeric string becoming an integer as in PHP. */
static int php_read_key(php_reader_t *r, msgpack_object *out)
{
    if (r->p == r->end)
        return php_fail(r, "input ends inside a value");
    char tag = *r->p;
    if (tag != 'i' && tag != 's')
        return php_fail(r, "array key is neither i: nor s:");
    int rc = php_expect(r, tag == 'i' ? "i:" : "s:", 2);
    if (rc != WM_OK)
        return rc;
    int64_t v;
    if (tag == 'i') {
        if ((rc = php_read_int64(r, &v)) != WM_OK || (rc = php_expect(r, ";", 1)) != WM_OK)
            return rc;
        php_set_int(out, v);
        return WM_OK;
    }
    const char *p;
    size_t n;
    if ((rc = php_read_string_body(r, &p, &n)) != WM_OK)
        return rc;
    if (php_numeric_key(p, n, &v)) {
        php_set_int(out, v);
        return WM_OK;
    }
    return php_copy_str(r, p, n, out);
}

static bool php_key_is_index(const msgpack_object *k, size_t i)
{
    return k->type == MSGPACK_OBJECT_POSITIVE_INTEGER && k->via.u64 == i;
}

/* Keys 0..n-1 in order: a PHP list, turned into a msgpack array in place
 * (element i lands at or before kv[i].val, so nothing unread is
 * overwritten). Otherwise a map, once its keys are known to be distinct. */
static int php_finish_array(php_reader_t *r, msgpack_object_kv *kv, size_t n, msgpack_object *out)
{
    size_t i = 0;
    while (i < n && php_key_is_index(&kv[i].key, i))
        i++;
    if (i == n) {
        msgpack_object *items = (msgpack_object *)(void *)kv;
        for (i = 0; i < n; i++)
            memmove(&items[i], &kv[i].val, sizeof *items);
        out->type = MSGPACK_OBJECT_ARRAY;
        out->via.array.ptr = items;
        out->via.array.size = (uint32_t)n;
        return WM_OK;
    }
    php_key_t few[PHP_FEW_KEYS] = {{0}}; /* zeroed: gcc -O2 cannot see each is set */
    php_key_t *keys = php_keys_alloc(n, few);
    if (!keys) {
        r->why = "out of memory";
        return WM_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const msgpack_object *k = &kv[i].key;
        keys[i] = (php_key_t){.is_str = k->type == MSGPACK_OBJECT_STR};
        if (keys[i].is_str) {
            keys[i].p = k->via.str.ptr;
            keys[i].n = k->via.str.size;
        } else {
            keys[i].i =
                k->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)k->via.u64 : k->via.i64;
        }
    }
    int rc = php_keys_distinct(keys, n);
    php_keys_free(keys, few);
    if (rc == WM_ENOMEM) {
        r->why = "out of memory";
        return rc;
    }
    if (rc != WM_OK)
        return php_fail(r, "duplicate array key");
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.ptr = kv;
    out->via.map.size = (uint32_t)n;
    return WM_OK;
}

/* a:N:{key value ...} after the "a:". */
static int php_read_array(php_reader_t *r, msgpack_object *out, int depth)
{
    if (depth >= WM_PHP_MAX_DEPTH)
        return php_fail(r, "arrays nested too deep");
    size_t n;
    int rc = php_read_uint(r, php_left(r), &n);
    if (rc == WM_OK)
        rc = php_expect(r, ":{", 2);
    if (rc != WM_OK)
        return rc;
    /* Checked before allocating: each element takes PHP_MIN_ELEMENT bytes. */
    if (n > (php_left(r) - (php_left(r) > 0)) / PHP_MIN_ELEMENT)
        return php_fail(r, "array count larger than the input could hold");
    if (n > UINT32_MAX)
        return php_fail(r, "array longer than msgpack allows");
    msgpack_object_kv *kv = NULL;
    if (n > 0) {
        kv = msgpack_zone_malloc(r->zone, n * sizeof *kv);
        if (!kv) {
            r->why = "out of memory";
            return WM_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = php_read_key(r, &kv[i].key)) != WM_OK ||
            (rc = php_read_value(r, &kv[i].val, depth + 1)) != WM_OK)
            return rc;
    }
    if ((rc = php_expect(r, "}", 1)) != WM_OK)
        return rc;
    return php_finish_array(r, kv, n, out);
}

static int php_read_value(php_reader_t *r, msgpack_object *out, int depth)
{
    if (r->p == r->end)
        return php_fail(r, "input ends inside a value");
    int rc;
    int64_t i;
    const char *p;
    size_t n;
    switch (*r->p) {
    case 'N':
        out->type = MSGPACK_OBJECT_NIL;
        return php_expect(r, "N;", 2);
    case 'b':
        if ((rc = php_expect(r, "b:", 2)) != WM_OK)
            return rc;
        if (r->p == r->end)
            return php_fail(r, "input ends inside a value");
        if (*r->p != '0' && *r->p != '1')
            return php_fail(r, "boolean is neither 0 nor 1");
        out->type = MSGPACK_OBJECT_BOOLEAN;
        out->via.boolean = *r->p++ == '1';
        return php_expect(r, ";", 1);
    case 'i':
        if ((rc = php_expect(r, "i:", 2)) != WM_OK || (rc = php_read_int64(r, &i)) != WM_OK)
            return rc;
        php_set_int(out, i);
        return php_expect(r, ";", 1);
    case 'd':
        out->type = MSGPACK_OBJECT_FLOAT64;
        if ((rc = php_expect(r, "d:", 2)) != WM_OK ||
            (rc = php_read_double(r, &out->via.f64)) != WM_OK)
            return rc;
        return php_expect(r, ";", 1);
    case 's':
        if ((rc = php_expect(r, "s:", 2)) != WM_OK ||
            (rc = php_read_string_body(r, &p, &n)) != WM_OK)
            return rc;
        return php_copy_str(r, p, n, out);
    case 'a':
        if ((rc = php_expect(r, "a:", 2)) != WM_OK)
            return rc;
        return php_read_array(r, out, depth);
    case 'O':
    case 'C':
    case 'o':
        return php_fail(r, "objects are refused");
    case 'r':
    case 'R':
        return php_fail(r, "references are refused");
    case 'E':
        return php_fail(r, "enums are refused");
    case 'S':
        return php_fail(r, "escaped strings (S:) are refused");
    default:
        return php_fail(r, "unknown type tag");
    }
}

int wm__php_unserialize(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *out,
                        const char **why)
{
    php_reader_t r = {buf, buf + len, zone, NULL};
    int rc = buf || len == 0 ? php_read_value(&r, out, 0) : php_fail(&r, "no input");
    if (rc == WM_OK && r.p != r.end)
        rc = php_fail(&r, "trailing bytes after the value");
    if (why)
        *why = rc == WM_OK ? NULL : r.why;
    return rc;
}

/* Decimal digits of v, written backwards ending just before end; returns
 * where they start. printf is much slower, and keys and counts are many. */
static char *php_int_text(int64_t v, char *end)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--end = '-';
    return end;
}

/* ---- floats as PHP writes them ------------------------------------------- */

/* Rounds d to prec significant digits (printf's %.*e is correctly rounded)
 * into digits, with d ~ 0.DIGITS x 10^decpt as zend_dtoa counts. Returns
 * whether they read back as d; when they do not and `up` is set, tries the
 * next prec-digit number away from zero instead: at a power of two the gap
 * below d is half the gap above, so the nearest digits can miss while the
 * next ones up read back (zend_dtoa picks those). Trailing zeros are cut. */
static bool php_digits_at(double d, int prec, bool up, char digits[18], int *decpt)
{
    char text[40];
    snprintf(text, sizeof text, "%.*e", prec - 1, d);
    /* text is "D[.DDD]e[+-]XX": collect the digits and the exponent. */
    size_t n = 0;
    const char *s = text;
    for (; *s != 'e'; s++)
        if (*s != '.')
            digits[n++] = *s;
    digits[n] = '\0';
    int exp10 = atoi(s + 1);
    bool ok = strtod(text, NULL) == d;
    if (!ok && up) {
        /* One unit up in the last place, carrying; "99" becomes "10" with
         * the exponent one higher. */
        size_t k = n;
        while (k > 0 && digits[k - 1] == '9')
            digits[--k] = '0';
        if (k == 0) {
            digits[0] = '1';
            exp10++;
        } else {
            digits[k - 1]++;
        }
        snprintf(text, sizeof text, "%c.%se%d", digits[0], n > 1 ? digits + 1 : "0", exp10);
        ok = strtod(text, NULL) == d;
    }
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    *decpt = exp10 + 1;
    return ok;
}

/* The shortest decimal digits that read back as d, a finite double > 0, as
 * zend_dtoa mode 0 gives them (and, among the shortest, the nearest). For a
 * normal double, when some k <= 15 digits read back, d rounded to 15 digits
 * is those k digits and zeros: d lies within half an ulp of them, under
 * 1.2e-16 of d, and half a unit in the 15th digit is at least 5e-16 of d.
 * So three conversions at most: 15 digits (zeros cut), 16 (or the next 16
 * up), 17 (always read back). Subnormals have fewer bits than that needs:
 * they search up from one digit. */
static void php_shortest_digits(double d, char digits[18], int *decpt)
{
    if (d >= 1 && d < 1e15 && d == (double)(int64_t)d) {
        /* A whole number of at most 15 digits is its own shortest form. */
        char text[24];
        char *end = text + sizeof text;
        char *start = php_int_text((int64_t)d, end);
        size_t n = (size_t)(end - start);
        *decpt = (int)n;
        while (n > 1 && start[n - 1] == '0')
            n--;
        memcpy(digits, start, n);
        digits[n] = '\0';
        return;
    }
    if (d >= DBL_MIN) {
        if (!php_digits_at(d, 15, false, digits, decpt) &&
            !php_digits_at(d, 16, true, digits, decpt))
            php_digits_at(d, 17, false, digits, decpt);
        return;
    }
    for (int prec = 1; prec < 17; prec++)
        if (php_digits_at(d, prec, true, digits, decpt))
            return;
    php_digits_at(d, 17, false, digits, decpt);
}

/* PHP's text for d (zend_gcvt with 17 as ndigit, 'E' as exponent char):
 * plain notation while -3 <= decpt <= 17, else D.DDDE+X. At most 26 bytes
 * plus a NUL. Returns the length. */
static size_t php_format_double(double d, char buf[32])
{
    if (isnan(d))
        return (size_t)snprintf(buf, 32, "NAN");
    if (isinf(d))
        return (size_t)snprintf(buf, 32, d < 0 ? "-INF" : "INF");
    char *w = buf;
    if (signbit(d)) {
        *w++ = '-';
        d = -d;
    }
    if (d == 0) {
        *w++ = '0';
        *w = '\0';
        return (size_t)(w - buf);
    }
    char digits[18];
    int decpt;
    php_locale_scope_t scope = php_locale_enter();
    php_shortest_digits(d, digits, &decpt);
    php_locale_leave(scope);
    int n = (int)strlen(digits);
    if (decpt > 17 || decpt < -3) {
        int e = decpt - 1;
        *w++ = digits[0];
        *w++ = '.';
        if (n > 1) {
            memcpy(w, digits + 1, (size_t)n - 1);
            w += n - 1;
        } else {
            *w++ = '0';
        }
        w += sprintf(w, "E%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (decpt <= 0) {
        *w++ = '0';
        *w++ = '.';
        for (int i = decpt; i < 0; i++)
            *w++ = '0';
        memcpy(w, digits, (size_t)n);
        w += n;
        *w = '\0';
    } else {
        for (int i = 0; i < decpt; i++)
            *w++ = i < n ? digits[i] : '0';
        if (n > decpt) {
            *w++ = '.';
            memcpy(w, digits + decpt, (size_t)(n - decpt));
            w += n - decpt;
        }
        *w = '\0';
    }
    return (size_t)(w - buf);
}

/* ---- writer ------------------------------------------------------------------ */

static int php_put(msgpack_sbuffer *out, const char *s, size_t n)
{
    return msgpack_sbuffer_write(out, s, n) == 0 ? WM_OK : WM_ENOMEM;
}

/* "<tag>:<n><tail>", e.g. "i:5;" or "a:2:{" (tail is 1 or 2 bytes). */
static int php_put_head(msgpack_sbuffer *out, char tag, int64_t n, const char *tail)
{
    char text[32];
    char *end = text + 24;
    char *start = php_int_text(n, end) - 2;
    start[0] = tag;
    start[1] = ':';
    size_t tail_len = strlen(tail);
    memcpy(end, tail, tail_len);
    return php_put(out, start, (size_t)(end - start) + tail_len);
}

static int php_put_double(msgpack_sbuffer *out, double d)
{
    char text[40] = "d:";
    size_t n = 2 + php_format_double(d, text + 2);
    text[n++] = ';';
    return php_put(out, text, n);
}

static int php_put_string(msgpack_sbuffer *out, const char *p, size_t n)
{
    int rc = php_put_head(out, 's', (int64_t)n, ":\"");
    if (rc == WM_OK)
        rc = php_put(out, p, n);
    if (rc == WM_OK)
        rc = php_put(out, "\";", 2);
    return rc;
}

/* A map key as PHP would hold it, or WM_EINVAL when PHP has no such key. */
static int php_key_of(const msgpack_object *k, php_key_t *key)
{
    *key = (php_key_t){0};
    switch (k->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (k->via.u64 > (uint64_t)INT64_MAX)
            return WM_EINVAL;
        key->i = (int64_t)k->via.u64;
        return WM_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        key->i = k->via.i64;
        return WM_OK;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        key->p = k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : k->via.bin.ptr;
        key->n = k->type == MSGPACK_OBJECT_STR ? k->via.str.size : k->via.bin.size;
        key->is_str = !php_numeric_key(key->p, key->n, &key->i);
        return WM_OK;
    default:
        return WM_EINVAL;
    }
}

static int php_put_key(msgpack_sbuffer *out, const php_key_t *key)
{
    return key->is_str ? php_put_string(out, key->p, key->n) : php_put_head(out, 'i', key->i, ";");
}

static int php_write_value(msgpack_sbuffer *out, const msgpack_object *obj, int depth);

static int php_write_map(msgpack_sbuffer *out, const msgpack_object_map *map, int depth)
{
    size_t n = map->size;
    php_key_t few[PHP_FEW_KEYS] = {{0}}; /* zeroed: gcc -O2 cannot see each is set */
    php_key_t *keys = php_keys_alloc(n, few);
    if (!keys)
        return WM_ENOMEM;
    int rc = WM_OK;
    for (size_t i = 0; i < n && rc == WM_OK; i++)
        rc = php_key_of(&map->ptr[i].key, &keys[i]);
    if (rc == WM_OK)
        rc = php_keys_distinct(keys, n);
    if (rc == WM_OK)
        rc = php_put_head(out, 'a', (int64_t)n, ":{");
    for (size_t i = 0; i < n && rc == WM_OK; i++) {
        rc = php_put_key(out, &keys[i]);
        if (rc == WM_OK)
            rc = php_write_value(out, &map->ptr[i].val, depth + 1);
    }
    php_keys_free(keys, few);
    return rc == WM_OK ? php_put(out, "}", 1) : rc;
}

static int php_write_array(msgpack_sbuffer *out, const msgpack_object_array *a, int depth)
{
    int rc = php_put_head(out, 'a', (int64_t)a->size, ":{");
    for (uint32_t i = 0; i < a->size && rc == WM_OK; i++) {
        rc = php_put_head(out, 'i', (int64_t)i, ";");
        if (rc == WM_OK)
            rc = php_write_value(out, &a->ptr[i], depth + 1);
    }
    return rc == WM_OK ? php_put(out, "}", 1) : rc;
}

static int php_write_value(msgpack_sbuffer *out, const msgpack_object *obj, int depth)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        return php_put(out, "N;", 2);
    case MSGPACK_OBJECT_BOOLEAN:
        return php_put(out, obj->via.boolean ? "b:1;" : "b:0;", 4);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (obj->via.u64 > (uint64_t)INT64_MAX) /* no PHP integer: a float, as PHP does */
            return php_put_double(out, (double)obj->via.u64);
        return php_put_head(out, 'i', (int64_t)obj->via.u64, ";");
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return php_put_head(out, 'i', obj->via.i64, ";");
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return php_put_double(out, obj->via.f64);
    case MSGPACK_OBJECT_STR:
        return php_put_string(out, obj->via.str.ptr, obj->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return php_put_string(out, obj->via.bin.ptr, obj->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= WM_PHP_MAX_DEPTH)
            return WM_EINVAL;
        return php_write_array(out, &obj->via.array, depth);
    case MSGPACK_OBJECT_MAP:
        if (depth >= WM_PHP_MAX_DEPTH)
            return WM_EINVAL;
        return php_write_map(out, &obj->via.map, depth);
    default: /* ext */
        return WM_EINVAL;
    }
}

int wm__php_serialize(const msgpack_object *obj, msgpack_sbuffer *out)
{
    size_t start = out->size;
    int rc = php_write_value(out, obj, 0);
    if (rc != WM_OK)
        out->size = start;
    return rc;
}

void wm__php_serialize_md5_hex(const msgpack_object *obj_or_null, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const char *data = "N;";
    size_t n = 2;
    out[0] = '\0';
    if (obj_or_null) {
        if (wm__php_serialize(obj_or_null, &sb) != WM_OK) {
            msgpack_sbuffer_destroy(&sb);
            return;
        }
        data = sb.data;
        n = sb.size;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data, n, md, &md_len, EVP_md5(), NULL) == 1 && md_len == 16) {
        for (unsigned i = 0; i < 16; i++) {
            out[2 * i] = hex[md[i] >> 4];
            out[2 * i + 1] = hex[md[i] & 15];
        }
        out[32] = '\0';
    }
    msgpack_sbuffer_destroy(&sb);
}
