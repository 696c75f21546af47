/* SPDX-License-Identifier: MIT */
/* Millisecond timers on the process loop, as Workerman's Timer.
 *
 * A timer is named by an id, not a pointer: deleting a timer that has already
 * fired (or was deleted) is a harmless WM_ENOENT, never a use after free.
 * Timers may be added and deleted from any callback, including their own.
 * A repeating timer keeps its period without drift (the next run is scheduled
 * from the previous due time, not from when the callback ended). */
#ifndef WM_TIMER_H
#define WM_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef uint64_t wm_timer_id_t; /* 0 is never a valid id */

/* `id` is the timer's own id: pass it to wm_timer_del() to stop a repeating
 * timer from inside its callback. */
typedef void (*wm_timer_cb)(wm_timer_id_t id, void *user_data);

/* Runs `cb` after `ms` milliseconds, and every `ms` after that if `repeat`.
 * `ms` may be 0 (next loop turn). `free_cb`, if not NULL, is called with
 * `user_data` exactly once when the timer ends: after a one-shot fires, when
 * it is deleted, or when the loop is freed. Returns the id, or 0 when out of
 * memory (logged). */
wm_timer_id_t wm_timer_add(uint64_t ms, bool repeat, wm_timer_cb cb, void *user_data,
                           wm_free_cb free_cb);

/* Stops a timer. Safe inside its own callback (the callback finishes; the
 * timer never runs again). Returns WM_OK, or WM_ENOENT when the id is not a
 * live timer. */
int wm_timer_del(wm_timer_id_t id);

/* Deletes every timer of this process (destructors run). */
void wm_timer_del_all(void);

/* Number of live timers. */
size_t wm_timer_count(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
