/* SPDX-License-Identifier: MIT */
/* The requests a service client (GlobalData's, Channel's asynchronous one)
 * has sent on one connection and waits for. The servers answer one
 * connection's requests in order, so the requests wait in a FIFO and an
 * answer belongs to its head (the id is checked). Each request has a
 * deadline; when it passes, the client runs the request's callback with
 * WM_ETIMEDOUT and the request stays in the FIFO as a tombstone (`done`)
 * until its late answer, or the connection's end, removes it: the pairing
 * stays right and no id is ever reused.
 *
 * A client embeds wm__svc_pend_t as the first member of its request struct
 * and owns the memory: the FIFO only links them. Private to the project. */
#ifndef WM_SVC_FIFO_H
#define WM_SVC_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wm__svc_pend {
    struct wm__svc_pend *next;
    uint64_t id;
    uint64_t deadline; /* wm_now_ms() clock */
    bool done;         /* its callback ran (timed out): a tombstone until its answer */
} wm__svc_pend_t;

typedef struct wm__svc_fifo {
    wm__svc_pend_t *head, *tail;
    size_t waiting; /* requests not done: their callbacks are still to run */
    uint64_t pops;  /* requests that left, ever: lets an expiry walk see the FIFO change */
} wm__svc_fifo_t;

/* Appends p (not done). */
void wm__svc_fifo_push(wm__svc_fifo_t *f, wm__svc_pend_t *p);

/* Unlinks and returns the head, or NULL when empty. The caller frees it. */
wm__svc_pend_t *wm__svc_fifo_pop(wm__svc_fifo_t *f);

/* The request an answer with `id` belongs to: the head, unlinked, or NULL
 * (an answer to no request: the server is broken) with the FIFO unchanged. */
wm__svc_pend_t *wm__svc_fifo_answer(wm__svc_fifo_t *f, uint64_t id);

/* Calls expire(p, user_data) for each request still waiting whose deadline
 * is at or before `now`, oldest first, after marking it done. `expire` may
 * run user callbacks; when a request leaves the FIFO meanwhile (the
 * connection ended and failed them all, p included), the walk stops
 * without touching p again. */
void wm__svc_fifo_expire(wm__svc_fifo_t *f, uint64_t now,
                         void (*expire)(wm__svc_pend_t *p, void *user_data), void *user_data);

/* How often a client whose requests have `timeout_ms` checks deadlines: a
 * tenth of it, from 1 to 50 ms (a timeout fires at most that late). */
uint64_t wm__svc_deadline_tick_ms(uint64_t timeout_ms);

#endif
