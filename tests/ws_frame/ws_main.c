/* SPDX-License-Identifier: MIT */
/* wm_ws_frame_tests: the WebSocket frame codec. The case list lives in
 * ws_tests.h; each case runs in its own process (tests/wm_test.h). */
#include "wm_test.h"
#include "ws_tests.h"

#define WM_WS_ENTRY(name) {#name, test_##name},
static const wm_test_case_t cases[] = {WM_WS_CASES(WM_WS_ENTRY){NULL, NULL}};
#undef WM_WS_ENTRY

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
