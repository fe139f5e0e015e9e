//! What every example shares: a running sandbox, a client for it, and an order body.
// Each example uses a subset of these helpers.
#![allow(dead_code)]

use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{json, Value, Wechatpay};

/// The service and sub-merchant every example uses.
pub(crate) const SERVICE_ID: &str = "2002000000000558128851361561536";
pub(crate) const SUB_MCHID: &str = "1900000109";

/// Starts the embedded sandbox on a free loopback port and a client pointed at it.
pub(crate) async fn start() -> wechatpay_chain::Result<(SandboxHandle, Wechatpay)> {
    let sandbox = Sandbox::builder().start().await?;
    let wxpay = sandbox.client()?;
    println!("sandbox at {}", sandbox.base_uri());
    Ok((sandbox, wxpay))
}

/// The body of a pay-on-delivery order (`servicepayondeliveryorder`).
pub(crate) fn order(out_order_no: &str, notify_url: &str) -> Value {
    json!({
        "out_order_no": out_order_no,
        "appid": "wxd678efh567hg6787",
        "sub_mchid": SUB_MCHID,
        "service_id": SERVICE_ID,
        "service_introduction": "就餐服务",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "time_range": {"start_time": "OnAccept"},
        "notify_url": notify_url,
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "need_user_confirm": false,
    })
}

/// The body of send-pendingmessage / send-prepaidmessage.
pub(crate) fn message_body() -> Value {
    json!({
        "service_id": SERVICE_ID,
        "sub_mchid": SUB_MCHID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "total_amount": 40000,
    })
}

/// Creates an order in the method form and returns the platform's answer.
pub(crate) async fn create_order(
    wxpay: &Wechatpay,
    out_order_no: &str,
) -> wechatpay_chain::Result<Value> {
    wxpay
        .v3()
        .payscore()
        .partner()
        .servicepayondeliveryorder()
        .post(json!({"json": order(out_order_no, "https://example.invalid/notify")}))
        .await?
        .json()
}

/// Sends the pending message of an order (a prerequisite of `pay`), in the method form.
pub(crate) async fn send_pending_message(
    wxpay: &Wechatpay,
    out_order_no: &str,
) -> wechatpay_chain::Result<()> {
    wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_pendingmessage()
        .post(json!({"out_order_no": out_order_no, "json": message_body()}))
        .await?;
    Ok(())
}
