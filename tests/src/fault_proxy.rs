//! A TCP proxy on loopback that forwards faithfully until a planned fault: a cut, a reset,
//! a stall, or a reset before the server says anything. It counts the bytes it forwards
//! upstream.
//!
//! It is a fake, the only one the fault tests use: a real server cannot be made to lose
//! its network mid-transfer, hang with its connection open, or refuse an address the way a
//! firewall does. The proxy stands for the network between ferry and the server (a link
//! or NAT that drops a long connection, a path that goes silent, an IP allow-list); the
//! server behind it stays real.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What happens to a proxied connection.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Close both sockets once this many bytes went from client to server.
    CutAfter { client_to_server_bytes: u64 },
    /// Reset the client's connection (and close the server's) once this many bytes went
    /// from client to server.
    ResetAfter { client_to_server_bytes: u64 },
    /// Once this many bytes went from client to server, forward nothing more either way
    /// but keep both sockets open.
    StallAfter { client_to_server_bytes: u64 },
    /// Accept, then reset the connection without ever contacting the server.
    ResetBeforeGreeting,
}

/// Which connections the fault applies to; the others are forwarded faithfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    FirstConnection,
    EveryConnection,
}

/// Listens on 127.0.0.1 at a free port and forwards to `upstream`; stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    fault: Fault,
    scope: Scope,
    stopping: AtomicBool,
    connections: AtomicUsize,
    upstream_bytes: AtomicU64,
    /// Every open connection, and every stalled one until the end (which keeps it open
    /// whatever the server does): lets `drop` close them all.
    links: Mutex<Vec<Arc<Link>>>,
}

impl Shared {
    fn forget(&self, link: &Arc<Link>) {
        self.links
            .lock()
            .unwrap()
            .retain(|other| !Arc::ptr_eq(other, link));
    }
}

impl FaultProxy {
    /// The fault applies to every connection.
    pub fn start(upstream: SocketAddr, fault: Fault) -> FaultProxy {
        FaultProxy::start_scoped(upstream, fault, Scope::EveryConnection)
    }

    pub fn start_scoped(upstream: SocketAddr, fault: Fault, scope: Scope) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            fault,
            scope,
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            upstream_bytes: AtomicU64::new(0),
            links: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_until_stopped(&listener, &shared))
        };
        FaultProxy {
            address,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Bytes forwarded from clients to the server so far, over every connection.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream_bytes.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees `stopping`.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for link in self.shared.links.lock().unwrap().drain(..) {
            link.close();
        }
    }
}

fn accept_until_stopped(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let shared = Arc::clone(shared);
        thread::spawn(move || serve(&shared, client));
    }
}

fn serve(shared: &Arc<Shared>, client: TcpStream) {
    let index = shared.connections.fetch_add(1, Ordering::SeqCst);
    let fault = match (index, shared.scope) {
        (0, _) | (_, Scope::EveryConnection) => shared.fault,
        _ => Fault::None,
    };
    let limit = match fault {
        Fault::None => u64::MAX,
        Fault::CutAfter {
            client_to_server_bytes,
        }
        | Fault::ResetAfter {
            client_to_server_bytes,
        }
        | Fault::StallAfter {
            client_to_server_bytes,
        } => client_to_server_bytes,
        Fault::ResetBeforeGreeting => return reset(client),
    };
    let Ok(server) = TcpStream::connect(shared.upstream) else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let link = Arc::new(Link {
        client,
        server,
        faulted: AtomicBool::new(false),
    });
    shared.links.lock().unwrap().push(Arc::clone(&link));
    let downstream = {
        let link = Arc::clone(&link);
        thread::spawn(move || link.server_to_client())
    };
    client_to_server(shared, &link, limit, fault);
    let _ = downstream.join();
    if !matches!(fault, Fault::StallAfter { .. }) {
        shared.forget(&link);
    }
}

/// Closing a socket that holds unread bytes resets the connection (RFC 2525; Linux does):
/// wait for the client's first bytes (an SSH client sends its version at once), then close
/// without reading them. Stable Rust cannot set SO_LINGER, the other way to a reset.
fn reset(client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = client.peek(&mut [0u8; 1]);
}

/// One proxied connection.
struct Link {
    client: TcpStream,
    server: TcpStream,
    /// Set when a stall or reset struck: the sockets are then left to the fault.
    faulted: AtomicBool,
}

/// Forward until `limit` bytes went upstream, then apply `fault`.
fn client_to_server(shared: &Shared, link: &Arc<Link>, limit: u64, fault: Fault) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut forwarded = 0u64;
    while forwarded < limit {
        let read = match (&link.client).read(&mut buffer) {
            Ok(0) | Err(_) => return link.close(),
            Ok(read) => read,
        };
        let allowed = (read as u64).min(limit - forwarded) as usize;
        if (&link.server).write_all(&buffer[..allowed]).is_err() {
            return link.close();
        }
        forwarded += allowed as u64;
        shared
            .upstream_bytes
            .fetch_add(allowed as u64, Ordering::SeqCst);
    }
    match fault {
        // `Shared::links` keeps the sockets open.
        Fault::StallAfter { .. } => link.faulted.store(true, Ordering::SeqCst),
        // The client's socket closes, holding bytes it did not read, once both threads
        // let go of the link: a reset.
        Fault::ResetAfter { .. } => {
            link.faulted.store(true, Ordering::SeqCst);
            shared.forget(link);
            let _ = link.server.shutdown(Shutdown::Both);
        }
        _ => link.close(),
    }
}

impl Link {
    fn server_to_client(&self) {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match (&self.server).read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            if self.faulted.load(Ordering::SeqCst) {
                return;
            }
            if (&self.client).write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        if !self.faulted.load(Ordering::SeqCst) {
            self.close();
        }
    }

    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}
