/* SPDX-License-Identifier: MIT */
/* example-static: serves a folder over HTTP. Files go out with sendfile(),
 * with Content-Type, Last-Modified/ETag (304 answers) and Range (206);
 * directories answer with their index.html; nothing outside the folder can
 * be reached ("..", encoded dots, symlinks leading out are refused). Other
 * host names can get their own folder with --host NAME=DIR.
 *
 *   example-static --root ./public --listen http://127.0.0.1:8080 start
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/wm.h>

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    static const char nf[] = "Not Found\n";
    if (wm_http_static_serve(user_data, c, msg->extra) == WM_ENOENT)
        wm_http_reply(c, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --root DIR [OPTIONS] [start|stop|restart|reload|status|connections] "
            "[-d|-g]\n"
            "Serves the files under DIR over HTTP.\n"
            "  --root DIR        the folder to serve (required)\n"
            "  --host NAME=DIR   serve host NAME from DIR instead (repeatable)\n"
            "  --index NAME      the file a directory answers with (default index.html)\n"
            "  --listen URL      where to listen (default http://0.0.0.0:8080)\n"
            "  --count N         processes (default 1)\n"
            "  --tls CERT KEY    serve HTTPS with this certificate chain and key (PEM)\n"
            "  --help            this text\n"
            "Example: %s --root ./public --listen http://127.0.0.1:8080 start\n",
            prog, prog);
}

static void free_static(void *p)
{
    wm_http_static_free(p);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},  {"host", required_argument, NULL, 'H'},
        {"index", required_argument, NULL, 'i'}, {"listen", required_argument, NULL, 'l'},
        {"count", required_argument, NULL, 'c'}, {"tls", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *url = "http://0.0.0.0:8080", *root = NULL, *index = NULL;
    const char *hosts[64];
    const char *cert = NULL, *key = NULL;
    int nhosts = 0, count = 1, opt;

    /* "+": stop at the first command word, so "start -d" reaches wm_run_all. */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            root = optarg;
            break;
        case 'H':
            if (nhosts == 64 || !strchr(optarg, '=')) {
                fprintf(stderr, "%s: --host wants NAME=DIR (at most 64)\n", argv[0]);
                return 2;
            }
            hosts[nhosts++] = optarg;
            break;
        case 'i':
            index = optarg;
            break;
        case 'l':
            url = optarg;
            break;
        case 'c':
            count = atoi(optarg);
            if (count < 1) {
                fprintf(stderr, "%s: --count wants a number >= 1, not '%s'\n", argv[0], optarg);
                return 2;
            }
            break;
        case 't': /* two values: CERT is the option's, KEY the next word */
            if (optind >= argc) {
                fprintf(stderr, "%s: --tls wants CERT and KEY\n", argv[0]);
                return 2;
            }
            cert = optarg;
            key = argv[optind++];
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    /* Only starting needs a root: stop, status, reload act on the running
     * master and go straight to wm_run_all. */
    const char *cmd = optind < argc ? argv[optind] : "";
    if (!root && (!strcmp(cmd, "start") || !strcmp(cmd, "restart"))) {
        fprintf(stderr, "%s: --root DIR is required. Try '%s --help'.\n", argv[0], argv[0]);
        return 2;
    }
    if (!root) {
        argv[optind - 1] = argv[0];
        return wm_run_all(argc - optind + 1, argv + optind - 1);
    }
    wm_http_static_t *s = wm_http_static_new(root);
    if (!s)
        return 1; /* the reason is logged */
    for (int i = 0; i < nhosts; i++) {
        char name[256];
        const char *eq = strchr(hosts[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - hosts[i]), hosts[i]);
        if (wm_http_static_add_host(s, name, eq + 1) != WM_OK) {
            fprintf(stderr, "%s: --host %s: not a usable folder\n", argv[0], hosts[i]);
            wm_http_static_free(s);
            return 1;
        }
    }
    if (index && wm_http_static_set_index(s, index) != WM_OK) {
        fprintf(stderr, "%s: --index wants a file name without '/'\n", argv[0]);
        wm_http_static_free(s);
        return 2;
    }
    wm_worker_t *w = wm_worker_new(url);
    if (w == NULL) {
        wm_http_static_free(s);
        return 1;
    }
    wm_worker_set_name(w, "static");
    if (cert && wm_worker_set_tls(w, cert, key) != WM_OK) {
        wm_http_static_free(s);
        return 1; /* the reason (missing file, key does not match) is logged */
    }
    wm_worker_set_count(w, count);
    /* The worker owns the file server from here: freed with it. */
    wm_worker_set_user_data(w, s, free_static);
    wm_worker_on_message(w, on_message, s);
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
