//! Bills: `GET /v3/bill/tradebill` and `/v3/bill/fundflowbill` answer (signed) the apply JSON
//! `{hash_type, hash_value, download_url}`; `GET /v3/billdownload/file?token=…` streams the
//! bill, unsigned like the platform's, plain or gzip (`tar_type=GZIP`).
//!
//! Bills are generated row by row from the token, never held whole: a 50 MB bill costs the
//! sandbox one piece of memory. The apply computes the SHA-1 by generating the bill once.
//!
//! Sandbox-only query parameters of the apply (the platform ignores unknown ones):
//! - `sandbox_rows=N`: data rows (default 100; ~200 bytes each, so 270000 rows ≈ 52 MB);
//! - `sandbox_fault=corrupt`: the download has one byte changed (digest mismatch);
//! - `sandbox_fault=truncate`: the download stops halfway (a gzip without its end).

use std::io::Write as _;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::StatusCode;
use ring::digest;
use serde_json::json;

use super::flows::Call;
use super::reply::Reply;
use super::State;

/// The apply endpoints.
pub(crate) const TRADE: &str = "/v3/bill/tradebill";
/// The fund-flow apply endpoint.
pub(crate) const FUND_FLOW: &str = "/v3/bill/fundflowbill";
/// The download endpoint.
pub(crate) const DOWNLOAD: &str = "/v3/billdownload/file";

/// The most data rows a sandbox bill may have (~1 GB).
const MAX_ROWS: u64 = 5_000_000;
/// Data rows unless `sandbox_rows` says otherwise.
const DEFAULT_ROWS: u64 = 100;
/// Plain bytes generated per piece.
const PIECE: usize = 64 * 1024;

pub(crate) const TRADE_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n";
const FUND_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\r\n";

/// What the download does wrong, on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BillFault {
    None,
    Corrupt,
    Truncate,
}

/// Everything a bill is generated from; carried in the download token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BillSpec {
    fund_flow: bool,
    rows: u64,
    gzip: bool,
    fault: BillFault,
    /// `YYYYMMDD`.
    date: String,
}

impl BillSpec {
    /// `T-100-G-N-20261130`: kind, rows, gzip, fault, date.
    fn token(&self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            if self.fund_flow { 'F' } else { 'T' },
            self.rows,
            if self.gzip { 'G' } else { 'P' },
            match self.fault {
                BillFault::None => 'N',
                BillFault::Corrupt => 'C',
                BillFault::Truncate => 'T',
            },
            self.date
        )
    }

    fn from_token(token: &str) -> Option<Self> {
        let mut parts = token.split('-');
        let fund_flow = match parts.next()? {
            "T" => false,
            "F" => true,
            _ => return None,
        };
        let rows = parts.next()?.parse().ok().filter(|r| *r <= MAX_ROWS)?;
        let gzip = match parts.next()? {
            "G" => true,
            "P" => false,
            _ => return None,
        };
        let fault = match parts.next()? {
            "N" => BillFault::None,
            "C" => BillFault::Corrupt,
            "T" => BillFault::Truncate,
            _ => return None,
        };
        let date = parts.next()?.to_string();
        let valid_date = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        (valid_date && parts.next().is_none()).then_some(Self {
            fund_flow,
            rows,
            gzip,
            fault,
            date,
        })
    }
}

