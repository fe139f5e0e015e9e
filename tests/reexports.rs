//! The `http` and `bytes` types of the public API are reachable through this crate alone: a
//! caller builds the inputs of a notification check and reads a response without naming the
//! `http` or `bytes` crates (this file never does).

use wechatpay_chain::notification::Reply;
// The `http` and `bytes` crates as this crate re-exports them (shadowing the dependencies).
use wechatpay_chain::{bytes, http};
use wechatpay_chain::{
    Bytes, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri, Version,
};

#[test]
fn response_parts_are_named_through_the_crate() {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("request-id"),
        HeaderValue::from_static("08F78BB5AF0610D302"),
    );
    let response = Response::new(StatusCode::OK, headers, Bytes::from_static(b"{}"));
    assert_eq!(response.request_id(), Some("08F78BB5AF0610D302"));
    let (status, headers, body): (StatusCode, HeaderMap, Bytes) = response.into_parts();
    assert_eq!(
        (status, headers.len(), &body[..]),
        (StatusCode::OK, 1, &b"{}"[..])
    );
}

#[test]
fn http_types_and_crates_are_reexported() {
    let uri: Uri = "https://api.mch.weixin.qq.com/v3/certificates"
        .parse()
        .unwrap();
    assert_eq!(uri.path(), "/v3/certificates");
    assert_eq!(Method::POST.as_str(), "POST");
    assert_eq!(Version::default(), Version::HTTP_11);
    // `Reply::into_http` returns an `http::Response<Bytes>`: named through the crate.
    let reply: http::Response<Bytes> = Reply::success().into_http();
    let _: Option<bytes::BytesMut> = None;
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
}
