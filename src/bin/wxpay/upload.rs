//! `wxpay upload <URI> [FILE] [-F NAME=VALUE …]`: a media upload, `multipart/form-data` with a
//! `meta` part (signed) and a file part, built by [`Media`] and sent through the chain's upload
//! path (`Options::upload`). Everything is checked before anything is sent: a missing or too
//! big file, a bad `-F`, a meta that is not a JSON object are exit 2.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use wechatpay_chain::{Media, Options};

use crate::input::{read_file_capped, CONFIG_CAP};
use crate::session::Session;
use crate::{output, ClientArgs, Fail, GlobalArgs};

/// Examples for `wxpay upload --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay upload v3/merchant/media/upload logo.png -c wxpay.toml
  wxpay upload v3.merchant.media.upload logo.png --sandbox
  wxpay upload v3/merchant/media/video_upload intro.mp4 -c wxpay.toml
  wxpay upload v3/marketing/bank/packages/{package_id}/tasks list.txt -P package_id=8000 \\
    -F meta='{\"bank_type\":\"ICBC_DEBIT\"}'
  wxpay upload v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload -P sub_mchid=1900000110 \\
    -F submission_file=@form.pdf -F meta=@meta.json

-F NAME=VALUE:
  meta={JSON object} or meta=@FILE   adds (or overrides) meta fields, values as JSON types
                                     (strings stay strings); filename and sha256 are computed
  NAME=@PATH                         the file to upload, in the part named NAME (default part:
                                     file); instead of the FILE argument
  NAME=TEXT                          the meta field NAME with the string TEXT

The response prints like a request's: {\"status\",\"request_id\",\"body\"} (body: e.g. media_id).

Exit status: 0 uploaded and the answer verified; 2 bad input (a missing or unreadable file, one
larger than 16 MiB, a bad -F, a bad config: nothing was sent); 3 transport failure; 4 API error;
5 the answer's signature did not verify; 6 the answer could not be written on stdout.";

/// The arguments of `wxpay upload`.
#[derive(clap::Args)]
pub(crate) struct UploadArgs {
    /// The upload endpoint: slashed (v3/merchant/media/upload) or dotted (v3.merchant.media.upload).
    uri: String,
    /// The file to upload (or -F NAME=@PATH).
    file: Option<PathBuf>,
    /// A meta field or the file part (see below); repeatable.
    #[arg(short = 'F', long = "form", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// URI template variable NAME=VALUE (repeatable).
    #[arg(short = 'P', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Who signs, and where the request goes.
    #[command(flatten)]
    client: ClientArgs,
}

impl std::fmt::Debug for UploadArgs {
    /// The URI only: the client arguments hold the APIv3 key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadArgs")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// What the `-F` flags ask for.
#[derive(Default)]
struct Form {
    /// Meta fields to add, in order.
    meta: Map<String, Value>,
    /// `-F NAME=@PATH`: the file part's name and the file.
    file: Option<(String, PathBuf)>,
}

/// The JSON object of `-F meta=…` (inline, or `@FILE` read up to 1 MiB).
fn meta_object(value: &str) -> Result<Map<String, Value>, Fail> {
    let text = match value.strip_prefix('@') {
        Some(path) => {
            let what = format!("the meta file (-F meta=@{path})");
            let bytes = read_file_capped(Path::new(path), CONFIG_CAP, &what)?;
            String::from_utf8(bytes).map_err(|_| Fail::input(format!("{what} is not UTF-8")))?
        }
        None => value.to_string(),
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Fail::input(
            "-F meta=…: the meta must be a JSON object, e.g. -F meta='{\"bank_type\":\"ICBC_DEBIT\"}'",
        )),
        Err(e) => Err(Fail::input(format!("-F meta=…: not valid JSON: {e}"))),
    }
}

fn form(fields: &[String]) -> Result<Form, Fail> {
    let mut form = Form::default();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| Fail::input(format!("-F {field:?}: expected NAME=VALUE")))?;
        if name.is_empty() {
            return Err(Fail::input(format!("-F {field:?}: the NAME is empty")));
        }
        if name == "meta" {
            form.meta.extend(meta_object(value)?);
        } else if let Some(path) = value.strip_prefix('@') {
            if form.file.is_some() {
                return Err(Fail::input(format!(
                    "-F {field:?}: a second file; an upload sends one file"
                )));
            }
            form.file = Some((name.to_string(), PathBuf::from(path)));
        } else {
            form.meta
                .insert(name.to_string(), Value::String(value.to_string()));
        }
    }
    Ok(form)
}

/// The media to send: the file (positional or `-F NAME=@PATH`) with the `-F` meta fields.
fn media(args: &UploadArgs) -> Result<Media, Fail> {
    let form = form(&args.fields)?;
    let (part, path) =
        match (&args.file, form.file) {
            (Some(_), Some((name, _))) => {
                return Err(Fail::input(format!(
                    "two files: the FILE argument and -F {name}=@…; give one"
                )))
            }
            (Some(path), None) => (None, path.clone()),
            (None, Some((name, path))) => (Some(name), path),
            (None, None) => return Err(Fail::input(
                "missing the file to upload: give FILE or -F file=@PATH (see wxpay upload --help)",
            )),
        };
    // Checked here for a one-line message naming the file (the library's repeats its cause).
    std::fs::metadata(&path).map_err(|e| {
        Fail::input(format!(
            "cannot read the file to upload {}: {e}",
            path.display()
        ))
    })?;
    let mut media = Media::from_file(&path).map_err(Fail::from)?;
    if let Some(name) = part {
        media = media.file_field(name).map_err(Fail::from)?;
    }
    for (key, value) in form.meta {
        media = media.meta_field(key, value).map_err(Fail::from)?;
    }
    Ok(media)
}

/// Uploads and prints the answer.
pub(crate) async fn run(args: &UploadArgs, global: &GlobalArgs) -> Result<(), Fail> {
    if args.uri.trim().trim_matches(['/', '.']).is_empty() {
        return Err(Fail::input(format!(
            "the URI {:?} names no endpoint; e.g. v3/merchant/media/upload",
            args.uri
        )));
    }
    let mut options = Options::new().upload(media(args)?);
    for p in &args.params {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| Fail::input(format!("-P {p:?}: expected NAME=VALUE")))?;
        options = options.param(name, value);
    }
    let session = Session::open(&args.client).await?;
    let result = async {
        let response = crate::send::chain_for(&session.client, &args.uri)
            .post(options)
            .await
            .map_err(|e| output::failed(e, global.format))?;
        output::response(&response, global.format)
    }
    .await;
    result.map_err(|f| f.scrub(&session.secrets))
}
