//! The whole payscore partner flow against the embedded sandbox, no credentials needed:
//! create a pay-on-delivery order, send the pending message, pay, query — every response
//! verified — then show that a second pending message is refused by the platform.

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::json;

const ORDER: &str = "1234323JKHDFE1243252";

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;

    let order = support::create_order(&wxpay, ORDER).await?;
    println!("1. order created: state {}", order["state"]);

    // The method form, the declarative form and the indexed form name the same endpoint.
    let pending = wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_pendingmessage();
    assert_eq!(
        pending,
        wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage")
    );
    let sent = pending
        .post(json!({"out_order_no": ORDER, "json": support::message_body()}))
        .await?;
    println!("2. send-pendingmessage: HTTP {}", sent.status());

    let paid = wxpay["v3/payscore/partner/serviceorder/{out_order_no}/pay"]
        .post(json!({"out_order_no": ORDER, "json": {"service_id": support::SERVICE_ID, "sub_mchid": support::SUB_MCHID}}))
        .await?;
    println!("3. pay: HTTP {}", paid.status());

    let state: wechatpay_chain::Value = wxpay
        .chain("v3/payscore/partner/serviceorder")
        .get(json!({"query": {"out_order_no": ORDER, "service_id": support::SERVICE_ID, "sub_mchid": support::SUB_MCHID}}))
        .await?
        .json()?;
    println!("4. query: state {}", state["state"]);

    let again = pending
        .post(json!({"out_order_no": ORDER, "json": support::message_body()}))
        .await;
    match again {
        Err(e) if e.api().is_some() => println!("5. second send-pendingmessage refused: {e}"),
        other => panic!("a second send-pendingmessage must be refused, got {other:?}"),
    }

    println!(
        "{} requests signed, sent and verified",
        sandbox.requests().len()
    );
    sandbox.shutdown();
    Ok(())
}
