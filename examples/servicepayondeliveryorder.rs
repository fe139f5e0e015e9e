//! Creates a pay-on-delivery payscore order against the embedded sandbox.
//! PHP: `$instance->v3->payscore->partner->servicepayondeliveryorder->post(['json' => [...]])`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    let order = support::create_order(&wxpay, "1234323JKHDFE1243252").await?;
    println!("created, verified: {order}");
    sandbox.shutdown();
    Ok(())
}
