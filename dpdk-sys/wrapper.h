/* The DPDK API surface geneve-gw binds to. */
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_version.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_per_lcore.h>
#include <rte_cycles.h>
#include <rte_memory.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_ethdev.h>
#include <rte_dev.h>
#include <rte_bus_vdev.h>
#include <rte_flow.h>
#include <rte_telemetry.h>
#include <rte_ring.h>
#include <rte_pdump.h>

/* Macros and per-lcore variables bindgen cannot express (see helpers.c). */
int geneve_rte_errno(void);
void *geneve_pktmbuf_mtod(struct rte_mbuf *m);
int geneve_pktmbuf_linearize(struct rte_mbuf *m);

/* RTE_BIT64-based flags bindgen cannot evaluate, exported as constants. */
extern const uint64_t GENEVE_ETH_RSS_IP;
extern const uint64_t GENEVE_ETH_RSS_UDP;
extern const uint64_t GENEVE_ETH_RSS_TCP;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_UDP_CKSUM;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_TCP_CKSUM;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_TCP_TSO;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_MULTI_SEGS;
extern const uint64_t GENEVE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_RSS_HASH;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_UDP_CKSUM;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_TCP_CKSUM;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM;
extern const uint64_t GENEVE_ETH_RX_OFFLOAD_SCATTER;
extern const uint64_t GENEVE_MBUF_F_TX_TUNNEL_GENEVE;
extern const uint64_t GENEVE_MBUF_F_TX_OUTER_IPV4;
extern const uint64_t GENEVE_MBUF_F_TX_OUTER_IPV6;
extern const uint64_t GENEVE_MBUF_F_TX_OUTER_IP_CKSUM;
extern const uint64_t GENEVE_MBUF_F_TX_OUTER_UDP_CKSUM;
extern const uint64_t GENEVE_MBUF_F_TX_IPV4;
extern const uint64_t GENEVE_MBUF_F_TX_IPV6;
extern const uint64_t GENEVE_MBUF_F_TX_IP_CKSUM;
extern const uint64_t GENEVE_MBUF_F_TX_UDP_CKSUM;
extern const uint64_t GENEVE_MBUF_F_TX_TCP_CKSUM;
extern const uint64_t GENEVE_MBUF_F_TX_TCP_SEG;
extern const uint64_t GENEVE_MBUF_F_RX_IP_CKSUM_BAD;
extern const uint64_t GENEVE_MBUF_F_RX_IP_CKSUM_GOOD;
extern const uint64_t GENEVE_MBUF_F_RX_L4_CKSUM_BAD;
extern const uint64_t GENEVE_MBUF_F_RX_L4_CKSUM_GOOD;
extern const uint64_t GENEVE_MBUF_F_RX_OUTER_L4_CKSUM_BAD;

/* DPDK log capture, so a failure becomes one clear line of ours with DPDK's own cause. */
int geneve_log_capture_start(void);
/* Stops capturing; returns the captured text (owned by helpers.c until the next start). */
const char *geneve_log_capture_stop(void);
/* The messages of the last capture at error level or worse (owned as above). */
const char *geneve_log_capture_errors(void);
