/* fopencookie (log capture) is a GNU extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The few DPDK macros that bindgen cannot turn into Rust. */
#include "wrapper.h"

/* rte_errno is a per-lcore (thread-local) variable behind a macro. */
int geneve_rte_errno(void) { return rte_errno; }

/* rte_pktmbuf_mtod is a macro over buf_addr + data_off. */
void *geneve_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

/* rte_pktmbuf_linearize is static inline. */
int geneve_pktmbuf_linearize(struct rte_mbuf *m) { return rte_pktmbuf_linearize(m); }

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
#include <sys/types.h>

/*
 * DPDK log capture. DPDK writes each message with one vfprintf + fflush on
 * its log stream (rte_vlog), so the cookie stream's write callback runs while
 * rte_log_cur_msg_loglevel() is that message's level: everything goes to
 * capture_buf, messages at error level or worse also to capture_err_buf.
 */
static FILE *capture_stream;
static FILE *capture_all;
static FILE *capture_err;
static char *capture_buf;
static size_t capture_len;
static char *capture_err_buf;
static size_t capture_err_len;

static ssize_t capture_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	fwrite(buf, 1, size, capture_all);
	if (rte_log_cur_msg_loglevel() <= RTE_LOG_ERR)
		fwrite(buf, 1, size, capture_err);
	return (ssize_t)size;
}

static void capture_close(void)
{
	if (capture_stream != NULL)
		fclose(capture_stream);
	if (capture_all != NULL)
		fclose(capture_all);
	if (capture_err != NULL)
		fclose(capture_err);
	capture_stream = capture_all = capture_err = NULL;
}

int geneve_log_capture_start(void)
{
	cookie_io_functions_t io = { .write = capture_write };

	if (capture_stream != NULL)
		return 0;
	free(capture_buf);
	free(capture_err_buf);
	capture_buf = capture_err_buf = NULL;
	capture_len = capture_err_len = 0;
	capture_all = open_memstream(&capture_buf, &capture_len);
	capture_err = open_memstream(&capture_err_buf, &capture_err_len);
	if (capture_all != NULL && capture_err != NULL)
		capture_stream = fopencookie(NULL, "w", io);
	if (capture_stream == NULL) {
		capture_close();
		return -1;
	}
	return rte_openlog_stream(capture_stream);
}

const char *geneve_log_capture_stop(void)
{
	if (capture_stream == NULL)
		return capture_buf != NULL ? capture_buf : "";
	rte_openlog_stream(NULL);
	capture_close();
	return capture_buf != NULL ? capture_buf : "";
}

const char *geneve_log_capture_errors(void)
{
	return capture_err_buf != NULL ? capture_err_buf : "";
}
