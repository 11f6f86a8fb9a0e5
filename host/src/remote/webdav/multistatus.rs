//! Reading a PROPFIND answer (RFC 4918 §14.16, `multistatus`): each `response`'s `href`
//! and the properties of its successful `propstat`. The answer is the server's, so it is
//! untrusted: hrefs are checked by the caller, sizes and dates are parsed strictly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_xml::NsReader;
use quick_xml::events::{BytesRef, Event};
use quick_xml::name::{Namespace, ResolveResult};

/// The most responses one multistatus may hold (the body is bounded too).
const MAX_RESPONSES: usize = 1_000_000;
/// The longest text kept of one element (an href, a status, a size, a date).
const MAX_TEXT: usize = 64 * 1024;

const DAV: Namespace<'static> = Namespace(b"DAV:");

/// One `response`: the resource's href as sent, and its properties when a `propstat`
/// with a 2xx status gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DavResponse {
    pub href: String,
    pub props: Option<Props>,
}

/// The properties asked for, as the server wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Props {
    pub collection: bool,
    pub length: Option<String>,
    pub modified: Option<String>,
}

/// The DAV: elements this reader acts on; every other element is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Response,
    Href,
    Propstat,
    Status,
    ResourceType,
    Collection,
    ContentLength,
    LastModified,
    Other,
}

fn tag(namespace: &ResolveResult<'_>, local: &[u8]) -> Tag {
    if *namespace != ResolveResult::Bound(DAV) {
        return Tag::Other;
    }
    match local {
        b"response" => Tag::Response,
        b"href" => Tag::Href,
        b"propstat" => Tag::Propstat,
        b"status" => Tag::Status,
        b"resourcetype" => Tag::ResourceType,
        b"collection" => Tag::Collection,
        b"getcontentlength" => Tag::ContentLength,
        b"getlastmodified" => Tag::LastModified,
        _ => Tag::Other,
    }
}

/// What is being read: the open elements, the response and propstat under way, and the
/// text of the innermost element.
#[derive(Default)]
struct Reading {
    open: Vec<Tag>,
    responses: Vec<DavResponse>,
    response: DavResponse,
    propstat: Props,
    propstat_status: String,
    text: String,
}

/// Every response of the multistatus `body`.
pub fn parse(body: &[u8]) -> Result<Vec<DavResponse>, String> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().expand_empty_elements = true;
    let mut reading = Reading::default();
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|error| format!("not a valid multistatus answer: {error}"))?;
        match event {
            Event::Start(start) => reading.start(tag(&namespace, start.local_name().as_ref())),
            Event::End(end) => reading.end(tag(&namespace, end.local_name().as_ref()))?,
            Event::Text(text) => reading.push_text(&text.decode().map_err(text_error)?)?,
            Event::CData(data) => reading.push_text(&data.decode().map_err(text_error)?)?,
            Event::GeneralRef(reference) => reading.push_text(&resolve(&reference)?)?,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(reading.responses)
}

fn text_error(error: impl std::fmt::Display) -> String {
    format!("not a valid multistatus answer: {error}")
}

/// The text an entity or character reference stands for.
fn resolve(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(character) = reference.resolve_char_ref().map_err(text_error)? {
        return Ok(character.to_string());
    }
    let name = reference.decode().map_err(text_error)?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| text_error(format!("unknown entity &{name};")))
}

impl Reading {
    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Response => self.response = DavResponse::default(),
            Tag::Propstat => {
                self.propstat = Props::default();
                self.propstat_status.clear();
            }
            Tag::Collection if self.open.last() == Some(&Tag::ResourceType) => {
                self.propstat.collection = true;
            }
            _ => {}
        }
        self.open.push(tag);
        self.text.clear();
    }

    /// The element the innermost open one is in.
    fn parent(&self) -> Option<Tag> {
        self.open.len().checked_sub(2).map(|at| self.open[at])
    }

    fn push_text(&mut self, text: &str) -> Result<(), String> {
        if self.text.len() + text.len() > MAX_TEXT {
            return Err(format!("an element's text is longer than {MAX_TEXT} bytes"));
        }
        self.text.push_str(text);
        Ok(())
    }

    fn end(&mut self, tag: Tag) -> Result<(), String> {
        let parent = self.parent();
        let text = std::mem::take(&mut self.text).trim().to_string();
        match (tag, parent) {
            (Tag::Href, Some(Tag::Response)) => self.response.href = text,
            (Tag::Status, Some(Tag::Propstat)) => self.propstat_status = text,
            (Tag::ContentLength, _) => self.propstat.length = Some(text),
            (Tag::LastModified, _) => self.propstat.modified = Some(text),
            (Tag::Propstat, _) => self.end_propstat(),
            (Tag::Response, _) => self.end_response()?,
            _ => {}
        }
        self.open.pop();
        Ok(())
    }

    /// Only a propstat whose status is 2xx holds properties the resource has (a missing
    /// one, such as a folder's getcontentlength, comes in a 404 propstat).
    fn end_propstat(&mut self) {
        if !is_success(&self.propstat_status) {
            return;
        }
        let found = std::mem::take(&mut self.propstat);
        let props = self.response.props.get_or_insert_default();
        props.collection |= found.collection;
        props.length = found.length.or(props.length.take());
        props.modified = found.modified.or(props.modified.take());
    }

    fn end_response(&mut self) -> Result<(), String> {
        if self.responses.len() == MAX_RESPONSES {
            return Err(format!("more than {MAX_RESPONSES} entries in one answer"));
        }
        self.responses.push(std::mem::take(&mut self.response));
        Ok(())
    }
}

