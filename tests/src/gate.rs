//! A door between clients and a relay, to take the relay away and bring it back on the
//! same address (a restarted relay gets new ports; clients keep their URL): a TCP
//! forwarder on loopback that can be closed (every connection cut, nothing accepted)
//! and reopened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The forwarder: `url()` is what the clients use.
pub struct Gate {
    addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    open: Arc<AtomicBool>,
}

impl Gate {
    /// A gate to `target`, open, on a free loopback port.
    pub async fn new(target: std::net::SocketAddr) -> Gate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gate");
        let addr = listener.local_addr().expect("gate addr");
        let mut g = Gate {
            addr,
            target,
            task: None,
            open: Arc::new(AtomicBool::new(false)),
        };
        g.serve(listener);
        g
    }

    /// The relay's URL through the gate.
    pub fn url(&self) -> String {
        format!("ws://{}{}", self.addr, kith_protocol::WS_PATH)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target;
        let open = Arc::new(AtomicBool::new(true));
        self.open = open.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let open = open.clone();
                conns.spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    if open.load(Ordering::SeqCst) {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Cuts every connection and refuses new ones.
    pub fn close(&mut self) {
        self.open.store(false, Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            // Aborting drops the listener and the JoinSet, which aborts every copy.
            t.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn reopen(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "could not rebind the gate: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }
}
