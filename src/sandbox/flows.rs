//! What the sandbox answers once a request passed the checks: the payscore partner
//! pay-on-delivery order flow (stateful), `/v3/certificates`, the bills ([`super::bills`]), and
//! a generic signed answer for every other catalog endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::reply::Reply;
use super::{lock, rfc3339_cst, State};
use crate::catalog::Endpoint;

const CREATE: &str = "/v3/payscore/partner/servicepayondeliveryorder";
const QUERY: &str = "/v3/payscore/partner/serviceorder";
const PENDING: &str = "/v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage";
const PREPAID: &str = "/v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage";
const PAY: &str = "/v3/payscore/partner/serviceorder/{out_order_no}/pay";

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Created; no payment announced yet.
    Created,
    /// The merchant announced the amount (pending or prepaid message): payment can be collected.
    AwaitingPayment,
    /// Paid.
    Paid,
}

/// A pay-on-delivery service order.
#[derive(Debug)]
pub(crate) struct Order {
    /// The creation body, echoed in answers.
    request: Map<String, Value>,
    mchid: String,
    order_id: String,
    total_amount: i64,
    stage: Stage,
    pending_sent: bool,
    prepaid_sent: bool,
    paid_at: Option<i64>,
}

impl Order {
    fn view(&self) -> Value {
        let (state, description, collection_state) = match self.stage {
            Stage::Created => ("CREATED", None, "USER_PAYING"),
            Stage::AwaitingPayment => ("DOING", Some("MCH_COMPLETE"), "USER_PAYING"),
            Stage::Paid => ("DONE", Some("USER_PAID"), "USER_PAID"),
        };
        let paid = self.paid_at.map(|at| {
            json!([{"seq": 1, "amount": self.total_amount, "paid_type": "NEWTON",
                "paid_time": rfc3339_cst(at), "transaction_id": format!("42000{}", self.order_id)}])
        });
        let mut view = self.request.clone();
        view.insert("mchid".into(), self.mchid.clone().into());
        view.insert("order_id".into(), self.order_id.clone().into());
        view.insert("state".into(), state.into());
        if let Some(d) = description {
            view.insert("state_description".into(), d.into());
        }
        view.insert("total_amount".into(), self.total_amount.into());
        view.insert("need_collection".into(), true.into());
        let (paying, paid_amount) = if paid.is_some() {
            (0, self.total_amount)
        } else {
            (self.total_amount, 0)
        };
        let mut collection = json!({"state": collection_state, "total_amount": self.total_amount,
            "paying_amount": paying, "paid_amount": paid_amount});
        if let Some(details) = paid {
            collection["details"] = details;
        }
        view.insert("collection".into(), collection);
        Value::Object(view)
    }
}

/// Orders by (sub_mchid, out_order_no).
pub(crate) type Orders = HashMap<(String, String), Order>;

/// One request, as the flows see it.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) now: i64,
    /// The multipart body parsed, when the request is `multipart/form-data`.
    pub(crate) upload: Option<&'a super::media::Parsed>,
    /// The request's headers.
    pub(crate) headers: &'a http::HeaderMap,
}

/// Answers a checked request on catalog endpoint `endpoint`.
pub(crate) fn handle(state: &Arc<State>, endpoint: &Endpoint, call: &Call<'_>) -> Reply {
    if super::media::is_upload(endpoint) {
        return super::media::handle(endpoint, call.upload);
    }
    if let Err(reply) = check_json_body(endpoint, call) {
        return reply;
    }
    if let Err(reply) = super::sensitive::check(state, endpoint, call) {
        return reply;
    }
    let result = match endpoint.path {
        CREATE => create(state, call),
        QUERY if call.method == Method::GET => query(state, call),
        PENDING | PREPAID | PAY => order_action(state, endpoint.path, call),
        "/v3/certificates" | "/hk/v3/certificates" => Ok(super::certs::listing(state)),
        super::bills::TRADE | super::bills::FUND_FLOW => {
            super::bills::apply(state, endpoint.path, call)
        }
        super::bills::DOWNLOAD => super::bills::download(call),
        super::sensitive::COMPLAINT => Ok(super::sensitive::complaint(&state.keys, call)),
        path if super::prepay::ORDERS.contains(&path) => Ok(super::prepay::order(call)),
        _ => Ok(generic(endpoint)),
    };
    result.unwrap_or_else(|reply| reply)
}

