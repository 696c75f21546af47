/* SPDX-License-Identifier: MIT */
/* wm_http_parser_tests: the HTTP request codec. The case list lives in
 * http_tests.h; each case runs in its own process (tests/wm_test.h). */
#include "wm_test.h"
#include "http_tests.h"

#define WM_HTTP_ENTRY(name) {#name, test_##name},
static const wm_test_case_t cases[] = {WM_HTTP_CASES(WM_HTTP_ENTRY){NULL, NULL}};
#undef WM_HTTP_ENTRY

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
