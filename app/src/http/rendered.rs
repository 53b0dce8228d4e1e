//! The JSON of public post reads, kept per replica with holes where the
//! view counts go.
//!
//! A cached read used to cost, on every hit: cloning the cached page,
//! turning it into API types, building a `serde_json::Value` tree of it
//! (poem-openapi's `Json`) and serialising that, although only the `views`
//! of its posts can differ between two answers of one cache [`Version`]
//! (they move on every read without changing the generation). Here the
//! answer is serialised once per version with a sentinel in each `views`,
//! cut at the sentinels into a [`Template`], and every later hit is a lookup
//! and one copy of the bytes with the current counts written in.
//!
//! An entry is keyed by the version's key, which names everything the
//! answer shows but the views (the generation, the next publication, the
//! read and its parameters), and lives no longer than the read cache's TTL:
//! the same bound on a missed invalidation as the cached value itself.
//! Answers without a version (Redis unavailable, an author's own list) are
//! serialised the same way and not kept.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

use super::nullable::Nullable;
use crate::metrics::Metrics;

/// An API answer that shows view counts: each post's id and its `views`.
pub trait ShowsViews {
    fn view_slots(&mut self) -> Vec<(i64, &mut Nullable<u64>)>;
}

/// JSON already serialised, described in the OpenAPI document as `T`
/// (the same schema and media type as poem-openapi's `Json<T>`).
pub struct JsonBytes<T> {
    bytes: Vec<u8>,
    of: std::marker::PhantomData<fn() -> T>,
}

impl<T> JsonBytes<T> {
    fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            of: std::marker::PhantomData,
        }
    }

    #[cfg(test)]
    fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

/// What poem-openapi's `Json` answers with.
const JSON: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(JSON).body(self.bytes)
    }
}

impl<T: Type + Send> ApiResponse for JsonBytes<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// One answer's JSON cut where its view counts go: `parts[0]`, the count of
/// `ids[0]`, `parts[1]`, …, the count of `ids[n-1]`, `parts[n]`.
pub struct Template {
    json: Vec<u8>,
    /// Where each hole is: `(start, end)` of the sentinel in `json`.
    holes: Vec<(usize, usize)>,
    ids: Vec<i64>,
    expires: Instant,
}

impl Template {
    /// The posts whose counts the answer shows, in order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The answer with `views[i]` as the count of `ids[i]` (`null` where
    /// unknown: Redis unavailable).
    pub fn fill<T>(&self, views: Option<&[u64]>) -> JsonBytes<T> {
        self.fill_each((0..self.holes.len()).map(|i| views.and_then(|v| v.get(i).copied())))
    }

    fn fill_each<T>(&self, views: impl Iterator<Item = Option<u64>>) -> JsonBytes<T> {
        // The sentinels are longer than any count: the JSON never grows.
        let mut out = Vec::with_capacity(self.json.len());
        let mut at = 0;
        let mut digits = itoa::Buffer::new();
        for (&(start, end), count) in self.holes.iter().zip(views) {
            out.extend_from_slice(&self.json[at..start]);
            match count {
                Some(n) => out.extend_from_slice(digits.format(n).as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
            at = end;
        }
        out.extend_from_slice(&self.json[at..]);
        JsonBytes::new(out)
    }
}

/// What one replica keeps: templates by version key, weighed by their size.
#[derive(Clone)]
pub struct Rendered {
    entries: Option<Arc<quick_cache::sync::Cache<String, Arc<Template>, BySize>>>,
    ttl: Duration,
    /// `cache_requests_total{result="hit"}`, looked up once: every hit
    /// counts, and the label lookup would cost a hash and a lock each time.
    hits: prometheus::IntCounter,
    local_hits: prometheus::IntCounter,
}

#[derive(Clone)]
struct BySize;

impl quick_cache::Weighter<String, Arc<Template>> for BySize {
    fn weight(&self, key: &String, t: &Arc<Template>) -> u64 {
        (key.len() + t.json.len() + t.holes.len() * 24) as u64
    }
}

/// `views` of the `i`th post while serialising a template: a number no
/// count reaches, and different for each post, so each hole is found once.
fn sentinel(i: usize) -> u64 {
    u64::MAX - i as u64
}

impl Rendered {
    /// Keeps up to `capacity_bytes` of JSON (none: nothing kept), each
    /// template for at most `ttl`.
    pub fn new(capacity_bytes: u64, ttl: Duration, metrics: Metrics) -> Self {
        Self {
            entries: (capacity_bytes > 0).then(|| {
                Arc::new(quick_cache::sync::Cache::with_weighter(
                    1024,
                    capacity_bytes,
                    BySize,
                ))
            }),
            ttl,
            hits: metrics.cache_requests_total.with_label_values(&["hit"]),
            local_hits: metrics.cache_local_hits_total,
        }
    }

    /// The template kept for `key`, if still fresh. A hit is a read-cache
    /// hit from this replica's memory (the read cache is not asked), and
    /// counted as one, so the hit ratio on the dashboards stays true.
    pub fn get(&self, key: &str) -> Option<Arc<Template>> {
        let entries = self.entries.as_ref()?;
        let template = entries.get(key)?;
        if template.expires <= Instant::now() {
            entries.remove(key);
            return None;
        }
        self.hits.inc();
        self.local_hits.inc();
        Some(template)
    }

    /// Serialises `value` as it is (its own view counts), keeping its
    /// template under `key` when one is given.
    pub fn render<T: ToJSON + ShowsViews>(&self, key: Option<&str>, mut value: T) -> JsonBytes<T> {
        let keep = key.filter(|_| self.entries.is_some());
        let Some(key) = keep else {
            return JsonBytes::new(to_vec(&value));
        };
        let mut ids = Vec::new();
        let mut views = Vec::new();
        for (i, (id, slot)) in value.view_slots().into_iter().enumerate() {
            ids.push(id);
            views.push(slot.0);
            slot.0 = Some(sentinel(i));
        }
        let json = to_vec(&value);
        let Some(holes) = find_holes(&json, ids.len()) else {
            // Cannot happen while `views` serialises as a plain number; if
            // it ever does not, the answer is still right, only not kept.
            for ((_, slot), count) in value.view_slots().into_iter().zip(views) {
                slot.0 = count;
            }
            return JsonBytes::new(to_vec(&value));
        };
        let template = Template {
            json,
            holes,
            ids,
            expires: Instant::now() + self.ttl,
        };
        let answer = template.fill_each(views.into_iter());
        if let Some(entries) = &self.entries {
            entries.insert(key.to_owned(), Arc::new(template));
        }
        answer
    }
}

fn to_vec<T: ToJSON>(value: &T) -> Vec<u8> {
    // A `Value` serialises infallibly (string keys only).
    serde_json::to_vec(&value.to_json()).unwrap_or_default()
}

/// Where `"views":<sentinel(i)>` is for each of `n` posts, in order: the
/// key in plain quotes cannot be inside a JSON string (quotes there are
/// escaped), so each match is the field itself.
fn find_holes(json: &[u8], n: usize) -> Option<Vec<(usize, usize)>> {
    let mut holes = Vec::with_capacity(n);
    let mut from = 0;
    for i in 0..n {
        let pattern = format!("\"views\":{}", sentinel(i));
        let at = from + memchr::memmem::find(&json[from..], pattern.as_bytes())?;
        let start = at + "\"views\":".len();
        let end = at + pattern.len();
        // A longer number with these digits first is not the sentinel.
        if json.get(end).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        holes.push((start, end));
        from = end;
    }
    Some(holes)
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Object)]
    struct Item {
        id: i64,
        text: String,
        views: Nullable<u64>,
    }

