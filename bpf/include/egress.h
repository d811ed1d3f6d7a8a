/* NetworkPolicy in the kernel: egress_allow and ingress_allow lookups. */
#ifndef WEFT_EGRESS_H
#define WEFT_EGRESS_H

#include "common.h"

/* A peer address as the tables key it: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
static __always_inline void weft_addr16(__u8 *out, __u16 family, const __u32 *addr)
{
	if (family == WEFT_AF_INET) {
		out[10] = 0xff;
		out[11] = 0xff;
		__builtin_memcpy(&out[12], addr, 4);
	} else {
		__builtin_memcpy(out, addr, 16);
	}
}

/* NetworkPolicy for an isolated workload (egress_allow: destinations it may
 * reach; ingress_allow: sources it admits): allowed only if the longest prefix
 * entry for the peer under this IP protocol lists the port. A rule's UDP ports
 * live under protocol 17 only, so they never open TCP, nor the other way. */
static __always_inline int weft_peer_allowed(void *table, __u32 workload_id, __u32 protocol,
					     __u16 family, const __u32 *addr, __u16 p)
{
	struct weft_egress_prefix k = {};
	struct weft_egress_ports *v;
	int i;

	k.prefixlen = 64 + 128;
	k.workload_id = workload_id;
	k.protocol = protocol;
	weft_addr16(k.addr, family, addr);
	v = bpf_map_lookup_elem(table, &k);
	if (!v)
		return 0;
	if (v->flags & WEFT_EGRESS_F_ALL_PORTS)
		return 1;
	for (i = 0; i < WEFT_EGRESS_MAX_RANGES; i++) {
		__u16 lo, hi;

		if (i >= v->count)
			break;
		__builtin_memcpy(&lo, &v->ranges[i * 4], 2);
		__builtin_memcpy(&hi, &v->ranges[i * 4 + 2], 2);
		if (p >= lo && p <= hi)
			return 1;
	}
	return 0;
}

/* The id a workload's live policy entries are filed under: its id, with the
 * generation bit when the second generation is live. */
static __always_inline __u32 weft_policy_key_id(__u32 id, __u32 second)
{
	return second ? (id | WEFT_POLICY_GEN_BIT) : id;
}

static __always_inline int weft_egress_allowed(__u32 workload_id, __u32 protocol, __u16 family,
					       const __u32 *addr, __be16 port)
{
	return weft_peer_allowed(&egress_allow, workload_id, protocol, family, addr, bpf_ntohs(port));
}

#endif
