//! The request body, in the two forms a caller writes: a typed struct (what a Rust service
//! has at hand: serialized once, straight to the bytes that are signed) or a
//! `serde_json::Value` (a call site ported from PHP or JS).

use serde::Serialize;
use serde_json::{json, Value};
use wechatpay_chain::Options;

/// `amount` of a Native order.
#[derive(Debug, Clone, Copy, Serialize)]
struct Amount {
    total: u64,
    currency: &'static str,
}

/// A Native order (`POST /v3/pay/transactions/native`), borrowing its strings.
#[derive(Debug, Clone, Copy, Serialize)]
struct Order<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    notify_url: &'a str,
    amount: Amount,
    attach: &'a str,
}

impl<'a> Order<'a> {
    /// The order with this trade number, padded by `attach`.
    fn new(out_trade_no: &'a str, attach: &'a str) -> Self {
        Self {
            appid: "wxd678efh567hg6787",
            mchid: "1900000109",
            description: "load benchmark",
            out_trade_no,
            notify_url: "https://127.0.0.1/notify",
            amount: Amount {
                total: 1,
                currency: "CNY",
            },
            attach,
        }
    }
}

/// A body of about a given size, in one form; [`options`](Self::options) makes request `i`'s.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// `Options::new().json(&order)` with a typed `Order`.
    Typed { attach: String },
    /// `{"json": {…}}` as a `serde_json::Value`, cloned and given its trade number.
    Value(Value),
}

/// The `attach` padding that makes the order's JSON about `bytes` long.
fn padding(bytes: usize) -> String {
    let bare = serde_json::to_vec(&Order::new(SAMPLE_TRADE_NO, "")).map_or(0, |v| v.len());
    "x".repeat(bytes.saturating_sub(bare))
}

/// A trade number as wide as every request's (`LOAD` and ten digits).
const SAMPLE_TRADE_NO: &str = "LOAD0000000000";

impl Body {
    /// A typed body whose JSON is about `bytes` long (the `attach` field pads it).
    pub(crate) fn typed(bytes: usize) -> Self {
        Self::Typed {
            attach: padding(bytes),
        }
    }

    /// The same JSON as [`typed`](Self::typed), as a `serde_json::Value`.
    pub(crate) fn value(bytes: usize) -> Self {
        let attach = padding(bytes);
        Self::Value(json!({ "json": Order::new(SAMPLE_TRADE_NO, &attach) }))
    }

    /// The form's name, as printed.
    pub(crate) fn form(&self) -> &'static str {
        match self {
            Self::Typed { .. } => "typed struct",
            Self::Value(_) => "serde_json::Value",
        }
    }

    /// The JSON bytes of a request with this trade number, as [`options`](Self::options)
    /// makes them.
    fn json(&self, out_trade_no: &str) -> Vec<u8> {
        let json = match self {
            Self::Typed { attach } => serde_json::to_vec(&Order::new(out_trade_no, attach)),
            Self::Value(v) => {
                let mut v = v["json"].clone();
                v["out_trade_no"] = Value::String(out_trade_no.into());
                serde_json::to_vec(&v)
            }
        };
        json.expect("an order serializes")
    }

    /// The JSON body's length in bytes (every trade number has the same width).
    pub(crate) fn json_len(&self) -> usize {
        self.json(SAMPLE_TRADE_NO).len()
    }

    /// Request `i`'s options (its own trade number).
    pub(crate) fn options(&self, i: usize) -> Options {
        let out_trade_no = format!("LOAD{i:010}");
        match self {
            Self::Typed { attach } => Options::new().json(Order::new(&out_trade_no, attach)),
            Self::Value(v) => {
                let mut v = v.clone();
                v["json"]["out_trade_no"] = Value::String(out_trade_no);
                v.into()
            }
        }
    }
}

/// A quick self-check (run in the smoke mode): both forms send the same JSON, byte for byte.
pub(crate) fn check_forms_agree() {
    let (typed, value) = (Body::typed(1000), Body::value(1000));
    assert_eq!(typed.json("LOAD0000000042"), value.json("LOAD0000000042"));
    assert_eq!(typed.json_len(), 1000);
}
