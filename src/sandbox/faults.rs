//! Fault injection: what the sandbox does to the next request instead of (or on top of) the
//! platform's normal answer.

use std::time::Duration;

use serde_json::Value;

/// A fault for the next request, queued with [`SandboxHandle::inject`](super::SandboxHandle::inject)
/// or `POST /_sandbox/faults`. Faults apply first in, first out, one per request (requests to
/// `/_sandbox/…` take none).
///
/// Faults marked *processed* let the sandbox handle the request as usual (state changes
/// happen) and then spoil the response; the others answer without processing it. Each one
/// makes this crate's client fail in its own way, noted below.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering. Client: transport error
    /// ([`TransportKind::Io`](crate::TransportKind::Io)).
    Drop,
    /// Wait this long, then answer normally (*processed*). Client: timeout when its timeout is
    /// shorter ([`Error::is_timeout`](crate::Error::is_timeout)).
    Delay(Duration),
    /// Announce the whole signed body in `Content-Length`, send half of it and cut the
    /// connection (*processed*; an empty body is replaced by a small JSON one first). Client:
    /// transport error while reading the body.
    Truncate,
    /// Answer `200` with a correctly signed body that is not valid JSON (*processed*). Client:
    /// the response verifies, [`Response::json`](crate::Response::json) fails with
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode).
    MalformedBody,
    /// Answer without the `Wechatpay-*` signature headers (*processed*). Client:
    /// [`VerifyError::MissingHeader`](crate::VerifyError::MissingHeader).
    MissingSignatureHeaders,
    /// Sign another message than the one sent (*processed*). Client:
    /// [`VerifyError::BadSignature`](crate::VerifyError::BadSignature).
    WrongSignature,
    /// Send a `WECHATPAY/SIGNTEST/…` probe signature, like WeChat Pay does on a share of its
    /// traffic (*processed*). Client: [`VerifyError::SignatureProbe`](crate::VerifyError::SignatureProbe).
    SignatureProbe,
    /// Sign with a timestamp 10 minutes old (*processed*). Client:
    /// [`VerifyError::Clock`](crate::VerifyError::Clock).
    StaleTimestamp,
    /// Sign correctly but name an unknown key in `Wechatpay-Serial` (*processed*). Client:
    /// [`VerifyError::UnknownSerial`](crate::VerifyError::UnknownSerial).
    UnknownSerial,
    /// Answer this status without processing. 400–599 carry the platform's error body for
    /// that status (`429 RATELIMIT_EXCEEDED`, `500 SYSTEM_ERROR`, `502`/`503
    /// SERVICE_UNAVAILABLE`, …); 200–399 a signed `{}` (empty for 204 and 304); anything
    /// outside 200–599 is sent as 500. Client: an [`ApiError`](crate::ApiError) with that `code`.
    Status(u16),
    /// Answer a signed `202 Accepted` with an empty body without processing ("accepted, not
    /// processed: repeat the same request later"). Client: `Ok` with status 202.
    Accepted,
    /// Answer `200` with a correctly signed JSON body of this many bytes (*processed*; at most
    /// 64 MiB, at least the smallest such body). Client:
    /// [`TransportKind::BodyTooLarge`](crate::TransportKind::BodyTooLarge) when its
    /// `body_limit` is smaller.
    Oversized(usize),
}

/// The largest body [`Fault::Oversized`] sends.
pub(crate) const MAX_OVERSIZED: usize = 64 * 1024 * 1024;

/// The names the control endpoint accepts.
pub(crate) const NAMES: &[&str] = &[
    "drop",
    "delay",
    "truncate",
    "malformed_body",
    "missing_signature_headers",
    "wrong_signature",
    "signature_probe",
    "stale_timestamp",
    "unknown_serial",
    "status",
    "accepted",
    "oversized",
];

