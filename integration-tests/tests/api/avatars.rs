//! Avatars: real images in, 300×300-bounded images out of the real S3 server; everything
//! else refused with a problem document.

use std::io::Cursor;

use integration_tests::{TestApp, TestUser, expect_problem, expect_problem_4xx, expect_status};
use reqwest::multipart::{Form, Part};

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(width, height, |x, _| image::Rgb([(x % 256) as u8, 40, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([x as u8, y as u8, 7, 255])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::WebP).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A valid-looking PNG of a few hundred bytes that claims 50 000 × 50 000 pixels
/// (2.5 gigapixels): decoding it would need gigabytes.
pub fn png_bomb() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    // A zlib stream of a few stored-zero rows; the rest is "missing", which a decoder only
    // notices after allocating the image.
    let idat = [0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01];
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &idat));
    out.extend(chunk(b"IEND", &[]));
    out
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    file_name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = Part::bytes(bytes)
        .file_name(file_name.to_owned())
        .mime_str(mime)
        .unwrap();
    app.client
        .put(app.url("/api/me/avatar"))
        .bearer_auth(token)
        .multipart(Form::new().part("avatar", part))
        .send()
        .await
        .expect("PUT avatar")
}

/// Fetches an avatar URL the API returned; checks it is an image and returns its size.
pub async fn fetch_avatar(app: &TestApp, url: &str) -> (u32, u32) {
    let response = app.client.get(app.local_url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("image/"), "{content_type}");
    let bytes = response.bytes().await.unwrap();
    let img = image::load_from_memory(&bytes).expect("an image");
    (img.width(), img.height())
}

async fn avatar_url(app: &TestApp, user: &TestUser) -> String {
    let me = expect_status(app.get_authed("/api/me", &user.token).await, 200).await;
    me["avatar_url"].as_str().expect("avatar_url").to_owned()
}

#[tokio::test]
async fn uploads_are_resized_into_300px_and_served_from_s3() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let default_url = avatar_url(&app, &user).await;
    assert!(default_url.contains("default"), "{default_url}");
    assert!(
        default_url.starts_with("http://blog.test/"),
        "URLs use the public URL: {default_url}"
    );
    fetch_avatar(&app, &default_url).await;

    let response = upload(&app, &user.token, png(800, 600), "me.png", "image/png").await;
    let me = expect_status(response, 200).await;
    let url = me["avatar_url"].as_str().unwrap().to_owned();
    assert_ne!(url, default_url);
    assert_eq!(
        fetch_avatar(&app, &url).await,
        (300, 225),
        "fits 300×300, keeps the aspect ratio"
    );
    assert_eq!(avatar_url(&app, &user).await, url);

    // The object is really in this test's bucket on the S3 server.
    let bucket = app.infra.s3.bucket(&app.settings.s3.bucket);
    let listed = bucket.list(String::new(), None).await.unwrap();
    let keys: Vec<String> = listed
        .iter()
        .flat_map(|l| l.contents.iter().map(|o| o.key.clone()))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");

    // Post responses carry the author's new avatar.
    let post = app.create_post(&user.token, "with avatar", "c").await;
    assert_eq!(post["author"]["avatar_url"], url.as_str());

    // A JPEG replaces it; the old object is gone.
    let me = expect_status(
        upload(&app, &user.token, jpeg(200, 400), "me.jpg", "image/jpeg").await,
        200,
    )
    .await;
    let jpeg_url = me["avatar_url"].as_str().unwrap().to_owned();
    assert_eq!(fetch_avatar(&app, &jpeg_url).await, (150, 300));
    let old = app.client.get(app.local_url(&url)).send().await.unwrap();
    assert_eq!(old.status(), 404, "the replaced avatar is deleted");

    // Removing it falls back to the default.
    let removed = app.delete("/api/me/avatar", Some(&user.token)).await;
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_eq!(avatar_url(&app, &user).await, default_url);
    let listed = bucket.list(String::new(), None).await.unwrap();
    assert!(
        listed.iter().all(|l| l.contents.is_empty()),
        "removed avatars leave no object"
    );
}

