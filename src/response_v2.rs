//! The checks of an APIv2 answer (status below 400): `return_code`, then `result_code`, then
//! the sign with the APIv2 key; the unsigned endpoints (bills, transfers, …) pass as they
//! are unless they answer an XML failure. Every error keeps the response.

use serde_json::{Map, Value};

use crate::error::{ApiV2Error, ConfigError, Error, ErrorKind, Result};
use crate::response::Response;
use crate::v2::sign::{ApiV2Key, SignType};

/// The endpoints that answer without a sign (the PHP SDK's list), as paths relative to the
/// base URI: matched after the base path, so a base with a path prefix
/// (`https://…/sandboxnew/`) still finds them.
const UNSIGNED_RESPONSES: &[&str] = &[
    "/mchrisk/querymchrisk",
    "/mchrisk/setmchriskcallback",
    "/mchrisk/syncmchriskresult",
    "/mmpaymkttransfers/gethbinfo",
    "/mmpaymkttransfers/gettransferinfo",
    "/mmpaymkttransfers/pay_bank",
    "/mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "/mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "/mmpaymkttransfers/promotion/transfers",
    "/mmpaymkttransfers/query_bank",
    "/mmpaymkttransfers/sendgroupredpack",
    "/mmpaymkttransfers/sendminiprogramhb",
    "/mmpaymkttransfers/sendredpack",
    "/papay/entrustweb",
    "/papay/h5entrustweb",
    "/papay/partner/entrustweb",
    "/papay/partner/h5entrustweb",
    "/pay/downloadbill",
    "/pay/downloadfundflow",
    "/payitil/report",
    "/risk/getpublickey",
    "/risk/getviolation",
    "/secapi/mch/submchmanage",
    "/xdc/apiv2getsignkey/sign/getsignkey",
];

/// `path` without the prefix of WeChat Pay's APIv2 simulation environment (`/sandboxnew`,
/// `/xdc/apiv2sandbox`), under which the same endpoints answer the same way.
pub(crate) fn without_sandbox_prefix(path: &str) -> &str {
    path.strip_prefix("/sandboxnew")
        .or_else(|| path.strip_prefix("/xdc/apiv2sandbox"))
        .unwrap_or(path)
}

/// True if the endpoint at `relative` (the path after the base path, `/` first) answers
/// unsigned, also under the simulation environment's prefix (`v2/sandboxnew/pay/downloadbill`:
/// the PHP SDK rejects its CSV).
pub(crate) fn is_unsigned_response(relative: &str) -> bool {
    UNSIGNED_RESPONSES.contains(&without_sandbox_prefix(relative))
}

/// What the caller asked of an answer's checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect {
    /// The request's sign type: the answer's sign is checked with it.
    pub(crate) sign_type: SignType,
    /// The endpoint answers unsigned (a bill, a transfer, …).
    pub(crate) unsigned: bool,
    /// `Options::skip_verification`: the sign is not checked (the codes still are).
    pub(crate) skip_sign: bool,
}

impl Expect {
    /// The checks `request` asks for: `None` for an APIv3 request.
    pub(crate) fn of(request: &crate::request::PreparedRequest) -> Option<Self> {
        match request.protocol {
            crate::request_v2::Protocol::V2 {
                sign_type,
                unsigned_response,
            } => Some(Self {
                sign_type,
                unsigned: unsigned_response,
                skip_sign: request.skip_verification,
            }),
            crate::request_v2::Protocol::V3 => None,
        }
    }
}

