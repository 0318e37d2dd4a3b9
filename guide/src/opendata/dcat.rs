//! DCAT-AP_IT description of the dataset, so that a regional or national
//! catalogue (dati.gov.it harvests DCAT-AP_IT) can list the guide's open data.

use serde_json::{json, Value};

use super::hsds::{DIR, JSON_FILES, ZIP};
use crate::model::Site;

pub const FILE: &str = "opendata/catalog.jsonld";

/// The dataset's identifier after the IPA code.
const DATASET: &str = "elenco-servizi-sociali";

/// The catalogue: one dataset (the services of the guide) and its
/// distributions, each HSDS file; `modified` is the newest service update.
/// `sizes`: the byte size of each file of the export, by path.
pub fn catalog(site: &Site, sizes: &[(String, usize)]) -> Vec<u8> {
    let u = &site.urls;
    let info = &site.info;
    let abs = |path: &str| u.permalink(&u.file(path));
    let modified = site
        .services
        .iter()
        .map(|s| s.updated)
        .max()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mut publisher = json!({
        "@type": ["foaf:Agent", "dcatapit:Agent"],
        "foaf:name": info.owner,
    });
    // DCAT-AP_IT identifies an administration by its IPA code, and a
    // dataset as `IPA code:identifier`.
    let dataset_id = if info.ipa_code.is_empty() {
        abs(&format!("{DIR}/"))
    } else {
        publisher["dct:identifier"] = json!(info.ipa_code);
        format!("{}:{}", info.ipa_code, DATASET)
    };
    let licence = if info.licence.is_empty() {
        Value::Null
    } else {
        json!({"@id": info.licence, "@type": ["dct:LicenseDocument", "dcatapit:LicenseDocument"]})
    };
    let size = |path: &str| sizes.iter().find(|(p, _)| p == path).map_or(0, |(_, n)| *n);
    let mut distributions: Vec<Value> = JSON_FILES
        .iter()
        .map(|(file, schema)| {
            let path = format!("{DIR}/{file}");
            json!({
                "@id": abs(&path),
                "@type": ["dcat:Distribution", "dcatapit:Distribution"],
                "dct:title": format!("HSDS 3.0: {file}"),
                "dct:description": format!("Oggetti HSDS 3.0 conformi allo schema {schema} di Open Referral"),
                "dcat:accessURL": {"@id": abs(&path)},
                "dcat:downloadURL": {"@id": abs(&path)},
                "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/JSON"},
                "dcat:mediaType": "application/json",
                "dcat:byteSize": size(&path),
                "dct:license": licence,
                "dct:conformsTo": {"@id": "https://docs.openreferral.org/en/latest/hsds/"},
            })
        })
        .collect();
    distributions.push(json!({
        "@id": abs(ZIP),
        "@type": ["dcat:Distribution", "dcatapit:Distribution"],
        "dct:title": "HSDS 3.0, formato tabellare (CSV in un archivio zip)",
        "dct:description": "Le tabelle CSV del formato tabellare HSDS 3.0",
        "dcat:accessURL": {"@id": abs(ZIP)},
        "dcat:downloadURL": {"@id": abs(ZIP)},
        "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/ZIP"},
        "dcat:mediaType": "application/zip",
        "dcat:byteSize": size(ZIP),
        "dct:license": licence,
        "dct:conformsTo": {"@id": "https://docs.openreferral.org/en/latest/hsds/"},
    }));
    let doc = json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "dcatapit": "http://dati.gov.it/onto/dcatapit#",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": abs(FILE),
        "@type": ["dcat:Catalog", "dcatapit:Catalog"],
        "dct:title": info.title,
        "dct:description": format!("Catalogo dei dati aperti della {}", info.title),
        "dct:publisher": publisher,
        "dct:modified": {"@value": modified, "@type": "xsd:date"},
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/ITA"},
        "foaf:homepage": {"@id": u.permalink(&u.home())},
        "dcat:dataset": [{
            "@id": abs(&format!("{DIR}/")),
            "@type": ["dcat:Dataset", "dcatapit:Dataset"],
            "dct:identifier": dataset_id,
            "dct:title": format!("Elenco dei servizi sociali: {}", info.title),
            "dct:description": "L'elenco dei servizi, anche gestiti in affidamento con soggetti terzi, con gli uffici e gli sportelli dove chiederli, i loro orari e l'accessibilità, nel formato Open Referral HSDS 3.0.",
            "dct:publisher": publisher,
            "dct:rightsHolder": publisher,
            "dct:modified": {"@value": modified, "@type": "xsd:date"},
            "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/ITA"},
            "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/SOCI"},
            "dct:accrualPeriodicity": {"@id": "http://publications.europa.eu/resource/authority/frequency/IRREG"},
            "dcat:landingPage": {"@id": u.permalink(&u.services_index())},
            "dct:license": licence,
            "dcat:distribution": distributions,
        }],
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
