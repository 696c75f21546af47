/* SPDX-License-Identifier: MIT */
/* The master's control socket (<pid file>.sock, frame protocol): `status`
 * and `connections` from the command line. The master asks every process
 * over its channel and answers when all have replied, or after a second —
 * a process that has not answered by then is shown busy. Text for people,
 * JSON (--json) for tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "wm_proc.h"
#include "master_int.h"

#define WM_QUERY_WAIT_MS 1000
#define WM_MAX_REPLY 256

typedef struct reply {
    pid_t pid;
    char *text; /* the process's reply, without "status <qid> " */
} reply_t;

typedef struct query {
    uint64_t qid;
    uint64_t client; /* connection id of the asking CLI */
    bool conns, json;
    int pending, n;
    reply_t replies[WM_MAX_REPLY];
    wm_timer_id_t timer;
    struct query *next;
} query_t;

static wm_worker_t *ctl_worker;
static query_t *queries;
static uint64_t next_qid = 1;

/* ---- small helpers ------------------------------------------------------------ */

/* Finds "key=" in a space-separated "k=v k=v" line; copies the value. */
static const char *field(const char *line, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = line; p && *p; p = strchr(p, ' ')) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, klen) && p[klen] == '=') {
            size_t n = strcspn(p + klen + 1, " \n");
            if (n >= len)
                n = len - 1;
            memcpy(out, p + klen + 1, n);
            out[n] = '\0';
            break;
        }
    }
    return out;
}

static void json_str(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            evbuffer_add_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            evbuffer_add_printf(b, "\\u%04x", ch);
        else
            evbuffer_add(b, s, 1);
    }
    evbuffer_add(b, "\"", 1);
}

static reply_t *reply_of(query_t *q, pid_t pid)
{
    for (int i = 0; i < q->n; i++)
        if (q->replies[i].pid == pid)
            return &q->replies[i];
    return NULL;
}

static const char *mem_text(const char *kb, char *buf, size_t len)
{
    double v = atof(kb);
    if (v >= 1024)
        snprintf(buf, len, "%.1fM", v / 1024);
    else
        snprintf(buf, len, "%.0fK", v);
    return buf;
}

/* Processes in worker order, then by id (retiring ones after the new). */
static int proc_cmp(const void *a, const void *b)
{
    const wm__proc_t *x = *(wm__proc_t *const *)a, *y = *(wm__proc_t *const *)b;
    if (x->widx != y->widx)
        return x->widx - y->widx;
    if (x->id != y->id)
        return x->id - y->id;
    return (int)x->retiring - (int)y->retiring;
}

static int sorted_procs(wm__proc_t **out, int max)
{
    int n = 0;
    for (wm__proc_t *p = M.procs; p && n < max; p = p->next)
        out[n++] = p;
    qsort(out, (size_t)n, sizeof *out, proc_cmp);
    return n;
}

/* ---- status ------------------------------------------------------------------- */

static void exit_stats_text(struct evbuffer *b, int widx)
{
    bool any = false;
    for (wm__exit_stat_t *e = M.exits; e; e = e->next) {
        if (e->widx != widx)
            continue;
        evbuffer_add_printf(b, "%s%s %d x%lu", any ? ", " : "", e->kind ? "signal" : "exit",
                            e->code, e->count);
        any = true;
    }
    if (!any)
        evbuffer_add_printf(b, "none");
}

