/* Handing the original destination to the proxy. connect() only knows the
 * socket cookie; once the connection is established its local port is known,
 * and the proxy, which sees that port as its peer, can look it up. */
#ifndef WEFT_ORIG_H
#define WEFT_ORIG_H

#include "common.h"

static __always_inline void weft_orig_publish(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct weft_orig_dst *od = bpf_map_lookup_elem(&orig_dst, &cookie);
	struct weft_conn_key k = {};

	if (!od)
		return;
	k.workload_id = od->workload_id;
	k.port = (__u16)skops->local_port;
	/* The family of the redirect target: a v4-mapped connect() of an IPv6 socket
	 * was sent to the IPv4 listener, and the proxy sees an IPv4 peer. */
	k.family = od->family;
	bpf_map_update_elem(&conn_orig, &k, od, BPF_ANY);
}

#endif