/// True if `body` looks like an XML document (`<xml>…`, whitespace allowed before it): an
/// unsigned endpoint answers its failures that way.
pub(crate) fn looks_like_xml(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

/// The field `name` as text, if present.
fn field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `return_code` must be `SUCCESS`: otherwise the [`ApiV2Error::Return`] it is.
fn return_failure(fields: &Map<String, Value>) -> Option<ApiV2Error> {
    let code = field(fields, "return_code").unwrap_or_default();
    if code == "SUCCESS" {
        return None;
    }
    Some(ApiV2Error::Return {
        return_code: code,
        return_msg: field(fields, "return_msg"),
        fields: fields.clone(),
    })
}

/// `result_code`, when present, must be `SUCCESS`: otherwise the [`ApiV2Error::Business`] it is.
fn business_failure(fields: &Map<String, Value>) -> Option<ApiV2Error> {
    let result_code = field(fields, "result_code")?;
    if result_code == "SUCCESS" {
        return None;
    }
    Some(ApiV2Error::Business {
        result_code,
        err_code: field(fields, "err_code"),
        err_code_des: field(fields, "err_code_des"),
        fields: fields.clone(),
    })
}

/// Checks an APIv2 answer, returning it when it may be trusted.
pub(crate) fn check(
    response: Response,
    key: Option<&ApiV2Key>,
    expect: Expect,
) -> Result<Response> {
    let fail = |e: Error, response: Response| Err(e.with_response(response));
    if expect.unsigned {
        // A bill is CSV or gzip, its failure `<xml><return_code>FAIL…`; a transfer or a red
        // packet answers unsigned XML whose business failure is `result_code` (NOTENOUGH, …).
        if looks_like_xml(response.bytes()) {
            if let Ok(fields) = crate::v2::xml::from_xml(response.bytes()) {
                if let Some(e) = return_failure(&fields).or_else(|| business_failure(&fields)) {
                    return fail(Error::new(ErrorKind::ApiV2(e)), response);
                }
            }
        }
        return Ok(response);
    }
    let fields = match crate::v2::xml::from_xml(response.bytes()) {
        Ok(fields) => fields,
        Err(e) => return fail(e, response),
    };
    if let Some(e) = return_failure(&fields) {
        return fail(Error::new(ErrorKind::ApiV2(e)), response);
    }
    let Some(key) = key else {
        return fail(
            ConfigError::MissingApiV2Key("verify APIv2 answers").into(),
            response,
        );
    };
    let business = business_failure(&fields);
    // A business failure is reported as such only once its sign (when it has one) verifies;
    // the success path needs the sign in any case.
    let must_verify = !expect.skip_sign && (business.is_none() || fields.contains_key("sign"));
    if must_verify {
        if let Err(e) = crate::v2::sign::verify(&fields, key, Some(expect.sign_type)) {
            return fail(e, response);
        }
    }
    if let Some(e) = business {
        return fail(Error::new(ErrorKind::ApiV2(e)), response);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_responses_match_relative_paths_exactly() {
        assert!(is_unsigned_response("/pay/downloadbill"));
        assert!(is_unsigned_response("/sandboxnew/pay/downloadbill"));
        assert!(is_unsigned_response("/xdc/apiv2sandbox/pay/downloadbill"));
        assert!(!is_unsigned_response("/sandboxnew/pay/micropay"));
        assert!(!is_unsigned_response("/pay/DownloadBill"));
        assert!(!is_unsigned_response("/pay/micropay"));
    }

    #[test]
    fn xml_is_recognised_by_its_first_byte() {
        assert!(looks_like_xml(
            b"<xml><return_code>FAIL</return_code></xml>"
        ));
        assert!(looks_like_xml(b"\r\n <xml/>"));
        assert!(!looks_like_xml(
            b"\xef\xbb\xbf\xe4\xba\xa4\xe6\x98\x93\xe6\x97\xb6\xe9\x97\xb4"
        ));
        assert!(!looks_like_xml(b"\x1f\x8b\x08\x00"));
        assert!(!looks_like_xml(b""));
    }

    #[test]
    fn return_code_must_be_success() {
        let map = |v: Value| v.as_object().cloned().unwrap();
        assert!(return_failure(&map(serde_json::json!({"return_code": "SUCCESS"}))).is_none());
        let e = return_failure(&map(serde_json::json!({"return_msg": "no"}))).unwrap();
        assert!(
            matches!(&e, ApiV2Error::Return { return_code, return_msg: Some(m), .. } if return_code.is_empty() && m == "no"),
            "{e:?}"
        );
    }
}
