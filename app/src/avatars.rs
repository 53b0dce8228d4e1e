//! Avatar images: sniffing, validation and resizing, and the URLs they are
//! served under.
//!
//! Uploads are trusted for nothing: the format comes from the magic bytes
//! (never the client's content type or file name), the pixel count is checked
//! from the header before anything is decoded, the decoder runs under memory
//! limits, and the result is re-encoded as a fresh PNG so that no metadata
//! (EXIF GPS positions, comments) or polyglot payload survives.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits};

use crate::config::AvatarSettings;

/// File name of the bundled avatar shown for users without their own.
pub const DEFAULT_AVATAR: &str = "default.png";

/// The bundled default avatar (PNG).
pub static DEFAULT_AVATAR_PNG: &[u8] = include_bytes!("../assets/default.png");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AvatarError {
    /// Not PNG, JPEG or WebP by its magic bytes.
    #[error("only PNG, JPEG and WebP images are accepted")]
    UnsupportedFormat,
    /// More pixels than `avatars.max_pixels`, or too much decoder memory.
    #[error("the image is {width}×{height} pixels; at most {max_pixels} pixels are accepted")]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    /// Decoding would take more than `avatars.max_decode_bytes` of memory
    /// (many pixels, or many bytes per pixel).
    #[error(
        "the image is {width}×{height} pixels at {bytes_per_pixel} bytes each; \
         at most {max_bytes} bytes of decoded image are accepted"
    )]
    TooMuchMemory {
        width: u32,
        height: u32,
        bytes_per_pixel: u64,
        max_bytes: u64,
    },
    /// Right magic bytes, but the data does not decode.
    #[error("the image could not be decoded: {0}")]
    Corrupt(String),
}

/// Formats we accept, identified by their signatures.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Validates an upload and turns it into the stored avatar: a PNG that fits
/// in `size`×`size` with the aspect ratio kept. CPU-heavy: call it from
/// `spawn_blocking`.
pub fn process(bytes: &[u8], cfg: &AvatarSettings) -> Result<Vec<u8>, AvatarError> {
    let format = sniff(bytes).ok_or(AvatarError::UnsupportedFormat)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let max_bytes = cfg.max_decode_bytes.get();
    let mut limits = Limits::default();
    // Decoders count their own buffers against `max_alloc`: the image itself
    // (checked exactly below) plus slack for codec state.
    limits.max_alloc = Some(max_bytes.saturating_add(16 << 20));
    reader.limits(limits);

    let mut decoder = reader.into_decoder().map_err(decode_error(cfg))?;
    let (width, height) = decoder.dimensions();
    // The header alone tells us the size: refuse bombs before allocating.
    if u64::from(width) * u64::from(height) > cfg.max_pixels.get() {
        return Err(AvatarError::TooManyPixels {
            width,
            height,
            max_pixels: cfg.max_pixels.get(),
        });
    }
    // The pixel cap alone let a 16-bit RGBA image of 40 megapixels through:
    // 320 MiB for one decode, and two at once took an 384 MiB pod down
    // (issue 13, item 1). The decoded size is known from the header too.
    if decoder.total_bytes() > max_bytes {
        let bytes_per_pixel = u64::from(decoder.color_type().bytes_per_pixel());
        return Err(AvatarError::TooMuchMemory {
            width,
            height,
            bytes_per_pixel,
            max_bytes,
        });
    }
    // Camera JPEGs are often stored sideways with an EXIF rotation tag; we
    // drop EXIF, so apply the rotation to the pixels first.
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error(cfg))?;
    if let Some(orientation) = orientation {
        img.apply_orientation(orientation);
    }

    let size = cfg.size.as_u32();
    if img.width() > size || img.height() > size {
        // Its intermediate is width × `size` f32 pixels (16 bytes each):
        // small beside the decoded image that `max_decode_bytes` bounds.
        img = img.resize(size, size, FilterType::CatmullRom);
    }
    let img = DynamicImage::ImageRgba8(img.into_rgba8());

    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| AvatarError::Corrupt(e.to_string()))?;
    Ok(out.into_inner())
}

