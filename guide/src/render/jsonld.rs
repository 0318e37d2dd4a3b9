//! The JSON-LD embedded in each service page.

use serde::Serialize;

use crate::model::{Cost, Service, Site};

/// schema.org `GovernmentService` for one service, ready to embed in a
/// `<script type="application/ld+json">` (`</` is escaped).
///
/// Shaped for the Designers Italia recommendation R.SI.1.1, whose checker
/// reads single objects, not arrays: `name`, `serviceType`,
/// `serviceOperator.name`, `areaServed.name`, `audience.audienceType`,
/// `availableChannel.serviceUrl` and `availableChannel.serviceLocation` with
/// an address. The channel is the online procedure when there is one, else
/// the sheet itself; the location is the first desk with an address, else the
/// responsible office.
pub fn json_ld(site: &Site, s: &Service) -> String {
    let office = &site.offices[s.office];
    let operator = if site.info.owner.is_empty() {
        &office.name
    } else {
        &site.info.owner
    };
    let audiences: Vec<&str> = s
        .audiences
        .iter()
        .map(|&i| site.audiences[i].name.as_str())
        .collect();
    let place = s
        .desks
        .iter()
        .map(|&d| &site.desks[d])
        .find(|d| !d.address.is_empty())
        .or_else(|| s.desks.first().map(|&d| &site.desks[d]))
        .filter(|d| !d.address.is_empty())
        .unwrap_or(office);
    let doc = GovernmentService {
        context: "https://schema.org",
        kind: "GovernmentService",
        area_served: Named {
            kind: "AdministrativeArea",
            name: operator,
        },
        audience: (!audiences.is_empty()).then(|| Audience {
            kind: "Audience",
            audience_type: audiences.join(", "),
        }),
        available_channel: Channel {
            kind: "ServiceChannel",
            service_location: Location {
                kind: "Place",
                address: (!place.address.is_empty()).then_some(Address {
                    kind: "PostalAddress",
                    street_address: &place.address,
                }),
                name: &place.name,
                url: &place.permalink,
            },
            service_url: if s.online.is_empty() {
                &s.permalink
            } else {
                &s.online
            },
        },
        description: &s.summary,
        is_accessible_for_free: s.cost == Cost::Free,
        name: &s.title,
        provider: Named {
            kind: "Organization",
            name: if s.provider.is_empty() {
                &office.name
            } else {
                &s.provider
            },
        },
        service_operator: Named {
            kind: "GovernmentOrganization",
            name: operator,
        },
        service_type: &site.categories[s.category].name,
        url: &s.permalink,
    };
    let json = serde_json::to_string(&doc).unwrap_or_default();
    if memchr::memmem::find(json.as_bytes(), b"</").is_some() {
        json.replace("</", "<\\/")
    } else {
        json
    }
}

// The fields of each object in alphabetical order, as `serde_json` wrote
// the map this replaced: the page is byte for byte the same. A typed
// record costs a third of the map (2% of a build's instructions).

#[derive(Serialize)]
struct GovernmentService<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "areaServed")]
    area_served: Named<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<Audience>,
    #[serde(rename = "availableChannel")]
    available_channel: Channel<'a>,
    description: &'a str,
    #[serde(rename = "isAccessibleForFree")]
    is_accessible_for_free: bool,
    name: &'a str,
    provider: Named<'a>,
    #[serde(rename = "serviceOperator")]
    service_operator: Named<'a>,
    #[serde(rename = "serviceType")]
    service_type: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct Named<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Audience {
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "audienceType")]
    audience_type: String,
}

#[derive(Serialize)]
struct Channel<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "serviceLocation")]
    service_location: Location<'a>,
    #[serde(rename = "serviceUrl")]
    service_url: &'a str,
}

#[derive(Serialize)]
struct Location<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Address<'a>>,
    name: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct Address<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "streetAddress")]
    street_address: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that would close the page's `<script>` is escaped, and the JSON
    /// still reads back as the text.
    #[test]
    fn a_title_cannot_close_the_script() {
        let (_, site) = crate::example_guide();
        let mut s = site.services[0].clone();
        s.set_title("Prima </script><b>dopo".into());
        let json = json_ld(&site, &s);
        assert!(!json.contains("</"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["name"], "Prima </script><b>dopo");
        assert_eq!(v["@context"], "https://schema.org");
        assert_eq!(v["availableChannel"]["@type"], "ServiceChannel");
    }
}
