/* cgroup/connect4|6 and getpeername4|6: redirect an enrolled workload's TCP
 * connect() to the proxy's outbound listener in its own netns, deny it at once
 * when egress policy says so, and show the app the peer it asked for.
 * cgroup/sendmsg4|6 and UDP connect(): egress policy for datagrams, which are
 * never redirected (the proxy carries TCP only). */
#include "common.h"
#include "egress.h"
#include "events.h"
#include "udp.h"

#define SYS_PROCEED 1
#define SYS_REJECT 0 /* connect() fails with EPERM */

static __always_inline int weft_deny(struct bpf_sock_addr *ctx, __u64 cg,
				     const struct weft_workload *wl, __u16 family,
				     const __u32 *addr, __be16 port, __u8 protocol, __u8 kind)
{
	struct weft_event_args ev = {
		.cgroup_id = cg,
		.cookie = bpf_get_socket_cookie(ctx),
		.workload_id = wl->id,
		.addr = addr,
		.port = port,
		.family = family,
		.kind = kind,
		.verdict = WEFT_VERDICT_DENY,
		.protocol = protocol,
	};
	if (protocol != IPPROTO_UDP_ || weft_datagram_event_allowed())
		weft_emit(&ev);
	return SYS_REJECT;
}

/* A datagram (or UDP connect()) of an enrolled workload: egress policy under
 * UDP's own ports; an answer within an exchange the peer started, or one the
 * workload already had, passes as a reply. Never redirected. */
static __always_inline int weft_udp_egress(struct bpf_sock_addr *ctx, __u64 cg,
					   const struct weft_workload *wl, __u16 family,
					   const __u32 *addr, __be16 port, __u8 kind)
{
	struct weft_udp_flow f = {};
	struct bpf_sock *sk = ctx->sk;
	/* Bound by now for sendmsg (autobind runs first); maybe not yet for connect(). */
	__u16 lport = sk ? (__u16)sk->src_port : 0;

	weft_udp_flow_init(&f, wl->id, lport, port, family, addr);
	if ((wl->flags & WEFT_WL_F_EGRESS_ISOLATED) && !(lport && weft_udp_is_reply(&f)) &&
	    !weft_egress_allowed(weft_policy_key_id(wl->id, wl->flags & WEFT_WL_F_EGRESS_GEN),
				 IPPROTO_UDP_, family, addr, port))
		return weft_deny(ctx, cg, wl, family, addr, port, IPPROTO_UDP_, kind);
	/* Remembered so the peer's answers pass sk_lookup, where something would stop them. */
	if (lport && (wl->flags & (WEFT_WL_F_STRICT | WEFT_WL_F_INGRESS_ISOLATED)))
		weft_udp_note(&f);
	return SYS_PROCEED;
}

static __always_inline void weft_remember(struct bpf_sock_addr *ctx,
					  const struct weft_workload *wl, __u16 family,
					  const __u32 *addr, __be16 port)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct weft_orig_dst od = {};

	if (family == WEFT_AF_INET)
		__builtin_memcpy(od.addr, addr, 4);
	else
		__builtin_memcpy(od.addr, addr, 16);
	od.port = port;
	od.family = family;
	od.workload_id = wl->id;
	bpf_map_update_elem(&orig_dst, &cookie, &od, BPF_ANY);
}

SEC("cgroup/connect4")
int weft_connect4(struct bpf_sock_addr *ctx)
{
	__u64 cg;
	struct weft_workload *wl;
	__u32 addr[1];
	__be16 port;
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
		return SYS_PROCEED;
	cg = bpf_get_current_cgroup_id();
	wl = bpf_map_lookup_elem(&enrolled, &cg);
	if (!wl)
		return SYS_PROCEED;
	addr[0] = ctx->user_ip4;
	port = (__be16)ctx->user_port;
	if (weft_is_loopback4(addr[0]))
		return SYS_PROCEED;
	if (proto == IPPROTO_UDP_)
		return weft_udp_egress(ctx, cg, wl, WEFT_AF_INET, addr, port, WEFT_EV_CONNECT);

	if ((wl->flags & WEFT_WL_F_EGRESS_ISOLATED) &&
	    !weft_egress_allowed(weft_policy_key_id(wl->id, wl->flags & WEFT_WL_F_EGRESS_GEN),
				 IPPROTO_TCP_, WEFT_AF_INET, addr, port))
		return weft_deny(ctx, cg, wl, WEFT_AF_INET, addr, port, IPPROTO_TCP_, WEFT_EV_CONNECT);
	/* The agent's and proxy's own ports are reached directly (policy still applies). */
	if (weft_is_own_port(bpf_ntohs(port)))
		return SYS_PROCEED;

	weft_remember(ctx, wl, WEFT_AF_INET, addr, port);
	ctx->user_ip4 = bpf_htonl(LOOPBACK4);
	ctx->user_port = bpf_htons(WEFT_PORT_OUTBOUND);
	return SYS_PROCEED;
}

