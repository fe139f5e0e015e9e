//! A password in a URI is never shown. Base URIs, backups, per-request base URIs and absolute
//! chain URLs with `user:password@` are refused (and shown redacted); the proxy is the one place
//! where userinfo is legitimate (proxy authentication), so it is used, and redacted from every
//! `Debug`, error (`Display`, `Debug`, the whole source chain) and trace event, captured at
//! TRACE for hyper-util, rustls and this crate alike.

#[path = "support/capture.rs"]
mod capture;
#[path = "support/fake_proxy.rs"]
mod fake_proxy;
mod support;

use std::time::Duration;

use base64::Engine as _;
use tokio::sync::mpsc;
use wechatpay_chain::{ConfigError, Error, ErrorKind, Method, Options, Wechatpay};

/// One test at a time: one of them sets `HTTPS_PROXY`, which every client build reads.
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const USER: &str = "wxuser";
const PASSWORD: &str = "s3cr3t-P4ss";

/// Fails the test if `text` shows the password or the Basic credentials made from it.
fn assert_clean(what: &str, text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password: {text}"
    );
    assert!(
        !text.contains(&basic),
        "{what} shows the Basic credentials: {text}"
    );
}

fn assert_error_clean(what: &str, e: &Error) {
    assert_clean(what, &capture::error_text(e));
}

/// A proxy that reports each request head, answers with `reply` and closes; its URI carries
/// the user and password.
async fn proxy(reply: &'static [u8]) -> (String, mpsc::UnboundedReceiver<String>) {
    let (addr, heads) = fake_proxy::fake_proxy(reply).await;
    (format!("http://{USER}:{PASSWORD}@{addr}"), heads)
}

/// A client for the default (https) host through `proxy`.
fn through(proxy: Option<&str>) -> Wechatpay {
    let builder = support::builder_at(support::VECTOR_EPOCH)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(8));
    let builder = match proxy {
        Some(p) => builder.proxy(p),
        None => builder,
    };
    assert_clean("Builder Debug", &format!("{builder:?}"));
    let wxpay = builder.build().expect("client");
    assert_clean("Wechatpay Debug", &format!("{wxpay:?}"));
    wxpay
}

async fn get(wxpay: &Wechatpay) -> Error {
    tokio::time::timeout(Duration::from_secs(20), wxpay.v3().certificates().get(()))
        .await
        .expect("bounded")
        .expect_err("the proxy never lets it through")
}

#[tokio::test]
async fn a_proxy_password_is_used_but_never_shown() {
    let _env = ENV.lock().await;
    capture::install();
    let expected_auth = format!(
        "proxy-authorization: basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
    .to_ascii_lowercase();

    // 407: the proxy wants other credentials.
    let (uri, mut seen) =
        proxy(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n").await;
    let e = get(&through(Some(&uri))).await;
    assert_error_clean("407 through the proxy", &e);
    let head = seen.recv().await.expect("the proxy saw a CONNECT");
    assert!(
        head.starts_with("CONNECT api.mch.weixin.qq.com:443"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains(&expected_auth),
        "the proxy credentials are sent: {head}"
    );

    // The tunnel opens, then the proxy closes it: the TLS handshake fails.
    let (uri, _seen) = proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
    assert_error_clean("tunnel closed", &get(&through(Some(&uri))).await);

    // Nothing listens on the proxy's port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let uri = format!("http://{USER}:{PASSWORD}@127.0.0.1:{port}");
    let e = get(&through(Some(&uri))).await;
    assert!(e.is_connect(), "{e}");
    assert_error_clean("proxy refused", &e);

    // HTTPS_PROXY from the environment, used when no proxy is set explicitly.
    let (uri, mut seen) = proxy(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
    std::env::set_var("HTTPS_PROXY", &uri);
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let wxpay = through(None);
    std::env::remove_var("HTTPS_PROXY");
    assert_error_clean("HTTPS_PROXY", &get(&wxpay).await);
    let head = seen.recv().await.expect("the env proxy saw a CONNECT");
    assert!(head.to_ascii_lowercase().contains(&expected_auth), "{head}");

    // A proxy that cannot be used is refused at build, shown redacted.
    for bad in [
        format!("socks5://{USER}:{PASSWORD}@127.0.0.1:1080"),
        format!("{USER}:{PASSWORD}"),
        format!("http://{USER}:{PASSWORD}@"),
    ] {
        let builder = support::builder_at(support::VECTOR_EPOCH).proxy(bad.as_str());
        assert_clean("Builder Debug", &format!("{builder:?}"));
        let e = builder.build().expect_err(&format!("{bad} is refused"));
        assert!(
            matches!(e.kind(), ErrorKind::Config(ConfigError::InvalidProxy(_))),
            "{e:?}"
        );
        assert_error_clean("invalid proxy", &e);
    }

    let captured = capture::text();
    assert!(
        captured.contains("wechatpay.request") && captured.contains("hyper_util"),
        "the capture sees this crate's spans and hyper-util's events"
    );
    assert_clean("the captured trace", &captured);
}

#[tokio::test]
async fn userinfo_in_a_base_uri_or_url_is_refused_and_redacted() {
    let _env = ENV.lock().await;
    capture::install();
    let secret_uri = format!("https://{USER}:{PASSWORD}@api.mch.weixin.qq.com/");

    let builder = support::builder_at(support::VECTOR_EPOCH).base_uri(secret_uri.as_str());
    assert_clean("Builder Debug (base_uri)", &format!("{builder:?}"));
    assert_error_clean("base_uri", &builder.build().expect_err("refused"));

    let builder = support::builder_at(support::VECTOR_EPOCH).backup_base_uri(secret_uri.as_str());
    assert_clean("Builder Debug (backup)", &format!("{builder:?}"));
    assert_error_clean("backup", &builder.build().expect_err("refused"));

    let wxpay = support::client_at(support::VECTOR_EPOCH);
    let options = Options::new().base_uri(secret_uri.as_str());
    assert_clean("Options Debug", &format!("{options:?}"));
    let e = wxpay
        .v3()
        .certificates()
        .prepare(Method::GET, options)
        .expect_err("refused");
    assert_error_clean("per-request base_uri", &e);
    let options: Options = serde_json::json!({"base_uri": secret_uri}).into();
    assert_clean("Options Debug (json)", &format!("{options:?}"));

    let chain = wxpay.chain(&format!("{secret_uri}v3/certificates"));
    assert_clean("Chain Debug", &format!("{chain:?}"));
    assert_clean("Chain Display", &format!("{chain}"));
    let e = tokio::time::timeout(Duration::from_secs(10), chain.get(()))
        .await
        .expect("bounded")
        .expect_err("refused");
    assert_error_clean("absolute URL", &e);
    assert_clean("the captured trace", &capture::text());
}
