//! A list of web origins (`https://app.example.com`, `http://localhost:3000`),
//! written as one comma-separated value.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Comma-separated origins; empty means none. Each is a scheme, a host and
/// an optional port, exactly as a browser sends it in `Origin` (no path, no
/// trailing slash, no wildcard), compared case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins(Vec<String>);

impl Origins {
    /// The allowed entry matching `origin`, as a browser sent it.
    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::str::FromStr for Origins {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let rest = o
                    .strip_prefix("https://")
                    .or_else(|| o.strip_prefix("http://"))
                    .ok_or_else(|| format!("`{o}` must start with https:// or http://"))?;
                let valid = !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
                if !valid {
                    return Err(format!(
                        "`{o}` must be an origin: scheme, host and optional port, no path or wildcard"
                    ));
                }
                Ok(o.to_ascii_lowercase())
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for Origins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

impl<'de> Deserialize<'de> for Origins {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Origins {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_string().serialize(s)
    }
}

impl JsonSchema for Origins {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Origins".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "x-rule": "comma-separated origins (https://host[:port]), or empty"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_origins() {
        let o: Origins = "https://App.example.com, http://localhost:3000"
            .parse()
            .unwrap();
        assert_eq!(
            o.to_string(),
            "https://app.example.com,http://localhost:3000"
        );
        assert!(o.allows("https://app.example.com"));
        assert!(o.allows("HTTPS://APP.EXAMPLE.COM"));
        assert!(o.allows("http://localhost:3000"));
        assert!(!o.allows("http://localhost:3001"));
        assert!(!o.allows("https://evil.example.com"));
        assert!(!o.allows("null"));
        assert!("".parse::<Origins>().unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "*",
            "app.example.com",
            "https://",
            "https://a.example/",
            "https://a/path",
            "ftp://a",
        ] {
            assert!(bad.parse::<Origins>().is_err(), "{bad}");
        }
    }
}
