//! The [`Chain`]: path segments accumulated in any of three forms (methods, `chain("…")`,
//! `wxpay["…"]`), bound to a client. Names given to `.seg()` are normalized like the PHP/JS
//! property spellings (minus their bugs); declarative and indexed strings are paths as written.
//!
//! A chain holds a handle to the client and its own node: the path so far as one string (a
//! typed chain borrows its catalog template, so building or cloning it allocates nothing; a
//! dynamic step allocates the extended path once). Building a chain never fails; a bad segment is kept as a deferred error and reported by the verb (or by
//! [`Chain::template`]) before anything is signed.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, Index};
use std::sync::{Arc, OnceLock};

use elsa::sync::FrozenMap;

use std::future::Future;

use http::Method;

#[cfg(feature = "blocking")]
use crate::blocking::Blocking;
use crate::client::{ClientInner, Wechatpay};
use crate::download::StreamingResponse;
use crate::error::ChainError;
use crate::error::Result;
use crate::options::Options;
use crate::request::PreparedRequest;
use crate::response::Response;
use crate::template::{encode_literal_segment_cow, encode_simple};

/// Normalizes a segment name given by name (PHP/JS property spelling): `_x_` / `$x$` → `{x}`,
/// a leading capital lower-cased, every other capital `X` → `-x`.
///
/// - `_name_` and `$name$` (length ≥ 3) become `{name}`, the inner name kept verbatim;
/// - a `{…}` expression is kept verbatim;
/// - otherwise a leading ASCII capital is lower-cased and every other ASCII capital `X`
///   becomes `-x` (`sendPendingmessage` → `send-pendingmessage`).
///
/// ```
/// use wechatpay_chain::normalize_segment;
/// assert_eq!(normalize_segment("complaintsV2"), "complaints-v2");
/// assert_eq!(normalize_segment("_OpenID_"), "{OpenID}");
/// assert_eq!(normalize_segment("mch_archives"), "mch_archives");
/// ```
pub fn normalize_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    normalize_into(name, &mut out);
    out
}

/// [`normalize_segment`], appending to `out`.
fn normalize_into(name: &str, out: &mut String) {
    let wrapped = |c: char| {
        name.len() >= 3
            && name.starts_with(c)
            && name.ends_with(c)
            && name.is_char_boundary(1)
            && name.is_char_boundary(name.len() - 1)
    };
    if wrapped('_') || wrapped('$') {
        out.push('{');
        out.push_str(&name[1..name.len() - 1]);
        out.push('}');
        return;
    }
    if name.starts_with('{') && name.ends_with('}') {
        out.push_str(name);
        return;
    }
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// Whether [`normalize_segment`] returns `name` unchanged: no ASCII capital, not `_x_`/`$x$`.
fn normalizes_to_itself(name: &str) -> bool {
    let wrapped = |c: u8| name.len() >= 3 && name.as_bytes()[0] == c && name.ends_with(c as char);
    !name.bytes().any(|b| b.is_ascii_uppercase()) && !wrapped(b'_') && !wrapped(b'$')
}

/// Checks that a normalized segment can stand in a path template.
fn check_segment(segment: &str) -> Result<(), ChainError> {
    // The usual segment (`v3`, `send-pendingmessage`, `mch_archives`) needs no further look.
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if segment.bytes().all(plain) {
        return Ok(());
    }
    let invalid = |reason| ChainError::InvalidSegment {
        segment: segment.to_string(),
        reason,
    };
    if segment.contains('/') {
        return Err(invalid(
            "a segment cannot contain `/`; use chain(\"a/b\") for several",
        ));
    }
    if segment.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("spaces and control characters are not allowed in a segment name; pass values as template variables"));
    }
    if segment.contains(['?', '#']) {
        return Err(invalid(
            "`?` and `#` are not allowed in a segment; use the `query` option",
        ));
    }
    let is_expression = segment.starts_with('{')
        && segment.ends_with('}')
        && segment[1..segment.len() - 1].find(['{', '}']).is_none();
    if segment.contains(['{', '}']) && !is_expression {
        return Err(invalid(
            "braces must enclose a whole segment, like `{out_trade_no}`",
        ));
    }
    Ok(())
}

