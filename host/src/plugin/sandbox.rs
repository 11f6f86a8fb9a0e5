//! What a plugin instance may touch: nothing. The WASI imports that a Rust guest's std
//! library needs are present but grant no capability: no preopened directories, no
//! network, no environment or arguments, clocks frozen at zero; stdout is dropped and
//! stderr kept (bounded) so that a panic message can be reported.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How much of a plugin's stderr is kept for error messages.
const STDERR_CAPACITY: usize = 16 * 1024;

/// The state a plugin instance's store holds.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryCap,
    stderr: MemoryOutputPipe,
}

impl Sandbox {
    pub fn new(memory_cap: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stdout(SinkOutputStream)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            limits: MemoryCap::new(memory_cap),
            stderr,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }

    /// The largest memory the plugin asked for beyond its cap, if it did.
    pub fn refused_growth(&self) -> Option<usize> {
        self.limits.refused
    }

    /// What the plugin wrote to stderr (a panic message, usually).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A clock that always says zero: plugins must not depend on time.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Refuses memory growth past a cap and remembers that it did.
struct MemoryCap {
    cap: usize,
    refused: Option<usize>,
}

impl MemoryCap {
    fn new(cap: usize) -> Self {
        MemoryCap { cap, refused: None }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
