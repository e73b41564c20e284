//! A minimal SOCKS5 proxy on 127.0.0.1 (RFC 1928: no authentication, CONNECT to an
//! IPv4 address or a domain name) for the tests: it records what it was asked to reach,
//! can send every request to one loopback address instead of its target (so that a relay
//! "at" `relay.example.org` is a test relay, and nothing leaves the machine), and can
//! refuse some ports, as a regional block would refuse one relay to one member only.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the test proxy was asked to reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A name the proxy resolved itself (what Tor needs: no local DNS).
    Domain(String, u16),
    /// An IPv4 address.
    Ip(SocketAddr),
}

/// A SOCKS5 proxy on 127.0.0.1 that relays CONNECTs and records their targets.
pub struct Socks5Proxy {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<Target>>>,
    blocked: Arc<Mutex<BTreeSet<u16>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Socks5Proxy {
    /// A proxy that connects each request to its target.
    pub async fn start() -> Socks5Proxy {
        Self::start_to(None).await
    }

    /// A proxy that connects every request to `to`, whatever its target.
    pub async fn start_redirecting(to: SocketAddr) -> Socks5Proxy {
        Self::start_to(Some(to)).await
    }

    async fn start_to(redirect: Option<SocketAddr>) -> Socks5Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let blocked = Arc::new(Mutex::new(BTreeSet::new()));
        let (seen, refused) = (targets.clone(), blocked.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (seen, refused) = (seen.clone(), refused.clone());
                tokio::spawn(async move {
                    let _ = serve(client, seen, refused, redirect).await;
                });
            }
        });
        Socks5Proxy {
            addr,
            targets,
            blocked,
            task,
        }
    }

    /// The proxy's URL, for `--proxy`.
    pub fn url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    /// What it was asked to reach, in order.
    pub fn targets(&self) -> Vec<Target> {
        self.targets.lock().unwrap().clone()
    }

    /// Refuses (from now on) every CONNECT to `port`, as a block would.
    pub fn block(&self, port: u16) {
        self.blocked.lock().unwrap().insert(port);
    }

    /// Lets CONNECTs to `port` through again.
    pub fn unblock(&self, port: u16) {
        self.blocked.lock().unwrap().remove(&port);
    }
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One SOCKS5 session (RFC 1928): greeting (no authentication), CONNECT (to `redirect`
/// if given, else to the target; refused for a blocked port), then bytes both ways until
/// either side closes.
async fn serve(
    mut client: TcpStream,
    seen: Arc<Mutex<Vec<Target>>>,
    blocked: Arc<Mutex<BTreeSet<u16>>>,
    redirect: Option<SocketAddr>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods).await?;
    if head[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    client.write_all(&[5, 0]).await?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    if req[0] != 5 || req[1] != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let target = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            let port = client.read_u16().await?;
            Target::Ip(SocketAddr::from((Ipv4Addr::from(ip), port)))
        }
        3 => {
            let len = client.read_u8().await?;
            let mut name = vec![0u8; len as usize];
            client.read_exact(&mut name).await?;
            let port = client.read_u16().await?;
            Target::Domain(String::from_utf8_lossy(&name).into_owned(), port)
        }
        _ => {
            client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    seen.lock().unwrap().push(target.clone());
    let port = match &target {
        Target::Ip(a) => a.port(),
        Target::Domain(_, port) => *port,
    };
    if blocked.lock().unwrap().contains(&port) {
        // "Connection not allowed by ruleset".
        client.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let upstream = match (&redirect, &target) {
        (Some(to), _) => TcpStream::connect(to).await,
        (None, Target::Ip(a)) => TcpStream::connect(a).await,
        (None, Target::Domain(name, port)) => TcpStream::connect((name.as_str(), *port)).await,
    };
    let mut upstream = match upstream {
        Ok(s) => s,
        Err(_) => {
            client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