/// `GET /v3/bill/tradebill` or `/v3/bill/fundflowbill`: the apply answer.
pub(crate) fn apply(state: &State, path: &str, call: &Call<'_>) -> Result<Reply, Reply> {
    let param = |name: &str| super::flows::query_param(call.query, name);
    let date = param("bill_date")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Reply::param_error("bill_date", "required query parameter is missing"))?;
    let compact: String = date.chars().filter(|c| *c != '-').collect();
    if date.len() != 10 || compact.len() != 8 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reply::param_error(
            "bill_date",
            "must be a date like 2026-11-30",
        ));
    }
    let fund_flow = path == FUND_FLOW;
    let (kind_name, kinds): (&str, &[&str]) = if fund_flow {
        ("account_type", &["BASIC", "OPERATION", "FEES"])
    } else {
        (
            "bill_type",
            &[
                "ALL",
                "SUCCESS",
                "REFUND",
                "RECHARGE_REFUND",
                "ALL_SPECIAL",
                "SUC_SPECIAL",
                "REF_SPECIAL",
            ],
        )
    };
    if let Some(kind) = param(kind_name) {
        if !kinds.contains(&kind.as_str()) {
            return Err(Reply::param_error(
                kind_name,
                &format!("must be one of {}", kinds.join(", ")),
            ));
        }
    }
    let gzip = match param("tar_type").as_deref() {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return Err(Reply::param_error("tar_type", "must be GZIP or absent")),
    };
    let rows = match param("sandbox_rows") {
        None => DEFAULT_ROWS,
        Some(n) => n.parse().ok().filter(|n| *n <= MAX_ROWS).ok_or_else(|| {
            Reply::param_error(
                "sandbox_rows",
                &format!("must be a number of rows up to {MAX_ROWS}"),
            )
        })?,
    };
    let fault = match param("sandbox_fault").as_deref() {
        None => BillFault::None,
        Some("corrupt") => BillFault::Corrupt,
        Some("truncate") => BillFault::Truncate,
        Some(_) => {
            return Err(Reply::param_error(
                "sandbox_fault",
                "must be corrupt or truncate",
            ))
        }
    };
    let spec = BillSpec {
        fund_flow,
        rows,
        gzip,
        fault,
        date: compact,
    };
    // The digest of the bill as it should be: generated once, piece by piece.
    let mut sha1 = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    let mut rows_of = Rows::new(&BillSpec {
        fault: BillFault::None,
        ..spec.clone()
    });
    while let Some(piece) = rows_of.next_piece() {
        sha1.update(&piece);
    }
    let hash: String = sha1
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": format!("{}v3/billdownload/file?token={}", state.base_uri, spec.token()),
        }),
    ))
}

/// `GET /v3/billdownload/file?token=…`: a streamed, unsigned bill.
pub(crate) fn download(call: &Call<'_>) -> Result<Reply, Reply> {
    let token = super::flows::query_param(call.query, "token").unwrap_or_default();
    let spec = BillSpec::from_token(&token).ok_or_else(|| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "token: not a download token of this sandbox; apply for the bill first",
            None,
        )
    })?;
    Ok(Reply::download(spec))
}

/// The plain bill, piece by piece.
#[derive(Debug)]
struct Rows {
    fund_flow: bool,
    rows: u64,
    /// The rows to produce (fewer than `rows` when truncating).
    stop_at: u64,
    next: u64,
    date: String,
    corrupt: bool,
    header_done: bool,
    summary_done: bool,
}

impl Rows {
    fn new(spec: &BillSpec) -> Self {
        Self {
            fund_flow: spec.fund_flow,
            rows: spec.rows,
            stop_at: if spec.fault == BillFault::Truncate {
                spec.rows / 2
            } else {
                spec.rows
            },
            next: 0,
            date: format!(
                "{}-{}-{}",
                &spec.date[..4],
                &spec.date[4..6],
                &spec.date[6..]
            ),
            corrupt: spec.fault == BillFault::Corrupt,
            header_done: false,
            summary_done: false,
        }
    }

    /// True when truncation cut the bill before its summary.
    fn truncated(&self) -> bool {
        self.stop_at < self.rows
    }

    fn row(&self, out: &mut Vec<u8>, i: u64) {
        let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
        let yuan = 1 + i % 997;
        let fen = i % 100;
        // `write!` into a Vec cannot fail.
        let _ = if self.fund_flow {
            write!(
                out,
                "`{} {h:02}:{m:02}:{s:02},`4200000{i:019},`1000{i:022},`退款,`退款,`支出,`{yuan}.{fen:02},`{}.00,`sandbox,`,`R{i:012}\r\n",
                self.date,
                100_000 + i
            )
        } else {
            write!(
                out,
                "`{} {h:02}:{m:02}:{s:02},`wxd678efh567hg6787,`1900000109,`0,`,`4200000{i:019},`P{i:012},`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`{yuan}.{fen:02},`0.00,`0,`0,`0.00,`0.00,`,`,`sandbox item,`,`0.01000,`0.60%,`{yuan}.{fen:02},`0.00,`\r\n",
                self.date
            )
        };
    }

