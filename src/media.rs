//! Media uploads (`v3/merchant/media/upload`, `…/video_upload`, `v3/marketing/favor/media/
//! image-upload`, `v3/merchant-service/images/upload`, …): a `multipart/form-data` body with a
//! `meta` part (`{"filename","sha256"}`) and a `file` part, where the **signed body is the meta
//! JSON**, byte for byte as sent in the `meta` part (`sha256`: lower-case hex of the file).
//!
//! [`Media`] holds the file and its meta, serialized once; [`Options::upload`](crate::Options::upload)
//! puts it on any chain form (methods, `chain("…")`, indexing) and any verb that carries a body.
//! The request's [`body`](crate::PreparedRequest::body) is then the meta (what is signed) and
//! its [`sent_body`](crate::PreparedRequest::sent_body) the multipart (what is sent).

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use bytes::{BufMut as _, Bytes, BytesMut};
use serde_json::{Map, Value};

use crate::crypto::backend::{Active, Backend as _};
use crate::error::{ChainError, Error, Result};

/// The largest file [`Media`] takes, in bytes (16 MiB). WeChat Pay's own limits are lower
/// (images 2 MiB, videos 5 MiB); this bound only keeps a wrong path from filling memory.
pub const MAX_MEDIA_LEN: usize = 16 * 1024 * 1024;

/// A file to upload, with its `meta` JSON (`{"filename":…,"sha256":…}`, sha256 = lower-case
/// hex of the file), serialized once: those bytes are both signed and sent.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay_chain::Result<()> {
/// # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
/// # let wxpay = sandbox.client()?;
/// # let path = std::env::temp_dir().join(format!("wechatpay-media-doc-{}.png", std::process::id()));
/// # std::fs::write(&path, b"\x89PNG\r\n\x1a\n an image").unwrap();
/// use wechatpay_chain::{Media, Options};
///
/// // PHP: $media = new MediaUtil('/your/file/path/image.jpg');
/// //      $instance->v3->merchant->media->upload->post(['body' => $media->getStream(),
/// //          'headers' => ['Content-Type' => $media->getContentType()]]);
/// // JS:  wxpay.v3.merchant.media.upload.post({meta, file}, {meta, headers: {'Content-Type': 'multipart/form-data'}})
/// let media = Media::from_file(&path)?; // or Media::new("image.png", bytes)?
/// let response = wxpay
///     .v3().merchant().media().upload()
///     .post(Options::new().upload(media))
///     .await?;
/// let media_id = response.json::<serde_json::Value>()?["media_id"].clone();
/// assert!(media_id.is_string());
/// # std::fs::remove_file(&path).unwrap();
/// # sandbox.shutdown();
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    filename: String,
    file: Bytes,
    content_type: &'static str,
    field: String,
    /// Lower-case hex SHA-256 of `file`.
    sha256: String,
    /// The meta was given whole ([`Media::with_meta`]): nothing in it is computed.
    custom_meta: bool,
    meta: Map<String, Value>,
    meta_bytes: Bytes,
}

impl Media {
    /// A file given as bytes, named `filename` (sent as the part's filename and in the meta).
    ///
    /// Refused ([`ChainError::InvalidMedia`]): an empty or too long file
    /// ([`MAX_MEDIA_LEN`]), an empty filename, or one with `"`, `\`, `/`, or control
    /// characters (they would break the multipart framing). Non-ASCII names are kept in the meta
    /// and percent-encoded in the file part's header (RFC 7578 §4.2).
    pub fn new(filename: impl Into<String>, file: impl Into<Bytes>) -> Result<Self> {
        let filename = filename.into();
        let file = file.into();
        check_filename(&filename)?;
        if file.is_empty() {
            return Err(invalid(format!("the file {filename:?} is empty")));
        }
        if file.len() > MAX_MEDIA_LEN {
            return Err(too_large(&filename, file.len()));
        }
        let sha256 = hex(&Active::sha256(&file));
        let mut meta = Map::new();
        meta.insert("filename".into(), filename.clone().into());
        meta.insert("sha256".into(), sha256.clone().into());
        let meta_bytes = serialize(&meta)?;
        Ok(Self {
            content_type: content_type_for(&filename),
            filename,
            file,
            field: "file".into(),
            sha256,
            custom_meta: false,
            meta,
            meta_bytes,
        })
    }

