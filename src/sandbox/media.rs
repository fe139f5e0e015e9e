//! Media uploads, like the platform: the `multipart/form-data` body is parsed with `multer`
//! (never by hand), the request signature covers the `meta` part's bytes ([`signed_bytes`]),
//! the meta's `sha256` must be the file part's digest, the filename's extension must suit the
//! endpoint (images or videos), and the answer is a signed `{"media_id": …}` derived from the
//! digest.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt as _, Full};
use ring::digest::{digest, SHA256};
use serde_json::{json, Map, Value};

use super::reply::Reply;
use crate::catalog::Endpoint;

/// The parts of a multipart body the platform reads.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    /// The `meta` part's content, exactly as received.
    meta: Option<Bytes>,
    /// The first part with a filename (other than `meta`), or a part named `file`.
    file: Option<Bytes>,
    /// That part's filename, if it has one.
    file_name: Option<String>,
}

/// A parsed multipart body, or the `400` its framing deserves.
pub(crate) type Parsed = Result<Upload, Reply>;

/// Parses a `multipart/form-data` body; `None` when the request is not multipart.
pub(crate) async fn parse(headers: &HeaderMap, body: &Bytes) -> Option<Parsed> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let is_multipart = content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data");
    if !is_multipart {
        return None;
    }
    let malformed = |e: multer::Error| {
        Reply::param_error(
            "body",
            &format!("the multipart/form-data body cannot be parsed: {e}"),
        )
    };
    let parse = async {
        let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
        let stream = Full::new(body.clone()).into_data_stream();
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut upload = Upload::default();
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let has_filename = file_name.is_some();
            let bytes = field.bytes().await.map_err(malformed)?;
            if name == "meta" && !has_filename {
                upload.meta.get_or_insert(bytes);
            } else if (has_filename || name == "file") && upload.file.is_none() {
                upload.file = Some(bytes);
                upload.file_name = file_name;
            }
        }
        Ok(upload)
    };
    Some(parse.await)
}

/// The bytes a request signature covers: the `meta` part of a multipart upload, else the body.
pub(crate) fn signed_bytes<'a>(parsed: Option<&'a Parsed>, body: &'a [u8]) -> &'a [u8] {
    match parsed {
        Some(Ok(Upload {
            meta: Some(meta), ..
        })) => meta,
        _ => body,
    }
}

/// Whether the endpoint takes a `meta` + file upload (every APIv3 multipart endpoint).
pub(crate) fn is_upload(endpoint: &Endpoint) -> bool {
    endpoint.content_type == Some("multipart/form-data") && endpoint.path.contains("/v3/")
}

const IMAGES: &[&str] = &["jpg", "jpeg", "png", "bmp", "gif", "webp"];
const VIDEOS: &[&str] = &[
    "avi", "wmv", "mpeg", "mpg", "mp4", "mov", "mkv", "flv", "f4v", "m4v", "rmvb",
];

/// The extensions the endpoint accepts (`None`: any file).
fn allowed(endpoint: &Endpoint) -> Option<&'static [&'static str]> {
    let path = endpoint.path;
    if path.ends_with("/video_upload") {
        Some(VIDEOS)
    } else if path.ends_with("/merchant/media/upload")
        || path.contains("image")
        || path.ends_with("/cancel-applications/media")
    {
        Some(IMAGES)
    } else {
        None
    }
}