/// Children created by `Index`, keyed by the literal used: bounded by the program's literals.
type Children = FrozenMap<&'static str, Box<Chain>>;

/// One node of the chain tree: the path so far and the indexed children interned for
/// `Index`. Nodes hold no reference to the client, so the cache cannot form a cycle.
pub(crate) struct Node {
    /// The segments joined by `/` (no segment contains `/`): a catalog node's template
    /// borrowed from the binary, or a path built at run time.
    path: Cow<'static, str>,
    /// How many segments `path` holds: `""` is no segment at the root, one empty one after.
    count: usize,
    /// A query that came with a declarative string (`chain("v3/x?a=b")`) or an absolute URL.
    pub(crate) query: Option<Box<str>>,
    /// `scheme://authority` of an absolute URL chain.
    pub(crate) origin: Option<Box<str>>,
    pub(crate) error: Option<ChainError>,
    /// Created on the first `Index`: most nodes are never indexed.
    children: OnceLock<Children>,
}

impl Node {
    pub(crate) fn root() -> Arc<Self> {
        Arc::new(Self::catalog("", 0))
    }

    /// A node of the catalog tree: its whole template, valid by construction.
    fn catalog(template: &'static str, count: usize) -> Self {
        Self {
            path: Cow::Borrowed(template),
            count,
            query: None,
            origin: None,
            error: None,
            children: OnceLock::new(),
        }
    }

    /// The segments, in order.
    pub(crate) fn segments(&self) -> std::iter::Take<std::str::Split<'_, char>> {
        self.path.split('/').take(self.count)
    }

    /// How many segments the path holds.
    pub(crate) fn segment_count(&self) -> usize {
        self.count
    }

    /// The interned child for an `Index` literal.
    fn child(&self, path: &'static str, make: impl FnOnce() -> Chain) -> &Chain {
        let children = self.children.get_or_init(FrozenMap::new);
        match children.get(path) {
            Some(child) => child,
            None => children.insert(path, Box::new(make())),
        }
    }

    /// A copy to extend, with room for `more` bytes of path: one allocation, no regrowth.
    fn derive(&self, more: usize) -> Self {
        let path = if self.error.is_some() {
            // Nothing more is appended to a failed chain.
            self.path.clone()
        } else {
            let mut path = String::with_capacity(self.path.len() + more + 1);
            path.push_str(&self.path);
            Cow::Owned(path)
        };
        Self {
            path,
            count: self.count,
            query: self.query.clone(),
            origin: self.origin.clone(),
            error: self.error.clone(),
            children: OnceLock::new(),
        }
    }

    fn push(&mut self, segment: &str) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = check_segment(segment) {
            self.error = Some(e);
            return;
        }
        self.push_checked(segment);
    }

    /// Appends a segment given by name, normalized straight into the path.
    fn push_normalized(&mut self, name: &str) {
        if normalizes_to_itself(name) {
            self.push(name);
            return;
        }
        if self.error.is_some() {
            return;
        }
        if self.query.is_some() {
            // Reported like any segment after a query (rare: no need to be quick).
            self.push(&normalize_segment(name));
            return;
        }
        let path = self.path.to_mut();
        let before = path.len();
        if self.count > 0 {
            path.push('/');
        }
        let start = path.len();
        normalize_into(name, path);
        if let Err(e) = check_segment(&path[start..]) {
            path.truncate(before);
            self.error = Some(e);
            return;
        }
        self.count += 1;
    }

    /// Appends a segment known to pass [`check_segment`].
    fn push_checked(&mut self, segment: &str) {
        if self.error.is_some() {
            return;
        }
        if self.query.is_some() {
            self.error = Some(ChainError::InvalidSegment {
                segment: segment.to_string(),
                reason: "a segment cannot follow a query",
            });
            return;
        }
        let path = self.path.to_mut();
        if self.count > 0 {
            path.push('/');
        }
        path.push_str(segment);
        self.count += 1;
    }

    /// Appends a declarative path (kept as written), an absolute URL, or nothing for `""`.
    ///
    /// Pieces are paths as written: a `{…}` piece is a template expression, every other piece
    /// a literal kept verbatim (percent-encoded where a segment cannot carry a character).
    fn push_path(&mut self, path: &str) {
        if let Some(rest) = path
            .strip_prefix("https://")
            .or_else(|| path.strip_prefix("http://"))
        {
            self.push_absolute(path, rest);
            return;
        }
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        if !path.is_empty() {
            for piece in path.split('/') {
                self.push_literal(piece);
            }
        }
        if let Some(q) = query {
            self.query = Some(q.into());
        }
    }

    /// Appends one piece of a declarative string or URL: an expression as is, a literal
    /// verbatim (encoded), a dot segment refused (servers would remove it and move the
    /// signed request to another endpoint).
    fn push_literal(&mut self, piece: &str) {
        if self.error.is_none() && matches!(piece, "." | "..") {
            self.error = Some(ChainError::InvalidSegment {
                segment: piece.to_string(),
                reason: "`.` and `..` are not allowed in a path; servers would remove them and change the endpoint",
            });
            return;
        }
        if piece.starts_with('{') {
            self.push(piece);
        } else {
            self.push(&encode_literal_segment_cow(piece));
        }
    }

    fn push_absolute(&mut self, url: &str, after_scheme: &str) {
        if self.count > 0 || self.origin.is_some() {
            self.error = Some(ChainError::InvalidUri(format!(
                "an absolute URL must start a chain: {}",
                redact_userinfo(url)
            )));
            return;
        }
        let scheme_len = url.len() - after_scheme.len();
        let (authority, path_and_query) = match after_scheme.find(['/', '?', '#']) {
            Some(i) => after_scheme.split_at(i),
            None => (after_scheme, "/"),
        };
        if authority.contains('@') {
            self.origin = Some(redact_userinfo(&url[..scheme_len + authority.len()]).into());
            self.error = Some(ChainError::UserInfo(redact_userinfo(url)));
            return;
        }
        self.origin = Some(url[..scheme_len + authority.len()].into());
        if path_and_query.contains('#') {
            self.error = Some(ChainError::InvalidUri(format!(
                "a URL with a fragment cannot be requested: {url}"
            )));
            return;
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        // The pieces of a real URL are already encoded: kept verbatim, never normalized.
        for piece in path.trim_start_matches('/').split('/') {
            self.push_literal(piece);
        }
        self.query = query.map(Into::into);
    }
}