/// Every POST/PUT/PATCH to a catalog endpoint whose content type is JSON must carry a JSON
/// body, as the platform demands: an empty body (the JS habit `post(data)` ported without
/// `json`) or one that is not JSON is `400 PARAM_ERROR`, not a quiet 200.
fn check_json_body(endpoint: &Endpoint, call: &Call<'_>) -> Result<(), Reply> {
    let sends_body = matches!(*call.method, Method::POST | Method::PUT | Method::PATCH);
    if !sends_body || endpoint.content_type != Some("application/json") {
        return Ok(());
    }
    if call.body.is_empty() {
        return Err(Reply::param_error(
            "body",
            "this endpoint needs a JSON body; send it under the `json` option",
        ));
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(call.body).is_err() {
        return Err(Reply::param_error("body", "the body is not valid JSON"));
    }
    Ok(())
}

/// A signed answer of the endpoint's kind.
fn generic(endpoint: &Endpoint) -> Reply {
    match endpoint.response_kind {
        "empty" => Reply::empty(StatusCode::NO_CONTENT),
        _ => Reply::json(StatusCode::OK, &json!({})),
    }
}

/// The body as a JSON object.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.is_empty() {
        return Err(Reply::param_error(
            "body",
            "this endpoint needs a JSON body",
        ));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reply::param_error("body", "the body is not a JSON object")),
    }
}

/// The string `field`, or `400 PARAM_ERROR` naming it.
fn required<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, Reply> {
    match map.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::Null) | None => Err(Reply::param_error(field, "required field is missing")),
        Some(Value::String(_)) => Err(Reply::param_error(field, "required field is empty")),
        Some(_) => Err(Reply::param_error(field, "must be a string")),
    }
}

fn sum_amounts(list: Option<&Value>) -> i64 {
    list.and_then(Value::as_array).map_or(0, |items| {
        items
            .iter()
            .filter_map(|i| i.get("amount").and_then(Value::as_i64))
            .sum()
    })
}

/// `POST /v3/payscore/partner/servicepayondeliveryorder`.
fn create(state: &State, call: &Call<'_>) -> Result<Reply, Reply> {
    let body = body_object(call.body)?;
    for field in [
        "out_order_no",
        "appid",
        "sub_mchid",
        "service_id",
        "service_introduction",
    ] {
        required(&body, field)?;
    }
    match body.get("post_payments") {
        Some(Value::Array(items)) if !items.is_empty() => {}
        Some(_) => {
            return Err(Reply::param_error(
                "post_payments",
                "must be a non-empty array",
            ))
        }
        None => {
            return Err(Reply::param_error(
                "post_payments",
                "required field is missing",
            ))
        }
    }
    if let Some(url) = body.get("notify_url").filter(|v| !v.is_null()) {
        if url.as_str().is_none_or(|u| !u.starts_with("http")) {
            return Err(Reply::param_error("notify_url", "must be an http(s) URL"));
        }
    }
    let key = (
        required(&body, "sub_mchid")?.to_string(),
        required(&body, "out_order_no")?.to_string(),
    );
    let mut orders = lock(&state.orders);
    if orders.contains_key(&key) {
        return Err(Reply::invalid_request(format!(
            "out_order_no {} already exists for sub_mchid {}; use a new out_order_no",
            key.1, key.0
        )));
    }
    let total = sum_amounts(body.get("post_payments")) - sum_amounts(body.get("post_discounts"));
    let order = Order {
        mchid: state.keys.mchid.clone(),
        order_id: format!("{}{:010}", call.now, state.next_id()),
        total_amount: total,
        stage: Stage::Created,
        pending_sent: false,
        prepaid_sent: false,
        paid_at: None,
        request: body,
    };
    let mut view = order.view();
    view["package"] = format!("DEBUG_SANDBOX_PACKAGE_{}", order.order_id).into();
    orders.insert(key, order);
    Ok(Reply::json(StatusCode::OK, &view))
}

fn not_found(out_order_no: &str) -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        "ORDER_NOT_EXIST",
        format!("order {out_order_no} does not exist for this service_id and sub_mchid"),
        None,
    )
}

/// The order named by `out_order_no`, checked against `service_id` and `sub_mchid`.
fn find<'o>(
    orders: &'o mut Orders,
    out_order_no: &str,
    service_id: &str,
    sub_mchid: &str,
) -> Result<&'o mut Order, Reply> {
    orders
        .get_mut(&(sub_mchid.to_string(), out_order_no.to_string()))
        .filter(|o| o.request.get("service_id").and_then(Value::as_str) == Some(service_id))
        .ok_or_else(|| not_found(out_order_no))
}

