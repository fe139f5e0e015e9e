//! A notification receiver for end-to-end tests: a hyper server on loopback that opens each
//! notification with a client and answers its `Reply`, as a merchant's handler would.

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_chain::notification::{Notification, Reply};
use wechatpay_chain::Wechatpay;

/// Starts the receiver; returns its `notify_url` and what it opened (or the error's text).
pub(crate) async fn listener(
    wxpay: Wechatpay,
) -> (
    String,
    mpsc::UnboundedReceiver<Result<Notification, String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (tx, wxpay) = (tx.clone(), wxpay.clone());
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let (tx, wxpay) = (tx.clone(), wxpay.clone());
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let reply = match wxpay.notification(&parts.headers, &body).await {
                        Ok(n) => {
                            let _ = tx.send(Ok(n));
                            Reply::success()
                        }
                        Err(e) => {
                            let reply = Reply::for_error(&e);
                            let _ = tx.send(Err(e.to_string()));
                            reply
                        }
                    };
                    Ok::<_, hyper::Error>(reply.into_http().map(Full::new))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}
