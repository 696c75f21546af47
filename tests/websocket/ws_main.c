/* SPDX-License-Identifier: MIT */
/* wm_ws_tests: the WebSocket server and client (wm/websocket.h). One
 * binary, one case table; every case runs in its own process (wm_test.h).
 *
 *   wm_ws_tests [CASE]                 the cases (ws_test.sh sets WM_TLS_DIR)
 *   wm_ws_tests --serve PORTFILE [CERT KEY]   a server for node_client.js
 *   wm_ws_tests --client URL [CAFILE]  our client against node_server.js */
#include "ws_util.h"
#include "ws_cases.h"

static const wm_test_case_t cases[] = {
    {"unit_accept_key", test_unit_accept_key},
    {"unit_tokens", test_unit_tokens},
    {"unit_response", test_unit_response},
    {"echo_client", test_echo_client},
    {"fragmented_raw", test_fragmented_raw},
    {"ping_pong", test_ping_pong},
    {"on_ping_hook", test_on_ping_hook},
    {"close_client_initiated", test_close_client_initiated},
    {"close_server_initiated", test_close_server_initiated},
    {"close_abrupt", test_close_abrupt},
    {"handshake_hook", test_handshake_hook},
    {"handshake_reject", test_handshake_reject},
    {"bad_handshakes", test_bad_handshakes},
    {"handshake_timeout", test_handshake_timeout},
    {"unmasked_1002", test_unmasked_1002},
    {"too_big_1009", test_too_big_1009},
    {"bad_utf8_1007", test_bad_utf8_1007},
    {"heartbeat", test_heartbeat},
    {"client_ping_interval", test_client_ping_interval},
    {"client_not_websocket", test_client_not_websocket},
    {"client_reconnect", test_client_reconnect},
    {"client_bad_urls", test_client_bad_urls},
    {"wss", test_wss},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--serve") == 0)
        return ws_serve(argv[2], argc >= 5 ? argv[3] : NULL, argc >= 5 ? argv[4] : NULL);
    if (argc >= 3 && strcmp(argv[1], "--client") == 0)
        return ws_client_run(argv[2], argc >= 4 ? argv[3] : NULL);
    return wm_test_main(argc, argv, cases);
}
