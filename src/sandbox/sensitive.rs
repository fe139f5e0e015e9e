//! Sensitive fields, checked like the platform: on endpoints that take RSA-OAEP encrypted
//! fields, each such field present in the body must decrypt with the private key of the
//! platform key the request's `Wechatpay-Serial` names; otherwise `400 PARAM_ERROR` naming the
//! field (or the header, when it is missing or names no key of this sandbox).
//!
//! Decryption is the SDK's own (`PrivateKey::oaep_decrypt`, AWS-LC): the `sandbox` feature
//! turns on `oaep`, so the simulator needs no second RSA implementation. Its correctness is
//! pinned independently by the reference SDK's ciphertexts in `tests/sensitive.rs`. The
//! plaintext is dropped at once and never logged, recorded or echoed.

use http::StatusCode;
use serde_json::{json, Value};

use super::flows::Call;
use super::keys::SandboxKeys;
use super::reply::Reply;
use super::State;
use crate::catalog::Endpoint;
use crate::keys::PrivateKey;

/// Endpoints (method, wire path) and the JSON paths of their encrypted fields (`*` = every
/// element of an array).
const ENCRYPTED_FIELDS: &[(&str, &str, &[&str])] = &[
    ("POST", "/v3/profitsharing/receivers/add", &["name"]),
    (
        "POST",
        "/v3/ecommerce/profitsharing/receivers/add",
        &["encrypted_name"],
    ),
    ("POST", "/v3/profitsharing/orders", &["receivers/*/name"]),
    (
        "POST",
        "/v3/applyment4sub/applyment/",
        &[
            "contact_info/contact_name",
            "contact_info/contact_id_number",
            "contact_info/mobile_phone",
            "contact_info/contact_email",
            "subject_info/identity_info/id_card_info/id_card_name",
            "subject_info/identity_info/id_card_info/id_card_number",
            "bank_account_info/account_name",
            "bank_account_info/account_number",
        ],
    ),
];

/// Every value at `path` in `value`, with the dotted name of where it was found.
fn values_at<'a>(
    value: &'a Value,
    path: &[&str],
    name: String,
    out: &mut Vec<(String, &'a Value)>,
) {
    let Some((first, rest)) = path.split_first() else {
        out.push((name, value));
        return;
    };
    let join = |part: &str| {
        if name.is_empty() {
            part.to_string()
        } else {
            format!("{name}.{part}")
        }
    };
    match (*first, value) {
        ("*", Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                values_at(item, rest, format!("{name}[{i}]"), out);
            }
        }
        (key, Value::Object(map)) => {
            if let Some(child) = map.get(key) {
                values_at(child, rest, join(key), out);
            }
        }
        _ => {}
    }
}

fn header_error(issue: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "PARAM_ERROR",
        format!("Wechatpay-Serial: {issue}"),
        Some(json!({"field": "Wechatpay-Serial", "location": "header", "issue": issue})),
    )
}

/// The private key of the platform key named `serial`: any listed platform certificate
/// (rotated ones included) or the WeChat Pay public key.
fn decrypting_key(state: &State, serial: &str) -> Option<PrivateKey> {
    if serial == state.keys.public_key_id {
        return Some(state.keys.public_key_private.clone());
    }
    state.certs.private_key(serial)
}

/// Checks the encrypted fields of a request to `endpoint`; `Err` is the platform's answer.
pub(crate) fn check(state: &State, endpoint: &Endpoint, call: &Call<'_>) -> Result<(), Reply> {
    let Some((_, _, fields)) = ENCRYPTED_FIELDS
        .iter()
        .find(|(method, path, _)| *method == call.method.as_str() && *path == endpoint.path)
    else {
        return Ok(());
    };
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return Ok(()); // not JSON: the body check answers that
    };
    let mut present = Vec::new();
    for field in *fields {
        let path: Vec<&str> = field.split('/').collect();
        values_at(&body, &path, String::new(), &mut present);
    }
    if present.is_empty() {
        return Ok(());
    }
    let serial = call
        .headers
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let Some(serial) = serial else {
        return Err(header_error(
            "required with encrypted fields: name the platform key they were encrypted to",
        ));
    };
    let Some(key) = decrypting_key(state, serial) else {
        return Err(header_error("names no platform key of this merchant"));
    };
    for (name, value) in present {
        let Some(cipher) = value.as_str() else {
            return Err(Reply::param_error(&name, "must be an encrypted string"));
        };
        if key.oaep_decrypt(cipher).is_err() {
            return Err(Reply::param_error(
                &name,
                "does not decrypt with the platform key named by Wechatpay-Serial; encrypt it with that key (RSA-OAEP, SHA-1) and send its id",
            ));
        }
    }
    Ok(())
}

/// `GET /v3/merchant-service/complaints-v2/{complaint_id}`: a complaint whose `payer_phone`
/// is encrypted to the merchant's key, as the platform returns it (the phone is the fixed test
/// number [`PAYER_PHONE`]).
pub(crate) const COMPLAINT: &str = "/v3/merchant-service/complaints-v2/{complaint_id}";

/// The payer phone of every sandbox complaint.
const PAYER_PHONE: &str = "13800138000";

/// The complaint answer.
pub(crate) fn complaint(keys: &SandboxKeys, call: &Call<'_>) -> Reply {
    let id = call.path.rsplit('/').next().unwrap_or_default();
    match keys.merchant_public.oaep_encrypt(PAYER_PHONE) {
        Ok(phone) => Reply::json(
            StatusCode::OK,
            &json!({"complaint_id": id, "complaint_state": "PENDING",
                "complaint_detail": "sandbox complaint", "payer_phone": phone}),
        ),
        Err(_) => Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "the sandbox could not encrypt payer_phone",
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_field_paths_reach_nested_arrays() {
        let body = json!({"receivers": [{"name": "a"}, {"x": 1}, {"name": "c"}],
            "contact_info": {"contact_name": "n"}});
        let mut found = Vec::new();
        values_at(
            &body,
            &["receivers", "*", "name"],
            String::new(),
            &mut found,
        );
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["receivers[0].name", "receivers[2].name"]);
        found.clear();
        values_at(
            &body,
            &["contact_info", "contact_name"],
            String::new(),
            &mut found,
        );
        assert_eq!(
            found,
            [("contact_info.contact_name".to_string(), &json!("n"))]
        );
        let paths = ENCRYPTED_FIELDS.iter().map(|(m, p, _)| (*m, *p));
        for (method, path) in paths {
            assert!(
                crate::catalog::ENDPOINTS
                    .iter()
                    .any(|e| e.method == method && e.path == path),
                "{method} {path} is a catalog endpoint"
            );
        }
    }
}
