//! The JSON-LD embedded in each service page.

use serde_json::json;

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
    let mut v = json!({
        "@context": "https://schema.org",
        "@type": "GovernmentService",
        "name": s.title,
        "description": s.summary,
        "url": s.permalink,
        "serviceType": site.categories[s.category].name,
        "serviceOperator": { "@type": "GovernmentOrganization", "name": operator },
        "areaServed": { "@type": "AdministrativeArea", "name": operator },
        "provider": { "@type": "Organization", "name": if s.provider.is_empty() { &office.name } else { &s.provider } },
        "isAccessibleForFree": s.cost == Cost::Free,
    });
    let audiences: Vec<&str> = s
        .audiences
        .iter()
        .map(|&i| site.audiences[i].name.as_str())
        .collect();
    if !audiences.is_empty() {
        v["audience"] = json!({ "@type": "Audience", "audienceType": audiences.join(", ") });
    }
    let url = if s.online.is_empty() {
        &s.permalink
    } else {
        &s.online
    };
    let mut channel = json!({ "@type": "ServiceChannel", "serviceUrl": url });
    let place = s
        .desks
        .iter()
        .map(|&d| &site.desks[d])
        .find(|d| !d.address.is_empty())
        .or_else(|| s.desks.first().map(|&d| &site.desks[d]))
        .filter(|d| !d.address.is_empty())
        .unwrap_or(office);
    let mut location = json!({ "@type": "Place", "name": place.name, "url": place.permalink });
    if !place.address.is_empty() {
        location["address"] = json!({ "@type": "PostalAddress", "streetAddress": place.address });
    }
    channel["serviceLocation"] = location;
    v["availableChannel"] = channel;
    serde_json::to_string(&v)
        .unwrap_or_default()
        .replace("</", "<\\/")
}