/// Whether a status line (`HTTP/1.1 200 OK`) tells success.
fn is_success(status: &str) -> bool {
    status
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..300).contains(&code))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date as RFC 4918 has getlastmodified (`Sun, 06 Nov 1994 08:49:37 GMT`), from
/// 1970 on; `None` for any other form.
pub fn http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, clock, "GMT"] = parts[..] else {
        return None;
    };
    let day: u64 = day.parse().ok().filter(|day| (1..=31).contains(day))?;
    let month = MONTHS.iter().position(|name| *name == month)? as u64 + 1;
    let year: u64 = year.parse().ok().filter(|year| *year >= 1970)?;
    let clock: Vec<u64> = clock
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let [hours @ 0..24, minutes @ 0..60, seconds @ 0..61] = clock[..] else {
        return None;
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hours * 3600 + minutes * 60 + seconds;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a date from 1970 on (Howard Hinnant's days-from-civil).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIXED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
  <D:response>
    <D:href>/inbound/</D:href>
    <D:propstat>
      <D:prop><D:resourcetype><D:collection/></D:resourcetype>
        <D:getlastmodified>Sun, 06 Nov 1994 08:49:37 GMT</D:getlastmodified></D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
    <D:propstat>
      <D:prop><D:getcontentlength/></D:prop>
      <D:status>HTTP/1.1 404 Not Found</D:status>
    </D:propstat>
  </D:response>
  <D:response>
    <D:href>/inbound/a%20b.txt</D:href>
    <D:propstat>
      <D:prop><D:resourcetype/><D:getcontentlength>12</D:getcontentlength></D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
  </D:response>
</D:multistatus>"#;

    #[test]
    fn a_prefixed_namespace_is_read() {
        let responses = parse(PREFIXED.as_bytes()).unwrap();
        assert_eq!(responses.len(), 2);
        let folder = responses[0].props.as_ref().unwrap();
        assert_eq!(responses[0].href, "/inbound/");
        assert!(folder.collection);
        assert_eq!(folder.length, None, "the 404 propstat gives nothing");
        assert_eq!(
            folder.modified.as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        let file = responses[1].props.as_ref().unwrap();
        assert!(!file.collection);
        assert_eq!(file.length.as_deref(), Some("12"));
    }

    #[test]
    fn the_default_namespace_and_any_prefix_are_dav() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:x="urn:other"><response>
            <href>/a&amp;b</href>
            <propstat><prop><resourcetype><collection/></resourcetype>
              <x:getcontentlength>99</x:getcontentlength></prop>
            <status>HTTP/1.1 200 OK</status></propstat></response>
            <lp1:response xmlns:lp1="DAV:"><lp1:href>/c</lp1:href><lp1:propstat>
              <lp1:prop><lp1:getcontentlength>7</lp1:getcontentlength></lp1:prop>
              <lp1:status>HTTP/1.1 200 OK</lp1:status></lp1:propstat></lp1:response>
            </multistatus>"#;
        let responses = parse(body.as_bytes()).unwrap();
        assert_eq!(responses[0].href, "/a&b");
        let props = responses[0].props.as_ref().unwrap();
        assert!(props.collection);
        assert_eq!(
            props.length, None,
            "another namespace's element is not DAV's"
        );
        assert_eq!(responses[1].href, "/c");
        assert_eq!(
            responses[1].props.as_ref().unwrap().length.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn an_element_outside_dav_with_a_dav_name_is_ignored() {
        let body = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/f</D:href>
            <D:propstat><D:prop><D:resourcetype><collection/></D:resourcetype></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
        let responses = parse(body.as_bytes()).unwrap();
        assert!(!responses[0].props.as_ref().unwrap().collection);
    }

    #[test]
    fn a_response_without_a_successful_propstat_has_no_properties() {
        let body = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/f</D:href>
            <D:status>HTTP/1.1 403 Forbidden</D:status></D:response></D:multistatus>"#;
        assert_eq!(parse(body.as_bytes()).unwrap()[0].props, None);
    }

    #[test]
    fn broken_xml_and_huge_text_are_errors() {
        assert!(parse(b"<D:multistatus xmlns:D=\"DAV:\"><D:response></D:multi").is_err());
        let long = format!(
            "<multistatus xmlns=\"DAV:\"><response><href>{}</href></response></multistatus>",
            "a".repeat(MAX_TEXT + 1)
        );
        assert!(parse(long.as_bytes()).is_err());
    }

    #[test]
    fn http_dates_are_read_strictly() {
        let at = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), at(784_111_777));
        assert_eq!(http_date("Tue, 29 Feb 2000 00:00:00 GMT"), at(951_782_400));
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), at(0));
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "1994-11-06T08:49:37Z",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }
}