fn decode_error(cfg: &AvatarSettings) -> impl Fn(image::ImageError) -> AvatarError + '_ {
    move |e| match e {
        image::ImageError::Limits(_) => AvatarError::TooManyPixels {
            width: 0,
            height: 0,
            max_pixels: cfg.max_pixels.get(),
        },
        other => AvatarError::Corrupt(other.to_string()),
    }
}

/// Public URL of an avatar under `public_url`: the user's stored key, or
/// the bundled default. Keys are relative to the `avatars/` prefix
/// (`<user-id>/<random>.png`).
pub fn avatar_url(public_url: &str, key: Option<&str>) -> String {
    format!(
        "{}/media/avatars/{}",
        public_url.trim_end_matches('/'),
        key.unwrap_or(DEFAULT_AVATAR)
    )
}

/// S3 key of an avatar whose database key is `key`.
pub fn object_key(key: &str) -> String {
    format!("avatars/{key}")
}

/// A new, unguessable key for `user_id`'s next avatar. A fresh key per upload
/// lets the media route mark responses immutable.
pub fn new_key(user_id: impl std::fmt::Display) -> String {
    let mut random = crate::tokens::generate();
    random.truncate(22); // 132 bits are plenty for a file name
    format!("{user_id}/{random}.png")
}

/// Whether `key` has the shape [`new_key`] produces (used by the media route
/// to refuse arbitrary object paths such as `../`).
pub fn is_valid_key(key: &str) -> bool {
    let Some((user, file)) = key.split_once('/') else {
        return false;
    };
    let Some(stem) = file.strip_suffix(".png") else {
        return false;
    };
    !user.is_empty()
        && user.len() <= 40
        && user.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && (16..=64).contains(&stem.len())
        && stem
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GenericImageView as _, Rgb, RgbImage};

    fn cfg() -> AvatarSettings {
        AvatarSettings::default()
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    #[test]
    fn sniffing_recognises_the_three_formats() {
        let img = gradient(4, 4);
        assert_eq!(
            sniff(&encode(&img, ImageFormat::Png)),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            sniff(&encode(&img, ImageFormat::Jpeg)),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            sniff(&encode(&img, ImageFormat::WebP)),
            Some(ImageFormat::WebP)
        );
    }

    #[test]
    fn gif_svg_and_text_are_unsupported_whatever_their_name() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>"#;
        let text = b"just some text pretending to be avatar.png";
        for bytes in [&gif[..], &svg[..], &text[..], b"", b"RIFF\0\0\0\0WAVE"] {
            assert_eq!(process(bytes, &cfg()), Err(AvatarError::UnsupportedFormat));
        }
    }

    #[test]
    fn truncated_png_is_corrupt_not_a_panic() {
        let png = encode(&gradient(50, 50), ImageFormat::Png);
        let err = process(&png[..png.len() / 2], &cfg()).unwrap_err();
        assert!(matches!(err, AvatarError::Corrupt(_)), "{err:?}");
    }

    /// Issue 13, item 1: under the pixel cap but 8 bytes a pixel (16-bit
    /// RGBA) is refused from the header by the memory rule, and the same
    /// pixels at 4 bytes (8-bit RGBA) pass.
    #[test]
    fn decoded_memory_is_bounded_whatever_the_pixel_count() {
        let mut cfg = cfg();
        cfg.max_decode_bytes = crate::config::units::Count::of(4 * 1000 * 1000);
        let deep = DynamicImage::ImageRgba16(image::ImageBuffer::new(1000, 1000));
        let err = process(&encode(&deep, ImageFormat::Png), &cfg).unwrap_err();
        assert_eq!(
            err,
            AvatarError::TooMuchMemory {
                width: 1000,
                height: 1000,
                bytes_per_pixel: 8,
                max_bytes: 4_000_000
            }
        );
        let shallow = DynamicImage::ImageRgba8(image::ImageBuffer::new(1000, 1000));
        assert!(process(&encode(&shallow, ImageFormat::Png), &cfg).is_ok());
    }

    /// A PNG whose header claims 100 000 × 100 000 pixels (10 gigapixels, the
    /// classic decompression bomb) must be refused from the header alone.
    #[test]
    fn decompression_bomb_header_is_refused() {
        let mut png = encode(&gradient(1, 1), ImageFormat::Png);
        // IHDR data starts at byte 16: width and height, big-endian.
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = process(&png, &cfg()).unwrap_err();
        assert!(
            matches!(
                err,
                AvatarError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn pixel_limit_is_configurable() {
        let png = encode(&gradient(100, 100), ImageFormat::Png);
        let mut small = cfg();
        small.max_pixels = crate::config::units::Count::of(9_999);
        assert!(matches!(
            process(&png, &small),
            Err(AvatarError::TooManyPixels { .. })
        ));
        small.max_pixels = crate::config::units::Count::of(10_000);
        assert!(process(&png, &small).is_ok());
    }

    #[test]
    fn large_images_are_resized_within_300_keeping_aspect_ratio() {
        for (format, w, h) in [
            (ImageFormat::Png, 1200, 600),
            (ImageFormat::Jpeg, 400, 1000),
            (ImageFormat::WebP, 301, 301),
        ] {
            let out = process(&encode(&gradient(w, h), format), &cfg()).unwrap();
            assert_eq!(sniff(&out), Some(ImageFormat::Png));
            let img = image::load_from_memory_with_format(&out, ImageFormat::Png).unwrap();
            let (ow, oh) = img.dimensions();
            assert!(ow <= 300 && oh <= 300, "{format:?}: {ow}×{oh}");
            assert_eq!(ow.max(oh), 300, "{format:?}: {ow}×{oh}");
            let (ratio_in, ratio_out) = (w as f64 / h as f64, ow as f64 / oh as f64);
            assert!((ratio_in - ratio_out).abs() < 0.02, "{format:?}: {ow}×{oh}");
        }
    }

    #[test]
    fn small_images_keep_their_size() {
        let out = process(&encode(&gradient(64, 32), ImageFormat::Png), &cfg()).unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!(img.dimensions(), (64, 32));
    }

    #[test]
    fn metadata_is_stripped() {
        // A PNG with a tEXt chunk inserted after IHDR: the output must not
        // carry it (the same path drops EXIF from JPEG/WebP).
        let png = encode(&gradient(8, 8), ImageFormat::Png);
        let payload = b"Comment\0GPS 48.8584 N 2.2945 E";
        let mut chunk = Vec::new();
        chunk.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(payload);
        chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
        let with_text = [&png[..33], &chunk[..], &png[33..]].concat();
        assert!(contains(&with_text, b"GPS 48.8584"));
        let out = process(&with_text, &cfg()).unwrap();
        assert!(!contains(&out, b"GPS 48.8584"));
        assert!(!contains(&out, b"tEXt"));
    }

    #[test]
    fn default_avatar_is_a_png_within_the_box() {
        assert_eq!(sniff(DEFAULT_AVATAR_PNG), Some(ImageFormat::Png));
        let img = image::load_from_memory(DEFAULT_AVATAR_PNG).unwrap();
        assert!(img.width() <= 300 && img.height() <= 300);
    }

    #[test]
    fn urls_use_the_public_url_and_fall_back_to_the_default() {
        let s = "https://blog.example/";
        assert_eq!(
            avatar_url(s, None),
            "https://blog.example/media/avatars/default.png"
        );
        assert_eq!(
            avatar_url(s, Some("42/abc.png")),
            "https://blog.example/media/avatars/42/abc.png"
        );
    }

    #[test]
    fn generated_keys_are_valid_and_odd_keys_are_not() {
        let key = new_key(42);
        assert!(key.starts_with("42/") && key.ends_with(".png"), "{key}");
        assert!(is_valid_key(&key), "{key}");
        assert_ne!(new_key(42), key);
        for bad in [
            "default.png",
            "../etc/passwd",
            "42/../../x.png",
            "42/abc.png",
            "42/aaaaaaaaaaaaaaaaaaaaaa.jpg",
            "/aaaaaaaaaaaaaaaaaaaaaa.png",
            "4 2/aaaaaaaaaaaaaaaaaaaaaa.png",
            "42/a/aaaaaaaaaaaaaaaaaaaaaa.png",
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// CRC-32 (ISO-HDLC) as PNG chunks use it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
