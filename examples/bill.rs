//! Downloads a gzip trade bill to a file: apply, streamed download, gunzip and SHA-1 check in
//! one call, in constant memory; the file appears only once the digest matched.
//!
//! PHP: `$instance->v3->bill->tradebill->get(['query' => ['bill_date' => …, 'tar_type' => 'GZIP']])`,
//!      then `$instance->chain('{+download_url}')->get(['download_url' => …, 'sink' => $path])`,
//!      then gunzip and compare `sha1_file()` with `hash_value` yourself.
//! JS:  `wxpay.v3.bill.tradebill.get({params})`, then `wxpay.v3.billdownload.file.get({params:
//!      new URL(download_url).searchParams, responseType: 'arraybuffer'})`, gunzip, `Hash.sha1`.

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::Options;

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    let path = std::env::temp_dir().join("wechatpay-trade-2026-11-30.csv");
    let query = Options::new()
        .query("bill_date", "2026-11-30")
        .query("bill_type", "ALL")
        .query("tar_type", "GZIP");
    let bill = wxpay.trade_bill(query).download_to_file(&path).await?;
    println!(
        "trade bill: {} bytes (gzip: {}), SHA-1 {} checked, saved to {}",
        bill.bytes,
        bill.gzip,
        bill.sha1,
        path.display()
    );
    sandbox.shutdown();
    Ok(())
}
