//! Collects payment for a payscore order that awaits payment.
//! PHP: `$instance->v3->payscore->partner->serviceorder->_out_order_no_->pay->post([...])`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    support::create_order(&wxpay, "1234323JKHDFE1243252").await?;
    // Payment is collected only once the order awaits it: after the pending message.
    support::send_pending_message(&wxpay, "1234323JKHDFE1243252").await?;
    let response = wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .pay()
        .post(json!({
            "out_order_no": "1234323JKHDFE1243252",
            "json": {"service_id": support::SERVICE_ID, "sub_mchid": support::SUB_MCHID},
        }))
        .await?;
    println!("pay: HTTP {} (signature verified)", response.status());
    sandbox.shutdown();
    Ok(())
}
