//! The index over plain documents, without a guide: what a site adds is
//! tested in the generator's `index` module, on the example guide.

use std::collections::BTreeMap;

use super::*;

fn facet(slug: &str) -> Facet {
    Facet {
        slug: slug.into(),
        name: slug.to_uppercase(),
    }
}

/// A document's owned text: slug, title, summary, keywords, sections.
type Text = (String, String, String, Vec<String>, Vec<String>);

/// Owned text for the borrowed documents of a collection.
struct Texts {
    docs: Vec<Text>,
    synonyms: Vec<Vec<String>>,
    lexicon: Lexicon,
}

fn texts(n: usize) -> Texts {
    let mut docs = vec![(
        "telesoccorso".to_string(),
        "Telesoccorso".to_string(),
        "Un apparecchio per chiamare aiuto da casa.".to_string(),
        vec!["allarme".to_string()],
        vec!["Il servizio è gratuito per chi vive da solo.".to_string()],
    )];
    for i in 0..n {
        docs.push((
            format!("servizio-{i:04}"),
            format!("Servizio numero {i} parola{}", i % 37),
            format!("Sintesi {i} con termine{} e altro{}", i % 11, i * 7),
            vec![format!("chiave{}", i % 5)],
            vec![format!(
                "Testo del servizio {i}: assistenza{} domiciliare",
                i % 13
            )],
        ));
    }
    docs.sort();
    Texts {
        docs,
        synonyms: vec![vec![
            "telesoccorso".into(),
            "teleassistenza".into(),
            "braccialetto salvavita".into(),
        ]],
        lexicon: Lexicon::default(),
    }
}

fn collection(t: &Texts) -> Collection<'_> {
    Collection {
        dir: DIR.into(),
        lang: Lang::Italian,
        synonyms: &t.synonyms,
        lexicon: &t.lexicon,
        categories: vec![facet("salute"), facet("casa")],
        audiences: vec![facet("anziani")],
        docs: t
            .docs
            .iter()
            .enumerate()
            .map(|(i, (slug, title, summary, keywords, body))| DocInput {
                slug,
                title,
                url: "/x/",
                summary,
                keywords,
                sections: body.iter().map(String::as_str).collect(),
                category: i % 2,
                category_name: if i % 2 == 0 { "Salute" } else { "Casa" },
                audiences: &[0],
                audience_names: vec!["Anziani"],
                office_name: "Ufficio",
                conditions: Conditions::default(),
            })
            .collect(),
    }
}

#[test]
fn a_title_word_weighs_most_and_a_synonym_group_is_expanded() {
    let t = texts(3);
    let c = collection(&t);
    let idx = SearchIndex::build(&c);
    let id = c
        .docs
        .iter()
        .position(|d| d.slug == "telesoccorso")
        .unwrap();
    let d = &idx.docs[id];
    let term = |t: &str| d.terms.iter().find(|(k, _)| &**k == t).map(|(_, v)| v);
    assert!(term("telesoccors").unwrap().title);
    assert!(term("telesoccors").unwrap().weight >= builder::W_TITLE);
    let salvavita = idx.pipeline.clone().term("salvavita").unwrap();
    assert!(term(&salvavita).is_some(), "{salvavita}");
    assert!(term("di").is_none());
    assert!(d.terms.windows(2).all(|w| w[0].0 < w[1].0), "terms sorted");
    // the vocabulary holds every word, stopwords as None
    let v = idx.vocabulary(&c);
    assert_eq!(v["telesoccorso"].as_deref(), Some("telesoccors"));
    assert_eq!(v["da"], None);
}

#[test]
fn the_files_are_deterministic_and_every_posting_decodes() {
    let t = texts(600);
    let c = collection(&t);
    let files = SearchIndex::build(&c).files();
    assert_eq!(files, SearchIndex::build(&c).files());
    let get = |name: &str| &files.iter().find(|f| f.0 == name).expect(name).1;
    let meta: serde_json::Value = serde_json::from_slice(get("search/meta.json")).unwrap();
    assert_eq!(meta["docs"], c.docs.len());
    let bounds: Vec<String> = serde_json::from_value(meta["shards"].clone()).unwrap();
    assert!(!bounds.is_empty(), "600 documents make several shards");
    let mut terms = 0;
    for first in std::iter::once(String::new()).chain(bounds) {
        let entries =
            shard::decode_shard(get(&format!("search/t/{}.bin", shard::file_name(&first))))
                .unwrap();
        for e in &entries {
            let postings = if e.inline.is_empty() {
                shard::decode_postings(get(&format!("search/p/{}.bin", shard::file_name(&e.term))))
            } else {
                shard::decode_postings(&e.inline)
            }
            .unwrap();
            assert_eq!(postings.len() as u32, e.df, "{}", e.term);
        }
        terms += entries.len();
    }
    assert!(terms > 600, "{terms}");
    let results = files
        .iter()
        .filter(|f| f.0.starts_with("search/r/"))
        .count();
    assert_eq!(results, c.docs.len().div_ceil(GROUP));
}

#[test]
fn a_one_off_build_in_chunks_makes_the_files_of_a_kept_index() {
    let t = texts(300);
    let c = collection(&t);
    let kept = SearchIndex::build(&c).files();
    // Chunks that end inside the collection, one that holds it all.
    for chunk in [7, 128, 1000] {
        assert_eq!(
            SearchIndex::build_files_in_chunks(&c, chunk),
            kept,
            "{chunk}"
        );
    }
    let en = Collection {
        dir: format!("{DIR}/en"),
        ..c.clone()
    };
    assert_eq!(
        SearchIndex::build_files(&en),
        SearchIndex::build(&en).files()
    );
}

#[test]
fn an_edit_patches_exactly_the_files_of_a_full_build_under_its_own_folder() {
    let mut t = texts(300);
    let mut c = collection(&t);
    c.dir = "search/en".into();
    let mut idx = SearchIndex::build(&c);
    let mut served: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let apply = |d: Delta, served: &mut BTreeMap<String, Vec<u8>>| {
        d.removed.iter().for_each(|p| {
            served.remove(p);
        });
        served.extend(d.written);
    };
    apply(idx.edit(&c, &[] as &[&str], false), &mut served);
    assert!(served.keys().all(|p| p.starts_with("search/en/")));
    drop(c);
    t.docs[5].1 = "Titolo nuovissimo zzyzx".into();
    let slug = t.docs[5].0.clone();
    let mut c = collection(&t);
    c.dir = "search/en".into();
    let d = idx.edit(&c, &[slug], false);
    assert!(!d.written.is_empty() && d.written.len() < served.len());
    apply(d, &mut served);
    let full: BTreeMap<String, Vec<u8>> = SearchIndex::build(&c).files().into_iter().collect();
    assert_eq!(served, full);
}