/// `url` with any userinfo replaced by `***`, so a password never reaches a message or log.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// An endpoint being named: the client plus the path segments so far.
///
/// All three forms build equal chains:
///
/// ```
/// # use wechatpay_chain::Wechatpay;
/// # fn demo(wxpay: &Wechatpay) {
/// let a = wxpay.v3().payscore().partner().serviceorder()._out_order_no_().send_pendingmessage();
/// let b = wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage");
/// let c = &wxpay["v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"];
/// assert_eq!(a, b);
/// assert_eq!(&b, c);
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a chain does nothing until a verb (get/post/…) is called"]
pub struct Chain {
    // The client's state, not the `Wechatpay` handle: the handle owns the root node, whose
    // index cache holds chains; pointing back at it would be a reference cycle.
    pub(crate) client: Arc<ClientInner>,
    pub(crate) node: NodeRef,
}

/// A chain's node: its own (no allocation for the node itself; a typed chain's borrowed
/// template makes it allocation-free), or the client's shared root.
pub(crate) enum NodeRef {
    /// A chain's own node.
    Inline(Node),
    /// The client's root node (whose index cache the client keeps).
    Shared(Arc<Node>),
}

impl Deref for NodeRef {
    type Target = Node;

    #[inline]
    fn deref(&self) -> &Node {
        match self {
            Self::Inline(node) => node,
            Self::Shared(node) => node,
        }
    }
}

impl Clone for NodeRef {
    fn clone(&self) -> Self {
        match self {
            // The path is copied (nothing to copy for a typed chain's borrowed template);
            // the index cache is per value, rebuilt on use.
            Self::Inline(node) => Self::Inline(Node {
                path: node.path.clone(),
                count: node.count,
                query: node.query.clone(),
                origin: node.origin.clone(),
                error: node.error.clone(),
                children: OnceLock::new(),
            }),
            Self::Shared(node) => Self::Shared(node.clone()),
        }
    }
}

