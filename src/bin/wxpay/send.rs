//! Building the request from the arguments, then printing it (dry run) or sending it.

use wechatpay_chain::{
    catalog, Chain, ChainError, Method, Options, PreparedRequest, PrivateKey, StreamingResponse,
    Wechatpay,
};

use crate::apiv2;
use crate::config::Config;
use crate::input::{read_arg, BODY_CAP};
use crate::output::{self, describe};
use crate::session::Session;
use crate::{Fail, GlobalArgs, RequestArgs};

/// A throw-away key for dry runs without configuration: the crate's public test key, so the
/// signature shows the format but is valid for no merchant.
const THROWAWAY_KEY: &str = include_str!("../../../tests/fixtures/apiclient_key.pem");
const THROWAWAY_MCHID: &str = "1900000109";
const THROWAWAY_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD2A4B1A16";
/// The sandbox's public test-only APIv2 key, for v2 dry runs without configuration.
const THROWAWAY_APIV2_KEY: &str = "TestOnlyApiV2Key0123456789abcdef";

/// One call: the URI, its method and options (whether it is an APIv2 call is the prepared
/// request's [`PreparedRequest::is_apiv2`]).
struct Call<'a> {
    uri: &'a str,
    method: Method,
    opts: Options,
}

fn split_pair<'a>(flag: &str, pair: &'a str, sep: char) -> Result<(&'a str, &'a str), Fail> {
    pair.split_once(sep)
        .ok_or_else(|| Fail::input(format!("{flag} {pair:?}: expected NAME{sep}VALUE")))
}

/// The chain for a dotted or slashed URI (or an absolute URL). The slashed form is a path as
/// written, like `chain()` (an ID with capitals is kept); only the dotted form, a chain of
/// PHP/JS property names, is normalized segment by segment like `.seg()`.
pub(crate) fn chain_for(client: &Wechatpay, uri: &str) -> Chain {
    if dotted(uri) {
        // Dotted form, as the JS CLI takes it: each piece is a segment name.
        uri.split('.')
            .fold(client.chain(""), |c, piece| c.seg(piece))
    } else {
        client.chain(uri)
    }
}

/// True if `uri` is in the dotted form (`v3.pay.transactions.native`): it has a `.` and no
/// `/`. Anything else (a slashed path, a single segment, an absolute URL) is slashed.
pub(crate) fn dotted(uri: &str) -> bool {
    !uri.contains('/') && uri.contains('.')
}

/// The body of `-d`: inline, `@FILE` or `@-`, read up to [`BODY_CAP`].
fn read_data(data: &str) -> Result<Vec<u8>, Fail> {
    let bytes = read_arg(data, BODY_CAP, "the body", "-d ")?;
    // Sent exactly as given (no re-serialization that could change numbers), but it must be JSON.
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map_err(|e| Fail::input(format!("-d is not valid JSON: {e}")))?;
    Ok(bytes)
}

/// The options of the request, whether it has a body and (v2) the merchant id its data names.
/// For a v2 URI, `-d` (a JSON object) and the `-q` pairs become the signed data
/// ([`apiv2::data`]).
fn options(args: &RequestArgs, v2: bool) -> Result<(Options, bool, Option<String>), Fail> {
    let mut opts = Options::new();
    for p in &args.params {
        let (name, value) = split_pair("-P", p, '=')?;
        opts = opts.param(name, value);
    }
    let queries = args
        .queries
        .iter()
        .map(|q| split_pair("-q", q, '='))
        .collect::<Result<Vec<_>, _>>()?;
    if !v2 && (args.nonceless || args.security) {
        let flag = if args.nonceless {
            "--nonceless"
        } else {
            "--security"
        };
        return Err(Fail::input(format!(
            "{flag} applies to APIv2 calls only (a v2/… URI)"
        )));
    }
    for h in &args.headers {
        let (name, value) = split_pair("-H", h, ':')?;
        opts = opts.header(name.trim(), value.trim());
    }
    if v2 {
        let body = args
            .data
            .as_deref()
            .map(|d| read_arg(d, BODY_CAP, "the body", "-d "))
            .transpose()?;
        let data = apiv2::data(body.as_deref(), &queries)?;
        let has_data = !data.is_empty();
        let mchid = apiv2::data_mchid(&data);
        return Ok((
            apiv2::options(opts, data, args.nonceless, args.security),
            has_data,
            mchid,
        ));
    }
    for (name, value) in queries {
        opts = opts.query(name, value);
    }
    let has_body = match &args.data {
        Some(data) => {
            opts = opts.body(read_data(data)?);
            true
        }
        None => false,
    };
    Ok((opts, has_body, None))
}

