//! What the APIv2 flows remember: micropay orders and their refunds.

use super::wire::Fields;

/// The most orders (and, separately, refunds) the sandbox keeps; beyond, new ones are refused
/// with `SYSTEMERROR` (a dev tool that anything on the machine can reach stays bounded).
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// A paid micropay order.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) appid: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    pub(crate) total_fee: u64,
    pub(crate) body: String,
    pub(crate) attach: String,
    /// Unix seconds of the payment.
    pub(crate) paid_at: i64,
    /// Sum of its refunds (fen).
    pub(crate) refunded: u64,
}

/// A refund of an [`Order`].
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) appid: String,
    pub(crate) out_refund_no: String,
    pub(crate) refund_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    pub(crate) total_fee: u64,
    pub(crate) refund_fee: u64,
    /// Unix seconds of the refund.
    pub(crate) at: i64,
}

/// The APIv2 orders and refunds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) orders: Vec<Order>,
    pub(crate) refunds: Vec<Refund>,
}

impl Store {
    /// The order named by `transaction_id` or else `out_trade_no` in `fields`.
    pub(crate) fn order_mut(&mut self, fields: &Fields) -> Option<&mut Order> {
        let by = |key: &str| {
            fields
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        if let Some(id) = by("transaction_id") {
            return self.orders.iter_mut().find(|o| o.transaction_id == id);
        }
        let no = by("out_trade_no")?;
        self.orders.iter_mut().find(|o| o.out_trade_no == no)
    }

    /// The refund with this `out_refund_no`.
    pub(crate) fn refund(&self, out_refund_no: &str) -> Option<&Refund> {
        self.refunds
            .iter()
            .find(|r| r.out_refund_no == out_refund_no)
    }
}

/// `fen` as the bill's yuan (`1.23`).
pub(crate) fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A Unix time in China Standard Time as `yyyyMMddHHmmss` (`time_end`).
pub(crate) fn compact_time(unix: i64) -> String {
    super::super::rfc3339_cst(unix)[..19]
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// A Unix time in China Standard Time as `yyyy-MM-dd HH:mm:ss` (bills, `success_time`).
pub(crate) fn plain_time(unix: i64) -> String {
    super::super::rfc3339_cst(unix)[..19].replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_standard_time() {
        assert_eq!(compact_time(1_763_740_800), "20251122000000");
        assert_eq!(plain_time(1_763_740_800 + 61), "2025-11-22 00:01:01");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(12_345), "123.45");
    }
}
