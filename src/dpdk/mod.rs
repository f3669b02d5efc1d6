//! Safe wrappers over DPDK: the only home of `unsafe` outside dpdk-sys.
