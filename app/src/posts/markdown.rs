//! Markdown to safe HTML: CommonMark with tables, strikethrough, task lists
//! and footnotes (pulldown-cmark), then an allow-list sanitiser (ammonia)
//! over the result, because CommonMark passes raw HTML through. Nothing that
//! runs survives: no script or style, no event handlers, no `javascript:`
//! or `data:` URLs, no forms, frames or embedded SVG/MathML; ids are
//! prefixed so a post cannot clobber the page's own. Rendered once when a
//! post or comment is written; the HTML is stored next to the source.
//!
//! Readers' text (comments) gets a smaller language (no headings, tables or
//! images) and `rel="nofollow ugc noopener"` on its links.

use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Who wrote the text: what it may contain, and how its links are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// A post's author.
    Writer,
    /// A reader (comments): links are `nofollow ugc`.
    Reader,
}

/// The HTML of a text and its excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    /// The first paragraph as plain text, at most [`EXCERPT_CHARS`].
    pub excerpt: String,
}

pub const EXCERPT_CHARS: usize = 300;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
}

static WRITER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags(["input", "section", "sup", "del", "s"])
        // Task lists render `<input type="checkbox" disabled checked>`.
        .add_tag_attribute_values("input", "type", ["checkbox"])
        .add_tag_attributes("input", ["checked", "disabled"])
        .add_tag_attributes("td", ["align"])
        .add_tag_attributes("th", ["align"])
        .add_tag_attributes("a", ["id"])
        .add_tag_attributes("sup", ["id"])
        .add_tag_attributes("div", ["id", "class"])
        .add_tag_attributes("li", ["id"])
        .id_prefix(Some("md-"))
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener"))
        .attribute_filter(only_local_images);
    b
});

static READER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.add_tags([
        "p",
        "br",
        "a",
        "em",
        "strong",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "del",
        "s",
        "hr",
    ])
    .add_tag_attributes("a", ["href"])
    .url_schemes(["http", "https", "mailto"].into())
    .link_rel(Some("nofollow ugc noopener"));
    b
});

/// Images only from this site: the page's CSP allows no other origin, and
/// an outside image would tell its host who reads the post.
fn only_local_images<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
) -> Option<std::borrow::Cow<'u, str>> {
    // A site path starts with one `/`; `//host/…` is another site.
    let local = value.starts_with('/') && !value.starts_with("//");
    if element == "img" && attribute == "src" && !local {
        return None;
    }
    Some(value.into())
}

/// Renders `source` for `author`.
pub fn render(source: &str, author: Author) -> Rendered {
    let options = match author {
        Author::Writer => options(),
        Author::Reader => Options::ENABLE_STRIKETHROUGH,
    };
    let events: Vec<Event<'_>> = bounded(Parser::new_ext(source, options)).collect();
    let excerpt = excerpt_of(&events);
    let mut raw = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, events.into_iter());
    let html = match author {
        Author::Writer => WRITER.clean(&raw).to_string(),
        Author::Reader => READER.clean(&raw).to_string(),
    };
    Rendered { html, excerpt }
}

/// Containers nested deeper than this are flattened to their text.
const MAX_DEPTH: usize = 32;
/// Raw HTML past this many tags (counted by `<`) is shown as text.
const MAX_RAW_HTML_TAGS: usize = 1_000;

/// Bounds what reaches the sanitiser, whose HTML parser costs grow with
/// the square of the nesting depth (100 000 `>` are 100 000 nested
/// blockquotes, 20 000 `<div>` 20 000 open elements): deeper containers
/// keep their text but lose their tags, and raw HTML past a budget is
/// escaped. Ordinary posts never come near either bound.
fn bounded<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut depth = 0usize;
    let mut raw_html = 0usize;
    events.filter_map(move |event| match event {
        Event::Start(tag) => {
            depth += 1;
            (depth <= MAX_DEPTH).then_some(Event::Start(tag))
        }
        Event::End(tag) => {
            // Start and End come in pairs: this End closes the Start seen at
            // the same depth, kept or dropped alike.
            let keep = depth <= MAX_DEPTH;
            depth = depth.saturating_sub(1);
            keep.then_some(Event::End(tag))
        }
        Event::Html(html) | Event::InlineHtml(html) => {
            raw_html += html.matches('<').count();
            Some(if raw_html <= MAX_RAW_HTML_TAGS {
                Event::InlineHtml(html)
            } else {
                Event::Text(html)
            })
        }
        other => Some(other),
    })
}

/// Plain text shown as written (posts from before Markdown, imported ones):
/// escaped, with its line breaks kept by the stylesheet.
pub fn plain_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    out.push_str("<div class=\"plain\">");
    // Writing to a String cannot fail.
    let _ = pulldown_cmark_escape::escape_html_body_text(&mut out, text);
    out.push_str("</div>");
    out
}

