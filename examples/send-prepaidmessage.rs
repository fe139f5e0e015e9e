//! Sends the send-prepaidmessage of a payscore order: 204, verified, and only once per order.
//! PHP: `$instance->v3->payscore->partner->serviceorder->_out_order_no_->sendPrepaidmessage->post([...])`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    support::create_order(&wxpay, "1234323JKHDFE1243252").await?;
    let response = wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_prepaidmessage()
        .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": support::message_body()}))
        .await?;
    println!(
        "send-prepaidmessage: HTTP {} (signature verified)",
        response.status()
    );
    sandbox.shutdown();
    Ok(())
}