    /// A file whose `meta` JSON is given whole, for the endpoints whose meta is not
    /// `{"filename","sha256"}`: nothing is added to it, and those bytes are both signed and
    /// sent. `filename` still names the file part. Compute the digest the endpoint asks for
    /// yourself (the file's SHA-256 is [`sha256`](Self::sha256)).
    ///
    /// Refused ([`ChainError::InvalidMedia`]): a meta that is not a JSON object, and the
    /// file and filename checks of [`Media::new`].
    ///
    /// ```
    /// # fn demo(pdf: Vec<u8>, sm3_hex: &str) -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::{json, Media, Options};
    ///
    /// // JS: meta = {sub_mchid, file_type: 'PDF', digest_alogrithm: 'SM3', digest}
    /// let media = Media::with_meta(
    ///     "fapiao.pdf",
    ///     pdf,
    ///     json!({"file_type": "PDF", "digest_alogrithm": "SM3", "digest": sm3_hex}),
    /// )?;
    /// assert!(!String::from_utf8_lossy(media.meta()).contains("sha256"));
    /// let options = Options::new().upload(media);
    /// # Ok(()) }
    /// ```
    pub fn with_meta(
        filename: impl Into<String>,
        file: impl Into<Bytes>,
        meta: impl Into<Value>,
    ) -> Result<Self> {
        let Value::Object(meta) = meta.into() else {
            return Err(invalid(
                "the meta must be a JSON object, like {\"filename\":…,\"sha256\":…}".into(),
            ));
        };
        let mut media = Self::new(filename, file)?;
        media.meta_bytes = serialize(&meta)?;
        media.meta = meta;
        media.custom_meta = true;
        Ok(media)
    }

    /// Reads a file (at most [`MAX_MEDIA_LEN`] bytes); the filename is the path's last
    /// component.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| invalid(format!("{} has no UTF-8 file name", path.display())))?;
        let open_error = |e: std::io::Error| {
            Error::from(ChainError::InvalidMedia(format!(
                "cannot read {}: {e}",
                path.display()
            )))
            .with_source(e)
        };
        let file = std::fs::File::open(path).map_err(open_error)?;
        let limit = u64::try_from(MAX_MEDIA_LEN).unwrap_or(u64::MAX);
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(open_error)?;
        if bytes.len() > MAX_MEDIA_LEN {
            return Err(too_large(name, bytes.len()));
        }
        Self::new(name, bytes)
    }

    /// Adds a field to the meta JSON (e.g. `bank_type`); `filename` and `sha256` cannot be
    /// replaced when [`Media::new`] computed them. The meta is serialized again, once.
    pub fn meta_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<Self> {
        let key = key.into();
        if !self.custom_meta && (key == "filename" || key == "sha256") {
            return Err(invalid(format!(
                "the meta's {key} is computed from the file; it cannot be set"
            )));
        }
        self.meta.insert(key, value.into());
        self.meta_bytes = serialize(&self.meta)?;
        Ok(self)
    }

    /// Names the file part (default `file`; some endpoints use `submission_file` or
    /// `due_diligence_file`). ASCII letters, digits, `_` and `-` only.
    pub fn file_field(mut self, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let ok = !name.is_empty()
            && name != "meta"
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid(format!(
                "the file part name {name:?} must be ASCII letters, digits, `_` or `-` (and not `meta`)"
            )));
        }
        self.field = name;
        Ok(self)
    }

    /// The filename.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The file's bytes.
    pub fn file(&self) -> &Bytes {
        &self.file
    }

    /// The file part's content type, guessed from the extension
    /// (`application/octet-stream` when unknown).
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The lower-case hex SHA-256 of the file (the meta's `sha256` unless the meta was given
    /// whole with [`Media::with_meta`]).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The meta JSON: the bytes signed and sent in the `meta` part.
    pub fn meta(&self) -> &Bytes {
        &self.meta_bytes
    }

    /// The multipart body and its boundary (random, checked not to occur in the parts).
    pub(crate) fn multipart(&self) -> Result<(String, Bytes)> {
        let boundary = loop {
            let candidate = format!("wechatpay-chain-{}", crate::signer::nonce()?);
            let needle = candidate.as_bytes();
            let occurs = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
            if !occurs(&self.meta_bytes) && !occurs(&self.file) {
                break candidate;
            }
        };
        let mut out = BytesMut::with_capacity(self.file.len() + self.meta_bytes.len() + 512);
        let b = boundary.as_bytes();
        out.put_slice(b"--");
        out.put_slice(b);
        out.put_slice(b"\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n");
        out.put_slice(&self.meta_bytes);
        out.put_slice(b"\r\n--");
        out.put_slice(b);
        out.put_slice(
            format!(
                "\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                self.field,
                header_filename(&self.filename),
                self.content_type
            )
            .as_bytes(),
        );
        out.put_slice(&self.file);
        out.put_slice(b"\r\n--");
        out.put_slice(b);
        out.put_slice(b"--\r\n");
        Ok((boundary, out.freeze()))
    }
}

impl fmt::Debug for Media {
    /// The filename, content type, sizes, digest and the meta's keys; never the file's bytes
    /// nor the meta's values (a meta given whole may carry an `openid` or a phone number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("field", &self.field)
            .field("file_len", &self.file.len())
            .field("sha256", &self.sha256)
            .field("meta_keys", &self.meta.keys().collect::<Vec<_>>())
            .field("meta_len", &self.meta_bytes.len())
            .finish()
    }
}

