//! The payscore partner flow against the embedded sandbox, no credentials needed: the four seed
//! endpoints (create a pay-on-delivery order, send the pending message, send the prepaid
//! message, collect the payment), then the order query — every answer signed by the sandbox and
//! verified here — and finally a second pending message, which the sandbox refuses as the
//! platform would.

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::{json, Error, Response};

const ORDER: &str = "1234323JKHDFE1243252";

/// Counts what really happened, so the closing line cannot overstate it.
#[derive(Default)]
struct Tally {
    verified: usize,
    refused: usize,
}

impl Tally {
    /// Records a verified answer and prints it under the endpoint's name.
    fn verified(&mut self, step: &str, endpoint: &str, response: &Response) {
        self.verified += 1;
        println!(
            "{step}. {endpoint}\n   sandbox answered HTTP {} (signature verified)",
            response.status().as_u16()
        );
    }

    /// Records an error answer the flow expects and prints what the sandbox said.
    fn refused(&mut self, step: &str, endpoint: &str, error: &Error) {
        self.refused += 1;
        let api = error.api().expect("an error answer of the sandbox");
        println!(
            "{step}. {endpoint}\n   sandbox refused it as expected: HTTP {} {}: {}",
            api.status,
            api.code.as_deref().unwrap_or("-"),
            api.message.as_deref().unwrap_or("-"),
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    let mut tally = Tally::default();
    let message = json!({"out_order_no": ORDER, "json": support::message_body()});

    // 1. The method form (PHP: $instance->v3->payscore->partner->servicepayondeliveryorder).
    let created = wxpay
        .v3()
        .payscore()
        .partner()
        .servicepayondeliveryorder()
        .post(json!({"json": support::order(ORDER, "https://example.invalid/notify")}))
        .await?;
    tally.verified(
        "1",
        "POST /v3/payscore/partner/servicepayondeliveryorder",
        &created,
    );
    let order: wechatpay_chain::Value = created.json()?;
    println!(
        "   order {ORDER}: state {}",
        order["state"].as_str().unwrap_or("?")
    );

    // 2. The method form again; the declarative form names the same endpoint.
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
    let sent = pending.post(message.clone()).await?;
    tally.verified(
        "2",
        "POST /v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage",
        &sent,
    );

    // 3. The declarative form (PHP: $instance->chain('v3/…/send-prepaidmessage')).
    let prepaid = wxpay
        .chain("v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage")
        .post(message.clone())
        .await?;
    tally.verified(
        "3",
        "POST /v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage",
        &prepaid,
    );

    // 4. The indexed form (PHP: $instance['v3/…/pay']).
    let paid = wxpay["v3/payscore/partner/serviceorder/{out_order_no}/pay"]
        .post(json!({
            "out_order_no": ORDER,
            "json": {"service_id": support::SERVICE_ID, "sub_mchid": support::SUB_MCHID},
        }))
        .await?;
    tally.verified(
        "4",
        "POST /v3/payscore/partner/serviceorder/{out_order_no}/pay",
        &paid,
    );

    // 5. A GET with a query.
    let queried = wxpay
        .chain("v3/payscore/partner/serviceorder")
        .get(json!({"query": {
            "out_order_no": ORDER,
            "service_id": support::SERVICE_ID,
            "sub_mchid": support::SUB_MCHID,
        }}))
        .await?;
    tally.verified("5", "GET /v3/payscore/partner/serviceorder", &queried);
    let state: wechatpay_chain::Value = queried.json()?;
    println!(
        "   order {ORDER}: state {}",
        state["state"].as_str().unwrap_or("?")
    );

    // 6. The pending message may be sent only once per order.
    match pending.post(message).await {
        Err(e) if e.api().is_some() => tally.refused(
            "6",
            "POST /v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage (again)",
            &e,
        ),
        other => panic!("a second send-pendingmessage must be refused, got {other:?}"),
    }

    println!(
        "{} requests signed and sent to the sandbox: {} answers verified, {} refused as expected",
        sandbox.requests().len(),
        tally.verified,
        tally.refused
    );
    sandbox.shutdown();
    Ok(())
}
