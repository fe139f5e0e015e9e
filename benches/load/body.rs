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

impl Body {
    /// A body whose JSON is about `bytes` long (the `attach` field pads it).
    pub(crate) fn typed(bytes: usize) -> Self {
        let bare = serde_json::to_string(&Order::new("LOAD0000000000", "")).unwrap_or_default();
        Self::Typed {
            attach: "x".repeat(bytes.saturating_sub(bare.len())),
        }
    }

    /// The same JSON as [`typed`](Self::typed), as a `serde_json::Value`.
    pub(crate) fn value(bytes: usize) -> Self {
        let Self::Typed { attach } = Self::typed(bytes) else {
            unreachable!("typed() makes a typed body")
        };
        let order = serde_json::to_value(Order::new("LOAD0000000000", &attach)).unwrap_or_default();
        Self::Value(json!({ "json": order }))
    }

    /// The form's name, as printed.
    pub(crate) fn form(&self) -> &'static str {
        match self {
            Self::Typed { .. } => "typed struct",
            Self::Value(_) => "serde_json::Value",
        }
    }

    /// The JSON body's length in bytes (the trade number is fixed-width).
    pub(crate) fn json_len(&self) -> usize {
        match self {
            Self::Typed { attach } => {
                serde_json::to_vec(&Order::new("LOAD0000000000", attach)).map_or(0, |v| v.len())
            }
            Self::Value(v) => v["json"].to_string().len(),
        }
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
    let (Body::Typed { attach }, Body::Value(value)) = (Body::typed(1000), Body::value(1000))
    else {
        unreachable!("typed() and value() make their own forms")
    };
    let mut value = value["json"].clone();
    value["out_trade_no"] = Value::String("LOAD0000000042".into());
    let typed = serde_json::to_vec(&Order::new("LOAD0000000042", &attach)).expect("typed JSON");
    assert_eq!(typed, serde_json::to_vec(&value).expect("value JSON"));
    assert_eq!(Body::typed(1000).json_len(), 1000);
}
