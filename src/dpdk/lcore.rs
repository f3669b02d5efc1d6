//! Worker lcores: launching closures on EAL lcores, the TSC.
use std::os::raw::{c_int, c_void};

/// The id of the calling thread's lcore (u32::MAX on a non-EAL thread).
pub fn current_lcore() -> u32 {
    // SAFETY: reads a thread-local; no preconditions.
    unsafe { dpdk_sys::rte_lcore_id() }
}

/// TSC cycles now.
#[inline(always)]
pub fn tsc_now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86_64.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: no preconditions beyond a running EAL.
        unsafe { dpdk_sys::rte_get_tsc_cycles() }
    }
}

/// TSC frequency as measured by the EAL.
pub fn tsc_hz() -> u64 {
    // SAFETY: no preconditions beyond a running EAL.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// The lcores the EAL gave us besides the main one, in order.
pub fn worker_lcores() -> Vec<WorkerLcore> {
    let mut out = Vec::new();
    // SAFETY: iteration over the EAL's lcore table; -1 starts from the beginning.
    let mut i = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
    while i < dpdk_sys::RTE_MAX_LCORE {
        out.push(WorkerLcore(i));
        // SAFETY: as above.
        i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
    }
    out
}

/// An EAL worker lcore id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLcore(pub u32);

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Box<Job> leaked by launch(), handed to exactly one lcore.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    job()
}

/// Closures running on worker lcores; `wait` joins them.
pub struct LaunchedWorkers {
    lcores: Vec<u32>,
}

impl LaunchedWorkers {
    /// Starts each job on its lcore. A job gets the lcore's DPDK identity, so
    /// mempool caches work there.
    pub fn launch(
        jobs: Vec<(WorkerLcore, Box<dyn FnOnce() -> i32 + Send + 'static>)>,
    ) -> Result<LaunchedWorkers, super::DpdkError> {
        let mut lcores = Vec::new();
        for (lc, job) in jobs {
            let arg = Box::into_raw(Box::new(job)) as *mut c_void;
            // SAFETY: lc is a worker lcore from worker_lcores(); the trampoline
            // takes back ownership of arg exactly once.
            let rc = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lc.0) };
            if rc != 0 {
                // SAFETY: the launch failed, so arg was not consumed: reclaim it.
                drop(unsafe { Box::from_raw(arg as *mut Job) });
                let launched = LaunchedWorkers { lcores };
                launched.wait();
                return Err(super::DpdkError::new(
                    format!("cannot launch a worker on lcore {}", lc.0),
                    rc,
                ));
            }
            lcores.push(lc.0);
        }
        Ok(LaunchedWorkers { lcores })
    }

    /// Waits for every job; returns their exit values.
    pub fn wait(self) -> Vec<i32> {
        self.lcores
            .iter()
            // SAFETY: waits on an lcore we launched on.
            .map(|&l| unsafe { dpdk_sys::rte_eal_wait_lcore(l) })
            .collect()
    }
}