/// The first paragraph of plain text, for posts without Markdown.
pub fn plain_excerpt(text: &str) -> String {
    let first = text
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("");
    cap(&first.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn excerpt_of(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    let mut in_paragraph = false;
    for event in events {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = true,
            Event::End(TagEnd::Paragraph) if in_paragraph => break,
            Event::Text(t) | Event::Code(t) if in_paragraph => text.push_str(t),
            Event::SoftBreak | Event::HardBreak if in_paragraph => text.push(' '),
            _ => {}
        }
        if text.chars().count() > EXCERPT_CHARS {
            break;
        }
    }
    cap(text.trim())
}

fn cap(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(EXCERPT_CHARS - 1).collect();
    // End on a word when there is one to end on.
    if let Some(space) = out.rfind(' ')
        && space > EXCERPT_CHARS / 2
    {
        out.truncate(space);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(source: &str) -> String {
        render(source, Author::Writer).html
    }

    #[test]
    fn commonmark_and_the_extensions_render() {
        let out = html(
            "# Title\n\n*em* **strong** ~~gone~~\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\nNote[^1].\n\n[^1]: The footnote.\n",
        );
        for part in [
            "<h1>Title</h1>",
            "<em>em</em>",
            "<strong>strong</strong>",
            "<del>gone</del>",
            "<table>",
            "<td>1</td>",
            "type=\"checkbox\"",
            "The footnote.",
        ] {
            assert!(out.contains(part), "{part} missing in {out}");
        }
    }

    #[test]
    fn nothing_that_runs_survives() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<form action=\"https://evil.example\"><input name=x></form>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<a href=\"https://example.com\" onclick=\"alert(1)\">x</a>",
        ] {
            let out = html(hostile).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onclick",
                "onbegin",
                "javascript:",
                "data:text",
                "<iframe",
                "<form",
                "<svg",
                "<math",
                "style=",
            ] {
                assert!(!out.contains(bad), "{hostile:?} left {bad:?} in {out}");
            }
        }
    }

    #[test]
    fn links_are_marked_by_who_wrote_them() {
        assert!(html("[a](https://example.com)").contains("rel=\"noopener\""));
        let reader = render("[a](https://example.com)", Author::Reader).html;
        assert!(reader.contains("rel=\"nofollow ugc noopener\""), "{reader}");
        // Readers get no headings, tables or images.
        let reader = render("# Big\n\n![x](/media/x.png)", Author::Reader).html;
        assert!(
            !reader.contains("<h1") && !reader.contains("<img"),
            "{reader}"
        );
    }

    #[test]
    fn images_only_from_this_site() {
        assert!(
            html("![a](/media/avatars/default.png)").contains("src=\"/media/avatars/default.png\"")
        );
        let outside = html("![a](https://tracker.example/pixel.gif)");
        assert!(!outside.contains("tracker.example"), "{outside}");
    }

    #[test]
    fn ids_cannot_clobber_the_page() {
        let out = html("<div id=\"main\">x</div>");
        assert!(!out.contains("id=\"main\""), "{out}");
    }

    #[test]
    fn the_excerpt_is_the_first_paragraph_capped() {
        let r = render(
            "# Heading\n\nFirst *para*\ngraph.\n\nSecond.",
            Author::Writer,
        );
        assert_eq!(r.excerpt, "First para graph.");
        let long = "word ".repeat(200);
        let r = render(&long, Author::Writer);
        assert!(r.excerpt.chars().count() <= EXCERPT_CHARS, "{}", r.excerpt);
        assert!(r.excerpt.ends_with('…'));
        assert_eq!(plain_excerpt("\n\nOne\ntwo\n\nthree"), "One two");
    }

    #[test]
    fn plain_text_is_escaped_as_written() {
        assert_eq!(
            plain_html("a < b\n<script> & \"q\""),
            "<div class=\"plain\">a &lt; b\n&lt;script&gt; &amp; \"q\"</div>"
        );
    }

    #[test]
    fn pathological_markdown_is_bounded() {
        let started = std::time::Instant::now();
        for source in [
            ">".repeat(100_000),
            "[".repeat(100_000),
            "*".repeat(100_000),
            "<div>".repeat(20_000),
            "<div>\n".repeat(20_000),
            "<b>".repeat(30_000),
            "- ".repeat(50_000),
            "`".repeat(100_000),
        ] {
            let one = std::time::Instant::now();
            let out = render(&source, Author::Writer);
            assert!(out.html.len() < 20 * source.len() + 1000);
            println!("{:?}: {:?}", &source[..12], one.elapsed());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
