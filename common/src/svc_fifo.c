/* SPDX-License-Identifier: MIT */
/* The services' clients' FIFO of sent requests with deadlines and
 * tombstones (svc_fifo.h): moved out of GlobalData's client so that
 * Channel's shares it. */
#include "svc_fifo.h"

void wm__svc_fifo_push(wm__svc_fifo_t *f, wm__svc_pend_t *p)
{
    p->next = NULL;
    p->done = false;
    if (f->tail)
        f->tail->next = p;
    else
        f->head = p;
    f->tail = p;
    f->waiting++;
}

wm__svc_pend_t *wm__svc_fifo_pop(wm__svc_fifo_t *f)
{
    wm__svc_pend_t *p = f->head;
    if (!p)
        return NULL;
    if (!(f->head = p->next))
        f->tail = NULL;
    p->next = NULL;
    if (!p->done)
        f->waiting--;
    f->pops++;
    return p;
}

wm__svc_pend_t *wm__svc_fifo_answer(wm__svc_fifo_t *f, uint64_t id)
{
    return f->head && f->head->id == id ? wm__svc_fifo_pop(f) : NULL;
}

void wm__svc_fifo_expire(wm__svc_fifo_t *f, uint64_t now,
                         void (*expire)(wm__svc_pend_t *p, void *user_data), void *user_data)
{
    for (wm__svc_pend_t *p = f->head; p;) {
        if (p->done || p->deadline > now) {
            p = p->next;
            continue;
        }
        p->done = true;
        f->waiting--;
        uint64_t pops = f->pops;
        expire(p, user_data);
        if (f->pops != pops)
            return; /* answers only arrive from the loop: this was the end */
        p = p->next;
    }
}

uint64_t wm__svc_deadline_tick_ms(uint64_t timeout_ms)
{
    uint64_t every = timeout_ms / 10;
    return every < 1 ? 1 : every > 50 ? 50 : every;
}