/// The method: `-X`, else POST with a body (and for every v2 call: its data goes in the XML
/// body unless `-X GET` asks for the query), else GET.
fn method(args: &RequestArgs, has_body: bool) -> Result<Method, Fail> {
    match &args.method {
        Some(m) => {
            let upper = m.to_ascii_uppercase();
            match upper.as_str() {
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => Method::from_bytes(upper.as_bytes())
                    .map_err(|_| Fail::input(format!("-X {m}: not a method"))),
                _ => Err(Fail::input(format!(
                    "-X {m}: use GET, POST, PUT, PATCH or DELETE"
                ))),
            }
        }
        None if has_body => Ok(Method::POST),
        None => Ok(Method::GET),
    }
}

/// The client for this run: configured, or (dry run only) signed with a throw-away key.
fn client(args: &RequestArgs, config: &Config) -> Result<Wechatpay, Fail> {
    let mut builder = config.builder()?;
    match config.private_key()? {
        Some(key) => builder = builder.private_key(key),
        None if args.dry_run => {
            eprintln!(
                "wxpay: no private key configured; signing with a throw-away test key (mchid {THROWAWAY_MCHID} unless set): the signature is valid for no merchant"
            );
            let key = PrivateKey::from_pem(THROWAWAY_KEY).map_err(Fail::from)?;
            builder = builder.private_key(key);
            if config.file.mchid.is_none() {
                builder = builder.mchid(THROWAWAY_MCHID);
            }
            if config.file.serial.is_none() {
                builder = builder.serial(THROWAWAY_SERIAL);
            }
        }
        None => {
            return Err(Fail::input(
                "no private key configured; pass -c wxpay.toml, --private-key, or set WECHATPAY_PRIVATE_KEY (or use --dry-run / --sandbox)",
            ))
        }
    }
    builder.build().map_err(|e| config.build_error(e))
}

/// The client of a v2 call: the configured one (no private key needed), or for a dry run
/// without an APIv2 key one signing with the throw-away test key (for the merchant the data
/// names unless one is configured).
fn v2_client(
    args: &RequestArgs,
    config: &Config,
    data_mchid: Option<String>,
) -> Result<Wechatpay, Fail> {
    let mut builder = config.builder()?;
    if let Some(key) = config.private_key()? {
        builder = builder.private_key(key);
    }
    if config.file.apiv2_key.is_none() {
        if !args.dry_run {
            return Err(Fail::input(
                "no APIv2 key configured (v2/… URIs are signed with it): set apiv2_key in the config (-c), --apiv2-key or WECHATPAY_APIV2_KEY (or use --dry-run / --sandbox)",
            ));
        }
        eprintln!(
            "wxpay: no APIv2 key configured; signing with a throw-away test key: the sign is valid for no merchant"
        );
        builder = builder.apiv2_key(THROWAWAY_APIV2_KEY);
        if config.file.mchid.is_none() {
            // The merchant the data names (the library checks they agree), else the test one.
            builder = builder.mchid(data_mchid.unwrap_or_else(|| THROWAWAY_MCHID.to_string()));
        }
    }
    builder.build().map_err(|e| config.build_error(e))
}

/// Prepares the request; an unused or missing `-P` is named as the flag the user types.
fn prepare(
    client: &Wechatpay,
    uri: &str,
    method: Method,
    opts: Options,
) -> Result<PreparedRequest, Fail> {
    chain_for(client, uri).prepare(method, opts).map_err(|e| match e.chain() {
        Some(ChainError::UnusedOptions { keys, body_hint }) => {
            let flags: Vec<String> = keys.iter().map(|k| format!("-P {k}")).collect();
            let hint = if *body_hint {
                "; a request body goes in -d '{…}'"
            } else {
                ""
            };
            Fail::input(format!(
                "unused {}: not a variable of {uri}'s template (remove it, or check its spelling){hint}",
                flags.join(", ")
            ))
        }
        Some(ChainError::MissingVariable(name)) => Fail::input(format!(
            "missing template variable {name} of {uri}: pass it with -P {name}=…"
        )),
        Some(ChainError::EmptyVariable(name)) => Fail::input(format!(
            "-P {name}= is empty, which would leave an empty path segment in {uri}: give it a value, -P {name}=…"
        )),
        _ => Fail::from(e),
    })
}

