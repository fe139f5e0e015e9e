//! Uploads an image to the embedded sandbox and prints the `media_id` it answers: the request
//! is `multipart/form-data` (a `meta` part and a `file` part) signed over the meta JSON, as
//! WeChat Pay requires. Give a file path to upload it instead of the built-in 1×1 GIF:
//!
//! ```text
//! cargo run --example upload --features sandbox -- path/to/logo.png
//! ```

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use wechatpay_chain::{Media, Options, Value};

/// A 1×1 transparent GIF.
const PIXEL: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

#[tokio::main(flavor = "current_thread")]
async fn main() -> wechatpay_chain::Result<()> {
    let (sandbox, wxpay) = support::start().await?;
    let media = match std::env::args_os().nth(1) {
        Some(path) => Media::from_file(path)?,
        None => Media::new("pixel.gif", PIXEL)?,
    };
    println!(
        "uploading {} ({}, {} bytes), meta {}",
        media.filename(),
        media.content_type(),
        media.file().len(),
        String::from_utf8_lossy(media.meta())
    );

    // PHP: $media = new MediaUtil('/your/file/path/image.jpg');
    //      $instance->v3->merchant->media->upload->post(['body' => $media->getStream(),
    //          'headers' => ['Content-Type' => $media->getContentType()]]);
    let response = wxpay
        .v3()
        .merchant()
        .media()
        .upload()
        .post(Options::new().upload(media))
        .await?;
    let answer: Value = response.json()?;
    println!(
        "sandbox answered HTTP {} (signature verified): media_id = {}",
        response.status().as_u16(),
        answer["media_id"]
    );
    sandbox.shutdown();
    Ok(())
}