/// Everything a user calls on a chain, in one place: the verbs, the ways to extend it, the
/// dry run, the blocking verbs, then inspection.
impl Chain {
    /// `GET` this endpoint: prepare (expand, sign), send, verify.
    pub fn get(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.request(Method::GET, options)
    }

    /// `POST` this endpoint: prepare (expand, sign), send, verify.
    pub fn post(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.request(Method::POST, options)
    }

    /// `PUT` this endpoint: prepare (expand, sign), send, verify.
    pub fn put(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.request(Method::PUT, options)
    }

    /// `PATCH` this endpoint: prepare (expand, sign), send, verify.
    pub fn patch(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.request(Method::PATCH, options)
    }

    /// `DELETE` this endpoint: prepare (expand, sign), send, verify. (A few endpoints take a
    /// JSON body on `DELETE`; give it as `json`.)
    pub fn delete(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.request(Method::DELETE, options)
    }

    /// Sends this endpoint with any method: prepare (expand, sign), send, verify.
    pub fn request(
        &self,
        method: Method,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        crate::client::request(self, method, options)
    }

    /// `GET` this endpoint and stream the answer: signed like any request; the body is read
    /// chunk by chunk through the returned [`StreamingResponse`], in constant memory.
    ///
    /// An unsigned download endpoint ([`is_exempt`](crate::verifier::is_exempt), e.g.
    /// `v3/billdownload/file`) streams as it arrives; any other answer is signed over its whole
    /// body, so it is read within the body limit and verified before a byte is released (fail
    /// closed). A status ≥ 400 is the usual [`ApiError`](crate::ApiError). The total timeout
    /// bounds reaching the headers, then each chunk must come within the same duration; see
    /// [`download`](crate::download). A download is never retried
    /// ([`get_retries`](crate::Builder::get_retries) does not apply). For bills,
    /// [`crate::bill`] also checks the digest.
    ///
    /// An APIv2 chain (`v2/pay/downloadbill`, `v2/pay/downloadfundflow`) is `POST`ed, as
    /// APIv2 bills are: its `xml` data is the body. The bill (CSV or gzip, unsigned) streams;
    /// an answer starting like XML is its failure (`<xml><return_code>FAIL…`), read whole and
    /// returned as an [`ApiV2Error`](crate::ApiV2Error).
    ///
    /// ```no_run
    /// # async fn demo(wxpay: wechatpay_chain::Wechatpay, url: &str) -> wechatpay_chain::Result<()> {
    /// let mut file = tokio::fs::File::create("bill.csv").await.expect("create");
    /// let mut download = wxpay.chain(url).download(()).await?;
    /// let bytes = download.write_to(&mut file).await?;
    /// # Ok(()) }
    /// ```
    pub fn download(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<StreamingResponse>> + Send + 'static {
        let options = options.into();
        let prepared = match self.prepare(Method::GET, options.clone()) {
            // Known only once the chain is expanded (`{+u}` may hold `v2/…`).
            Ok(get) if get.is_apiv2() => self.prepare(Method::POST, options),
            other => other,
        };
        let client = self.client.clone();
        async move { crate::download::execute(client, prepared?).await }
    }

    /// Appends one segment given by name, normalized (`sendPendingmessage` →
    /// `send-pendingmessage`, `_id_` → `{id}`). For any endpoint, catalogued or not.
    pub fn seg(&self, name: &str) -> Self {
        // Room for a few `-` the normalization may add.
        self.with(name.len() + 4, |n| n.push_normalized(name))
    }

    /// Appends a literal segment verbatim (never normalized), percent-encoded like a value:
    /// for IDs that must keep their capitals.
    pub fn raw(&self, value: &str) -> Self {
        let encoded = encode_simple(value);
        self.with(encoded.len(), |n| n.push(&encoded))
    }

