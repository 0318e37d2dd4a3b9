//! `services.json`, for machines such as the inbox's pick list of
//! suggested services, made of each service's kept object.

use serde::Serialize;

use crate::model::{Site, Status};

#[derive(Serialize)]
struct ServiceRef<'a> {
    slug: &'a str,
    title: &'a str,
    category: &'a str,
    url: &'a str,
}

/// The file. Each service's object is kept with the fields it
/// was made of and made again only when one differs: at 10,000 services,
/// escaping every string again took 6-7 ms of each edit in `serve`.
#[derive(Debug, Default)]
pub(super) struct ServicesJson {
    /// By position in `Site::services`.
    objects: Vec<Option<ServiceObject>>,
}

#[derive(Debug)]
struct ServiceObject {
    slug: String,
    title: String,
    category: String,
    url: String,
    /// The pretty-printed object, indented as an element of the list.
    json: String,
}

impl ServiceObject {
    fn of(r: &ServiceRef<'_>) -> ServiceObject {
        let alone = serde_json::to_string_pretty(r).unwrap_or_default();
        // A JSON string never holds a raw newline: every line break is
        // the printer's, so indenting them nests the object in the list.
        let json = format!("  {}", alone.replace('\n', "\n  "));
        ServiceObject {
            slug: r.slug.to_string(),
            title: r.title.to_string(),
            category: r.category.to_string(),
            url: r.url.to_string(),
            json,
        }
    }

    fn is_of(&self, r: &ServiceRef<'_>) -> bool {
        self.slug == r.slug
            && self.title == r.title
            && self.category == r.category
            && self.url == r.url
    }
}

impl ServicesJson {
    /// The file, as `serde_json::to_vec_pretty` of the list would print it.
    pub(super) fn json(&mut self, site: &Site) -> Vec<u8> {
        self.objects.resize_with(site.services.len(), || None);
        let mut out = Vec::new();
        for &i in &site.az {
            let s = &site.services[i];
            if s.status == Status::Closed {
                continue;
            }
            let r = ServiceRef {
                slug: &s.slug,
                title: &s.title,
                category: &site.categories[s.category].slug,
                url: &s.permalink,
            };
            let object = match &mut self.objects[i] {
                Some(o) if o.is_of(&r) => o,
                slot => slot.insert(ServiceObject::of(&r)),
            };
            out.extend_from_slice(if out.is_empty() { b"[\n" } else { b",\n" });
            out.extend_from_slice(object.json.as_bytes());
        }
        out.extend_from_slice(if out.is_empty() { b"[]\n" } else { b"\n]\n" });
        out
    }
}

/// `services.json` as one piece, to check [`ServicesJson`] against.
#[cfg(test)]
fn services_json(site: &Site) -> Vec<u8> {
    let list: Vec<ServiceRef<'_>> = site
        .az
        .iter()
        .map(|&i| &site.services[i])
        .filter(|s| s.status != Status::Closed)
        .map(|s| ServiceRef {
            slug: &s.slug,
            title: &s.title,
            category: &site.categories[s.category].slug,
            url: &s.permalink,
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&list).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_site() -> Site {
        crate::example_guide().1
    }

    /// The kept objects give the file a fresh print would, after an edit
    /// of only a field they hold, a closure, a removal and a rename.
    #[test]
    fn kept_services_json_follows_edits() {
        let mut site = example_site();
        let mut kept = ServicesJson::default();
        assert_eq!(kept.json(&site), services_json(&site));
        let mut check = |site: &mut Site, what: &str| {
            crate::validate::derive_lists(site);
            let made = String::from_utf8(kept.json(site)).unwrap();
            let fresh = String::from_utf8(services_json(site)).unwrap();
            assert_eq!(made, fresh, "after {what}");
        };

        site.services[2].set_title("Un titolo \"nuovo\" con à".into());
        check(&mut site, "a title edit");
        site.services[3].permalink.push_str("altro/");
        check(&mut site, "an address edit");
        site.services[4].status = Status::Closed;
        check(&mut site, "a closure");
        site.services.remove(1);
        check(&mut site, "a removal");
        site.services[0].slug = "zzz-rinominato".into();
        let s = site.services.remove(0);
        site.services.push(s);
        check(&mut site, "a rename");
        site.services.clear();
        check(&mut site, "removing them all");
    }
}