fn hex(bytes: &[u8], table: &[u8; 16]) -> String {
    bytes
        .iter()
        .flat_map(|b| [table[usize::from(b >> 4)], table[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Answers an upload whose signature (over the meta part) already verified.
pub(crate) fn handle(endpoint: &Endpoint, parsed: Option<&Parsed>) -> Reply {
    answer(endpoint, parsed).unwrap_or_else(|reply| reply)
}

fn answer(endpoint: &Endpoint, parsed: Option<&Parsed>) -> Result<Reply, Reply> {
    let upload = match parsed {
        None => {
            return Err(Reply::param_error(
                "body",
                "this endpoint takes multipart/form-data with a `meta` part and a `file` part (Options::upload(Media))",
            ))
        }
        Some(Err(reply)) => return Err(reply.clone()),
        Some(Ok(upload)) => upload,
    };
    let meta = upload
        .meta
        .as_ref()
        .ok_or_else(|| Reply::param_error("meta", "the multipart body has no `meta` part"))?;
    let file = upload
        .file
        .as_ref()
        .ok_or_else(|| Reply::param_error("file", "the multipart body has no file part"))?;
    let meta: Map<String, Value> = serde_json::from_slice(meta)
        .map_err(|_| Reply::param_error("meta", "the `meta` part is not a JSON object"))?;
    let field = |name: &str| match meta.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        _ => Err(Reply::param_error(
            name,
            "required string field of the meta is missing",
        )),
    };
    // Image and video uploads take `{"filename","sha256"}`; other endpoints have their own
    // meta (`{file_type, digest_alogrithm, digest}`, …): a `sha256` there is still checked,
    // and the file part's name stands in for a missing `filename`.
    let images_or_videos = allowed(endpoint).is_some();
    let filename = match (field("filename"), &upload.file_name) {
        (Ok(name), _) => name,
        (Err(_), Some(name)) if !images_or_videos && !name.is_empty() => name.as_str(),
        (Err(reply), _) => return Err(reply),
    };
    let claimed = match field("sha256") {
        Ok(claimed) => Some(claimed),
        Err(_) if !images_or_videos && !meta.contains_key("sha256") => None,
        Err(reply) => return Err(reply),
    };
    let actual = digest(&SHA256, file);
    let actual_hex = hex(actual.as_ref(), b"0123456789abcdef");
    if let Some(claimed) = claimed.filter(|c| *c != actual_hex) {
        return Err(Reply::param_error(
            "sha256",
            &format!(
                "the meta's sha256 {claimed} does not match the SHA-256 of the file part ({actual_hex}); hash the file's bytes, lower-case hex"
            ),
        ));
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(list) = allowed(endpoint) {
        if !list.contains(&ext.as_str()) {
            return Err(Reply::param_error(
                "filename",
                &format!(
                    "the extension {ext:?} is not accepted by {}; use one of {}",
                    endpoint.path,
                    list.join(", ")
                ),
            ));
        }
    }
    let id = hex(&actual.as_ref()[..16], b"0123456789ABCDEF");
    let media_id = if ext.is_empty() {
        id
    } else {
        format!("{id}.{ext}")
    };
    let mut answer = json!({ "media_id": media_id });
    if endpoint.path.ends_with("/favor/media/image-upload") {
        answer =
            json!({ "media_url": format!("https://wxpaylogo.qpic.cn/wxpaylogo/{media_id}/0") });
    }
    Ok(Reply::json(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(body: &'static [u8]) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "multipart/form-data; boundary=B".parse().unwrap(),
        );
        (headers, Bytes::from_static(body))
    }

    #[tokio::test]
    async fn the_meta_part_is_the_signed_body() {
        let (mut headers, body) = multipart(b"--B\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"filename\":\"a.png\"}\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nPNG\r\n--B--\r\n");
        let parsed = parse(&headers, &body).await;
        assert_eq!(
            signed_bytes(parsed.as_ref(), &body),
            b"{\"filename\":\"a.png\"}"
        );
        assert_eq!(parsed.unwrap().unwrap().file.unwrap(), "PNG");
        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        let parsed = parse(&headers, &body).await;
        assert!(parsed.is_none());
        assert_eq!(signed_bytes(parsed.as_ref(), &body), &body[..]);
    }

    #[tokio::test]
    async fn broken_framing_is_a_param_error() {
        let (headers, body) =
            multipart(b"--B\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}");
        let parsed = parse(&headers, &body).await.unwrap();
        let reply = parsed.unwrap_err();
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
}
