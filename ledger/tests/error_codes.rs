//! Every stable error code the ledger, the store and the wire define is
//! listed in docs/errors.md, so users and scripts can look up any code they
//! meet. The sources are read as text: the ledger depends on neither.

/// The codes of a `code()` method: the string literals its match arms return.
fn codes_in(source: &str, arm_prefix: &str) -> Vec<String> {
    source
        .lines()
        .filter(|l| l.trim_start().starts_with(arm_prefix) && l.contains(" => \""))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn every_error_code_is_documented() {
    let docs = include_str!("../../docs/errors.md");
    let rejections = codes_in(include_str!("../src/rejection.rs"), "");
    let store = codes_in(include_str!("../../store/src/error.rs"), "StoreError::");
    let stats = codes_in(include_str!("../../wire/src/stats.rs"), "StatsQueryError::");
    assert_eq!(
        stats.len(),
        7,
        "found {} statistics query codes",
        stats.len()
    );
    let anomalies = codes_in(
        include_str!("../../wire/src/anomalies.rs"),
        "AnomalyQueryError::",
    );
    assert_eq!(
        anomalies.len(),
        5,
        "found {} anomaly query codes",
        anomalies.len()
    );
    let bundles = codes_in(include_str!("../src/bundle.rs"), "BundleError::");
    assert!(bundles.len() >= 26, "found {} bundle codes", bundles.len());
    let commits = codes_in(include_str!("../src/finality.rs"), "CommitError::");
    assert_eq!(commits.len(), 5, "found {} commit codes", commits.len());
    assert!(
        rejections.len() > 40,
        "found {} rule codes",
        rejections.len()
    );
    // Two variants may share a code; CODES lists each code once.
    let mut distinct: Vec<&String> = Vec::new();
    for code in &rejections {
        if !distinct.contains(&code) {
            distinct.push(code);
        }
    }
    assert_eq!(
        distinct,
        kp_ledger::Rejection::CODES,
        "Rejection::CODES must list every code of Rejection::code, in its order"
    );
    assert!(store.len() >= 12, "found {} storage codes", store.len());
    for code in rejections
        .iter()
        .chain(&store)
        .chain(&stats)
        .chain(&anomalies)
        .chain(&bundles)
        .chain(&commits)
    {
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/errors.md does not list `{code}`"
        );
    }
}
