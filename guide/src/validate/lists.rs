//! The lists derived from the services: the A-Z order and the services of
//! each term, office and desk ([`derive_lists`]). After an edit that changed
//! some services but added or removed none, they are moved rather than made
//! again ([`relist`]): at 10,000 services `derive_lists` took 3-5 ms of an
//! edit in `serve`, mostly waiting on memory, for the few entries that move.

use crate::model::{title_sort_key, Service, Site};

/// Recomputes every list derived from the services (A-Z, by term, by office
/// and desk), each in A-Z order. `services` must be sorted by slug.
pub fn derive_lists(site: &mut Site) {
    let services = &site.services;
    // The last order, when it still numbers every service, is nearly
    // sorted after an edit: the sort then merges a few runs instead of
    // sorting 10,000 afresh. The result is the same: slugs are unique.
    let mut az = if site.az.len() == services.len() {
        std::mem::take(&mut site.az)
    } else {
        (0..services.len()).collect()
    };
    debug_assert!(
        services
            .iter()
            .all(|s| s.sort_key == title_sort_key(&s.title)),
        "a title changed without its sort key"
    );
    az.sort_by(|&a, &b| {
        services[a]
            .sort_key
            .cmp(&services[b].sort_key)
            .then_with(|| services[a].slug.cmp(&services[b].slug))
    });
    for list in [&mut site.categories, &mut site.topics, &mut site.audiences] {
        for t in list.iter_mut() {
            t.services.clear();
        }
    }
    for p in site.offices.iter_mut().chain(site.desks.iter_mut()) {
        p.services.clear();
    }
    for &i in &az {
        let s = &services[i];
        site.categories[s.category].services.push(i);
        for &t in &s.topics {
            site.topics[t].services.push(i);
        }
        for &t in &s.audiences {
            site.audiences[t].services.push(i);
        }
        site.offices[s.office].services.push(i);
        for &d in &s.desks {
            site.desks[d].services.push(i);
        }
    }
    site.az = az;
}

/// Where a service was listed, to take it out of those lists.
#[derive(Debug, Clone)]
pub struct Listed {
    category: usize,
    topics: Vec<usize>,
    audiences: Vec<usize>,
    office: usize,
    desks: Vec<usize>,
}

/// One of the lists of services.
#[derive(Debug, Clone, Copy)]
enum List {
    Category(usize),
    Topic(usize),
    Audience(usize),
    Office(usize),
    Desk(usize),
}

impl Listed {
    pub fn of(s: &Service) -> Listed {
        Listed {
            category: s.category,
            topics: s.topics.clone(),
            audiences: s.audiences.clone(),
            office: s.office,
            desks: s.desks.clone(),
        }
    }

    fn lists(&self) -> Vec<List> {
        let mut out = vec![List::Category(self.category), List::Office(self.office)];
        out.extend(self.topics.iter().map(|&t| List::Topic(t)));
        out.extend(self.audiences.iter().map(|&t| List::Audience(t)));
        out.extend(self.desks.iter().map(|&d| List::Desk(d)));
        out
    }
}

fn list_mut(site: &mut Site, l: List) -> &mut Vec<usize> {
    match l {
        List::Category(i) => &mut site.categories[i].services,
        List::Topic(i) => &mut site.topics[i].services,
        List::Audience(i) => &mut site.audiences[i].services,
        List::Office(i) => &mut site.offices[i].services,
        List::Desk(i) => &mut site.desks[i].services,
    }
}

/// The lists as [`derive_lists`] would make them, after the services at
/// the positions of `edited` changed, each listed as it says before; no
/// service was added or removed, so the others keep their positions.
pub fn relist(site: &mut Site, edited: &[(usize, Listed)]) {
    #[cfg(debug_assertions)]
    let mut expected = site.clone();
    let services = &site.services;
    let before = |a: usize, b: usize| {
        let (x, y) = (&services[a], &services[b]);
        (&x.sort_key, &x.slug) < (&y.sort_key, &y.slug)
    };
    let az = &mut site.az;
    for (i, _) in edited {
        az.retain(|j| j != i);
    }
    for &(i, _) in edited {
        let at = az.partition_point(|&j| before(j, i));
        az.insert(at, i);
    }
    // The others keep their order: each list is sorted by the new rank.
    let mut rank = vec![0; az.len()];
    for (k, &i) in az.iter().enumerate() {
        rank[i] = k;
    }
    // Out of where they were first, so that the lists hold only services
    // in their new order; then each into where it is now.
    for (i, old) in edited {
        for l in old.lists() {
            list_mut(site, l).retain(|j| j != i);
        }
    }
    for &(i, _) in edited {
        for l in Listed::of(&site.services[i]).lists() {
            let list = list_mut(site, l);
            let at = list.partition_point(|&j| rank[j] < rank[i]);
            list.insert(at, i);
        }
    }
    #[cfg(debug_assertions)]
    {
        derive_lists(&mut expected);
        assert_eq!(site.az, expected.az, "relist: the A-Z order");
        let lists = |s: &Site| -> Vec<Vec<usize>> {
            s.categories
                .iter()
                .chain(&s.topics)
                .chain(&s.audiences)
                .map(|t| t.services.clone())
                .chain(s.offices.iter().chain(&s.desks).map(|p| p.services.clone()))
                .collect()
        };
        assert_eq!(lists(site), lists(&expected), "relist: the lists");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two services edited at once, one moved in the A-Z order and to
    /// another category, topic and desk, the other only retitled: the
    /// lists are those `derive_lists` makes.
    #[test]
    fn relisted_services_land_where_derive_lists_puts_them() {
        let (_, mut site) = crate::example_guide();
        let edited = vec![
            (3, Listed::of(&site.services[3])),
            (7, Listed::of(&site.services[7])),
        ];
        let s = &mut site.services[3];
        s.set_title("Zzz ultimo in elenco".into());
        s.category = (s.category + 1) % site.categories.len();
        s.topics = vec![0];
        s.desks.clear();
        let s = &mut site.services[7];
        s.set_title("Aaa primo in elenco".into());
        let mut fresh = site.clone();
        relist(&mut site, &edited);
        derive_lists(&mut fresh);
        assert_eq!(site.az, fresh.az);
        assert_eq!(site.az.first(), Some(&7));
        assert_eq!(site.az.last(), Some(&3));
        for (a, b) in site.categories.iter().zip(&fresh.categories) {
            assert_eq!(a.services, b.services, "{}", a.slug);
        }
        for (a, b) in site.topics.iter().zip(&fresh.topics) {
            assert_eq!(a.services, b.services, "{}", a.slug);
        }
        for (a, b) in site.desks.iter().zip(&fresh.desks) {
            assert_eq!(a.services, b.services, "{}", a.slug);
        }
    }
}
