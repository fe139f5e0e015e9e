//! The top-level help: short help ends with the exit statuses; `--help` adds examples (each
//! runs as written against the built-in sandbox; `tests/cli_help.rs` runs them) and the config
//! file format.

/// The exit statuses, for `-h` and `--help`.
pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  a verified 2xx response (or a dry run)
  2  bad input or configuration (nothing was sent)
  3  transport failure (a POST may still have reached the server)
  4  API error: the server answered with status >= 400 (its JSON body is printed on stdout),
     or an APIv2 answer with return_code or result_code not SUCCESS (its codes on stdout)
  5  verification failure: the response's signature (or APIv2 sign) did not check out
  6  the request went through, but its response could not be written (-o or stdout):
     the order (or other change) may already exist; query it before sending again

Inputs are capped: -d @FILE / @- 32 MiB, the config file 1 MiB, key and certificate files 1 MiB.";

/// Examples for `--help`: every `$ wxpay` line runs as written (one in-process sandbox each,
/// so the order-dependent ones are dry runs).
const EXAMPLES: &str = r#"Examples (--sandbox talks to a built-in simulator; for real, drop it and pass -c wxpay.toml):
  Create a pay-on-delivery order; the JSON body is sent exactly as given:
    $ wxpay v3/payscore/partner/servicepayondeliveryorder --sandbox -d '{"out_order_no":"1234323JKHDFE1243252","appid":"wxd678efh567hg6787","sub_mchid":"1900000109","service_id":"500001","service_introduction":"dinner","post_payments":[{"name":"dinner","amount":40000,"count":4}]}'
  Send its pending message; -P fills the path's {out_order_no}, kept verbatim (a dry run
  prints the signed request instead of sending it):
    $ wxpay 'v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage' -P out_order_no=1234323JKHDFE1243252 -d '{"service_id":"500001","sub_mchid":"1900000109","total_amount":40000}' --sandbox --dry-run
  Query the order; -q adds query parameters in order:
    $ wxpay v3/payscore/partner/serviceorder -q service_id=500001 -q sub_mchid=1900000109 -q out_order_no=1234323JKHDFE1243252 --sandbox --dry-run
  The dotted form, and a dry run without any configuration (a throw-away key signs):
    $ wxpay v3.pay.transactions.native -d '{"appid":"wxd678efh567hg6787","amount":{"total":1}}' --dry-run
  Platform certificates, indented (coloured on a terminal), with the library's tracing:
    $ wxpay v3/certificates --sandbox --format pretty -v
  Download into a file (streamed; a progress bar on a terminal): wxpay '<download_url>' -o bill.csv
APIv2 (v2/… or v2.…): -d is the data as a JSON object, signed with the APIv2 key (MD5, or
HMAC-SHA256 when sign_type says so) and sent as XML; the XML answer prints as JSON:
    $ wxpay v2/pay/micropay --sandbox -d '{"appid":"wxd930ea5d5a258f4f","mch_id":"1900000109","body":"test","out_trade_no":"1217752501201407033233368018","total_fee":"1","spbill_create_ip":"127.0.0.1","auth_code":"120061098828009406","sign_type":"HMAC-SHA256"}'
  Query an order (a dry run: the sign is redacted, the APIv2 key never shown):
    $ wxpay v2.pay.orderquery --sandbox -d '{"appid":"wxd930ea5d5a258f4f","mch_id":"1900000109","out_trade_no":"1217752501201407033233368018"}' --dry-run
  Refunds (secapi/…) go over mutual TLS with merchant_cert / merchant_key; a bill saves with -o:
    wxpay -c wxpay.toml v2/secapi/pay/refund -d '{"appid":"…","mch_id":"…","out_trade_no":"…","out_refund_no":"…","total_fee":"1","refund_fee":"1"}'
    wxpay -c wxpay.toml v2/pay/downloadbill -d '{"appid":"…","mch_id":"…","bill_date":"20261201","bill_type":"ALL"}' -o bill.csv"#;

/// The config file format for `--help`.
const CONFIG: &str = r#"Config file (-c FILE, or WECHATPAY_CONFIG; TOML, relative paths resolve against its folder;
flags and WECHATPAY_MCHID, WECHATPAY_SERIAL, WECHATPAY_PRIVATE_KEY, WECHATPAY_APIV3_KEY,
WECHATPAY_BASE_URI, WECHATPAY_APIV2_KEY, WECHATPAY_MERCHANT_CERT, WECHATPAY_MERCHANT_KEY win
over it; an APIv2-only merchant needs just mchid and apiv2_key):
    mchid = "1900000109"
    serial = "3775B6A45ACD588826D15E583A95F5DD2A4B1A16"   # merchant API certificate serial
    private_key = "apiclient_key.pem"
    apiv3_key = "..."                                     # optional: notifications, certificates
    base_uri = "https://api.mch.weixin.qq.com/"           # optional
    apiv2_key = "..."                                     # APIv2 (v2/… URIs)
    merchant_cert = "apiclient_cert.pem"                  # APIv2 mutual TLS (secapi/…, transfers)
    merchant_key = "apiclient_key.pem"
    tls_test_root_ca = "ca.pem"                           # TESTS ONLY: trust a sandbox CA
    [public_keys]                                         # WeChat Pay public keys by id
    PUB_KEY_ID_0119000001092025112200000000000001 = "pub_key.pem"
    [certificates]                                        # platform certificates by serial
    5157F09EFDC096DE15EBE81A47057A7232F1B8E1 = "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem"
`wxpay sandbox` writes a ready one for its simulator (`wxpay sandbox --tls`: over HTTPS, with
its test CA and a merchant certificate for mutual TLS)."#;

/// What `--help` shows after the options.
pub(crate) fn after_long_help() -> String {
    format!("{EXAMPLES}\n\n{CONFIG}\n\n{EXIT_STATUS}")
}