/// Warns on stderr when the catalog does not know `prepared`'s method and template, naming
/// the nearest catalog endpoints; the request still goes out (the catalog can lag the
/// platform). The template holds no values, so nothing secret is shown.
fn warn_if_uncatalogued(prepared: &PreparedRequest) {
    let method = prepared.method().as_str();
    let template = prepared.template();
    if catalog::lookup(method, template).is_some() {
        return;
    }
    let nearest: Vec<String> = catalog::nearest(method, template, NEAREST)
        .into_iter()
        .map(|e| format!("{} {}", e.method, e.template()))
        .collect();
    let nearest = if nearest.is_empty() {
        "none".to_string()
    } else {
        nearest.join(", ")
    };
    eprintln!(
        "wxpay: warning: {method} {template} is not in the endpoint catalog (sent anyway: the catalog can lag the platform); nearest catalog endpoints: {nearest}"
    );
}

/// How many catalog endpoints the warning names.
const NEAREST: usize = 3;

/// Runs one request: dry run, sandbox or real.
pub(crate) async fn request(
    args: &RequestArgs,
    global: &GlobalArgs,
    config: Config,
) -> Result<(), Fail> {
    let uri = args.uri.as_deref().ok_or_else(|| {
        Fail::input("missing <URI>; e.g. wxpay v3/certificates --dry-run (see --help)")
    })?;
    if uri.trim().trim_matches(['/', '.']).is_empty() {
        // `wxpay ''` would sign `GET /`: no endpoint lives at the root.
        return Err(Fail::input(format!(
            "the URI {uri:?} names no endpoint; e.g. wxpay v3/certificates --dry-run (see --help)"
        )));
    }
    let v2 = apiv2::is_v2(uri);
    let (opts, has_body, data_mchid) = options(args, v2)?;
    let method = method(args, has_body || v2)?;
    let call = Call { uri, method, opts };
    if args.client.sandbox {
        // The session's sandbox shuts down as the session drops, after the call.
        let session = Session::open(&args.client).await?;
        return send_or_print(args, global, &session.client, call, false).await;
    }
    let (client, show_signature) = if v2 {
        let client = v2_client(args, &config, data_mchid)?;
        (client, config.file.apiv2_key.is_none())
    } else {
        (client(args, &config)?, config.file.private_key.is_none())
    };
    send_or_print(args, global, &client, call, show_signature).await
}

/// Prints the dry-run description; the signature shows only when the throw-away key made it.
fn print_dry_run(
    global: &GlobalArgs,
    prepared: &PreparedRequest,
    show_signature: bool,
    client: &Wechatpay,
) -> Result<(), Fail> {
    let described = if prepared.is_apiv2() {
        apiv2::describe(prepared, client.apiv2_key(), show_signature)
    } else {
        describe(prepared, show_signature)
    };
    output::print(&described, global.format)
        .map_err(|e| Fail::input(format!("cannot write the request on stdout: {e}")))
}

/// Prepares the request, then prints it (dry run) or sends it: the response's summary on
/// stdout, or with `-o` its body streamed into the file (a `GET` or any v2 call through
/// [`Wechatpay::execute_streaming`], so a large body is never held whole).
async fn send_or_print(
    args: &RequestArgs,
    global: &GlobalArgs,
    client: &Wechatpay,
    call: Call<'_>,
    show_signature: bool,
) -> Result<(), Fail> {
    let prepared = prepare(client, call.uri, call.method, call.opts)?;
    warn_if_uncatalogued(&prepared);
    if let Some(path) = args.output.as_deref().filter(|p| p.is_dir()) {
        // Caught before sending: the body would have nowhere to go (exit 6 after the fact).
        return Err(Fail::input(format!(
            "-o {}: a folder; give a file name (e.g. -o {}/body.json)",
            path.display(),
            path.display().to_string().trim_end_matches('/')
        )));
    }
    if args.dry_run {
        return print_dry_run(global, &prepared, show_signature, client);
    }
    let format = global.format;
    // Read before `prepared` moves into the client.
    let prepared_v2 = prepared.is_apiv2();
    let Some(path) = &args.output else {
        let response = client
            .execute(prepared)
            .await
            .map_err(|e| output::failed(e, format))?;
        if prepared_v2 {
            return output::print_response(&response, &apiv2::summary(&response), format);
        }
        return output::response(&response, format);
    };
    // A v2 bill is a POST: the library streams an unsigned v2 answer (and checks any other
    // whole first), so every v2 call goes through the streaming path.
    let streaming = if *prepared.method() == Method::GET || prepared_v2 {
        client.execute_streaming(prepared).await
    } else {
        client.execute(prepared).await.map(StreamingResponse::from)
    }
    .map_err(|e| output::failed(e, format))?;
    output::streamed(streaming, path, format).await
}
