//! What a plugin instance may touch: nothing. The WASI imports that a Rust guest's std
//! library needs are present but grant no capability: no preopened directories, no
//! network, no environment or arguments, clocks frozen at zero; stdout is dropped and
//! stderr kept (bounded) so that a panic message can be reported. Nothing may wait: the
//! imports that sleep or block on a pollable stop the call ([`BLOCKING_IMPORTS`]).

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How much of a plugin's stderr is kept for error messages.
const STDERR_CAPACITY: usize = 16 * 1024;

/// The WASI functions that wait (a timer, a pollable), by the interface (as wasmtime-wasi
/// defines it; a plugin built for any 0.2.x is matched to it) and the function.
const BLOCKING_IMPORTS: &[(&str, &str)] = &[
    ("wasi:clocks/monotonic-clock@0.2.12", "subscribe-duration"),
    ("wasi:clocks/monotonic-clock@0.2.12", "subscribe-instant"),
    ("wasi:io/poll@0.2.12", "poll"),
    ("wasi:io/poll@0.2.12", "[method]pollable.block"),
    (
        "wasi:io/streams@0.2.12",
        "[method]input-stream.blocking-read",
    ),
    (
        "wasi:io/streams@0.2.12",
        "[method]input-stream.blocking-skip",
    ),
];

/// A plugin called a WASI function that would wait; the call is stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("called {interface}#{function}, which would wait, and plugins may not wait")]
pub struct BlockingImport {
    pub interface: &'static str,
    pub function: &'static str,
}

/// Replace every function of [`BLOCKING_IMPORTS`] in `linker` (which holds WASI already)
/// by one that stops the call at once.
pub fn refuse_blocking_imports(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    for &(interface, function) in BLOCKING_IMPORTS {
        linker
            .instance(interface)?
            .func_new(function, move |_, _, _, _| {
                Err(wasmtime::Error::new(BlockingImport {
                    interface,
                    function,
                }))
            })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

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
