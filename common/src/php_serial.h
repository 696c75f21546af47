/* SPDX-License-Identifier: MIT */
/* PHP serialize() / unserialize() for the Workerman-compatible wire formats
 * (walkor/GlobalData and walkor/channel send PHP serialize() of arrays).
 * A codec with no I/O: bytes in, a msgpack object tree out, and back.
 *
 * The mapping (PHP <-> MessagePack), chosen so that PHP and C clients see
 * each other's data and so that serialize(unserialize(x)) gives the bytes
 * PHP itself would give for serialize(unserialize(x)) (walkor/GlobalData's
 * cas compares md5(serialize($old)) computed by PHP with ours):
 *   N;          <-> nil
 *   b:0; b:1;   <-> boolean
 *   i:N;        <-> positive_integer (N >= 0) / negative_integer (N < 0).
 *                   A positive_integer above INT64_MAX has no PHP integer: it
 *                   is written as a float (d:1.8446744073709552E+19;), as PHP
 *                   itself turns an integer overflow into a float.
 *   d:X;        <-> float64 (float32 is written as the double it holds).
 *                   Written as PHP 7.1+ does with serialize_precision = -1:
 *                   the shortest text that reads back as the same double,
 *                   e.g. d:0.1; d:100; d:1.0E+25; d:1.5E-7; d:-0; d:INF;
 *                   d:-INF; d:NAN;
 *   s:N:"...";  <-> str (bytes, binary-safe); bin is written as s: too.
 *   a:N:{...}   <-> an array when its keys are exactly 0..N-1 in order (a
 *                   PHP list), else a map with integer keys (positive /
 *                   negative_integer) and str keys. a:0:{} becomes an empty
 *                   array; an empty map is written as a:0:{}.
 * Array keys follow PHP's own rule for numeric strings: a key spelled as a
 * canonical decimal integer in int64 range ("5", "-3", not "05", "-0", "+1"
 * or " 1") is an integer key, so s:1:"5" reads as the integer key 5 and a
 * map key "5" (str or bin) is written as i:5; — what PHP stores and writes.
 * Duplicate keys (after that rule) are refused both ways: PHP's serialize()
 * never writes them and a PHP array cannot hold them.
 * Objects (O:, C:, o:), references (r:, R:), enums (E:) and the old escaped
 * strings (S:) are refused, never instantiated; ext is refused when writing.
 * Nesting is limited to WM_PHP_MAX_DEPTH arrays both ways. */
#ifndef WM_PHP_SERIAL_H
#define WM_PHP_SERIAL_H

#include <stddef.h>

#include <msgpack.h>

/* At most this many arrays nested inside each other (the outermost counts). */
#define WM_PHP_MAX_DEPTH 64

/* Decodes one PHP serialize() value from buf[0, len) — the whole buffer must
 * be one value, nothing after it — into a msgpack object tree allocated in
 * `zone` (strings are copied: the tree does not point into buf). Never reads
 * past len. Every length and element count is checked against the bytes
 * left before anything is allocated, so the tree takes at most about 8 bytes
 * of zone per input byte. PHP's unserialize() is laxer in places where
 * serialize() never goes, and those inputs are refused here: integers out of
 * int64 range (PHP saturates), duplicate keys (PHP keeps the last), trailing
 * bytes (PHP ignores them), a float spelled in more than 1100 bytes.
 * Returns WM_OK, WM_EPROTO with *why set to a static reason (why may be
 * NULL), or WM_ENOMEM when the zone cannot grow. On an error *out is
 * unspecified and the zone may hold partial allocations (free the zone). */
int wm__php_unserialize(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *out,
                        const char **why);

/* Appends PHP serialize() of obj to out, byte for byte as PHP 7.1+ writes it
 * (see the mapping above). Returns WM_OK; WM_EINVAL when obj has no PHP
 * form (ext, a map key that is not an integer, str or bin, a positive_integer
 * key above INT64_MAX, duplicate keys, nesting deeper than
 * WM_PHP_MAX_DEPTH); WM_ENOMEM when out cannot grow. On an error out is
 * left as it was (its size is restored). */
int wm__php_serialize(const msgpack_object *obj, msgpack_sbuffer *out);

/* Writes the md5 (32 lowercase hex digits and a NUL) of PHP serialize() of
 * obj, or of serialize(null) = "N;" when obj is NULL: walkor/GlobalData's
 * cas sends md5(serialize($old)). When obj has no PHP form (or md5 fails)
 * out is the empty string, which never equals an md5 a client sends. */
void wm__php_serialize_md5_hex(const msgpack_object *obj_or_null, char out[33]);

#endif
