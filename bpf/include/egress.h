/* Connect-time egress policy: exact port first, then the any-port entry. */
#ifndef WEFT_EGRESS_H
#define WEFT_EGRESS_H

#include "common.h"

static __always_inline struct weft_verdict *
weft_egress_lookup(__u32 workload_id, __u16 family, const __u32 *addr, __be16 port)
{
	struct weft_egress_key k = {};
	struct weft_verdict *v;

	k.workload_id = workload_id;
	k.family = family;
	k.port = port;
	if (family == WEFT_AF_INET)
		__builtin_memcpy(k.addr, addr, 4);
	else
		__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&egress_deny, &k);
	if (v)
		return v;
	k.port = 0;
	return bpf_map_lookup_elem(&egress_deny, &k);
}

#endif
