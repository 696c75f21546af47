/* SPDX-License-Identifier: MIT */
/* The php_serial test cases (one table, php_main.c) and the helpers the two
 * case files share. */
#ifndef WM_PHP_TESTS_H
#define WM_PHP_TESTS_H

#include "php_serial.h"
#include "php_tree.h"
#include "wm_test.h"

#define WM_PHP_CASES(X)                                                                            \
    X(php_src_vectors)                                                                             \
    X(float_spellings)                                                                             \
    X(php82_floats)                                                                                \
    X(php82_values)                                                                                \
    X(lists_and_maps)                                                                              \
    X(numeric_string_keys)                                                                         \
    X(serialize_mapping)                                                                           \
    X(serialize_refusals)                                                                          \
    X(md5_known)                                                                                   \
    X(every_truncation)                                                                            \
    X(malformed)                                                                                   \
    X(refused_types)                                                                               \
    X(count_bombs)                                                                                 \
    X(nesting)                                                                                     \
    X(memory_bound)

#define WM_PHP_DECLARE(name) void test_##name(void);
WM_PHP_CASES(WM_PHP_DECLARE)
#undef WM_PHP_DECLARE

/* Decodes text (a C string) into a fresh zone; returns the WM code, *why
 * the reason. The input is copied into a buffer of exactly its length so
 * that ASan sees a read past it. */
int php_decode(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out,
               const char **why);

/* Asserts serialize(obj) == expected, byte for byte. */
void php_assert_serializes_to(const msgpack_object *obj, const char *expected, size_t len);

/* Asserts text decodes, and serializes back to exactly text. */
void php_assert_round_trip(const char *text, size_t len);

/* Asserts text is refused with WM_EPROTO and a reason that contains
 * reason_part (or any reason when reason_part is NULL). */
void php_assert_refused(const char *text, size_t len, const char *reason_part);

#define PHP_RT(lit) php_assert_round_trip(lit, sizeof(lit) - 1)
#define PHP_REFUSED(lit, part) php_assert_refused(lit, sizeof(lit) - 1, part)

#endif
