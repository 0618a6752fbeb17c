//! A TCP proxy on loopback that a test can cut off as a network partition would: while
//! cut, bytes stop flowing both ways and new connections hang, without any connection
//! being closed (no reset tells either side); healed, everything flows again.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A proxy from a free loopback port to `target`.
pub struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let (accept_cut, accept_stopped) = (cut.clone(), stopped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let cut = accept_cut.clone();
                std::thread::spawn(move || {
                    // A connection made during a cut waits, as a SYN would go unanswered.
                    while cut.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let Ok(server) = TcpStream::connect(target) else {
                        let _ = client.shutdown(Shutdown::Both);
                        return;
                    };
                    pipe(&client, &server, cut.clone());
                    pipe(&server, &client, cut);
                });
            }
        });
        Proxy { port, cut, stopped }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops every byte (the connections stay open).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// Lets bytes flow again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.heal();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` on a thread of its own, holding bytes while cut.
fn pipe(from: &TcpStream, to: &TcpStream, cut: Arc<AtomicBool>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            while cut.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