#[tokio::test]
async fn webp_is_accepted_whatever_the_declared_type() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    // Declared as something else: the bytes decide.
    let me = expect_status(
        upload(
            &app,
            &user.token,
            webp(600, 600),
            "avatar.bin",
            "application/octet-stream",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        fetch_avatar(&app, me["avatar_url"].as_str().unwrap()).await,
        (300, 300)
    );
}

#[tokio::test]
async fn small_images_are_kept_within_the_box() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let me = expect_status(
        upload(&app, &user.token, png(64, 32), "small.png", "image/png").await,
        200,
    )
    .await;
    let (w, h) = fetch_avatar(&app, me["avatar_url"].as_str().unwrap()).await;
    assert!(w <= 300 && h <= 300 && w * 32 == h * 64, "{w}×{h}");
}

#[tokio::test]
async fn non_images_oversized_files_and_bombs_are_refused() {
    let app =
        TestApp::spawn_with(|s| s.avatars.max_bytes = blog::config::units::Count::of(200_000))
            .await;
    let user = app.new_user().await;

    // Declared as PNG, but it is text: the bytes decide.
    expect_problem(
        upload(
            &app,
            &user.token,
            b"<html>not an image</html>".to_vec(),
            "x.png",
            "image/png",
        )
        .await,
        415,
        "unsupported_media_type",
    )
    .await;
    // A real image format we do not accept.
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0x3b]);
    expect_problem(
        upload(&app, &user.token, gif, "x.gif", "image/gif").await,
        415,
        "unsupported_media_type",
    )
    .await;
    // A PNG signature followed by garbage.
    let mut broken = png(10, 10);
    broken.truncate(40);
    expect_problem_4xx(upload(&app, &user.token, broken, "broken.png", "image/png").await).await;

    // Over the size limit (a noisy PNG does not compress).
    let big = {
        let img = image::RgbImage::from_fn(400, 400, |x, y| {
            let v = x
                .wrapping_mul(2_654_435_761)
                .wrapping_add(y.wrapping_mul(40_503));
            image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    assert!(big.len() > 200_000);
    expect_problem(
        upload(&app, &user.token, big, "big.png", "image/png").await,
        413,
        "payload_too_large",
    )
    .await;

    expect_problem(
        upload(&app, &user.token, png_bomb(), "bomb.png", "image/png").await,
        422,
        "image_too_large",
    )
    .await;

    // Wrong field name and no multipart at all.
    let wrong_field = app
        .client
        .put(app.url("/api/me/avatar"))
        .bearer_auth(&user.token)
        .multipart(Form::new().part("picture", Part::bytes(png(10, 10)).file_name("a.png")))
        .send()
        .await
        .unwrap();
    expect_problem_4xx(wrong_field).await;
    let not_multipart = app
        .client
        .put(app.url("/api/me/avatar"))
        .bearer_auth(&user.token)
        .header("content-type", "image/png")
        .body(png(10, 10))
        .send()
        .await
        .unwrap();
    expect_problem_4xx(not_multipart).await;

    // Without a token.
    expect_problem(
        upload(&app, "", png(10, 10), "a.png", "image/png").await,
        401,
        "unauthorized",
    )
    .await;

    // Nothing was stored by any of that.
    let me = expect_status(app.get_authed("/api/me", &user.token).await, 200).await;
    assert!(me["avatar_url"].as_str().unwrap().contains("default"));
    let listed = app
        .infra
        .s3
        .bucket(&app.settings.s3.bucket)
        .list(String::new(), None)
        .await
        .unwrap();
    assert!(listed.iter().all(|l| l.contents.is_empty()));
}

#[tokio::test]
async fn unknown_media_is_404() {
    let app = TestApp::spawn().await;
    expect_problem(app.get("/media/avatars/nope.png").await, 404, "not_found").await;
    expect_problem_4xx(app.get("/media/avatars/..%2F..%2Fetc%2Fpasswd").await).await;
}