    fn summary(&self, out: &mut Vec<u8>) {
        let n = self.rows;
        let _ = if self.fund_flow {
            write!(out, "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n`{n},`0,`0.00,`{n},`0.00\r\n")
        } else {
            write!(out, "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`{n},`0.00,`0.00,`0.00,`0.00,`0.00,`0.00\r\n")
        };
    }

    /// The next piece (about [`PIECE`] bytes), `None` at the end.
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(PIECE + 512);
        if !self.header_done {
            self.header_done = true;
            out.extend_from_slice(b"\xEF\xBB\xBF");
            out.extend_from_slice(
                if self.fund_flow {
                    FUND_HEADER
                } else {
                    TRADE_HEADER
                }
                .as_bytes(),
            );
        }
        while out.len() < PIECE && self.next < self.stop_at {
            let first = self.next == 0;
            let at = out.len();
            self.row(&mut out, self.next);
            if first && self.corrupt {
                // One byte changed: `` `2026`` becomes `` `2027`` on the first row.
                if let Some(b) = out.get_mut(at + 4) {
                    *b ^= 1;
                }
            }
            self.next += 1;
        }
        if self.next >= self.stop_at && !self.summary_done && !self.truncated() && out.len() < PIECE
        {
            self.summary_done = true;
            self.summary(&mut out);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// The bill as hyper asks for it: plain pieces, or their gzip.
#[derive(Debug)]
pub(crate) struct BillStream {
    rows: Rows,
    gzip: Option<GzEncoder<Vec<u8>>>,
    done: bool,
}

impl BillStream {
    pub(crate) fn new(spec: &BillSpec) -> Self {
        Self {
            rows: Rows::new(spec),
            gzip: spec
                .gzip
                .then(|| GzEncoder::new(Vec::new(), Compression::fast())),
            done: false,
        }
    }

    /// The content type of the download.
    pub(crate) fn content_type(spec: &BillSpec) -> &'static str {
        if spec.gzip {
            "application/x-gzip"
        } else {
            "text/plain;charset=utf-8"
        }
    }
}

impl Iterator for BillStream {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        while !self.done {
            let piece = self.rows.next_piece();
            let Some(encoder) = self.gzip.as_mut() else {
                self.done = piece.is_none();
                return piece.map(Bytes::from);
            };
            match piece {
                // Writing into a Vec cannot fail.
                Some(piece) => {
                    let _ = encoder.write_all(&piece);
                }
                None => {
                    self.done = true;
                    if !self.rows.truncated() {
                        let _ = encoder.try_finish();
                    }
                }
            }
            let out = std::mem::take(encoder.get_mut());
            if !out.is_empty() {
                return Some(Bytes::from(out));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_junk() {
        let spec = BillSpec {
            fund_flow: true,
            rows: 7,
            gzip: true,
            fault: BillFault::Corrupt,
            date: "20261130".into(),
        };
        assert_eq!(BillSpec::from_token(&spec.token()), Some(spec));
        for junk in [
            "",
            "X-1-G-N-20261130",
            "T-1-G-N-2026113",
            "T-99999999-G-N-20261130",
            "T-1-G-N-20261130-x",
        ] {
            assert_eq!(BillSpec::from_token(junk), None, "{junk}");
        }
    }

    #[test]
    fn gzip_stream_decompresses_to_the_plain_bill() {
        let spec = BillSpec {
            fund_flow: false,
            rows: 1000,
            gzip: false,
            fault: BillFault::None,
            date: "20261130".into(),
        };
        let plain: Vec<u8> = BillStream::new(&spec).flat_map(|b| b.to_vec()).collect();
        let gz: Vec<u8> = BillStream::new(&BillSpec { gzip: true, ..spec })
            .flat_map(|b| b.to_vec())
            .collect();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, plain);
        assert!(plain.ends_with(b"`0.00\r\n"));
    }
}
