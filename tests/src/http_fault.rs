//! An HTTP proxy on 127.0.0.1 in front of a real server that answers some requests itself:
//! the one in-process fake of the HTTP tests, for what no real server here can be made to
//! do on demand (answer 503 or 429 with a Retry-After). Every other request goes to the
//! real server unchanged, one request per connection; it also counts what clients send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// Which requests the proxy answers itself, and how.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The request method it applies to, e.g. "PUT".
    pub method: &'static str,
    /// How many such requests it answers before it lets them through.
    pub times: usize,
    pub status: u16,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

/// One request the proxy saw: when, its method, and whether the proxy answered it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub faulted: bool,
    /// The bytes of the request's body.
    pub body: usize,
}

pub struct HttpFault {
    /// `http://127.0.0.1:PORT`: use it as the endpoint in place of the real server's.
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HttpFault {
    /// A proxy to the server on `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16, fault: Fault) -> HttpFault {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let left = Arc::new(Mutex::new(fault.times));
        let shared = Arc::clone(&seen);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (seen, left, fault) = (Arc::clone(&shared), Arc::clone(&left), fault.clone());
                thread::spawn(move || serve(client, upstream_port, &fault, &left, &seen));
            }
        });
        HttpFault { endpoint, seen }
    }

    /// A proxy that only passes requests through (and counts them).
    pub fn counting(upstream_port: u16) -> HttpFault {
        let none = Fault {
            method: "",
            times: 0,
            status: 0,
            retry_after: None,
        };
        HttpFault::start(upstream_port, none)
    }

    /// The bytes of every request body so far.
    pub fn sent(&self) -> u64 {
        self.seen().iter().map(|seen| seen.body as u64).sum()
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    client: TcpStream,
    upstream_port: u16,
    fault: &Fault,
    left: &Mutex<usize>,
    seen: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some((method, head, body)) = read_request(&mut reader) else {
        return;
    };
    let faulted = method == fault.method && {
        let mut left = left.lock().unwrap();
        let take = *left > 0;
        *left = left.saturating_sub(1);
        take
    };
    seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        method,
        faulted,
        body: body.len(),
    });
    let mut client = client;
    if faulted {
        let retry_after = fault
            .retry_after
            .map(|seconds| format!("Retry-After: {seconds}\r\n"))
            .unwrap_or_default();
        let answer = format!(
            "HTTP/1.1 {} Fault\r\n{retry_after}Content-Length: 0\r\nConnection: close\r\n\r\n",
            fault.status
        );
        let _ = client.write_all(answer.as_bytes());
    } else if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) {
        let _ = upstream
            .write_all(&head)
            .and_then(|_| upstream.write_all(&body));
        let mut response = Vec::new();
        let _ = upstream.read_to_end(&mut response);
        let _ = client.write_all(&closing(&response));
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// A request's method, its head (asking the server to close after it) and its body.
fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut method = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if method.is_empty() {
            method = line.split(' ').next()?.to_string();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, head, body))
}

/// `response` with `Connection: close` in its head, so that the client opens a new
/// connection (and the proxy sees it) for its next request.
fn closing(response: &[u8]) -> Vec<u8> {
    let Some(end) = response.windows(2).position(|pair| pair == b"\r\n") else {
        return response.to_vec();
    };
    let mut closed = response[..end + 2].to_vec();
    closed.extend_from_slice(b"Connection: close\r\n");
    closed.extend_from_slice(&response[end + 2..]);
    closed
}
