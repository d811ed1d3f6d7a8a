/* sk_lookup, attached per pod netns: steer plaintext inbound TCP for a steered
 * local address to the proxy's listener in that netns. The accepted socket's
 * local address stays the original destination. UDP is never steered: each
 * datagram is let on to the app's socket or dropped (strict mTLS, ingress
 * NetworkPolicy). */
#include "common.h"
#include "egress.h"
#include "events.h"
#include "udp.h"

/* Fills k with the local address (the caller reuses it) and finds its target. */
static __always_inline struct weft_inbound_target *
weft_target(struct bpf_sk_lookup *ctx, struct weft_inbound_key *k, __u16 port)
{
	struct weft_inbound_target *t;

	k->family = ctx->family;
	k->port = port;
	if (ctx->family == WEFT_AF_INET) {
		__u32 a = ctx->local_ip4;
		__builtin_memcpy(k->addr, &a, 4);
	} else {
		__u32 a[4] = { ctx->local_ip6[0], ctx->local_ip6[1], ctx->local_ip6[2],
			       ctx->local_ip6[3] };
		__builtin_memcpy(k->addr, a, 16);
	}
	t = bpf_map_lookup_elem(&inbound_targets, k);
	if (t)
		return t;
	k->port = 0;
	return bpf_map_lookup_elem(&inbound_targets, k);
}

static __always_inline void weft_refuse(const struct weft_inbound_key *k, __u16 port,
					const struct weft_inbound_target *t, __u8 protocol)
{
	__u32 a[4];
	struct weft_event_args ev = {
		.workload_id = t->workload_id,
		.addr = a,
		.port = bpf_htons(port),
		.family = k->family,
		.kind = WEFT_EV_SK_LOOKUP,
		.verdict = WEFT_VERDICT_DENY,
		.protocol = protocol,
	};

	__builtin_memcpy(a, k->addr, 16);
	if (protocol != IPPROTO_UDP_ || weft_datagram_event_allowed())
		weft_emit(&ev);
}

/* A datagram to an enrolled pod. Connected UDP sockets are found before
 * sk_lookup runs, so this sees datagrams for unconnected (listening) ones.
 * An answer to what the pod sent passes; strict mTLS admits only mesh pods'
 * addresses (UDP carries no identity); an ingress-isolated pod only what
 * ingress_allow lists under UDP. Let through: the normal lookup delivers it. */
static __always_inline int weft_udp_lookup(const struct weft_inbound_key *k, __u16 port,
					   const struct weft_inbound_target *t, const __u32 *raddr,
					   __be16 rport)
{
	struct weft_udp_flow f = {};
	__u16 fam = k->family;

	/* Remembered only where the pod's answers would otherwise meet its egress
	 * policy: nothing a permissive pod receives fills udp_flows. */
	int remember = t->flags & WEFT_WL_F_EGRESS_ISOLATED;

	weft_udp_flow_init(&f, t->workload_id, port, rport, fam, raddr);
	if (!(t->flags & (WEFT_WL_F_STRICT | WEFT_WL_F_INGRESS_ISOLATED))) {
		if (remember)
			weft_udp_note(&f);
		return SK_PASS;
	}
	/* Answers do not refresh the exchange: only the pod's own datagrams do. */
	if (weft_udp_is_reply(&f))
		return SK_PASS;
	if ((t->flags & WEFT_WL_F_STRICT) && !weft_is_mesh_peer(fam, raddr)) {
		weft_refuse(k, port, t, IPPROTO_UDP_);
		return SK_DROP;
	}
	if ((t->flags & WEFT_WL_F_INGRESS_ISOLATED) &&
	    !weft_peer_allowed(&ingress_allow,
			       weft_policy_key_id(t->workload_id, t->flags & WEFT_WL_F_INGRESS_GEN),
			       IPPROTO_UDP_, fam, raddr, port)) {
		weft_refuse(k, port, t, IPPROTO_UDP_);
		return SK_DROP;
	}
	/* Let in by policy: the pod's answers pass its egress policy as replies. */
	if (remember)
		weft_udp_note(&f);
	return SK_PASS;
}

SEC("sk_lookup")
int weft_sk_lookup(struct bpf_sk_lookup *ctx)
{
	struct weft_inbound_key k = {};
	struct weft_inbound_target *t;
	struct bpf_sock *sk;
	__u16 port = (__u16)ctx->local_port;
	__u32 r4, r6[4];
	__u32 proto = ctx->protocol;
	__be16 rport;
	__u32 idx;
	long err;

	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
		return SK_PASS;
	/* Mesh peers arrive on HBONE; the other weft ports listen on loopback only,
	 * so any other TCP port of the pod's address belongs to the app. */
	if (proto == IPPROTO_TCP_ && port == WEFT_PORT_HBONE)
		return SK_PASS;
	rport = (__be16)ctx->remote_port;
	/* The peer's address, each ctx field read once and unconditionally: the
	 * verifier refuses the pointer arithmetic the compiler makes of reads that
	 * depend on the family. */
	r4 = ctx->remote_ip4;
	r6[0] = ctx->remote_ip6[0];
	r6[1] = ctx->remote_ip6[1];
	r6[2] = ctx->remote_ip6[2];
	r6[3] = ctx->remote_ip6[3];
	/* The proxy reaches the app from 127.0.0.6 (a loopback source no outside
	 * peer can have); that must not be steered back to the proxy. */
	if (ctx->family == WEFT_AF_INET && weft_is_loopback4(r4))
		return SK_PASS;
	if (ctx->family == WEFT_AF_INET6 && weft_is_loopback6(r6))
		return SK_PASS;
	t = weft_target(ctx, &k, port);
	if (!t)
		return SK_PASS;
	if (proto == IPPROTO_UDP_)
		return weft_udp_lookup(&k, port, t, k.family == WEFT_AF_INET ? &r4 : r6, rport);
	if (t->flags & WEFT_WL_F_STRICT) {
		/* Strict mTLS: plaintext from outside the mesh is refused at once. */
		weft_refuse(&k, port, t, IPPROTO_TCP_);
		return SK_DROP;
	}
	if (t->flags & WEFT_WL_F_INGRESS_ISOLATED) {
		/* NetworkPolicy ingress for plaintext peers: refused here, before any socket. */
		__u16 fam = k.family;

		if (!weft_peer_allowed(&ingress_allow,
				       weft_policy_key_id(t->workload_id, t->flags & WEFT_WL_F_INGRESS_GEN),
				       IPPROTO_TCP_, fam, fam == WEFT_AF_INET ? &r4 : r6, port)) {
			weft_refuse(&k, port, t, IPPROTO_TCP_);
			return SK_DROP;
		}
	}
	idx = t->sock_index;
	sk = bpf_map_lookup_elem(&inbound_socks, &idx);
	/* A steered address without its listener refuses rather than leaking
	 * around the proxy (fail closed). */
	if (!sk)
		return SK_DROP;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
