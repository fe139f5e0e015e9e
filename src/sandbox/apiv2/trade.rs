//! The APIv2 trade flows: `pay/micropay`, `pay/orderquery` and `secapi/pay/refund`.

use serde_json::Value;

use super::store::{compact_time, Order, Refund, Store, MAX_ENTRIES};
use super::wire::Fields;
use super::Outcome;

/// The payer every sandbox micropay order has (a made-up openid).
pub(crate) const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// A non-empty text field.
pub(crate) fn text<'a>(fields: &'a Fields, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The required fields, or `PARAM_ERROR` naming the first missing one.
fn require<'a, const N: usize>(
    fields: &'a Fields,
    keys: [&str; N],
) -> Result<[&'a str; N], Outcome> {
    let mut out = [""; N];
    for (slot, key) in out.iter_mut().zip(keys) {
        *slot = text(fields, key).ok_or_else(|| {
            Outcome::business("PARAM_ERROR", format!("{key} is required and missing"))
        })?;
    }
    Ok(out)
}

/// An amount in fen: a positive integer.
fn fen(fields: &Fields, key: &str) -> Result<u64, Outcome> {
    text(fields, key)
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            Outcome::business(
                "PARAM_ERROR",
                format!("{key} must be a positive integer amount in fen"),
            )
        })
}

/// Copies the fields of `order` a payment answer carries into `out`.
fn order_fields(order: &Order, out: &mut Fields) {
    let total = order.total_fee.to_string();
    for (key, value) in [
        ("openid", OPENID),
        ("is_subscribe", "N"),
        ("trade_type", "MICROPAY"),
        ("bank_type", "OTHERS"),
        ("fee_type", "CNY"),
        ("total_fee", &total),
        ("cash_fee_type", "CNY"),
        ("cash_fee", &total),
        ("transaction_id", &order.transaction_id),
        ("out_trade_no", &order.out_trade_no),
        ("attach", &order.attach),
        ("time_end", &compact_time(order.paid_at)),
    ] {
        out.insert(key.into(), value.into());
    }
}

/// `pay/micropay`: pays at once (the sandbox's payer always confirms).
pub(crate) fn micropay(store: &mut Store, req: &Fields, now: i64, id: u64) -> Outcome {
    let fields = match require(
        req,
        [
            "appid",
            "body",
            "out_trade_no",
            "spbill_create_ip",
            "auth_code",
        ],
    ) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let [appid, body, out_trade_no, _, auth_code] = fields;
    let total_fee = match fen(req, "total_fee") {
        Ok(n) => n,
        Err(e) => return e,
    };
    if auth_code.len() != 18 || !auth_code.bytes().all(|b| b.is_ascii_digit()) {
        return Outcome::business(
            "AUTH_CODE_INVALID",
            "auth_code must be the 18 digits of the payer's payment code",
        );
    }
    if let Some(order) = store.orders.iter().find(|o| o.out_trade_no == out_trade_no) {
        if order.total_fee != total_fee {
            return Outcome::business(
                "OUT_TRADE_NO_USED",
                format!("out_trade_no {out_trade_no} was paid with another total_fee"),
            );
        }
        // The same order again (a retry): the same answer.
        let mut out = Fields::new();
        order_fields(order, &mut out);
        return Outcome::Success(out);
    }
    if store.orders.len() >= MAX_ENTRIES {
        return Outcome::business("SYSTEMERROR", "the sandbox holds too many orders");
    }
    let order = Order {
        appid: appid.to_string(),
        out_trade_no: out_trade_no.to_string(),
        transaction_id: format!("4200{now:010}{id:014}"),
        total_fee,
        body: body.to_string(),
        attach: text(req, "attach").unwrap_or_default().to_string(),
        paid_at: now,
        refunded: 0,
    };
    let mut out = Fields::new();
    order_fields(&order, &mut out);
    store.orders.push(order);
    Outcome::Success(out)
}

/// `pay/orderquery`: by `transaction_id` or `out_trade_no`.
pub(crate) fn orderquery(store: &mut Store, req: &Fields) -> Outcome {
    if text(req, "transaction_id").is_none() && text(req, "out_trade_no").is_none() {
        return Outcome::business("PARAM_ERROR", "transaction_id or out_trade_no is required");
    }
    let Some(order) = store.order_mut(req) else {
        return Outcome::business("ORDERNOTEXIST", "此交易订单号不存在 (no such order)");
    };
    let mut out = Fields::new();
    order_fields(order, &mut out);
    let (state, desc) = if order.refunded > 0 {
        ("REFUND", "转入退款")
    } else {
        ("SUCCESS", "支付成功")
    };
    out.insert("trade_state".into(), state.into());
    out.insert("trade_state_desc".into(), desc.into());
    Outcome::Success(out)
}

/// The fields a refund answer carries.
fn refund_fields(refund: &Refund) -> Fields {
    let mut out = Fields::new();
    for (key, value) in [
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_channel", String::new()),
        ("refund_fee", refund.refund_fee.to_string()),
        ("total_fee", refund.total_fee.to_string()),
        ("cash_fee", refund.total_fee.to_string()),
        ("cash_refund_fee", refund.refund_fee.to_string()),
        ("coupon_refund_fee", "0".to_string()),
    ] {
        out.insert(key.into(), value.into());
    }
    out
}