    /// Appends a `/`-separated path **as written**: `{…}` pieces are template
    /// expressions; every other piece is kept verbatim — no case change, no `_x_`/`$x$`
    /// conversion — so an ID in the path (`…/out-trade-no/P123abcXYZ`) arrives exactly as
    /// written. Characters a segment cannot carry are percent-encoded; sub-delims, `:`, `@`
    /// and `%XX` triplets pass through. A leading `/` is dropped, a trailing `/` kept; an empty
    /// middle piece or a `.`/`..` piece is an error. `?query` is kept as the default query. An
    /// absolute `https://` URL starts an absolute chain (allowed only towards the base host or
    /// its backup, checked before signing). Only [`Chain::seg`] normalizes names.
    ///
    /// ```
    /// # use wechatpay_chain::Wechatpay;
    /// # fn demo(wxpay: &Wechatpay) {
    /// let chain = wxpay.chain("v3/pay/transactions/out-trade-no/P123abcXYZ");
    /// assert_eq!(chain.template().unwrap(), "v3/pay/transactions/out-trade-no/P123abcXYZ");
    /// # }
    /// ```
    pub fn chain(&self, path: &str) -> Self {
        self.with(path.len(), |n| n.push_path(path))
    }

    /// Builds and signs the request without sending it (`wxpay --dry-run` shows the result).
    ///
    /// Every chain, template, option, query, header and target problem is reported here, before
    /// signing: the steps are [`Chain::template`], the `{+url}` resolution, the base URI and
    /// host allow-list, the unused-option check, template expansion, the APIv2 routing (a
    /// leading `v2` segment: see [`Options::xml`](crate::Options::xml)), the query, the body, the headers and the target check (at most
    /// [`MAX_TARGET_LEN`](crate::MAX_TARGET_LEN) bytes, a valid request-line target).
    pub fn prepare(&self, method: Method, options: impl Into<Options>) -> Result<PreparedRequest> {
        crate::request::prepare(self, method, options.into())
    }

    /// Blocking versions of the verbs, for code without an async runtime (feature `blocking`,
    /// on by default).
    ///
    /// ```no_run
    /// # fn demo(wxpay: &wechatpay_chain::Wechatpay) -> wechatpay_chain::Result<()> {
    /// let response = wxpay.v3().certificates().blocking().get(())?;
    /// println!("{}", response.status());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "blocking")]
    #[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
    pub fn blocking(&self) -> Blocking<'_> {
        Blocking::new(self)
    }

    /// The path template, e.g. `v3/pay/transactions/id/{transaction_id}`, or the deferred
    /// error of a malformed chain.
    pub fn template(&self) -> Result<String, ChainError> {
        if let Some(e) = &self.node.error {
            return Err(e.clone());
        }
        let path = &*self.node.path;
        // No segment contains `/`, so an empty segment before the last one is a leading `/`
        // or a `//`.
        if self.node.count > 1 && (path.starts_with('/') || path.contains("//")) {
            return Err(ChainError::EmptySegment {
                template: path.to_string(),
            });
        }
        Ok(path.to_string())
    }

    /// The segments so far.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.node.segments()
    }

    /// The client this chain sends through.
    pub fn client(&self) -> Wechatpay {
        Wechatpay::from_inner(self.client.clone())
    }
}

impl Chain {
    pub(crate) fn new(client: Arc<ClientInner>, node: Arc<Node>) -> Self {
        Self {
            client,
            node: NodeRef::Shared(node),
        }
    }

    /// A new chain from this one's node extended by `f`, with room for `more` bytes of path.
    fn with(&self, more: usize, f: impl FnOnce(&mut Node)) -> Self {
        let mut node = self.node.derive(more);
        f(&mut node);
        Self {
            client: self.client.clone(),
            node: NodeRef::Inline(node),
        }
    }

