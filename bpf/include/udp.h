/* UDP has no connection for policy to ride on: the exchanges a workload took
 * part in are remembered (udp_flows) so that answers pass without a rule, as
 * conntrack lets replies through, and strict mTLS knows the mesh's pods by
 * address (mesh_peers), since UDP is not tunnelled and carries no identity. */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include "common.h"
#include "egress.h"

/* A busy flow costs one lookup per datagram, and a write at most once a second. */
#define WEFT_UDP_REFRESH_NS 1000000000ULL

static __always_inline void weft_udp_flow_init(struct weft_udp_flow *f, __u32 workload_id,
					       __u16 local_port, __be16 remote_port,
					       __u16 family, const __u32 *addr)
{
	f->workload_id = workload_id;
	f->local_port = local_port;
	f->remote_port = remote_port;
	f->family = family;
	weft_addr16(f->addr, family, addr);
}

/* The workload sent to, or was let in by policy from, this peer just now. */
static __always_inline void weft_udp_note(const struct weft_udp_flow *f)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *seen = bpf_map_lookup_elem(&udp_flows, f);

	if (seen && now - *seen < WEFT_UDP_REFRESH_NS)
		return;
	bpf_map_update_elem(&udp_flows, f, &now, BPF_ANY);
}

/* A datagram answering one the policy let by within WEFT_UDP_FLOW_NS. */
static __always_inline int weft_udp_is_reply(const struct weft_udp_flow *f)
{
	__u64 *seen = bpf_map_lookup_elem(&udp_flows, f);

	return seen && bpf_ktime_get_ns() - *seen < WEFT_UDP_FLOW_NS;
}

static __always_inline int weft_is_mesh_peer(__u16 family, const __u32 *addr)
{
	struct weft_mesh_peer k = {};

	weft_addr16(k.addr, family, addr);
	return bpf_map_lookup_elem(&mesh_peers, &k) != 0;
}

#endif
