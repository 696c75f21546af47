/* SPDX-License-Identifier: MIT */
/* Real globaldata-server processes for the tests (tests/common/svc_proc.h
 * starts and stops them): ready when it answers ping, its worker's pid from
 * stats. Header-only, shared by gd_server_test.c and gd_client_test.c. */
#ifndef GD_PROC_H
#define GD_PROC_H

#include "common/svc_proc.h"

#include "gd_client.h"

typedef svc_proc_t gd_proc_t;

static inline int gd_ready(svc_proc_t *s)
{
    gdc_t c;
    if (gdc_connect(&c, s->port) != 0)
        return -1;
    gdc_resp_t r = gdc_call(&c, "ping", "");
    gdc_close(&c);
    return r.rc == 0 ? 0 : -1;
}

static inline pid_t worker_pid(svc_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    gdc_resp_t r = gdc_call(&c, "stats", "");
    ASSERT_EQ(r.rc, 0);
    pid_t pid = (pid_t)gdc_int(gdc_map_get(r.result, "pid"));
    gdc_close(&c);
    ASSERT_GT(pid, 0);
    return pid;
}

static inline void proc_init(gd_proc_t *s, const char *const *extra)
{
    svc_proc_init(s, "gd", GD_SERVER_BIN, extra, gd_ready, worker_pid);
}

static inline gdc_t connect_to(gd_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    return c;
}

#define ASSERT_STATUS(r, st)                                                                       \
    do {                                                                                           \
        gdc_resp_t r_ = (r);                                                                       \
        ASSERT_EQ(r_.rc, 0);                                                                       \
        ASSERT_EQ(r_.status, (st));                                                                \
    } while (0)

static inline gdc_resp_t must(gdc_resp_t r, uint32_t status)
{
    if (r.rc != 0)
        WM_TEST_FAIL("no response (connection ended or bad frame)");
    if (r.status != status) {
        char text[200] = "";
        if (r.result.type == MSGPACK_OBJECT_STR)
            snprintf(text, sizeof text, "%.*s", (int)r.result.via.str.size, r.result.via.str.ptr);
        WM_TEST_FAIL("status %u, expected %u (%s)", r.status, status, text);
    }
    return r;
}

#endif