    #[derive(Object)]
    struct Page {
        items: Vec<Item>,
    }

    impl ShowsViews for Page {
        fn view_slots(&mut self) -> Vec<(i64, &mut Nullable<u64>)> {
            self.items
                .iter_mut()
                .map(|i| (i.id, &mut i.views))
                .collect()
        }
    }

    fn page(views: [Option<u64>; 3]) -> Page {
        Page {
            items: views
                .iter()
                .enumerate()
                .map(|(i, v)| Item {
                    id: i as i64 + 10,
                    // Text that looks like the field, as a writer may type it.
                    text: format!("\"views\":{} and views 7", sentinel(i)),
                    views: (*v).into(),
                })
                .collect(),
        }
    }

    fn plain(value: &Page) -> Vec<u8> {
        to_vec(value)
    }

    #[test]
    fn a_filled_template_is_the_plain_serialisation() {
        let rendered = Rendered::new(1 << 20, Duration::from_secs(60), Metrics::new());
        let first = page([Some(1), None, Some(3)]);
        let expected = plain(&first);
        let answer = rendered.render(Some("k"), first);
        assert_eq!(answer.as_slice(), expected.as_slice());

        let template = rendered.get("k").expect("kept");
        assert_eq!(template.ids(), &[10, 11, 12]);
        let later = template.fill::<Page>(Some(&[5, 0, 1_000_000]));
        assert_eq!(
            later.as_slice(),
            plain(&page([Some(5), Some(0), Some(1_000_000)])).as_slice()
        );
        let unknown = template.fill::<Page>(None);
        assert_eq!(
            unknown.as_slice(),
            plain(&page([None, None, None])).as_slice()
        );
    }

    #[test]
    fn nothing_is_kept_without_a_key_or_room() {
        let rendered = Rendered::new(1 << 20, Duration::from_secs(60), Metrics::new());
        let value = page([Some(1), Some(2), Some(3)]);
        let expected = plain(&value);
        assert_eq!(rendered.render(None, value).as_slice(), expected.as_slice());
        assert!(rendered.get("k").is_none());

        let none = Rendered::new(0, Duration::from_secs(60), Metrics::new());
        let value = page([Some(1), Some(2), Some(3)]);
        assert_eq!(
            none.render(Some("k"), value).as_slice(),
            expected.as_slice()
        );
        assert!(none.get("k").is_none());
    }

    #[test]
    fn a_template_expires_with_the_cache_ttl() {
        let rendered = Rendered::new(1 << 20, Duration::ZERO, Metrics::new());
        rendered.render(Some("k"), page([Some(1), Some(2), Some(3)]));
        assert!(rendered.get("k").is_none());
    }
}