SEC("cgroup/connect6")
int weft_connect6(struct bpf_sock_addr *ctx)
{
	__u64 cg;
	struct weft_workload *wl;
	__u32 addr[4];
	__u16 family = WEFT_AF_INET6;
	__be16 port;
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
		return SYS_PROCEED;
	cg = bpf_get_current_cgroup_id();
	wl = bpf_map_lookup_elem(&enrolled, &cg);
	if (!wl)
		return SYS_PROCEED;
	addr[0] = ctx->user_ip6[0];
	addr[1] = ctx->user_ip6[1];
	addr[2] = ctx->user_ip6[2];
	addr[3] = ctx->user_ip6[3];
	port = (__be16)ctx->user_port;
	if (weft_is_loopback6(addr))
		return SYS_PROCEED;
	if (weft_is_v4mapped(addr)) {
		/* An IPv4 peer through a dual-stack socket: police it as IPv4. */
		if (weft_is_loopback4(addr[3]))
			return SYS_PROCEED;
		addr[0] = addr[3];
		family = WEFT_AF_INET;
	}
	if (proto == IPPROTO_UDP_)
		return weft_udp_egress(ctx, cg, wl, family, addr, port, WEFT_EV_CONNECT);

	if ((wl->flags & WEFT_WL_F_EGRESS_ISOLATED) &&
	    !weft_egress_allowed(weft_policy_key_id(wl->id, wl->flags & WEFT_WL_F_EGRESS_GEN),
				 IPPROTO_TCP_, family, addr, port))
		return weft_deny(ctx, cg, wl, family, addr, port, IPPROTO_TCP_, WEFT_EV_CONNECT);
	/* The agent's and proxy's own ports are reached directly (policy still applies). */
	if (weft_is_own_port(bpf_ntohs(port)))
		return SYS_PROCEED;

	weft_remember(ctx, wl, family, addr, port);
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	if (family == WEFT_AF_INET) {
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = bpf_htonl(LOOPBACK4);
	} else {
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = bpf_htons(WEFT_PORT_OUTBOUND);
	return SYS_PROCEED;
}

/* A datagram sent with an address (sendto, sendmsg): the kernel calls these
 * only for UDP, and not for a connected socket's own peer (connect() was
 * checked). EPERM like a denied connect(). */
SEC("cgroup/sendmsg4")
int weft_sendmsg4(struct bpf_sock_addr *ctx)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct weft_workload *wl = bpf_map_lookup_elem(&enrolled, &cg);
	__u32 addr[1];

	if (!wl)
		return SYS_PROCEED;
	addr[0] = ctx->user_ip4;
	if (weft_is_loopback4(addr[0]))
		return SYS_PROCEED;
	return weft_udp_egress(ctx, cg, wl, WEFT_AF_INET, addr, (__be16)ctx->user_port,
			       WEFT_EV_SENDMSG);
}

SEC("cgroup/sendmsg6")
int weft_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct weft_workload *wl = bpf_map_lookup_elem(&enrolled, &cg);
	__u16 family = WEFT_AF_INET6;
	__u32 addr[4];

	if (!wl)
		return SYS_PROCEED;
	addr[0] = ctx->user_ip6[0];
	addr[1] = ctx->user_ip6[1];
	addr[2] = ctx->user_ip6[2];
	addr[3] = ctx->user_ip6[3];
	if (weft_is_loopback6(addr))
		return SYS_PROCEED;
	if (weft_is_v4mapped(addr)) {
		if (weft_is_loopback4(addr[3]))
			return SYS_PROCEED;
		addr[0] = addr[3];
		family = WEFT_AF_INET;
	}
	return weft_udp_egress(ctx, cg, wl, family, addr, (__be16)ctx->user_port, WEFT_EV_SENDMSG);
}

static __always_inline struct weft_orig_dst *weft_orig(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	return bpf_map_lookup_elem(&orig_dst, &cookie);
}

SEC("cgroup/getpeername4")
int weft_getpeername4(struct bpf_sock_addr *ctx)
{
	struct weft_orig_dst *od = weft_orig(ctx);
	__u32 a;

	if (!od || od->family != WEFT_AF_INET)
		return SYS_PROCEED;
	__builtin_memcpy(&a, od->addr, 4);
	ctx->user_ip4 = a;
	ctx->user_port = od->port;
	return SYS_PROCEED;
}

SEC("cgroup/getpeername6")
int weft_getpeername6(struct bpf_sock_addr *ctx)
{
	struct weft_orig_dst *od = weft_orig(ctx);
	__u32 a[4];

	if (!od)
		return SYS_PROCEED;
	if (od->family == WEFT_AF_INET) {
		a[0] = 0;
		a[1] = 0;
		a[2] = bpf_htonl(0xffff);
		__builtin_memcpy(&a[3], od->addr, 4);
	} else {
		__builtin_memcpy(a, od->addr, 16);
	}
	ctx->user_ip6[0] = a[0];
	ctx->user_ip6[1] = a[1];
	ctx->user_ip6[2] = a[2];
	ctx->user_ip6[3] = a[3];
	ctx->user_port = od->port;
	return SYS_PROCEED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
