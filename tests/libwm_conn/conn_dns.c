/* SPDX-License-Identifier: MIT */
/* Host names in outgoing URLs, resolved through a real DNS server on
 * loopback: dns_test.sh starts dnsmasq (authoritative for wm.test, NXDOMAIN
 * for invalid.test) on a free port and runs these cases with WM_TEST_DNS set
 * to "127.0.0.1:PORT". Run without it, they fail and say so, rather than
 * pass without testing anything. */
#include "conn_util.h"

static int n_connect, n_close, n_error, last_error;
static tu_msgs_t got;

static void need_dns_server(void)
{
    const char *servers = getenv("WM_TEST_DNS");
    if (!servers || !*servers)
        WM_TEST_FAIL("WM_TEST_DNS is not set: run the dns_* cases through "
                     "tests/libwm_conn/dns_test.sh, which starts a DNS server");
    ASSERT_EQ(wm_dns_set_nameservers(servers), WM_OK);
}

static void d_connect(wm_conn_t *c, void *ud)
{
    n_connect++;
    tu_log("connect");
    ASSERT(wm_conn_send(c, "over dns", 8) >= 0);
}

static void d_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&got, m->data, m->len);
}

static void d_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    n_error++;
    last_error = err;
    tu_log("error(%s)", tu_errname(err));
}

static void d_close(wm_conn_t *c, void *ud)
{
    n_close++;
    tu_log("close");
}

static wm_conn_t *dns_client(const char *url)
{
    wm_conn_t *c = wm_conn_new(url);
    if (!c)
        WM_TEST_FAIL("wm_conn_new(%s) returned NULL", url);
    wm_conn_on_connect(c, d_connect, NULL);
    wm_conn_on_message(c, d_message, NULL);
    wm_conn_on_error(c, d_error, NULL);
    wm_conn_on_close(c, d_close, NULL);
    return c;
}

void test_dns_resolve(void)
{
    need_dns_server();
    wm_worker_t *w = tu_echo_worker("text://127.0.0.1:0");
    wm_conn_t *c = dns_client(tu_url(0, "text", "echo.wm.test", w));
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&got.n, 1, 5000, "the echo through a resolved name");
    ASSERT_EQ(got.len[0], 8);
    ASSERT_MEM_EQ(got.data[0], "over dns", 8);
    ASSERT_STR_EQ(wm_conn_remote_ip(c), "127.0.0.1");
    ASSERT_EQ(wm_conn_remote_port(c), wm_worker_port(w));
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "connect close");
    tu_msgs_clear(&got);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_dns_nxdomain(void)
{
    need_dns_server();
    wm_conn_t *c = dns_client("tcp://nope.invalid.test:1");
    wm_conn_set_connect_timeout(c, 5000);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 6000, "on_close after a failed lookup");
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "error(EDNS) close");
    ASSERT_EQ(n_connect, 0);
    WM_TEST_CLEAN();
}

/* dual.wm.test has an IPv4 and an IPv6 address. One echo worker listens on
 * each family only; both connections must succeed, so whichever address the
 * resolver lists first, one of them is refused and the next one tried. */
static int fb_connects;
static tu_msgs_t fb_got[2];

static void fb_connect(wm_conn_t *c, void *ud)
{
    fb_connects++;
    ASSERT(wm_conn_send(c, "fallback", 8) >= 0);
}

static void fb_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&fb_got[(intptr_t)ud], m->data, m->len);
}

static bool pred_fb_done(void *arg)
{
    return fb_got[0].n >= 1 && fb_got[1].n >= 1;
}

void test_dns_fallback(void)
{
    need_dns_server();
    wm_worker_t *w4 = tu_echo_worker("text://127.0.0.1:0");
    wm_worker_t *w6 = tu_echo_worker("text://[::1]:0");
    wm_conn_t *c[2];
    const wm_worker_t *ws[2] = {w4, w6};
    for (int i = 0; i < 2; i++) {
        c[i] = wm_conn_new(tu_url(i, "text", "dual.wm.test", ws[i]));
        ASSERT(c[i] != NULL);
        wm_conn_on_connect(c[i], fb_connect, NULL);
        wm_conn_on_message(c[i], fb_message, (void *)(intptr_t)i);
        wm_conn_on_error(c[i], d_error, NULL);
        ASSERT_EQ(wm_conn_connect(c[i]), WM_OK);
    }
    tu_run_until(pred_fb_done, NULL, 5000, "both echoes through dual.wm.test");
    ASSERT_EQ(fb_connects, 2);
    ASSERT_EQ(n_error, 0);
    ASSERT_STR_EQ(wm_conn_remote_ip(c[0]), "127.0.0.1");
    ASSERT_STR_EQ(wm_conn_remote_ip(c[1]), "::1");
    for (int i = 0; i < 2; i++) {
        wm_conn_destroy(c[i]);
        tu_msgs_clear(&fb_got[i]);
    }
    wm_worker_free(w4);
    wm_worker_free(w6);
    WM_TEST_CLEAN();
}
