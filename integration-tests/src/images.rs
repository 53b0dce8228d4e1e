//! The images the tests run, from the project's one image list, `dockerfiles/images.env`
//! (compose and the scripts read the same file).
//!
//! For each image: `$NAME_IMAGE` if set (scripts/test.sh exports the choice of
//! `dockerfiles/build-offline-images.sh --env`); otherwise the public image if Docker has
//! it, else the local stand-in if Docker has that, else the public one (Docker pulls it).
//! The app image under test is [`crate::app::app_image`].

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use crate::docker::{docker_blocking, require_docker};

/// The list itself, compiled in (a change to it rebuilds the tests).
const LIST: &str = include_str!("../../dockerfiles/images.env");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Image {
    Postgres,
    Redis,
    S3,
    Mail,
    Proxy,
}

impl Image {
    pub const ALL: [Image; 5] = [
        Image::Postgres,
        Image::Redis,
        Image::S3,
        Image::Mail,
        Image::Proxy,
    ];

    /// Its name in the list, and the environment variable that overrides it.
    pub const fn key(self) -> &'static str {
        match self {
            Image::Postgres => "POSTGRES_IMAGE",
            Image::Redis => "REDIS_IMAGE",
            Image::S3 => "S3_IMAGE",
            Image::Mail => "MAIL_IMAGE",
            Image::Proxy => "PROXY_IMAGE",
        }
    }

    /// The public image.
    pub fn public(self) -> &'static str {
        pin(self.key()).unwrap_or_else(|| panic!("{} missing from images.env", self.key()))
    }

    /// The local stand-in built by `dockerfiles/build-offline-images.sh`.
    pub fn local(self) -> &'static str {
        let key = format!("{}_LOCAL", self.key());
        pin(&key).unwrap_or_else(|| panic!("{key} missing from images.env"))
    }

    /// The image to run (see the module docs), decided once per process.
    pub fn reference(self) -> String {
        static CHOSEN: LazyLock<Mutex<HashMap<Image, String>>> = LazyLock::new(Default::default);
        let mut chosen = CHOSEN.lock().expect("image choice");
        chosen
            .entry(self)
            .or_insert_with(|| {
                if let Some(image) = std::env::var(self.key()).ok().filter(|v| !v.is_empty()) {
                    return image;
                }
                require_docker();
                let present = |image: &str| {
                    docker_blocking(&["image", "inspect", "--format", "x", image]).is_ok()
                };
                if !present(self.public()) && present(self.local()) {
                    self.local().to_owned()
                } else {
                    self.public().to_owned()
                }
            })
            .clone()
    }

    /// How to get the image when it cannot start.
    pub fn hint(self) -> String {
        format!(
            "{key}: Docker must have the image or be able to pull it. Without registry \
             access build the local stand-ins with dockerfiles/build-offline-images.sh (the \
             tests then find {local} by themselves); or pull {public}; or set {key} to an \
             image Docker has.",
            public = self.public(),
            local = self.local(),
            key = self.key(),
        )
    }
}

/// The value of `key` in the list.
pub fn pin(key: &str) -> Option<&'static str> {
    LIST.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    #[test]
    fn every_image_has_a_public_and_a_local_name() {
        for image in Image::ALL {
            assert!(
                image.public().contains(':'),
                "{image:?}: tag the public image"
            );
            assert!(
                image.local().starts_with("localhost/") && image.local().contains(':'),
                "{image:?}: the local stand-in is localhost/NAME:TAG"
            );
        }
        assert_eq!(pin("NO_SUCH_IMAGE"), None);
    }

    /// The list is the one place that names an image: no other tracked file repeats a
    /// name from it (documents point at the list instead). The Helm chart pins its own
    /// Postgres and Redis as repository and tag, for clusters, and is not checked.
    #[test]
    fn no_other_file_names_an_image_of_the_list() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let files = std::process::Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(root)
            .output()
            .expect("git ls-files");
        assert!(files.status.success(), "git ls-files failed");
        let names: Vec<&str> = LIST
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim()))
            .collect();
        assert!(names.len() >= 10, "the list looks empty: {names:?}");
        let mut offenders = Vec::new();
        for path in String::from_utf8_lossy(&files.stdout).split('\0') {
            if path.is_empty() || path == "dockerfiles/images.env" || path.starts_with("charts/") {
                continue;
            }
            let text = match std::fs::read_to_string(format!("{root}/{path}")) {
                Ok(text) => text,
                // A binary file, or one deleted in the work tree: no image name to find.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::NotFound) => {
                    continue;
                }
                Err(e) => panic!("{path}: {e}"),
            };
            for name in &names {
                if text.contains(name) {
                    offenders.push(format!("{path}: {name}"));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "image names outside dockerfiles/images.env (read them from the list):\n{}",
            offenders.join("\n")
        );
    }
}