/// `secapi/pay/refund` (the mutual-TLS check is the caller's): refunds part or all of an
/// order. Returns the answer and, for a new refund, its `out_refund_no`.
pub(crate) fn refund(
    store: &mut Store,
    req: &Fields,
    now: i64,
    id: u64,
) -> (Outcome, Option<String>) {
    let out_refund_no = match require(req, ["out_refund_no"]) {
        Ok([no]) => no,
        Err(e) => return (e, None),
    };
    let (total_fee, refund_fee) = match (fen(req, "total_fee"), fen(req, "refund_fee")) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => return (e, None),
    };
    if text(req, "transaction_id").is_none() && text(req, "out_trade_no").is_none() {
        let e = Outcome::business("PARAM_ERROR", "transaction_id or out_trade_no is required");
        return (e, None);
    }
    if let Some(done) = store.refund(out_refund_no) {
        if done.refund_fee != refund_fee {
            let e = Outcome::business(
                "INVALID_REQUEST",
                format!("out_refund_no {out_refund_no} was used with another refund_fee"),
            );
            return (e, None);
        }
        // The same refund again (a retry): the same answer.
        return (Outcome::Success(refund_fields(done)), None);
    }
    if store.refunds.len() >= MAX_ENTRIES {
        let e = Outcome::business("SYSTEMERROR", "the sandbox holds too many refunds");
        return (e, None);
    }
    let Some(order) = store.order_mut(req) else {
        let e = Outcome::business("ORDERNOTEXIST", "此交易订单号不存在 (no such order)");
        return (e, None);
    };
    if order.total_fee != total_fee {
        let e = Outcome::business(
            "INVALID_REQUEST",
            format!(
                "total_fee {total_fee} is not the order's total_fee {}",
                order.total_fee
            ),
        );
        return (e, None);
    }
    let remaining = order.total_fee - order.refunded;
    if refund_fee > remaining {
        let e = Outcome::business(
            "INVALID_REQUEST",
            format!("refund_fee {refund_fee} exceeds what remains to refund ({remaining})"),
        );
        return (e, None);
    }
    order.refunded += refund_fee;
    let refund = Refund {
        appid: order.appid.clone(),
        out_refund_no: out_refund_no.to_string(),
        refund_id: format!("5030{now:010}{id:014}"),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone(),
        total_fee,
        refund_fee,
        at: now,
    };
    let out = refund_fields(&refund);
    store.refunds.push(refund);
    (Outcome::Success(out), Some(out_refund_no.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
            .collect()
    }

    fn err_code(outcome: &Outcome) -> &'static str {
        match outcome {
            Outcome::Business(code, _) => code,
            other => panic!("not a business error: {other:?}"),
        }
    }

    fn paid(store: &mut Store, out_trade_no: &str, total_fee: &str) {
        let req = fields(&[
            ("appid", "wx1"),
            ("body", "b"),
            ("out_trade_no", out_trade_no),
            ("total_fee", total_fee),
            ("spbill_create_ip", "127.0.0.1"),
            ("auth_code", "134567890123456789"),
        ]);
        assert!(matches!(
            micropay(store, &req, 1_763_740_800, 7),
            Outcome::Success(_)
        ));
    }

    fn refund_req(out_refund_no: &str, total: &str, fee: &str) -> Fields {
        fields(&[
            ("out_trade_no", "T1"),
            ("out_refund_no", out_refund_no),
            ("total_fee", total),
            ("refund_fee", fee),
        ])
    }

    #[test]
    fn refunds_stay_within_what_was_paid() {
        let mut store = Store::default();
        paid(&mut store, "T1", "100");
        let (first, new) = refund(&mut store, &refund_req("R1", "100", "60"), 1, 1);
        let Outcome::Success(out) = first else {
            panic!("{first:?}")
        };
        assert_eq!(out["refund_fee"], "60");
        assert_eq!(new.as_deref(), Some("R1"));
        // A retry is the same refund, not a second one.
        let (again, new) = refund(&mut store, &refund_req("R1", "100", "60"), 2, 2);
        assert!(matches!(again, Outcome::Success(_)) && new.is_none());
        let (other_fee, _) = refund(&mut store, &refund_req("R1", "100", "10"), 3, 3);
        assert_eq!(err_code(&other_fee), "INVALID_REQUEST");
        let (too_much, _) = refund(&mut store, &refund_req("R2", "100", "41"), 4, 4);
        assert_eq!(err_code(&too_much), "INVALID_REQUEST");
        let (wrong_total, _) = refund(&mut store, &refund_req("R3", "99", "1"), 5, 5);
        assert_eq!(err_code(&wrong_total), "INVALID_REQUEST");
        let (rest, _) = refund(&mut store, &refund_req("R4", "100", "40"), 6, 6);
        assert!(matches!(rest, Outcome::Success(_)));
        assert_eq!(store.orders[0].refunded, 100);
        let query = orderquery(&mut store, &fields(&[("out_trade_no", "T1")]));
        let Outcome::Success(out) = query else {
            panic!("{query:?}")
        };
        assert_eq!(out["trade_state"], "REFUND");
    }

    #[test]
    fn refunds_of_unknown_orders_and_bad_amounts_are_refused() {
        let mut store = Store::default();
        let (unknown, _) = refund(&mut store, &refund_req("R1", "100", "1"), 1, 1);
        assert_eq!(err_code(&unknown), "ORDERNOTEXIST");
        let (zero, _) = refund(&mut store, &refund_req("R1", "100", "0"), 1, 1);
        assert_eq!(err_code(&zero), "PARAM_ERROR");
        let (no_order, _) = refund(
            &mut store,
            &fields(&[
                ("out_refund_no", "R1"),
                ("total_fee", "1"),
                ("refund_fee", "1"),
            ]),
            1,
            1,
        );
        assert_eq!(err_code(&no_order), "PARAM_ERROR");
        assert!(store.refunds.is_empty());
    }
}
