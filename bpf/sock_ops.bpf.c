/* sockops at the agent's cgroup root, and sk_msg on the splice sockhash.
 * sockops: publish each redirected connection's original destination by its
 * local port once established, and (behind meta.flags) add loopback sockets to
 * the splice sockhash. */
#include "common.h"
#include "orig.h"
#include "splice.h"

SEC("sockops")
int weft_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		weft_orig_publish(skops);
		weft_splice_add(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		weft_splice_add(skops);
		break;
	}
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