static void status_header_text(struct evbuffer *b)
{
    char when[64];
    struct tm tm;
    localtime_r(&M.start_time, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    long up = (long)(time(NULL) - M.start_time);
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    int nworkers = 0;
    for (wm_worker_t *w = wm__workers(); w; w = w->next)
        nworkers++;
    int nprocs = 0;
    for (wm__proc_t *p = M.procs; p; p = p->next)
        nprocs++;
    evbuffer_add_printf(b,
                        "--------------------------------------- WM STATUS "
                        "---------------------------------------\n"
                        "wm version: %s   libevent: %s   master pid: %d\n"
                        "start time: %s   uptime: %ld d %02ld:%02ld:%02ld   load average: %.2f, "
                        "%.2f, %.2f\n"
                        "%d worker(s), %d process(es)\n"
                        "worker               exit statuses\n",
                        wm_version(), event_get_version(), (int)getpid(), when, up / 86400,
                        up / 3600 % 24, up / 60 % 60, up % 60, load[0], load[1], load[2], nworkers,
                        nprocs);
    int widx = 0;
    for (wm_worker_t *w = wm__workers(); w; w = w->next, widx++) {
        evbuffer_add_printf(b, "%-20s ", w->name);
        exit_stats_text(b, widx);
        evbuffer_add_printf(b, "\n");
    }
}

static void status_text(query_t *q, struct evbuffer *b)
{
    status_header_text(b);
    evbuffer_add_printf(b, "------------------------------------- PROCESS STATUS "
                           "-------------------------------------\n");
    evbuffer_add_printf(b, "%-8s %-8s %-14s %-26s %-4s %-6s %-6s %-10s %-9s %-7s %s\n", "pid",
                        "memory", "worker", "listen", "id", "conns", "timers", "requests",
                        "send_fail", "qps", "state");
    wm__proc_t *procs[WM_MAX_REPLY];
    int np = sorted_procs(procs, WM_MAX_REPLY);
    for (int i = 0; i < np; i++) {
        wm__proc_t *p = procs[i];
        wm_worker_t *w = wm__worker_at(p->widx);
        reply_t *r = reply_of(q, p->pid);
        char v[7][32], mem[32];
        if (!r) {
            evbuffer_add_printf(b, "%-8d %-8s %-14s %-26s %-4d %-6s %-6s %-10s %-9s %-7s %s\n",
                                (int)p->pid, "-", w->name, w->url_text, p->id, "-", "-", "-", "-",
                                "-", p->ready ? "busy" : "starting");
            continue;
        }
        field(r->text, "mem_kb", v[0], sizeof v[0]);
        const char *state = p->retiring ? "retiring" : field(r->text, "state", v[6], sizeof v[6]);
        evbuffer_add_printf(b, "%-8d %-8s %-14s %-26s %-4d %-6s %-6s %-10s %-9s %-7s %s\n",
                            (int)p->pid, mem_text(v[0], mem, sizeof mem), w->name, w->url_text,
                            p->id, field(r->text, "conns", v[1], sizeof v[1]),
                            field(r->text, "timers", v[2], sizeof v[2]),
                            field(r->text, "requests", v[3], sizeof v[3]),
                            field(r->text, "send_fail", v[4], sizeof v[4]),
                            field(r->text, "qps", v[5], sizeof v[5]), state);
    }
}

/* The lines workers add with wm_worker_on_status, after the table. */
static void status_info_text(query_t *q, struct evbuffer *b)
{
    wm__proc_t *procs[WM_MAX_REPLY];
    int np = sorted_procs(procs, WM_MAX_REPLY);
    for (int i = 0; i < np; i++) {
        reply_t *r = reply_of(q, procs[i]->pid);
        const char *info = r ? strchr(r->text, '\n') : NULL;
        if (info && info[1])
            evbuffer_add_printf(b, "%-8d %s: %s\n", (int)procs[i]->pid,
                                wm__worker_at(procs[i]->widx)->name, info + 1);
    }
}

static void status_json(query_t *q, struct evbuffer *b)
{
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    evbuffer_add_printf(b,
                        "{\"version\":\"%s\",\"master_pid\":%d,\"start_time\":%lld,"
                        "\"uptime_s\":%lld,\"load_average\":[%.2f,%.2f,%.2f],\"workers\":[",
                        wm_version(), (int)getpid(), (long long)M.start_time,
                        (long long)(time(NULL) - M.start_time), load[0], load[1], load[2]);
    int widx = 0;
    for (wm_worker_t *w = wm__workers(); w; w = w->next, widx++) {
        evbuffer_add_printf(b, "%s{\"name\":", widx ? "," : "");
        json_str(b, w->name);
        evbuffer_add_printf(b, ",\"listen\":");
        json_str(b, w->url_text);
        evbuffer_add_printf(b, ",\"count\":%d,\"reloadable\":%s,\"exits\":[", w->count,
                            w->reloadable ? "true" : "false");
        bool any = false;
        for (wm__exit_stat_t *e = M.exits; e; e = e->next) {
            if (e->widx != widx)
                continue;
            evbuffer_add_printf(b, "%s{\"%s\":%d,\"count\":%lu}", any ? "," : "",
                                e->kind ? "signal" : "status", e->code, e->count);
            any = true;
        }
        evbuffer_add_printf(b, "]}");
    }
    evbuffer_add_printf(b, "],\"processes\":[");
    wm__proc_t *procs[WM_MAX_REPLY];
    int np = sorted_procs(procs, WM_MAX_REPLY);
    for (int i = 0; i < np; i++) {
        wm__proc_t *p = procs[i];
        bool first = i == 0;
        wm_worker_t *w = wm__worker_at(p->widx);
        reply_t *r = reply_of(q, p->pid);
        evbuffer_add_printf(b, "%s{\"pid\":%d,\"worker\":", first ? "" : ",", (int)p->pid);
        json_str(b, w->name);
        evbuffer_add_printf(b, ",\"listen\":");
        json_str(b, w->url_text);
        evbuffer_add_printf(b, ",\"id\":%d", p->id);
        if (r) {
            char v[7][32];
            evbuffer_add_printf(b,
                                ",\"memory_kb\":%s,\"connections\":%s,\"timers\":%s,"
                                "\"requests\":%s,\"send_failures\":%s,\"qps\":%s,\"state\":\"%s\"",
                                field(r->text, "mem_kb", v[0], sizeof v[0]),
                                field(r->text, "conns", v[1], sizeof v[1]),
                                field(r->text, "timers", v[2], sizeof v[2]),
                                field(r->text, "requests", v[3], sizeof v[3]),
                                field(r->text, "send_fail", v[4], sizeof v[4]),
                                field(r->text, "qps", v[5], sizeof v[5]),
                                p->retiring ? "retiring" : field(r->text, "state", v[6], 32));
            const char *info = strchr(r->text, '\n');
            if (info && info[1]) {
                evbuffer_add_printf(b, ",\"info\":");
                json_str(b, info + 1);
            }
        } else {
            evbuffer_add_printf(b, ",\"state\":\"%s\"", p->ready ? "busy" : "starting");
        }
        evbuffer_add_printf(b, "}");
    }
    evbuffer_add_printf(b, "]}\n");
}

/* ---- connections ----------------------------------------------------------------- */

/* Each reply line after the first: id proto local remote in out sendq recvq. */
static void connections_render(query_t *q, struct evbuffer *b)
{
    if (!q->json)
        evbuffer_add_printf(b, "%-8s %-14s %-4s %-8s %-6s %-24s %-26s %-10s %-10s %-7s %s\n", "pid",
                            "worker", "id", "conn", "proto", "local", "remote", "bytes_in",
                            "bytes_out", "send_q", "recv_q");
    else
        evbuffer_add_printf(b, "{\"connections\":[");
    bool first = true;
    wm__proc_t *procs[WM_MAX_REPLY];
    int np = sorted_procs(procs, WM_MAX_REPLY);
    for (int i = 0; i < np; i++) {
        wm__proc_t *p = procs[i];
        reply_t *r = reply_of(q, p->pid);
        wm_worker_t *w = wm__worker_at(p->widx);
        for (const char *line = r ? strchr(r->text, '\n') : NULL; line;
             line = strchr(line + 1, '\n')) {
            char f[8][128];
            if (sscanf(line + 1,
                       "%127[^\t]\t%127[^\t]\t%127[^\t]\t%127[^\t]\t%127[^\t]\t%127[^\t]\t"
                       "%127[^\t]\t%127[^\t\n]",
                       f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]) != 8)
                continue;
            if (!q->json) {
                evbuffer_add_printf(
                    b, "%-8d %-14s %-4d %-8s %-6s %-24s %-26s %-10s %-10s %-7s %s\n", (int)p->pid,
                    w->name, p->id, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
                continue;
            }
            evbuffer_add_printf(b, "%s{\"pid\":%d,\"worker\":", first ? "" : ",", (int)p->pid);
            json_str(b, w->name);
            evbuffer_add_printf(b, ",\"worker_id\":%d,\"id\":%s,\"protocol\":", p->id, f[0]);
            json_str(b, f[1]);
            evbuffer_add_printf(b, ",\"local\":");
            json_str(b, f[2]);
            evbuffer_add_printf(b, ",\"remote\":");
            json_str(b, f[3]);
            evbuffer_add_printf(b,
                                ",\"bytes_read\":%s,\"bytes_written\":%s,\"send_queue\":%s,"
                                "\"recv_queue\":%s}",
                                f[4], f[5], f[6], f[7]);
            first = false;
        }
    }
    if (q->json)
        evbuffer_add_printf(b, "]}\n");
}

/* ---- the query life cycle ------------------------------------------------------------ */

static void query_free(query_t *q)
{
    for (query_t **pp = &queries; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    }
    if (q->timer)
        wm_timer_del(q->timer);
    for (int i = 0; i < q->n; i++)
        free(q->replies[i].text);
    free(q);
}

static void query_answer(query_t *q)
{
    wm_conn_t *client = wm_conn_find(q->client);
    struct evbuffer *b = evbuffer_new();
    if (client && b) {
        if (q->conns)
            connections_render(q, b);
        else if (q->json)
            status_json(q, b);
        else {
            status_text(q, b);
            status_info_text(q, b);
        }
        size_t len = evbuffer_get_length(b);
        wm_conn_send(client, evbuffer_pullup(b, -1), len);
    }
    if (b)
        evbuffer_free(b);
    query_free(q);
}

static void on_query_timeout(wm_timer_id_t tid, void *arg)
{
    query_t *q = arg;
    q->timer = 0;
    query_answer(q);
}

void wm__query_on_reply(wm__proc_t *p, const char *data, size_t len)
{
    char head[32];
    unsigned long long qid = 0;
    size_t hl = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, data, hl);
    head[hl] = '\0';
    if (sscanf(head, "%*s %llu", &qid) != 1)
        return;
    query_t *q = queries;
    while (q && q->qid != qid)
        q = q->next;
    if (!q || q->n >= WM_MAX_REPLY || reply_of(q, p->pid))
        return; /* late (already answered as busy) or unknown */
    char *text = malloc(len + 1);
    if (!text)
        return;
    memcpy(text, data, len);
    text[len] = '\0';
    q->replies[q->n++] = (reply_t){p->pid, text};
    if (--q->pending <= 0)
        query_answer(q);
}

