/* SPDX-License-Identifier: MIT */
/* The cases of wm_ws_tests (one table in ws_main.c). */
#ifndef WS_CASES_H
#define WS_CASES_H

#include <stdint.h>

/* ws_unit.c */
void test_unit_accept_key(void);
void test_unit_tokens(void);
void test_unit_response(void);

/* ws_cases.c: our server against a raw client and against our client */
void test_echo_client(void);
void test_fragmented_raw(void);
void test_ping_pong(void);
void test_on_ping_hook(void);
void test_close_client_initiated(void);
void test_close_server_initiated(void);
void test_close_abrupt(void);
void test_handshake_hook(void);
void test_handshake_reject(void);
void test_bad_handshakes(void);
void test_handshake_timeout(void);
void test_unmasked_1002(void);
void test_too_big_1009(void);
void test_bad_utf8_1007(void);
void test_heartbeat(void);
void test_client_ping_interval(void);
void test_client_not_websocket(void);
void test_client_reconnect(void);
void test_client_bad_urls(void);
void test_wss(void);

/* ws_peer.c: the modes node_test.sh runs */
int ws_serve(const char *port_file, const char *cert, const char *key);
int ws_client_run(const char *url, const char *ca_file);

#endif