    /// Appends a catalog segment exactly as the catalog spells it (used by generated methods).
    /// Catalog segments are valid by construction (`build.rs` generates them from the catalog,
    /// and tests/api_tree.rs checks every method form against its declarative form), so they
    /// skip the per-call check.
    ///
    /// `template` is the child's whole catalog template (this chain's path, `/`, `segment`):
    /// a node of the typed tree borrows it, so building a typed chain copies no path.
    pub(crate) fn catalog_segment(&self, template: &'static str, segment: &'static str) -> Self {
        debug_assert!(
            check_segment(segment).is_ok(),
            "catalog segment {segment:?}"
        );
        let node = &self.node;
        if node.error.is_none() && node.query.is_none() && node.origin.is_none() {
            debug_assert!(
                template.strip_suffix(segment).is_some_and(|parent| {
                    let parent = if node.count > 0 {
                        parent.strip_suffix('/')
                    } else {
                        Some(parent)
                    };
                    parent == Some(&*node.path)
                }),
                "catalog template {template:?} of {segment:?} after {:?}",
                node.path
            );
            let child = Node::catalog(template, node.count + 1);
            return Self {
                client: self.client.clone(),
                node: NodeRef::Inline(child),
            };
        }
        self.with(segment.len(), |n| n.push_checked(segment))
    }
}

impl PartialEq for Chain {
    fn eq(&self, other: &Self) -> bool {
        self.node.count == other.node.count
            && self.node.path == other.node.path
            && self.node.query == other.node.query
            && self.node.origin == other.node.origin
            && self.node.error == other.node.error
    }
}

impl Eq for Chain {}

impl fmt::Display for Chain {
    /// The template form (no values), safe for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.node.origin {
            write!(f, "{origin}/")?;
        }
        f.write_str(&self.node.path)
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("template", &self.to_string())
            .field("error", &self.node.error)
            .finish_non_exhaustive()
    }
}

impl Index<&'static str> for Chain {
    type Output = Chain;

    /// `chain["v3/pay/transactions/native"]`: the same as [`Chain::chain`] (a path as
    /// written, never normalized), interned so a
    /// reference can be returned. Keys are `&'static str`, so the cache stays bounded.
    fn index(&self, path: &'static str) -> &Chain {
        self.node.child(path, || self.chain(path))
    }
}

impl Index<&'static str> for Wechatpay {
    type Output = Chain;

    /// `wxpay["v3/pay/transactions/native"]`: the indexed form of [`Wechatpay::chain`].
    fn index(&self, path: &'static str) -> &Chain {
        self.root_node().child(path, || self.chain(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        for (input, want) in [
            ("v3", "v3"),
            ("sendPendingmessage", "send-pendingmessage"),
            ("complaintsV2", "complaints-v2"),
            ("MerchantService", "merchant-service"),
            ("abc123Def", "abc123-def"),
            ("mch_archives", "mch_archives"),
            ("_out_order_no_", "{out_order_no}"),
            ("$out_order_no$", "{out_order_no}"),
            ("{out_order_no}", "{out_order_no}"),
            ("_OpenID_", "{OpenID}"),
            ("_", "_"),
            ("__", "__"),
            ("中文", "中文"),
        ] {
            assert_eq!(normalize_segment(input), want, "{input}");
            assert_eq!(normalizes_to_itself(input), input == want, "{input}");
        }
    }

    #[test]
    fn the_path_counts_its_segments() {
        assert_eq!(Node::catalog("", 0).segments().count(), 0);
        let trailing = Node::catalog("v3/applyment4sub/applyment/", 4);
        assert_eq!(
            trailing.segments().collect::<Vec<_>>(),
            ["v3", "applyment4sub", "applyment", ""]
        );
        let mut empty = Node::catalog("", 0);
        empty.push("");
        assert_eq!(empty.segments().collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn a_bad_name_leaves_the_path_as_it_was() {
        let mut node = Node::catalog("v3", 1);
        node.push_normalized("sendPending message");
        assert!(matches!(
            &node.error,
            Some(ChainError::InvalidSegment { segment, .. }) if segment == "send-pending message"
        ));
        assert_eq!(node.segments().collect::<Vec<_>>(), ["v3"]);
        node.push_normalized("more");
        assert_eq!(node.segments().count(), 1, "nothing follows an error");
    }

    #[test]
    fn segment_checks() {
        assert!(check_segment("send-pendingmessage").is_ok());
        assert!(check_segment("{+media_id}").is_ok());
        assert!(check_segment("a b").is_err());
        assert!(check_segment("a?b").is_err());
        assert!(check_segment("a{b}").is_err());
        assert!(check_segment("{a}{b}").is_err());
    }
}
