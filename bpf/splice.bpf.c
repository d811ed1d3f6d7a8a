/* sockops + sk_msg: splice the app<->proxy loopback hop by handing messages
 * straight to the peer socket's receive queue. Off unless meta.flags has
 * WEFT_META_F_SPLICE; kept only where bench/ shows it wins. */
#include "common.h"

SEC("sockops")
int weft_sockops(struct bpf_sock_ops *skops)
{
	struct weft_sock_key k = {};

	if (!(weft_meta_flags() & WEFT_META_F_SPLICE))
		return 1;
	if (skops->family != WEFT_AF_INET)
		return 1;
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (!weft_is_loopback4(skops->local_ip4) || !weft_is_loopback4(skops->remote_ip4))
		return 1;
	k.netns = bpf_get_netns_cookie(skops);
	k.local_ip4 = skops->local_ip4;
	k.remote_ip4 = skops->remote_ip4;
	k.local_port = skops->local_port;
	k.remote_port = bpf_ntohl(skops->remote_port);
	bpf_sock_hash_update(skops, &splice_socks, &k, BPF_NOEXIST);
	return 1;
}

SEC("sk_msg")
int weft_sk_msg(struct sk_msg_md *msg)
{
	struct weft_sock_key peer = {};

	peer.netns = bpf_get_netns_cookie(msg);
	peer.local_ip4 = msg->remote_ip4;
	peer.remote_ip4 = msg->local_ip4;
	peer.local_port = bpf_ntohl(msg->remote_port);
	peer.remote_port = msg->local_port;
	/* No peer in the map: the message takes the normal TCP path. */
	bpf_msg_redirect_hash(msg, &splice_socks, &peer, BPF_F_INGRESS);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