impl Fault {
    /// The control-endpoint name of this fault (`"wrong_signature"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Drop => "drop",
            Self::Delay(_) => "delay",
            Self::Truncate => "truncate",
            Self::MalformedBody => "malformed_body",
            Self::MissingSignatureHeaders => "missing_signature_headers",
            Self::WrongSignature => "wrong_signature",
            Self::SignatureProbe => "signature_probe",
            Self::StaleTimestamp => "stale_timestamp",
            Self::UnknownSerial => "unknown_serial",
            Self::Status(_) => "status",
            Self::Accepted => "accepted",
            Self::Oversized(_) => "oversized",
        }
    }

    /// Parses the control endpoint's JSON: `{"fault":"delay","ms":1500}`,
    /// `{"fault":"status","status":503}`, `{"fault":"oversized","bytes":1048576}`, or a bare
    /// name such as `{"fault":"wrong_signature"}` (`-` and `_` are interchangeable).
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let name = value
            .get("fault")
            .and_then(Value::as_str)
            .ok_or("expected {\"fault\": \"<name>\", …}")?
            .trim()
            .to_ascii_lowercase()
            .replace('-', "_");
        let number = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("fault {name} needs a non-negative integer field {field:?}"))
        };
        Ok(match name.as_str() {
            "drop" => Self::Drop,
            "delay" => Self::Delay(Duration::from_millis(number("ms")?)),
            "truncate" => Self::Truncate,
            "malformed_body" | "malformed" => Self::MalformedBody,
            "missing_signature_headers" | "missing_headers" => Self::MissingSignatureHeaders,
            "wrong_signature" => Self::WrongSignature,
            "signature_probe" | "probe" => Self::SignatureProbe,
            "stale_timestamp" | "stale" => Self::StaleTimestamp,
            "unknown_serial" => Self::UnknownSerial,
            "status" => {
                let status = number("status")?;
                match u16::try_from(status) {
                    Ok(s) if (200..=599).contains(&s) => Self::Status(s),
                    _ => return Err(format!("status {status} is not between 200 and 599")),
                }
            }
            "accepted" => Self::Accepted,
            "oversized" => Self::Oversized(
                usize::try_from(number("bytes")?)
                    .unwrap_or(usize::MAX)
                    .min(MAX_OVERSIZED),
            ),
            other => {
                return Err(format!(
                    "unknown fault {other:?}; one of: {}",
                    NAMES.join(", ")
                ))
            }
        })
    }
}

/// The platform's error code and message for an error status.
pub(crate) fn status_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("PARAM_ERROR", "parameter error (sandbox fault)"),
        401 => ("SIGN_ERROR", "signature error (sandbox fault)"),
        403 => (
            "NO_AUTH",
            "no permission for this operation (sandbox fault)",
        ),
        404 => (
            "RESOURCE_NOT_EXISTS",
            "resource does not exist (sandbox fault)",
        ),
        429 => (
            "RATELIMIT_EXCEEDED",
            "rate limit exceeded; slow down and retry later (sandbox fault)",
        ),
        502 | 503 => (
            "SERVICE_UNAVAILABLE",
            "service unavailable; retry later (sandbox fault)",
        ),
        _ => ("SYSTEM_ERROR", "system error; retry later (sandbox fault)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_json_parses_every_name() {
        for name in NAMES {
            let value = json!({"fault": name, "ms": 5, "status": 503, "bytes": 10});
            let fault = Fault::from_json(&value).unwrap();
            assert_eq!(fault.name(), *name);
        }
        assert_eq!(
            Fault::from_json(&json!({"fault": "Wrong-Signature"})).unwrap(),
            Fault::WrongSignature
        );
        assert_eq!(
            Fault::from_json(&json!({"fault": "oversized", "bytes": u64::MAX})).unwrap(),
            Fault::Oversized(MAX_OVERSIZED)
        );
        assert!(Fault::from_json(&json!({"fault": "delay"}))
            .unwrap_err()
            .contains("ms"));
        assert!(Fault::from_json(&json!({"fault": "status", "status": 99})).is_err());
        assert!(Fault::from_json(&json!({"fault": "nope"}))
            .unwrap_err()
            .contains("drop"));
        assert!(Fault::from_json(&json!([])).is_err());
    }
}
