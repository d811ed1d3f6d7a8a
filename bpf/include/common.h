/* Includes and small helpers every weft BPF program shares. */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "layout.h"

#define IPPROTO_TCP_ WEFT_PROTO_TCP
#define IPPROTO_UDP_ WEFT_PROTO_UDP
#define LOOPBACK4_NET 0x7f000000 /* 127.0.0.0/8, host order */
#define LOOPBACK4 0x7f000001

static __always_inline int weft_is_loopback4(__be32 addr)
{
	return (bpf_ntohl(addr) & 0xff000000) == LOOPBACK4_NET;
}

static __always_inline int weft_is_loopback6(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

/* ::ffff:a.b.c.d, the form an IPv6 socket uses to reach an IPv4 peer. */
static __always_inline int weft_is_v4mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* Ports of the proxy and agent: never steered or redirected. */
static __always_inline int weft_is_own_port(__u16 port)
{
	return port == WEFT_PORT_OUTBOUND || port == WEFT_PORT_INBOUND ||
	       port == WEFT_PORT_HBONE || port == WEFT_PORT_ADMIN ||
	       port == WEFT_PORT_METRICS || port == WEFT_PORT_HEALTH;
}

static __always_inline __u32 weft_meta_flags(void)
{
	__u32 zero = 0;
	struct weft_meta *m = bpf_map_lookup_elem(&meta, &zero);
	return m ? m->flags : 0;
}

#endif