static void start_query(wm_conn_t *client, bool conns, bool json)
{
    query_t *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->qid = next_qid++;
    q->client = wm_conn_id(client);
    q->conns = conns;
    q->json = json;
    q->next = queries;
    queries = q;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%s %llu", conns ? WM_CTL_CONNECTIONS : WM_CTL_STATUS,
                     (unsigned long long)q->qid);
    for (wm__proc_t *p = M.procs; p; p = p->next)
        if (p->ctl && p->ready && wm_conn_send(p->ctl, msg, (size_t)n) >= 0)
            q->pending++;
    if (q->pending == 0) {
        query_answer(q);
        return;
    }
    q->timer = wm_timer_add(WM_QUERY_WAIT_MS, false, on_query_timeout, q, NULL);
}

static void on_cli_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    char cmd[64];
    size_t n = m->len < sizeof cmd - 1 ? m->len : sizeof cmd - 1;
    memcpy(cmd, m->data, n);
    cmd[n] = '\0';
    bool json = strstr(cmd, "--json") != NULL;
    if (!strncmp(cmd, "status", 6))
        start_query(c, false, json);
    else if (!strncmp(cmd, "connections", 11))
        start_query(c, true, json);
    else if (!strcmp(cmd, "stop"))
        wm__master_stop(false);
    else if (!strcmp(cmd, "stop -g"))
        wm__master_stop(true);
    else if (!strcmp(cmd, "reload"))
        wm__master_reload(false);
    else if (!strcmp(cmd, "reload -g"))
        wm__master_reload(true);
    else
        wm_conn_close_with(c, "unknown command\n", 16);
}

int wm__query_listen(void)
{
    char path[4200], url[4300];
    wm__ctl_path(path, sizeof path);
    snprintf(url, sizeof url, "frame+unix://%s", path);
    ctl_worker = wm__worker_new_hidden(url);
    if (!ctl_worker)
        return WM_EINVAL;
    wm_worker_set_name(ctl_worker, "control");
    wm_worker_on_message(ctl_worker, on_cli_message, NULL);
    int rc = wm_worker_start(ctl_worker);
    if (rc == WM_OK)
        chmod(path, 0600); /* only the master's user may stop or inspect it */
    return rc;
}

void wm__query_close(void)
{
    while (queries)
        query_free(queries);
    if (ctl_worker) {
        wm__worker_free_hidden(ctl_worker);
        ctl_worker = NULL;
    }
}
