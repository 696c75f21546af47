/* SPDX-License-Identifier: MIT */
/* wm_conn_tests: the connection tests of libwm. The cases are listed once,
 * in conn_list.h. Usage:
 *   wm_conn_tests               every case (the dns_* ones fail without
 *                               WM_TEST_DNS: use dns_test.sh for those)
 *   wm_conn_tests --no-dns      every case but dns_* (the ctest entry)
 *   wm_conn_tests NAME...       the named cases
 *   wm_conn_tests --list        the names */
#include "conn_util.h"

#define WM_CONN_CASE(name) void test_##name(void);
#include "conn_list.h"
#undef WM_CONN_CASE

static const wm_test_case_t cases[] = {
#define WM_CONN_CASE(name) {#name, test_##name},
#include "conn_list.h"
#undef WM_CONN_CASE
    {NULL, NULL}};

/* --no-dns becomes an explicit list of every other case, since the harness
 * selects cases by name. */
static int run_without_dns(char *argv0)
{
    static char *names[sizeof(cases) / sizeof(cases[0]) + 1];
    int n = 0;
    names[n++] = argv0;
    for (const wm_test_case_t *tc = cases; tc->name; tc++)
        if (strncmp(tc->name, "dns_", 4) != 0)
            names[n++] = (char *)tc->name;
    names[n] = NULL;
    return wm_test_main(n, names, cases);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--no-dns") == 0)
        return run_without_dns(argv[0]);
    return wm_test_main(argc, argv, cases);
}
