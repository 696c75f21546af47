/* SPDX-License-Identifier: MIT */
/* The list of wm_unit_tests cases, written once: unit_main.c expands it into
 * the case table and the prototypes, so a case cannot be defined and then
 * forgotten (libuv's test-list.h does the same). Also the few helpers that
 * more than one test file uses. */
#ifndef WM_UNIT_H
#define WM_UNIT_H

#include <stdint.h>

/* X(name): a case `name` implemented by `void test_name(void)`. */
#define WM_UNIT_CASES(X)                                                                           \
    X(codec_text_lines)                                                                            \
    X(codec_text_transcript)                                                                       \
    X(codec_text_too_long)                                                                         \
    X(codec_frame_transcript)                                                                      \
    X(codec_frame_bad_length)                                                                      \
    X(codec_frame_too_big)                                                                         \
    X(codec_frame_empty)                                                                           \
    X(codec_tcp_passthrough)                                                                       \
    X(codec_encode_roundtrip)                                                                      \
    X(codec_garbage_text)                                                                          \
    X(codec_garbage_frame)                                                                         \
    X(protocol_register)                                                                           \
    X(protocol_register_bad_names)                                                                 \
    X(strerror_codes)                                                                              \
    X(loop_run_empty)                                                                              \
    X(loop_run_nested)                                                                             \
    X(loop_stop)                                                                                   \
    X(now_ms)                                                                                      \
    X(timer_precision_1ms)                                                                         \
    X(timer_no_drift)                                                                              \
    X(timer_oneshot_order)                                                                         \
    X(timer_del_self_repeating)                                                                    \
    X(timer_del_self_oneshot)                                                                      \
    X(timer_del_other)                                                                             \
    X(timer_del_each_other_same_turn)                                                              \
    X(timer_add_in_cb)                                                                             \
    X(timer_del_enoent)                                                                            \
    X(timer_ids_not_reused)                                                                        \
    X(timer_free_cb_fired)                                                                         \
    X(timer_free_cb_deleted)                                                                       \
    X(timer_free_cb_del_all)                                                                       \
    X(timer_free_cb_loop_free)                                                                     \
    X(timer_del_all_in_cb)                                                                         \
    X(timer_many_random)                                                                           \
    X(timer_zero_ms)                                                                               \
    X(timer_zero_ms_repeat)                                                                        \
    X(timer_count)                                                                                 \
    X(timer_churn)                                                                                 \
    X(timer_huge_delay)                                                                            \
    X(log_file_levels)                                                                             \
    X(log_set_file_fails)                                                                          \
    X(log_long_line)                                                                               \
    X(log_level_parse)

#define WM_UNIT_DECLARE(name) void test_##name(void);
WM_UNIT_CASES(WM_UNIT_DECLARE)
#undef WM_UNIT_DECLARE

/* Comparisons of doubles (times in ms); ASSERT_LT & co. cast to integers. */
#define ASSERT_DBL_LT(a, b) ASSERT_CMP(a, <, b, "%.3f", double)
#define ASSERT_DBL_LE(a, b) ASSERT_CMP(a, <=, b, "%.3f", double)
#define ASSERT_DBL_GE(a, b) ASSERT_CMP(a, >=, b, "%.3f", double)

/* A small deterministic PRNG (xorshift32), so that "random" cases fail the
 * same way every run. `*state` must not be 0. */
static inline uint32_t unit_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