/// `send-pendingmessage`, `send-prepaidmessage` and `pay` on `…/serviceorder/{out_order_no}/`.
fn order_action(state: &Arc<State>, pattern: &str, call: &Call<'_>) -> Result<Reply, Reply> {
    let body = body_object(call.body)?;
    let (service_id, sub_mchid) = (
        required(&body, "service_id")?,
        required(&body, "sub_mchid")?,
    );
    let out_order_no = path_param(pattern, call.path, "out_order_no").unwrap_or_default();
    let mut orders = lock(&state.orders);
    let order = find(&mut orders, &out_order_no, service_id, sub_mchid)?;
    if pattern == PAY {
        if order.stage != Stage::AwaitingPayment {
            return Err(Reply::invalid_request(match order.stage {
                Stage::Paid => format!("order {out_order_no} is already paid"),
                _ => format!(
                    "order {out_order_no} is not awaiting payment (state CREATED); send the pending or prepaid message first"
                ),
            }));
        }
        order.stage = Stage::Paid;
        order.paid_at = Some(call.now);
        let notify_url = order
            .request
            .get("notify_url")
            .and_then(Value::as_str)
            .map(str::to_string);
        let view = order.view();
        drop(orders);
        if let Some(url) = notify_url.filter(|u| super::notify::loopback_uri(u).is_ok()) {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = state.deliver(&url, "PAYSCORE.USER_PAID", &view).await {
                    tracing::warn!(error = %e, "sandbox: PAYSCORE.USER_PAID delivery failed");
                }
            });
        }
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    }
    let (sent, name) = if pattern == PENDING {
        (&mut order.pending_sent, "send-pendingmessage")
    } else {
        (&mut order.prepaid_sent, "send-prepaidmessage")
    };
    if *sent {
        return Err(Reply::invalid_request(format!(
            "{name} was already called for order {out_order_no}; it can be sent only once per order"
        )));
    }
    if order.stage == Stage::Paid {
        return Err(Reply::invalid_request(format!(
            "order {out_order_no} is already paid"
        )));
    }
    *sent = true;
    order.stage = Stage::AwaitingPayment;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `GET /v3/payscore/partner/serviceorder?service_id=…&sub_mchid=…&out_order_no=…` (or `query_id`).
fn query(state: &State, call: &Call<'_>) -> Result<Reply, Reply> {
    let param = |name: &str| query_param(call.query, name).filter(|v| !v.is_empty());
    let missing = |name: &str| Reply::param_error(name, "required query parameter is missing");
    let service_id = param("service_id").ok_or_else(|| missing("service_id"))?;
    let sub_mchid = param("sub_mchid").ok_or_else(|| missing("sub_mchid"))?;
    let mut orders = lock(&state.orders);
    let order = match (param("out_order_no"), param("query_id")) {
        (Some(out_order_no), _) => find(&mut orders, &out_order_no, &service_id, &sub_mchid)?,
        (None, Some(query_id)) => orders
            .iter_mut()
            .map(|(_, o)| o)
            .find(|o| {
                o.order_id == query_id
                    && o.request.get("sub_mchid").and_then(Value::as_str) == Some(&sub_mchid)
            })
            .ok_or_else(|| not_found(&query_id))?,
        (None, None) => {
            return Err(Reply::param_error(
                "out_order_no",
                "give out_order_no or query_id",
            ))
        }
    };
    Ok(Reply::json(StatusCode::OK, &order.view()))
}

fn decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The decoded value of `{name}` of `pattern` in the concrete `path`.
fn path_param(pattern: &str, path: &str, name: &str) -> Option<String> {
    let placeholder = format!("{{{name}}}");
    pattern
        .split('/')
        .zip(path.split('/'))
        .find(|(p, _)| *p == placeholder)
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
}

/// The decoded value of query parameter `name`.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_decoded() {
        assert_eq!(
            path_param(
                PAY,
                "/v3/payscore/partner/serviceorder/A%2FB/pay",
                "out_order_no"
            )
            .as_deref(),
            Some("A/B")
        );
        assert_eq!(
            query_param("a=1&sub_mchid=19%2000&x", "sub_mchid").as_deref(),
            Some("19 00")
        );
        assert_eq!(query_param("a=1&x", "x").as_deref(), Some(""));
        assert_eq!(query_param("a=1", "b"), None);
    }
}
