//! `pay/downloadbill`: the day's micropay orders and refunds as the platform's v2 trade bill
//! (a header line, backquoted fields, the summary lines), plain or gzip. Unsigned, like the
//! platform's. Every bill type uses the `ALL` layout; `SUCCESS` keeps the payments only and
//! `REFUND` the refunds only.

use std::fmt::Write as _;
use std::io::Write as _;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::store::{plain_time, yuan, Store};
use super::trade::{text, OPENID};
use super::wire::Fields;
use super::Outcome;
use crate::sandbox::bills::TRADE_HEADER;

/// Which rows a bill holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    All,
    Success,
    Refund,
}

/// The `yyyyMMdd` date (China Standard Time) of a Unix time.
fn day(unix: i64) -> String {
    plain_time(unix)[..10].replace('-', "")
}

/// Answers a `pay/downloadbill` request (already checked: sign, mch_id, nonce).
pub(crate) fn download(store: &Store, req: &Fields, mchid: &str) -> Outcome {
    let date = text(req, "bill_date").unwrap_or_default();
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Outcome::Return("bill_date must be a date as yyyyMMdd".into());
    }
    let kind = match text(req, "bill_type").unwrap_or("ALL") {
        "ALL" => Kind::All,
        "SUCCESS" => Kind::Success,
        "REFUND" => Kind::Refund,
        other => {
            return Outcome::Return(format!(
                "bill_type {other} is not one of ALL, SUCCESS, REFUND"
            ))
        }
    };
    let gzip = match text(req, "tar_type") {
        None => false,
        Some("GZIP") => true,
        Some(other) => return Outcome::Return(format!("tar_type {other} is not GZIP")),
    };
    let Some(csv) = csv(store, date, kind, mchid) else {
        return Outcome::Return("No Bill Exist".into());
    };
    if !gzip {
        return Outcome::File {
            body: Bytes::from(csv),
            content_type: "text/plain;charset=utf-8",
        };
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(csv.as_bytes());
    Outcome::File {
        body: Bytes::from(encoder.finish().unwrap_or_default()),
        content_type: "application/x-gzip",
    }
}

/// A merchant's text as one bill cell: no backquote, comma or line break to split it.
fn cell(text: &str) -> String {
    text.replace(['`', ',', '\r', '\n'], " ")
}

/// The bill text, `None` when the day has no rows of that kind.
fn csv(store: &Store, date: &str, kind: Kind, mchid: &str) -> Option<String> {
    let mut out = String::from(TRADE_HEADER);
    let (mut rows, mut paid, mut refunded) = (0_u64, 0_u64, 0_u64);
    // `write!` into a String cannot fail.
    if kind != Kind::Refund {
        for o in store.orders.iter().filter(|o| day(o.paid_at) == date) {
            rows += 1;
            paid += o.total_fee;
            let fee = yuan(o.total_fee);
            let _ = write!(
                out,
                "`{},`{},`{mchid},`0,`,`{},`{},`{OPENID},`MICROPAY,`SUCCESS,`OTHERS,`CNY,`{fee},`0.00,`0,`0,`0.00,`0.00,`,`,`{},`{},`0.00000,`0.60%,`{fee},`0.00,`\r\n",
                plain_time(o.paid_at),
                o.appid,
                o.transaction_id,
                o.out_trade_no,
                cell(&o.body),
                cell(&o.attach),
            );
        }
    }
    if kind != Kind::Success {
        for r in store.refunds.iter().filter(|r| day(r.at) == date) {
            rows += 1;
            refunded += r.refund_fee;
            let (total, fee) = (yuan(r.total_fee), yuan(r.refund_fee));
            let _ = write!(
                out,
                "`{},`{},`{mchid},`0,`,`{},`{},`{OPENID},`MICROPAY,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`{},`{},`{fee},`0.00,`ORIGINAL,`SUCCESS,`,`,`0.00000,`0.60%,`{total},`{fee},`\r\n",
                plain_time(r.at),
                r.appid,
                r.transaction_id,
                r.out_trade_no,
                r.refund_id,
                r.out_refund_no,
            );
        }
    }
    if rows == 0 {
        return None;
    }
    let (paid, refunded) = (yuan(paid), yuan(refunded));
    let _ = write!(
        out,
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`{rows},`{paid},`{refunded},`0.00,`0.00000,`{paid},`{refunded}\r\n"
    );
    Some(out)
}
