/* SPDX-License-Identifier: MIT */
/* The one list of wm_conn_tests cases (libuv's test-list.h style): each
 * WM_CONN_CASE(name) is a function test_<name> in one of the conn_*.c files.
 * conn_main.c expands it twice, into prototypes and into the case table.
 * Cases whose name starts with "dns_" need a DNS server: dns_test.sh runs
 * them; the plain ctest entry skips them with --no-dns. */

/* conn_basic.c: echo over every transport and protocol */
WM_CONN_CASE(echo_tcp)
WM_CONN_CASE(echo_text)
WM_CONN_CASE(echo_frame)
WM_CONN_CASE(echo_ipv6)
WM_CONN_CASE(echo_ipv6_addresses)
WM_CONN_CASE(echo_unix)
WM_CONN_CASE(echo_text_unix)
WM_CONN_CASE(unix_addresses)
WM_CONN_CASE(multi_workers)

/* conn_facts.c: addresses, ids, counts, counters, user data */
WM_CONN_CASE(facts_addresses)
WM_CONN_CASE(facts_ids)
WM_CONN_CASE(facts_foreach)
WM_CONN_CASE(facts_byte_counters)
WM_CONN_CASE(facts_byte_counters_raw)
WM_CONN_CASE(facts_user_data)

/* conn_flow.c: send results, buffer limits, max package, pause, close */
WM_CONN_CASE(send_sent_queued)
WM_CONN_CASE(send_enobufs)
WM_CONN_CASE(want_drain)
WM_CONN_CASE(send_limit_per_conn)
WM_CONN_CASE(batch_sends)
WM_CONN_CASE(batch_sends_close)
WM_CONN_CASE(batch_sends_fanout)
WM_CONN_CASE(batch_sends_off)
WM_CONN_CASE(max_package_frame)
WM_CONN_CASE(frame_bad_length)
WM_CONN_CASE(max_package_text)
WM_CONN_CASE(max_package_client)
WM_CONN_CASE(pause_resume)
WM_CONN_CASE(pause_backpressure)
WM_CONN_CASE(close_flushes)
WM_CONN_CASE(close_with)
WM_CONN_CASE(destroy_drops)
WM_CONN_CASE(half_close_echo)

/* conn_close.c: closing inside every callback; every way to end */
WM_CONN_CASE(close_in_connect)
WM_CONN_CASE(destroy_in_connect)
WM_CONN_CASE(close_in_message)
WM_CONN_CASE(destroy_in_message)
WM_CONN_CASE(close_in_error)
WM_CONN_CASE(destroy_in_error)
WM_CONN_CASE(close_in_error_nobufs)
WM_CONN_CASE(destroy_in_error_nobufs)
WM_CONN_CASE(close_in_full)
WM_CONN_CASE(destroy_in_full)
WM_CONN_CASE(close_in_drain)
WM_CONN_CASE(destroy_in_drain)
WM_CONN_CASE(close_in_close)
WM_CONN_CASE(destroy_in_close)
WM_CONN_CASE(destroy_other)
WM_CONN_CASE(destroy_chain_in_close)
WM_CONN_CASE(close_by_peer)
WM_CONN_CASE(close_by_peer_queued)
WM_CONN_CASE(close_by_reset)
WM_CONN_CASE(close_by_reset_queued)
WM_CONN_CASE(close_worker_stop)
WM_CONN_CASE(close_loop_free)
WM_CONN_CASE(close_flush_then_reset)
WM_CONN_CASE(message_after_close)
WM_CONN_CASE(message_after_destroy)
WM_CONN_CASE(message_after_worker_stop)

/* conn_pipe.c: a two-way proxy */
WM_CONN_CASE(pipe_roundtrip)
WM_CONN_CASE(pipe_backend_closes)
WM_CONN_CASE(pipe_slow_reader)
WM_CONN_CASE(pipe_backend_refused)
WM_CONN_CASE(pipe_frames_slow_reader)

/* conn_connect.c: outgoing connections */
WM_CONN_CASE(connect_states)
WM_CONN_CASE(connect_destroy_idle)
WM_CONN_CASE(connect_refused)
WM_CONN_CASE(connect_timeout)
WM_CONN_CASE(connect_timeout_dns)
WM_CONN_CASE(connect_destroy_while_resolving)
WM_CONN_CASE(connect_send_early)
WM_CONN_CASE(connect_reconnect)
WM_CONN_CASE(connect_reconnect_from_error)
WM_CONN_CASE(connect_reconnect_open)
WM_CONN_CASE(connect_destroy_cancels_reconnect)
WM_CONN_CASE(outgoing_close_in_connect)
WM_CONN_CASE(outgoing_destroy_in_connect)
WM_CONN_CASE(outgoing_close_in_error)
WM_CONN_CASE(outgoing_destroy_in_error)
WM_CONN_CASE(outgoing_destroy_in_close)
WM_CONN_CASE(outgoing_destroy_beats_reconnect)
WM_CONN_CASE(outgoing_connect_in_close)
WM_CONN_CASE(connect_close_while_connecting)
WM_CONN_CASE(outgoing_close_does_not_outlive_attempt)
WM_CONN_CASE(connect_unix_async)
WM_CONN_CASE(connect_unix_fail_async)
WM_CONN_CASE(connect_localhost)

/* conn_worker.c: the worker side */
WM_CONN_CASE(worker_stop_in_connect)
WM_CONN_CASE(accept_emfile)

/* conn_udp.c */
WM_CONN_CASE(udp_echo_worker)
WM_CONN_CASE(udp_close_in_message)
WM_CONN_CASE(udp_outgoing)
WM_CONN_CASE(udp_stop_in_message)

/* conn_dns.c: needs dns_test.sh */
WM_CONN_CASE(dns_resolve)
WM_CONN_CASE(dns_nxdomain)
WM_CONN_CASE(dns_fallback)
