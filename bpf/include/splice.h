/* The app<->proxy loopback splice: sockets enter a sockhash keyed by netns
 * cookie and 4-tuple; sk_msg hands each message to the peer's receive queue. */
#ifndef WEFT_SPLICE_H
#define WEFT_SPLICE_H

#include "common.h"

static __always_inline void weft_splice_add(struct bpf_sock_ops *skops)
{
	struct weft_sock_key k = {};

	if (!(weft_meta_flags() & WEFT_META_F_SPLICE))
		return;
	if (skops->family != WEFT_AF_INET)
		return;
	if (!weft_is_loopback4(skops->local_ip4) || !weft_is_loopback4(skops->remote_ip4))
		return;
	k.netns = bpf_get_netns_cookie(skops);
	k.local_ip4 = skops->local_ip4;
	k.remote_ip4 = skops->remote_ip4;
	k.local_port = skops->local_port;
	k.remote_port = bpf_ntohl(skops->remote_port);
	bpf_sock_hash_update(skops, &splice_socks, &k, BPF_NOEXIST);
}

#endif
