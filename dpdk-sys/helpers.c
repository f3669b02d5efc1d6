/* The few DPDK macros that bindgen cannot turn into Rust. */
#include "wrapper.h"

/* rte_errno is a per-lcore (thread-local) variable behind a macro. */
int geneve_rte_errno(void) { return rte_errno; }

/* rte_pktmbuf_mtod is a macro over buf_addr + data_off. */
void *geneve_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

/* RTE_BIT64-based flags bindgen cannot evaluate, exported as constants. */
const uint64_t GENEVE_ETH_RSS_IP = RTE_ETH_RSS_IP;
const uint64_t GENEVE_ETH_RSS_UDP = RTE_ETH_RSS_UDP;
const uint64_t GENEVE_ETH_RSS_TCP = RTE_ETH_RSS_TCP;
const uint64_t GENEVE_ETH_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
const uint64_t GENEVE_ETH_TX_OFFLOAD_UDP_CKSUM = RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
const uint64_t GENEVE_ETH_TX_OFFLOAD_TCP_CKSUM = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
const uint64_t GENEVE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM;
const uint64_t GENEVE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM = RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM;
const uint64_t GENEVE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO = RTE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO;
const uint64_t GENEVE_ETH_TX_OFFLOAD_TCP_TSO = RTE_ETH_TX_OFFLOAD_TCP_TSO;
const uint64_t GENEVE_ETH_TX_OFFLOAD_MULTI_SEGS = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
const uint64_t GENEVE_ETH_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
const uint64_t GENEVE_ETH_RX_OFFLOAD_RSS_HASH = RTE_ETH_RX_OFFLOAD_RSS_HASH;
const uint64_t GENEVE_ETH_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
const uint64_t GENEVE_ETH_RX_OFFLOAD_UDP_CKSUM = RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
const uint64_t GENEVE_ETH_RX_OFFLOAD_TCP_CKSUM = RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
const uint64_t GENEVE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM;
const uint64_t GENEVE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM = RTE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM;
const uint64_t GENEVE_ETH_RX_OFFLOAD_SCATTER = RTE_ETH_RX_OFFLOAD_SCATTER;
const uint64_t GENEVE_MBUF_F_TX_TUNNEL_GENEVE = RTE_MBUF_F_TX_TUNNEL_GENEVE;
const uint64_t GENEVE_MBUF_F_TX_OUTER_IPV4 = RTE_MBUF_F_TX_OUTER_IPV4;
const uint64_t GENEVE_MBUF_F_TX_OUTER_IPV6 = RTE_MBUF_F_TX_OUTER_IPV6;
const uint64_t GENEVE_MBUF_F_TX_OUTER_IP_CKSUM = RTE_MBUF_F_TX_OUTER_IP_CKSUM;
const uint64_t GENEVE_MBUF_F_TX_OUTER_UDP_CKSUM = RTE_MBUF_F_TX_OUTER_UDP_CKSUM;
const uint64_t GENEVE_MBUF_F_TX_IPV4 = RTE_MBUF_F_TX_IPV4;
const uint64_t GENEVE_MBUF_F_TX_IPV6 = RTE_MBUF_F_TX_IPV6;
const uint64_t GENEVE_MBUF_F_TX_IP_CKSUM = RTE_MBUF_F_TX_IP_CKSUM;
const uint64_t GENEVE_MBUF_F_TX_UDP_CKSUM = RTE_MBUF_F_TX_UDP_CKSUM;
const uint64_t GENEVE_MBUF_F_TX_TCP_CKSUM = RTE_MBUF_F_TX_TCP_CKSUM;
const uint64_t GENEVE_MBUF_F_TX_TCP_SEG = RTE_MBUF_F_TX_TCP_SEG;
const uint64_t GENEVE_MBUF_F_RX_IP_CKSUM_BAD = RTE_MBUF_F_RX_IP_CKSUM_BAD;
const uint64_t GENEVE_MBUF_F_RX_IP_CKSUM_GOOD = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
const uint64_t GENEVE_MBUF_F_RX_L4_CKSUM_BAD = RTE_MBUF_F_RX_L4_CKSUM_BAD;
const uint64_t GENEVE_MBUF_F_RX_L4_CKSUM_GOOD = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
const uint64_t GENEVE_MBUF_F_RX_OUTER_L4_CKSUM_BAD = RTE_MBUF_F_RX_OUTER_L4_CKSUM_BAD;

#include <stdio.h>
#include <stdlib.h>

static FILE *capture_stream;
static char *capture_buf;
static size_t capture_len;

int geneve_log_capture_start(void)
{
	if (capture_stream != NULL)
		return 0;
	free(capture_buf);
	capture_buf = NULL;
	capture_len = 0;
	capture_stream = open_memstream(&capture_buf, &capture_len);
	if (capture_stream == NULL)
		return -1;
	return rte_openlog_stream(capture_stream);
}

const char *geneve_log_capture_stop(void)
{
	if (capture_stream == NULL)
		return "";
	rte_openlog_stream(NULL);
	fclose(capture_stream);
	capture_stream = NULL;
	return capture_buf != NULL ? capture_buf : "";
}
