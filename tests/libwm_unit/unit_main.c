/* SPDX-License-Identifier: MIT */
/* wm_unit_tests: libwm's loop-free and single-process pieces (codecs,
 * protocol registry, errors, timers, logging). The case list lives in
 * unit.h; each case runs in its own process (tests/wm_test.h). */
#include "wm_test.h"
#include "unit.h"

#define WM_UNIT_ENTRY(name) {#name, test_##name},
static const wm_test_case_t cases[] = {WM_UNIT_CASES(WM_UNIT_ENTRY){NULL, NULL}};
#undef WM_UNIT_ENTRY

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
