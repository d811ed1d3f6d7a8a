/* Generated from agent/src/tables/layout.ts by `make layout`. Do not edit. */
#ifndef WEFT_LAYOUT_H
#define WEFT_LAYOUT_H

#define WEFT_LAYOUT_VERSION 8
#define WEFT_PORT_OUTBOUND 15001
#define WEFT_PORT_INBOUND 15006
#define WEFT_PORT_HBONE 15008
#define WEFT_PORT_ADMIN 15000
#define WEFT_PORT_METRICS 15020
#define WEFT_PORT_HEALTH 15021
#define WEFT_META_F_SPLICE 1
#define WEFT_WL_F_STRICT 1
#define WEFT_WL_F_EGRESS_ISOLATED 2
#define WEFT_WL_F_INGRESS_ISOLATED 4
#define WEFT_WL_F_EGRESS_GEN 8
#define WEFT_WL_F_INGRESS_GEN 16
#define WEFT_POLICY_GEN_BIT 2147483648
#define WEFT_EGRESS_F_ALL_PORTS 1
#define WEFT_EGRESS_MAX_RANGES 8
#define WEFT_EV_CONNECT 1
#define WEFT_EV_SK_LOOKUP 2
#define WEFT_EV_SENDMSG 3
#define WEFT_PROTO_TCP 6
#define WEFT_PROTO_UDP 17
#define WEFT_UDP_FLOW_NS 30000000000
#define WEFT_DATAGRAM_EVENTS_PER_S 1000
#define WEFT_VERDICT_ALLOW 1
#define WEFT_VERDICT_DENY 2
#define WEFT_VERDICT_REDIRECT 3
#define WEFT_AF_INET 2
#define WEFT_AF_INET6 10

/* Map-layout version and node-wide switches. (8 bytes) */
struct weft_meta {
	__u32 layout_version;
	__u32 flags;
};

/* An enrolled cgroup: which workload it is. (8 bytes) */
struct weft_workload {
	__u32 id;
	__u32 flags;
};

/* Where a redirected connection was going; IPv4 sits in addr[0..4). (24 bytes) */
struct weft_orig_dst {
	__u8 addr[16];
	__be16 port;
	__u16 family;
	__u32 workload_id;
};

/* LPM key: a workload and an IP protocol, then a peer prefix (IPv4 as ::ffff:a.b.c.d); prefixlen counts workload_id and protocol too. (28 bytes) */
struct weft_egress_prefix {
	__u32 prefixlen;
	__u32 workload_id;
	__u32 protocol;
	__u8 addr[16];
};

/* Ports a prefix is allowed on: count (lo, hi) u16 pairs in ranges, host order. (40 bytes) */
struct weft_egress_ports {
	__u32 policy_id;
	__u16 flags;
	__u16 count;
	__u8 ranges[32];
};

/* A local address sk_lookup steers. (20 bytes) */
struct weft_inbound_key {
	__u8 addr[16];
	__u16 port;
	__u16 family;
};

/* Where sk_lookup sends a steered address, and how strictly. (12 bytes) */
struct weft_inbound_target {
	__u32 sock_index;
	__u32 workload_id;
	__u32 flags;
};

/* A redirected connection as the proxy sees it: which workload, from which local port. (8 bytes) */
struct weft_conn_key {
	__u32 workload_id;
	__u16 port;
	__u16 family;
};

/* One end of a loopback connection. (24 bytes) */
struct weft_sock_key {
	__u64 netns;
	__be32 local_ip4;
	__be32 remote_ip4;
	__u32 local_port;
	__u32 remote_port;
};

/* A datapath verdict, sent through the ring buffer. (64 bytes) */
struct weft_event {
	__u64 ts_ns;
	__u64 cgroup_id;
	__u64 cookie;
	__u32 workload_id;
	__u32 policy_id;
	__u8 addr[16];
	__be16 port;
	__u16 family;
	__u16 rule;
	__u8 kind;
	__u8 verdict;
	__u8 protocol;
	__u8 pad[7];
};

/* A UDP exchange of a workload: its local port and the peer (IPv4 as ::ffff:a.b.c.d). (28 bytes) */
struct weft_udp_flow {
	__u32 workload_id;
	__u16 local_port;
	__be16 remote_port;
	__u16 family;
	__u16 pad;
	__u8 addr[16];
};

/* Datagram refusal events sent in the current second, and those left out since the maps were made. (16 bytes) */
struct weft_event_budget {
	__u64 window_ns;
	__u32 sent;
	__u32 suppressed;
};

/* The address of a pod in the mesh anywhere in the cluster (IPv4 as ::ffff:a.b.c.d). (16 bytes) */
struct weft_mesh_peer {
	__u8 addr[16];
};

/* Entry 0: layout version and switches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct weft_meta);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meta SEC(".maps");

/* cgroup id → workload; absent means not in the mesh. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct weft_workload);
	__uint(max_entries, 16384);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} enrolled SEC(".maps");

/* socket cookie → original destination of a redirected connect(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct weft_orig_dst);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} orig_dst SEC(".maps");

/* Established redirected connection → original destination, for the proxy on accept. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_orig_dst);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_orig SEC(".maps");

/* What an egress-isolated workload may reach, per protocol (NetworkPolicy egress), longest prefix wins. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct weft_egress_prefix);
	__type(value, struct weft_egress_ports);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} egress_allow SEC(".maps");

/* Sources an ingress-isolated workload admits in plaintext, per protocol (NetworkPolicy ingress), by its local port. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct weft_egress_prefix);
	__type(value, struct weft_egress_ports);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ingress_allow SEC(".maps");

/* Local address (port 0: any port) → its listener in inbound_socks and its mode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct weft_inbound_key);
	__type(value, struct weft_inbound_target);
	__uint(max_entries, 16384);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} inbound_targets SEC(".maps");

/* Listening sockets sk_lookup may steer to. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16384);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} inbound_socks SEC(".maps");

/* Established loopback sockets of enrolled workloads, for sk_msg. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__type(key, struct weft_sock_key);
	__type(value, __u64);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} splice_socks SEC(".maps");

/* UDP exchanges an enrolled workload took part in → when its last datagram went by (ns); answers within UDP_FLOW_NS pass as replies. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct weft_udp_flow);
	__type(value, __u64);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udp_flows SEC(".maps");

/* Entry 0: how many datagram refusal events went out this second (at most DATAGRAM_EVENTS_PER_S), and how many were left out. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct weft_event_budget);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} event_budget SEC(".maps");

/* Addresses of mesh pods cluster-wide: strict mTLS admits UDP from these only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct weft_mesh_peer);
	__type(value, __u32);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mesh_peers SEC(".maps");

/* Verdict events to userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");
struct weft_event *const __weft_record_events = 0;

#endif
