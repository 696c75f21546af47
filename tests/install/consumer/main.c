/* SPDX-License-Identifier: MIT */
/* The install test's consumer: a program that sees wm only as installed
 * (headers, library, wm.pc or wmConfig.cmake). It starts a worker on a free
 * port, lets a timer fire on the loop, prints what it saw and frees
 * everything, so that LeakSanitizer has nothing to report in an ASan build.
 * tests/install/check.sh reads its output. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <wm/wm.h>

static void on_timer(wm_timer_id_t id, void *user_data)
{
    int *fired = user_data;

    (void)id;
    (*fired)++;
    wm_loop_stop();
}

int main(void)
{
    int fired = 0, rc;
    wm_worker_t *w = wm_worker_new("tcp://127.0.0.1:0");

    if (w == NULL) {
        fprintf(stderr, "consumer: wm_worker_new failed\n");
        return 1;
    }
    rc = wm_worker_start(w);
    if (rc != WM_OK) {
        fprintf(stderr, "consumer: wm_worker_start: %s\n", wm_strerror(rc));
        wm_worker_free(w);
        wm_loop_free();
        return 1;
    }
    if (wm_timer_add(10, false, on_timer, &fired, NULL) == 0) {
        fprintf(stderr, "consumer: wm_timer_add failed\n");
        wm_worker_free(w);
        wm_loop_free();
        return 1;
    }
    rc = wm_loop_run();

    uint16_t port = wm_worker_port(w);
    printf("version %s\n", wm_version());
    printf("port %u\n", (unsigned)port);
    printf("timer fired %d\n", fired);
    wm_worker_free(w);
    wm_loop_free();

    /* The headers and the library must come from the same install. */
    if (strcmp(wm_version(), WM_VERSION) != 0) {
        fprintf(stderr, "consumer: library %s, headers %s\n", wm_version(), WM_VERSION);
        return 1;
    }
    return rc == WM_OK && fired == 1 && port != 0 ? 0 : 1;
}
