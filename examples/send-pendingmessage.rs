//! Sends the send-pendingmessage of a payscore order: 204, verified, and only once per order.
//! PHP: `$instance->v3->payscore->partner->serviceorder->_out_order_no_->sendPendingmessage->post([...])`

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
        .send_pendingmessage()
        .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": support::message_body()}))
        .await?;
    println!(
        "send-pendingmessage: HTTP {} (signature verified)",
        response.status()
    );
    sandbox.shutdown();
    Ok(())
}