fn invalid(message: String) -> Error {
    ChainError::InvalidMedia(message).into()
}

fn too_large(name: &str, len: usize) -> Error {
    invalid(format!(
        "the file {name:?} is larger than {MAX_MEDIA_LEN} bytes ({len} or more); WeChat Pay accepts images up to 2 MiB and videos up to 5 MiB"
    ))
}

fn serialize(meta: &Map<String, Value>) -> Result<Bytes> {
    serde_json::to_vec(meta)
        .map(Bytes::from)
        .map_err(|e| invalid(format!("the meta cannot be serialized: {e}")))
}

/// A filename must not break the part header (`"`, `\`, CR/LF, control characters) nor be a
/// path (`/`).
fn check_filename(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid(
            "the filename is empty; give a name like image.jpg".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '"' | '\\' | '/') || c.is_control())
    {
        return Err(invalid(format!(
            "the filename {name:?} contains {c:?}, which cannot stand in a multipart header; rename the file"
        )));
    }
    Ok(())
}

/// The filename as written in the file part's header: ASCII as is, other bytes (and `%`)
/// percent-encoded (RFC 7578 §4.2), so the header stays ASCII.
fn header_filename(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
    percent_encoding::utf8_percent_encode(name, SET).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        s
    })
}

/// The content type of a file part, from the filename's extension (case-insensitive).
pub fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "mpeg" | "mpg" => "video/mpeg",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "flv" => "video/x-flv",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_is_filename_then_lower_hex_sha256() {
        let m = Media::new("a.PNG", &b"abc"[..]).unwrap();
        assert_eq!(
            m.meta().as_ref(),
            br#"{"filename":"a.PNG","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#
        );
        assert_eq!(m.content_type(), "image/png");
        let m = m.meta_field("bank_type", "CMB").unwrap();
        assert!(m.meta().ends_with(br#","bank_type":"CMB"}"#));
        assert!(m.clone().meta_field("sha256", "x").is_err());
    }

    #[test]
    fn a_meta_given_whole_is_signed_and_sent_as_given() {
        let meta =
            serde_json::json!({"file_type": "PDF", "digest_alogrithm": "SM3", "digest": "ab"});
        let m = Media::with_meta("f.pdf", &b"%PDF"[..], meta).unwrap();
        assert_eq!(
            m.meta().as_ref(),
            br#"{"file_type":"PDF","digest_alogrithm":"SM3","digest":"ab"}"#
        );
        assert_eq!(m.sha256(), hex(&Active::sha256(b"%PDF")));
        let (_, body) = m.multipart().unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(r#"{"file_type":"PDF","digest_alogrithm":"SM3","digest":"ab"}"#));
        assert!(text.contains("filename=\"f.pdf\""));
        // Its fields are the caller's: filename and sha256 may be set too.
        let m = m.meta_field("sha256", "given").unwrap();
        assert!(m.meta().ends_with(br#","sha256":"given"}"#));
        let private = Media::with_meta(
            "r.png",
            &b"\x89PNG"[..],
            serde_json::json!({"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "merchant_contact_information": {"consultation_phone_number": "13800000000"}}),
        )
        .unwrap();
        let debug = format!("{private:?}");
        assert!(
            debug.contains("openid") && debug.contains("r.png"),
            "{debug}"
        );
        assert!(
            !debug.contains("oUpF8u") && !debug.contains("13800000000"),
            "{debug}"
        );
        for not_an_object in [serde_json::json!([1]), serde_json::json!("x")] {
            let e = Media::with_meta("f.pdf", &b"%PDF"[..], not_an_object).unwrap_err();
            assert!(matches!(
                e.kind(),
                crate::ErrorKind::Chain(ChainError::InvalidMedia(_))
            ));
        }
    }

    #[test]
    fn filenames_that_break_framing_are_refused() {
        for bad in [
            "",
            " ",
            "a\"b.jpg",
            "a\r\nX: y.jpg",
            "a\\b.jpg",
            "dir/a.jpg",
            "a\0.jpg",
        ] {
            let e = Media::new(bad, &b"x"[..]).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    crate::ErrorKind::Chain(ChainError::InvalidMedia(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            header_filename("中文 图片.jpg"),
            "%E4%B8%AD%E6%96%87 %E5%9B%BE%E7%89%87.jpg"
        );
        assert_eq!(header_filename("100%.png"), "100%25.png");
    }

    #[test]
    fn multipart_frames_meta_then_file() {
        let m = Media::new("v.mp4", &b"MP4"[..]).unwrap();
        let (boundary, body) = m.multipart().unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let want = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.mp4\"\r\nContent-Type: video/mp4\r\n\r\nMP4\r\n--{boundary}--\r\n",
            String::from_utf8_lossy(m.meta())
        );
        assert_eq!(text, want);
    }
}
