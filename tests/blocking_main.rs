//! The blocking calls work from a plain `fn main`: no runtime, no `#[tokio::main]`.

// A harness-less test reports on stdout.
#![allow(clippy::print_stdout)]

use wechatpay_chain::blocking::wait;
use wechatpay_chain::json;
use wechatpay_chain::sandbox::Sandbox;

fn main() {
    let sandbox = wait(Sandbox::builder().start()).expect("start the sandbox");
    let wxpay = sandbox.client().expect("client");
    let created = wxpay
        .v3()
        .payscore()
        .partner()
        .servicepayondeliveryorder()
        .blocking()
        .post(json!({"json": {
            "out_order_no": "BLOCKING1", "appid": "wxd678efh567hg6787", "sub_mchid": "1900000109",
            "service_id": "2002000000000558128851361561536", "service_introduction": "x",
            "post_payments": [{"name": "x", "amount": 1}], "time_range": {"start_time": "OnAccept"},
            "notify_url": "https://example.invalid/n", "openid": "o1", "need_user_confirm": false,
        }}))
        .expect("create the order");
    assert_eq!(created.status(), 200);
    let sent = wxpay["v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"]
        .blocking()
        .post(json!({"out_order_no": "BLOCKING1", "json": {"service_id": "2002000000000558128851361561536", "sub_mchid": "1900000109"}}))
        .expect("send-pendingmessage");
    assert_eq!(sent.status(), 204);
    let again = wxpay["v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"]
        .blocking()
        .post(json!({"out_order_no": "BLOCKING1", "json": {"service_id": "2002000000000558128851361561536", "sub_mchid": "1900000109"}}));
    assert!(again.unwrap_err().api().is_some());
    sandbox.shutdown();
    println!("blocking_main: 3 passed, 0 failed");
}
