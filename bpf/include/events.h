/* Verdict events to userspace through the one ring buffer. */
#ifndef WEFT_EVENTS_H
#define WEFT_EVENTS_H

#include "common.h"

struct weft_event_args {
	__u64 cgroup_id;
	__u64 cookie;
	__u32 workload_id;
	__u32 policy_id;
	const __u32 *addr; /* 1 word for IPv4, 4 for IPv6 */
	__be16 port;
	__u16 family;
	__u16 rule;
	__u8 kind;
	__u8 verdict;
	__u8 protocol;
};

/* A full ring buffer drops the event, never the verdict. */
static __always_inline void weft_emit(const struct weft_event_args *a)
{
	struct weft_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = a->cgroup_id;
	e->cookie = a->cookie;
	e->workload_id = a->workload_id;
	e->policy_id = a->policy_id;
	if (a->family == WEFT_AF_INET)
		__builtin_memcpy(e->addr, a->addr, 4);
	else
		__builtin_memcpy(e->addr, a->addr, 16);
	e->port = a->port;
	e->family = a->family;
	e->rule = a->rule;
	e->kind = a->kind;
	e->verdict = a->verdict;
	e->protocol = a->protocol;
	bpf_ringbuf_submit(e, 0);
}

/* Refused datagrams can come at line rate, so their events are limited to
 * WEFT_DATAGRAM_EVENTS_PER_S per node and the rest counted (the verdict is
 * never limited). CPUs race on the counters: the limit is approximate. */
static __always_inline int weft_datagram_event_allowed(void)
{
	__u32 zero = 0;
	struct weft_event_budget *b = bpf_map_lookup_elem(&event_budget, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!b)
		return 1;
	if (now - b->window_ns >= 1000000000ULL) {
		b->window_ns = now;
		b->sent = 0;
	}
	if (b->sent >= WEFT_DATAGRAM_EVENTS_PER_S) {
		__sync_fetch_and_add(&b->suppressed, 1);
		return 0;
	}
	__sync_fetch_and_add(&b->sent, 1);
	return 1;
}

#endif
