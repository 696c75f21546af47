/* SPDX-License-Identifier: MIT */
/* libwm: the wm event core. Include this one header. */
#ifndef WM_H
#define WM_H

#define WM_VERSION_MAJOR 0
#define WM_VERSION_MINOR 1
#define WM_VERSION_PATCH 0
#define WM_VERSION "0.1.0"

#include "error.h"
#include "log.h"
#include "loop.h"
#include "timer.h"
#include "protocol.h"
#include "conn.h"
#include "worker.h"
#include "http.h"
#include "http_session.h"
#include "tls.h"
#include "json.h"
#include "http_body.h"
#include "websocket.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)
/* The library's version string, "0.1.0"; may differ from WM_VERSION when a
 * program runs against another build of the shared library. */
const char *wm_version(void);
#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
