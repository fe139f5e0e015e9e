//! A loopback HTTP proxy for the proxy tests: it reports each request head and answers with a
//! fixed reply, so no traffic leaves loopback.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Listens on 127.0.0.1; on each connection reads the request head, reports it, writes `reply`
/// and closes. Returns its address and the heads it saw, in order.
pub(crate) async fn fake_proxy(
    reply: &'static [u8],
) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 8192];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                    match socket.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => len += n,
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buf[..len]).into_owned());
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (addr, rx)
}
